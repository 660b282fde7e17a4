"""IAM workload identity providers through boto3 and the AWS CLI: IAM API Reference
(API_CreateWorkloadIdentityProvider.html and its neighbours) and the IAM User Guide's
workload-identity-manage-providers.html. docs/WORKLOAD_IDENTITY.md says what is built."""

import json

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from conftest import REGION, unique, user_with_key


def code(exc):
    return exc.value.response["Error"]["Code"]


def unvalidated(t, **creds):
    """A boto3 IAM client that skips botocore's own parameter checks, to see the server's."""
    return boto3.session.Session(region_name=REGION).client(
        "iam",
        endpoint_url=t.endpoint,
        config=botocore.config.Config(parameter_validation=False, retries={"max_attempts": 1}),
        **(creds or t.root_creds),
    )


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def denied_with_awss_message(call, principal, action, resource, **kwargs):
    """`call` must fail with AccessDenied in AWS's words."""
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    assert code(e) == "AccessDenied"
    assert e.value.response["Error"]["Message"].startswith(
        f"User: {principal} is not authorized to perform: {action} on resource: {resource}")


def collect(call, items, field, **kwargs):
    """Every `field` of the `items` of a paged IAM list call."""
    out = []
    while True:
        page = call(**kwargs)
        out += [x[field] for x in page[items]]
        if not page.get("IsTruncated"):
            return out
        kwargs["Marker"] = page["Marker"]


def names(iam):
    return collect(iam.list_workload_identity_providers, "WorkloadIdentityProviders", "ProviderName")


def test_create_get_list_delete_a_spiffe_provider(tessera):
    iam = tessera.client("iam")
    account = tessera.client("sts").get_caller_identity()["Account"]
    name = unique("wip-")
    out = iam.create_workload_identity_provider(
        ProviderName=name, Scheme="SPIFFE", WorkloadIdentityDomain="payments.example.org",
        Description="payments workloads", Tags=[{"Key": "team", "Value": "payments"}])
    arn = f"arn:aws:iam::{account}:workload-identity-provider/{name}"
    assert out["Arn"] == arn
    assert out["ResourceScope"] == "ACCOUNT"  # the default, resolved
    assert out["ProviderId"].startswith("AWPA") and len(out["ProviderId"]) == 21
    assert out["Scheme"] == "SPIFFE" and out["WorkloadIdentityDomain"] == "payments.example.org"
    assert out["Description"] == "payments workloads"
    assert out["Tags"] == [{"Key": "team", "Value": "payments"}]
    signers = out["OutboundSigners"]
    assert signers["X509"] == []
    assert sorted((s["SigningAlgorithm"], s["Configuration"]["KeyAlgorithm"]) for s in signers["Jwt"]) == [
        ("ES384", "ECC_NIST_P384"), ("RS256", "RSA_2048")]
    assert all(s["StartSigningTime"] == out["CreateDate"] for s in signers["Jwt"])

    got = iam.get_workload_identity_provider(WorkloadIdentityProviderArn=arn)
    for k in ("Arn", "ProviderId", "Scheme", "WorkloadIdentityDomain", "Description", "Tags", "OutboundSigners",
              "CreateDate"):
        assert got[k] == out[k], k
    assert name in names(iam)
    listed = [p for p in iam.list_workload_identity_providers()["WorkloadIdentityProviders"]
              if p["ProviderName"] == name]
    if listed:  # on the first page
        assert listed[0]["Arn"] == arn and listed[0]["ProviderId"] == out["ProviderId"]

    signer_list = iam.list_workload_identity_provider_outbound_signers(WorkloadIdentityProviderArn=arn)
    assert signer_list["IsTruncated"] is False
    assert sorted(s["SigningAlgorithm"] for s in signer_list["OutboundSigners"]) == ["ES384", "RS256"]
    assert all(s["SignerType"] == "JWT" and "Jwt" in s["Configuration"] for s in signer_list["OutboundSigners"])
    page = iam.list_workload_identity_provider_outbound_signers(WorkloadIdentityProviderArn=arn, MaxItems=1)
    assert page["IsTruncated"] is True and len(page["OutboundSigners"]) == 1
    rest = iam.list_workload_identity_provider_outbound_signers(
        WorkloadIdentityProviderArn=arn, Marker=page["Marker"])
    assert len(rest["OutboundSigners"]) == 1 and rest["IsTruncated"] is False
    assert rest["OutboundSigners"][0]["SigningAlgorithm"] != page["OutboundSigners"][0]["SigningAlgorithm"]

    task = iam.delete_workload_identity_provider(WorkloadIdentityProviderArn=arn)["DeletionTaskId"]
    status = iam.get_workload_identity_provider_deletion_status(DeletionTaskId=task)
    assert status == {**status, "WorkloadIdentityProviderArn": arn, "Status": "SUCCEEDED"}
    with pytest.raises(ClientError) as e:
        iam.get_workload_identity_provider(WorkloadIdentityProviderArn=arn)
    assert code(e) == "NoSuchEntity"
    with pytest.raises(ClientError) as e:
        iam.delete_workload_identity_provider(WorkloadIdentityProviderArn=arn)
    assert code(e) == "NoSuchEntity"
    assert name not in names(iam)
    with pytest.raises(ClientError) as e:
        iam.get_workload_identity_provider_deletion_status(DeletionTaskId=task + "x")
    assert code(e) == "NoSuchEntity"


def test_a_none_provider_has_no_domain_and_private_keys_never_leave(tessera):
    iam = unvalidated(tessera)
    name = unique("wip-none-")
    captured = []
    iam.meta.events.register("after-call.iam.*", lambda http_response, **_: captured.append(http_response.text))
    out = iam.create_workload_identity_provider(ProviderName=name, Scheme="NONE")
    assert "WorkloadIdentityDomain" not in out and "Description" not in out and "Tags" not in out
    got = iam.get_workload_identity_provider(WorkloadIdentityProviderArn=out["Arn"])
    # "A NONE provider has no signing keys and publishes no trust bundle" (IAM User Guide,
    # "Configure signing and the trust bundle"); OutboundSigners is "Present only when the
    # provider holds signing material" (API_GetWorkloadIdentityProvider.html).
    assert "OutboundSigners" not in got
    listed = iam.list_workload_identity_provider_outbound_signers(WorkloadIdentityProviderArn=out["Arn"])
    assert listed["OutboundSigners"] == []
    assert len(captured) == 3
    for body in captured:
        assert "PRIVATE" not in body and "sealed" not in body.lower() and "Kid" not in body


def test_bad_input_changes_nothing(tessera):
    iam = unvalidated(tessera)
    name = unique("wip-bad-")
    cases = [
        (dict(ProviderName=name, Scheme="SPIFFE"), "InvalidInput"),  # SPIFFE needs a domain
        (dict(ProviderName=name, Scheme="NONE", WorkloadIdentityDomain="example.org"), "InvalidInput"),
        (dict(ProviderName=name + " x", Scheme="NONE"), "ValidationError"),
        (dict(ProviderName="x" * 129, Scheme="NONE"), "ValidationError"),
        (dict(ProviderName=name, Scheme="OIDC"), "ValidationError"),
        (dict(ProviderName=name), "ValidationError"),
        (dict(ProviderName=name, Scheme="SPIFFE", WorkloadIdentityDomain="Example.ORG"), "ValidationError"),
        (dict(ProviderName=name, Scheme="NONE", ResourceScope="GLOBAL"), "ValidationError"),
        (dict(ProviderName=name, Scheme="NONE", Tags=[{"Key": "aws:owner", "Value": "x"}]), "InvalidInput"),
        (dict(ProviderName=name, Scheme="NONE", Tags=[{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}]),
         "InvalidInput"),
        (dict(ProviderName=name, Scheme="NONE", Tags=[{"Key": f"k{i}", "Value": ""} for i in range(51)]),
         "LimitExceeded"),
    ]
    for args, expected in cases:
        with pytest.raises(ClientError) as e:
            iam.create_workload_identity_provider(**args)
        assert code(e) == expected, (args, e.value.response["Error"])
    assert not [n for n in names(iam) if n.startswith(name)]
    for bad_arn in ["arn:aws:iam::123:workload-identity-provider/x", "arn:aws:iam::111122223333:role/xxxxx"]:
        with pytest.raises(ClientError) as e:
            iam.get_workload_identity_provider(WorkloadIdentityProviderArn=bad_arn)
        assert code(e) == "InvalidInput"
    with pytest.raises(ClientError) as e:
        iam.get_workload_identity_provider(WorkloadIdentityProviderArn="short")
    assert code(e) == "ValidationError"


def test_duplicate_names_are_refused_whatever_their_case(tessera):
    iam = tessera.client("iam")
    name = unique("WipDup-")
    first = iam.create_workload_identity_provider(ProviderName=name, Scheme="NONE")
    for dup in (name, name.lower(), name.upper()):
        with pytest.raises(ClientError) as e:
            iam.create_workload_identity_provider(ProviderName=dup, Scheme="NONE")
        assert code(e) == "EntityAlreadyExists"
    got = iam.get_workload_identity_provider(WorkloadIdentityProviderArn=first["Arn"])
    assert got["ProviderId"] == first["ProviderId"]  # the first one is untouched


def test_tags_are_case_sensitive_and_paged(tessera):
    iam = unvalidated(tessera)
    arn = iam.create_workload_identity_provider(
        ProviderName=unique("wip-tags-"), Scheme="NONE", Tags=[{"Key": "Env", "Value": "prod"}])["Arn"]
    iam.tag_workload_identity_provider(
        WorkloadIdentityProviderArn=arn, Tags=[{"Key": "Env", "Value": "dev"}, {"Key": "team", "Value": "a"}])
    tags = iam.list_workload_identity_provider_tags(WorkloadIdentityProviderArn=arn)
    assert tags["Tags"] == [{"Key": "Env", "Value": "dev"}, {"Key": "team", "Value": "a"}]
    assert tags["IsTruncated"] is False
    for bad, expected in [([{"Key": "env", "Value": "x"}], "InvalidInput"),  # differs only in case
                          ([{"Key": "aws:x", "Value": "x"}], "InvalidInput"),
                          ([{"Key": f"k{i}", "Value": "x"} for i in range(49)], "LimitExceeded")]:
        with pytest.raises(ClientError) as e:
            iam.tag_workload_identity_provider(WorkloadIdentityProviderArn=arn, Tags=bad)
        assert code(e) == expected
    assert iam.list_workload_identity_provider_tags(WorkloadIdentityProviderArn=arn)["Tags"] == tags["Tags"]
    page = iam.list_workload_identity_provider_tags(WorkloadIdentityProviderArn=arn, MaxItems=1)
    assert page["IsTruncated"] is True and page["Tags"] == [{"Key": "Env", "Value": "dev"}]
    rest = iam.list_workload_identity_provider_tags(WorkloadIdentityProviderArn=arn, Marker=page["Marker"])
    assert rest["Tags"] == [{"Key": "team", "Value": "a"}]
    iam.untag_workload_identity_provider(WorkloadIdentityProviderArn=arn, TagKeys=["env", "team", "absent"])
    assert iam.list_workload_identity_provider_tags(WorkloadIdentityProviderArn=arn)["Tags"] == [
        {"Key": "Env", "Value": "dev"}]  # untag matches keys exactly
    missing = arn + "-gone"
    for call in (lambda: iam.tag_workload_identity_provider(WorkloadIdentityProviderArn=missing,
                                                            Tags=[{"Key": "a", "Value": "b"}]),
                 lambda: iam.untag_workload_identity_provider(WorkloadIdentityProviderArn=missing, TagKeys=["a"]),
                 lambda: iam.list_workload_identity_provider_tags(WorkloadIdentityProviderArn=missing)):
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) == "NoSuchEntity"


def test_resource_policy_is_validated_stored_exactly_and_removed(tessera):
    iam = tessera.client("iam")
    account = tessera.client("sts").get_caller_identity()["Account"]
    arn = iam.create_workload_identity_provider(ProviderName=unique("wip-rp-"), Scheme="NONE")["Arn"]
    with pytest.raises(ClientError) as e:
        iam.get_workload_identity_provider_resource_policy(WorkloadIdentityProviderArn=arn)
    assert code(e) == "NoSuchEntity"
    document = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                       "Action": "iam:AssociateWorkloadIdentityTemplate", "Resource": arn})
    for bad in ["{not json", policy({"Effect": "Allow", "Action": "iam:*", "Resource": "*"})]:  # no Principal
        with pytest.raises(ClientError) as e:
            iam.put_workload_identity_provider_resource_policy(WorkloadIdentityProviderArn=arn, PolicyDocument=bad)
        assert code(e) == "MalformedPolicyDocument"
    with pytest.raises(ClientError) as e:
        iam.get_workload_identity_provider_resource_policy(WorkloadIdentityProviderArn=arn)
    assert code(e) == "NoSuchEntity"  # a refused put changes nothing
    spaced = document.replace(",", ",   ")
    iam.put_workload_identity_provider_resource_policy(WorkloadIdentityProviderArn=arn, PolicyDocument=spaced)
    raw = []
    iam.meta.events.register("after-call.iam.GetWorkloadIdentityProviderResourcePolicy",
                             lambda http_response, **_: raw.append(http_response.text))
    got = iam.get_workload_identity_provider_resource_policy(WorkloadIdentityProviderArn=arn)
    assert got["Arn"] == arn and got["PolicyDocument"] == json.loads(spaced)  # boto3 decodes it
    assert "Statement&quot;: [{&quot;Effect&quot;: &quot;Allow&quot;,    " in raw[0]  # exactly as stored
    iam.put_workload_identity_provider_resource_policy(WorkloadIdentityProviderArn=arn, PolicyDocument=document)
    assert iam.get_workload_identity_provider_resource_policy(
        WorkloadIdentityProviderArn=arn)["PolicyDocument"] == json.loads(document)  # replaced
    assert ",    " not in raw[-1]
    iam.delete_workload_identity_provider_resource_policy(WorkloadIdentityProviderArn=arn)
    for call in (iam.get_workload_identity_provider_resource_policy,
                 iam.delete_workload_identity_provider_resource_policy):
        with pytest.raises(ClientError) as e:
            call(WorkloadIdentityProviderArn=arn)
        assert code(e) == "NoSuchEntity"
    assert iam.get_workload_identity_provider(WorkloadIdentityProviderArn=arn)["Arn"] == arn  # provider stays


def test_denials_use_awss_message_and_the_engine_decides_with_tags(tessera):
    root = tessera.client("iam")
    account = tessera.client("sts").get_caller_identity()["Account"]
    prod = root.create_workload_identity_provider(
        ProviderName=unique("wip-prod-"), Scheme="NONE", Tags=[{"Key": "env", "Value": "prod"}])["Arn"]
    dev = root.create_workload_identity_provider(
        ProviderName=unique("wip-dev-"), Scheme="NONE", Tags=[{"Key": "env", "Value": "dev"}])["Arn"]
    user = unique("wip-reader-")
    creds = user_with_key(tessera, tessera.root_creds, user, policy(
        {"Effect": "Allow", "Action": "iam:GetWorkloadIdentityProvider", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/env": "dev"}}},
        {"Effect": "Allow", "Action": "iam:ListWorkloadIdentityProviders", "Resource": "*"}))
    iam = tessera.client("iam", **creds)
    assert iam.get_workload_identity_provider(WorkloadIdentityProviderArn=dev)["Arn"] == dev
    assert iam.list_workload_identity_providers()["WorkloadIdentityProviders"] is not None
    denied_with_awss_message(iam.get_workload_identity_provider, f"arn:aws:iam::{account}:user/{user}",
                             "iam:GetWorkloadIdentityProvider", prod, WorkloadIdentityProviderArn=prod)
    # A provider that does not exist is denied the same way: existence is not told.
    with pytest.raises(ClientError) as e:
        iam.get_workload_identity_provider(WorkloadIdentityProviderArn=prod + "-nope")
    assert code(e) == "AccessDenied"
    name = unique("wip-denied-")
    for call, action in [
        (lambda: iam.create_workload_identity_provider(ProviderName=name, Scheme="NONE"),
         "iam:CreateWorkloadIdentityProvider"),
        (lambda: iam.delete_workload_identity_provider(WorkloadIdentityProviderArn=dev),
         "iam:DeleteWorkloadIdentityProvider"),
        (lambda: iam.tag_workload_identity_provider(WorkloadIdentityProviderArn=dev,
                                                    Tags=[{"Key": "a", "Value": "b"}]),
         "iam:TagWorkloadIdentityProvider"),
        (lambda: iam.put_workload_identity_provider_resource_policy(
            WorkloadIdentityProviderArn=dev, PolicyDocument=policy(
                {"Effect": "Allow", "Principal": "*", "Action": "iam:*", "Resource": "*"})),
         "iam:PutWorkloadIdentityProviderResourcePolicy"),
    ]:
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) == "AccessDenied"
        assert f"is not authorized to perform: {action}" in e.value.response["Error"]["Message"]
    assert name not in names(root)
    assert root.get_workload_identity_provider(WorkloadIdentityProviderArn=dev)["Tags"] == [
        {"Key": "env", "Value": "dev"}]
    with pytest.raises(ClientError) as e:
        root.get_workload_identity_provider_resource_policy(WorkloadIdentityProviderArn=dev)
    assert code(e) == "NoSuchEntity"

    # aws:RequestTag decides a create.
    tagger = unique("wip-tagger-")
    tcreds = user_with_key(tessera, tessera.root_creds, tagger, policy(
        {"Effect": "Allow", "Action": "iam:CreateWorkloadIdentityProvider", "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestTag/env": "dev"}}}))
    tiam = tessera.client("iam", **tcreds)
    with pytest.raises(ClientError) as e:
        tiam.create_workload_identity_provider(ProviderName=name, Scheme="NONE")
    assert code(e) == "AccessDenied"
    made = tiam.create_workload_identity_provider(ProviderName=name, Scheme="NONE",
                                                  Tags=[{"Key": "env", "Value": "dev"}])
    assert made["Arn"].endswith(f":workload-identity-provider/{name}")


def test_cloudtrail_records_the_calls_without_secrets(tessera):
    iam = tessera.client("iam")
    name = unique("wip-trail-")
    arn = iam.create_workload_identity_provider(ProviderName=name, Scheme="NONE")["Arn"]
    template = iam.create_workload_identity_template(
        Name=name, WorkloadIdentityProviderArn=arn,
        PathPattern="{aws:WorkloadAttestation/aws/eks/Namespace}")["Arn"]
    iam.get_workload_identity_template(WorkloadIdentityTemplateArn=template)
    iam.delete_workload_identity_template(WorkloadIdentityTemplateArn=template)
    iam.delete_workload_identity_provider(WorkloadIdentityProviderArn=arn)
    ct = tessera.client("cloudtrail")
    found = {}
    for event_name in ("CreateWorkloadIdentityProvider", "DeleteWorkloadIdentityProvider",
                       "CreateWorkloadIdentityTemplate", "GetWorkloadIdentityTemplate",
                       "DeleteWorkloadIdentityTemplate"):
        events = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": event_name}],
                                  MaxResults=50)["Events"]
        mine = [e for e in events if name in e["CloudTrailEvent"]]
        assert mine, event_name
        found[event_name] = json.loads(mine[0]["CloudTrailEvent"])
    created = found["CreateWorkloadIdentityProvider"]
    assert created["eventSource"] == "iam.amazonaws.com" and created["readOnly"] is False
    assert created["requestParameters"]["providerName"] == name
    assert found["CreateWorkloadIdentityTemplate"]["readOnly"] is False
    assert found["GetWorkloadIdentityTemplate"]["readOnly"] is True
    assert found["DeleteWorkloadIdentityTemplate"]["requestParameters"]["workloadIdentityTemplateArn"] == template
    assert "PRIVATE" not in json.dumps(found)


def cli_env(tessera, tmp_path):
    """The AWS CLI v1 vendors an IAM model older than the workload identity family; AWS_DATA_PATH
    hands it the pinned botocore's IAM model (AWS's own), as `aws configure add-model` would."""
    import gzip
    import pathlib

    import botocore
    model = pathlib.Path(botocore.__file__).parent / "data" / "iam" / "2010-05-08" / "service-2.json.gz"
    target = tmp_path / "models" / "iam" / "2010-05-08"
    target.mkdir(parents=True)
    (target / "service-2.json").write_bytes(gzip.decompress(model.read_bytes()))
    return {**tessera.root_env, "AWS_DATA_PATH": str(tmp_path / "models")}


def test_aws_cli_lists_and_reads_providers(tessera, tmp_path):
    env = cli_env(tessera, tmp_path)
    name = unique("wip-cli-")
    made = tessera.cli("iam", "create-workload-identity-provider", "--provider-name", name,
                       "--scheme", "SPIFFE", "--workload-identity-domain", "cli.example.org", env=env)
    assert made["ProviderName"] == name
    got = tessera.cli("iam", "get-workload-identity-provider", "--workload-identity-provider-arn", made["Arn"],
                      env=env)
    assert got["WorkloadIdentityDomain"] == "cli.example.org"
    listed = tessera.cli("iam", "list-workload-identity-providers", env=env)
    assert name in [p["ProviderName"] for p in listed["WorkloadIdentityProviders"]]


def test_an_account_holds_at_most_50_providers(fresh_tessera):
    iam = fresh_tessera.client("iam")
    for i in range(50):
        iam.create_workload_identity_provider(ProviderName=f"p{i:02}", Scheme="NONE")
    with pytest.raises(ClientError) as e:
        iam.create_workload_identity_provider(ProviderName="p50", Scheme="NONE")
    assert code(e) == "LimitExceeded"
    page = iam.list_workload_identity_providers(MaxItems=20)
    assert [p["ProviderName"] for p in page["WorkloadIdentityProviders"]] == [f"p{i:02}" for i in range(20)]
    assert page["IsTruncated"] is True
    assert len(names(iam)) == 50
    arn = page["WorkloadIdentityProviders"][0]["Arn"]
    iam.delete_workload_identity_provider(WorkloadIdentityProviderArn=arn)
    iam.create_workload_identity_provider(ProviderName="p50", Scheme="NONE")  # room again


def rfc7638_thumbprint(jwk):
    import base64
    import hashlib
    members = ("crv", "kty", "x", "y") if jwk["kty"] == "EC" else ("e", "kty", "n")
    canonical = json.dumps({k: jwk[k] for k in members}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def test_sts_trust_bundles_publish_the_jwt_signers_public_keys(tessera):
    import jwt  # PyJWT: a standard library reads the bundle's keys

    iam = tessera.client("iam")
    sts = tessera.client("sts")
    name = unique("wip-bundle-")
    made = iam.create_workload_identity_provider(ProviderName=name, Scheme="SPIFFE",
                                                 WorkloadIdentityDomain="bundle.example.org")
    bundles = sts.get_trust_bundles(ProviderArn=made["Arn"])["TrustBundles"]
    assert len(bundles) == 1 and bundles[0]["TrustDomain"] == "bundle.example.org"
    doc = json.loads(bundles[0]["Bundle"])
    assert doc["spiffe_refresh_hint"] > 0
    keys = doc["keys"]
    assert sorted(k["alg"] for k in keys) == ["ES384", "RS256"]
    for k in keys:
        assert k["use"] == "jwt-svid" and k["kty"] == {"ES384": "EC", "RS256": "RSA"}[k["alg"]]
        assert "d" not in k and "p" not in k  # public only
        assert k["kid"] == rfc7638_thumbprint(k)
        key = jwt.PyJWK(k)
        if k["alg"] == "ES384":
            assert key.key.curve.name == "secp384r1"
        else:
            assert key.key.key_size == 2048
    assert sts.get_trust_bundles(ProviderArn=made["Arn"])["TrustBundles"] == bundles  # stable

    none = iam.create_workload_identity_provider(ProviderName=unique("wip-bundle-none-"), Scheme="NONE")
    assert sts.get_trust_bundles(ProviderArn=none["Arn"])["TrustBundles"][0]["TrustDomain"] == none["ProviderId"]

    account = sts.get_caller_identity()["Account"]
    other = "999999999999" if account != "999999999999" else "888888888888"
    for arn, expected in [(made["Arn"] + "-gone", "ResourceNotFoundException"),
                          (f"arn:aws:iam::{other}:workload-identity-provider/{name}", "ResourceNotFoundException"),
                          (f"arn:aws:iam::{account}:role/{name}", "ValidationError")]:
        with pytest.raises(ClientError) as e:
            sts.get_trust_bundles(ProviderArn=arn)
        assert code(e) == expected, arn
    iam.delete_workload_identity_provider(WorkloadIdentityProviderArn=made["Arn"])
    with pytest.raises(ClientError) as e:
        sts.get_trust_bundles(ProviderArn=made["Arn"])
    assert code(e) == "ResourceNotFoundException"

    user = unique("wip-nobundle-")
    creds = user_with_key(tessera, tessera.root_creds, user)
    with pytest.raises(ClientError) as e:
        tessera.client("sts", **creds).get_trust_bundles(ProviderArn=none["Arn"])
    assert code(e) == "AccessDenied"
    assert e.value.response["Error"]["Message"].startswith(
        f"User: arn:aws:iam::{account}:user/{user} is not authorized to perform: sts:GetTrustBundles on resource: *")


def test_x509_signer_requests_naming_a_ca_that_does_not_exist(tessera):
    """A certificate authority IAM cannot find (test_workload_identity_x509.py attaches real ones)."""
    iam = unvalidated(tessera)
    account = tessera.client("sts").get_caller_identity()["Account"]
    arn = iam.create_workload_identity_provider(ProviderName=unique("wip-x509-"), Scheme="SPIFFE",
                                                WorkloadIdentityDomain="x509.example.org")["Arn"]
    ca = {"X509": {"CertificateAuthorityId": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111", "AccountId": account}}
    ca_arn = f"arn:aws:acm-pca:us-east-1:{account}:certificate-authority/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"
    for call in (iam.create_workload_identity_provider_outbound_signer,
                 iam.update_workload_identity_provider_outbound_signer):
        with pytest.raises(ClientError) as e:
            call(WorkloadIdentityProviderArn=arn, OutboundSigner=ca, SigningDelayInHours=2)
        assert code(e) == "InvalidInput" and ca_arn in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        iam.delete_workload_identity_provider_outbound_signer(WorkloadIdentityProviderArn=arn, OutboundSigner=ca)
    assert code(e) == "NoSuchEntity"
    # Disable is idempotent and removes nothing; with no X.509 signer, enable resumes nothing.
    iam.disable_workload_identity_provider_outbound_signer(WorkloadIdentityProviderArn=arn, SignerType="X509")
    iam.enable_workload_identity_provider_outbound_signer(WorkloadIdentityProviderArn=arn, SignerType="X509")
    for call in (iam.disable_workload_identity_provider_outbound_signer,
                 iam.enable_workload_identity_provider_outbound_signer):
        with pytest.raises(ClientError) as e:
            call(WorkloadIdentityProviderArn=arn, SignerType="JWT")  # IAM manages JWT signers
        assert code(e) == "InvalidInput"
    signers = iam.list_workload_identity_provider_outbound_signers(WorkloadIdentityProviderArn=arn)
    assert [s["SignerType"] for s in signers["OutboundSigners"]] == ["JWT", "JWT"]  # nothing attached
    assert iam.get_workload_identity_provider(WorkloadIdentityProviderArn=arn)["OutboundSigners"]["X509"] == []
    bad = [dict(OutboundSigner={"X509": {"CertificateAuthorityId": "bad/id", "AccountId": account}}),
           dict(OutboundSigner={"X509": {"CertificateAuthorityId": "x", "AccountId": "123"}}),
           dict(OutboundSigner=ca, SigningDelayInHours=49)]
    for args in bad:
        with pytest.raises(ClientError) as e:
            iam.create_workload_identity_provider_outbound_signer(WorkloadIdentityProviderArn=arn, **args)
        assert code(e) == "ValidationError", args
    with pytest.raises(ClientError) as e:
        iam.create_workload_identity_provider_outbound_signer(WorkloadIdentityProviderArn=arn + "-gone",
                                                              OutboundSigner=ca)
    assert code(e) == "NoSuchEntity"
    user = unique("wip-nox509-")
    creds = user_with_key(tessera, tessera.root_creds, user)
    with pytest.raises(ClientError) as e:
        unvalidated(tessera, **creds).disable_workload_identity_provider_outbound_signer(
            WorkloadIdentityProviderArn=arn, SignerType="X509")
    assert code(e) == "AccessDenied"
    assert "iam:DisableWorkloadIdentityProviderOutboundSigner on resource: " + arn in e.value.response["Error"][
        "Message"]


# ---------------------------------------------------------------------------------------------
# Templates and attestation policies: IAM API Reference API_CreateWorkloadIdentityTemplate.html
# and its neighbours; IAM User Guide workload-identity-templates.html and
# workload-identity-attestation-policies.html.

EKS = "aws:WorkloadAttestation/aws/eks/"
PATTERN = "{%sClusterName}/ns/{%sNamespace}/sa/{%sServiceAccount}" % (EKS, EKS, EKS)


def attestation(key=EKS + "Namespace", value="payments", service="pods.eks.amazonaws.com"):
    return policy({"Effect": "Allow", "Principal": {"Service": service},
                   "Action": "sts:IssueWorkloadIdentityContext", "Resource": "*",
                   "Condition": {"StringEquals": {key: value}}})


def template_names(iam, provider, **extra):
    return collect(iam.list_workload_identity_templates, "WorkloadIdentityTemplates", "Name",
                   WorkloadIdentityProviderArn=provider, **extra)


def new_provider(iam, **extra):
    return iam.create_workload_identity_provider(
        ProviderName=unique("wip-t-"), Scheme="SPIFFE", WorkloadIdentityDomain="corp.example.org", **extra)["Arn"]


def test_template_create_get_list_delete(tessera):
    iam = tessera.client("iam")
    account = tessera.client("sts").get_caller_identity()["Account"]
    provider = new_provider(iam)
    name = unique("tpl-")
    document = attestation()
    out = iam.create_workload_identity_template(
        Name=name, WorkloadIdentityProviderArn=provider, PathPattern=PATTERN, PathPrefix="payments/eks",
        Description="payments pods", AttestationPolicy=document, Tags=[{"Key": "team", "Value": "payments"}])
    arn = f"arn:aws:iam::{account}:workload-identity-template/{name}"
    assert out["Arn"] == arn and out["Name"] == name
    assert out["ResourceScope"] == "ACCOUNT"
    assert out["TemplateId"].startswith("AWTA") and len(out["TemplateId"]) == 21
    assert out["WorkloadIdentityProviderArn"] == provider
    assert out["PathPattern"] == PATTERN and out["PathPrefix"] == "payments/eks"
    assert out["Description"] == "payments pods"
    assert out["AttestationPolicy"] == json.loads(document)  # echoed: set by this call
    assert out["Tags"] == [{"Key": "team", "Value": "payments"}]

    got = iam.get_workload_identity_template(WorkloadIdentityTemplateArn=arn)
    for k in ("Arn", "Name", "TemplateId", "ResourceScope", "WorkloadIdentityProviderArn", "PathPattern",
              "PathPrefix", "Description", "Tags", "CreateDate"):
        assert got[k] == out[k], k
    assert "AttestationPolicy" not in got  # read through its own operation only

    second = unique("tpl-b-")
    bare = iam.create_workload_identity_template(
        Name=second, WorkloadIdentityProviderArn=provider, PathPattern="workloads/{%sPodName}" % EKS)
    assert "AttestationPolicy" not in bare and "Tags" not in bare and "Description" not in bare
    assert sorted(template_names(iam, provider)) == sorted([name, second])
    page = iam.list_workload_identity_templates(WorkloadIdentityProviderArn=provider, MaxItems=1)
    assert page["IsTruncated"] is True and len(page["WorkloadIdentityTemplates"]) == 1
    summary = page["WorkloadIdentityTemplates"][0]
    assert set(summary) >= {"Name", "Arn", "WorkloadIdentityProviderArn", "ResourceScope", "PathPattern",
                            "CreateDate"}
    assert "Tags" not in summary and "AttestationPolicy" not in summary
    # The filter keeps the templates whose attestation policy admits the service principal.
    assert template_names(iam, provider, Filter='service_principal = "pods.eks.amazonaws.com"') == [name]
    assert template_names(iam, provider, Filter='service_principal="ecs.amazonaws.com"') == []
    for bad in ("service_principal = \"example.com\"", "owner = \"x\"", " "):
        with pytest.raises(ClientError) as e:
            iam.list_workload_identity_templates(WorkloadIdentityProviderArn=provider, Filter=bad)
        assert code(e) == "InvalidInput", bad
    # Another provider's list does not show them.
    assert template_names(iam, new_provider(iam)) == []

    gone = iam.delete_workload_identity_template(WorkloadIdentityTemplateArn=arn)
    assert gone["WorkloadIdentityTemplateArn"] == arn and gone["Status"] == "SUCCEEDED"
    for call in (iam.get_workload_identity_template, iam.delete_workload_identity_template):
        with pytest.raises(ClientError) as e:
            call(WorkloadIdentityTemplateArn=arn)
        assert code(e) == "NoSuchEntity"
    assert template_names(iam, provider) == [second]
    # Recreated under the same name: same ARN, new identifier.
    again = iam.create_workload_identity_template(
        Name=name, WorkloadIdentityProviderArn=provider, PathPattern=PATTERN)
    assert again["Arn"] == arn and again["TemplateId"] != out["TemplateId"]


def test_template_input_errors_change_nothing(tessera):
    iam = tessera.client("iam")
    raw = unvalidated(tessera)
    account = tessera.client("sts").get_caller_identity()["Account"]
    provider = new_provider(iam)
    name = unique("tpl-bad-")
    good = dict(Name=name, WorkloadIdentityProviderArn=provider, PathPattern=PATTERN)
    cases = [
        ({k: v for k, v in good.items() if k != "Name"}, "InvalidInput"),  # required in direct mode
        ({k: v for k, v in good.items() if k != "PathPattern"}, "InvalidInput"),
        (dict(good, PathPattern="prod/static"), "ValidationError"),  # no placeholder
        (dict(good, PathPattern="/{%sNamespace}" % EKS), "ValidationError"),  # leading slash
        (dict(good, PathPattern="x{%sNamespace}" % EKS), "ValidationError"),  # mixed segment
        (dict(good, PathPattern="prod/{aws:PrincipalArn}"), "InvalidInput"),  # the caller, not attested
        (dict(good, PathPrefix="a//b"), "ValidationError"),
        (dict(good, PathPrefix="../up"), "ValidationError"),
        (dict(good, Name="has.dot"), "ValidationError"),
        (dict(good, Description="x" * 1001), "ValidationError"),
        (dict(good, ResourceScope="GALAXY"), "ValidationError"),
        (dict(good, AttestationPolicy="{not json"), "MalformedPolicyDocument"),
        (dict(good, AttestationPolicy=attestation(key="aws:WorkloadAttestation/aws/ecs/TaskArn")), "InvalidInput"),
        (dict(good, Tags=[{"Key": "aws:x", "Value": "y"}]), "InvalidInput"),
        (dict(good, Tags=[{"Key": "Env", "Value": "a"}, {"Key": "env", "Value": "b"}]), "InvalidInput"),
        (dict(good, WorkloadIdentityProviderArn=provider + "-nope"), "NoSuchEntity"),
        (dict(good, WorkloadIdentityProviderArn=f"arn:aws:iam::{account}:oidc-provider/x"), "InvalidInput"),
        # Template definition mode: the direct members are forbidden, and no definition is known.
        (dict(good, TemplateDefinition={"TemplateDefinitionArn": "arn:aws:iam::aws:definition/eks"}), "InvalidInput"),
        (dict(TemplateDefinition={"TemplateDefinitionArn": "arn:aws:iam::aws:workload-identity-template-definition/x"}),
         "NoSuchEntity"),
        ({}, "InvalidInput"),  # neither mode
    ]
    for kwargs, expected in cases:
        with pytest.raises(ClientError) as e:
            raw.create_workload_identity_template(**kwargs)
        assert code(e) == expected, (kwargs, e.value.response["Error"])
    assert template_names(iam, provider) == []
    iam.create_workload_identity_template(**good)
    with pytest.raises(ClientError) as e:
        iam.create_workload_identity_template(**dict(good, Name=name.upper()))  # names ignore case
    assert code(e) == "EntityAlreadyExists"
    for arn in ("arn:aws:iam::%s:workload-identity-provider/x" % account, "x" * 30):
        with pytest.raises(ClientError) as e:
            iam.get_workload_identity_template(WorkloadIdentityTemplateArn=arn)
        assert code(e) == "InvalidInput"
    with pytest.raises(ClientError) as e:
        iam.list_workload_identity_templates(WorkloadIdentityProviderArn=provider + "-nope")
    assert code(e) == "NoSuchEntity"
    assert template_names(iam, provider) == [name]


def test_template_tags_are_case_sensitive(tessera):
    iam = tessera.client("iam")
    arn = iam.create_workload_identity_template(
        Name=unique("tpl-tag-"), WorkloadIdentityProviderArn=new_provider(iam), PathPattern=PATTERN,
        Tags=[{"Key": "Env", "Value": "prod"}])["Arn"]
    iam.tag_workload_identity_template(WorkloadIdentityTemplateArn=arn, Tags=[
        {"Key": "Env", "Value": "dev"}, {"Key": "team", "Value": "a"}, {"Key": "cost", "Value": "1"}])
    tags = iam.list_workload_identity_template_tags(WorkloadIdentityTemplateArn=arn)["Tags"]
    assert tags == [{"Key": "Env", "Value": "dev"}, {"Key": "team", "Value": "a"}, {"Key": "cost", "Value": "1"}]
    for bad in ([{"Key": "env", "Value": "x"}], [{"Key": "aws:thing", "Value": "x"}]):
        with pytest.raises(ClientError) as e:
            iam.tag_workload_identity_template(WorkloadIdentityTemplateArn=arn, Tags=bad)
        assert code(e) == "InvalidInput"
    page = iam.list_workload_identity_template_tags(WorkloadIdentityTemplateArn=arn, MaxItems=2)
    assert page["IsTruncated"] is True and len(page["Tags"]) == 2
    rest = iam.list_workload_identity_template_tags(WorkloadIdentityTemplateArn=arn, Marker=page["Marker"])
    assert page["Tags"] + rest["Tags"] == tags  # unchanged by the refused requests
    iam.untag_workload_identity_template(WorkloadIdentityTemplateArn=arn, TagKeys=["env", "team", "absent"])
    assert iam.get_workload_identity_template(WorkloadIdentityTemplateArn=arn)["Tags"] == [
        {"Key": "Env", "Value": "dev"}, {"Key": "cost", "Value": "1"}]  # exact keys only
    with pytest.raises(ClientError) as e:
        iam.tag_workload_identity_template(WorkloadIdentityTemplateArn=arn + "-nope", Tags=[{"Key": "a", "Value": "b"}])
    assert code(e) == "NoSuchEntity"


def test_attestation_policy_crud_and_validation(tessera):
    iam = tessera.client("iam")
    arn = iam.create_workload_identity_template(
        Name=unique("tpl-att-"), WorkloadIdentityProviderArn=new_provider(iam), PathPattern=PATTERN)["Arn"]
    for call in (iam.get_workload_identity_template_attestation_policy,
                 iam.delete_workload_identity_template_attestation_policy):
        with pytest.raises(ClientError) as e:
            call(WorkloadIdentityTemplateArn=arn)
        assert code(e) == "NoSuchEntity"  # no policy yet
    first = attestation()
    assert iam.put_workload_identity_template_attestation_policy(
        WorkloadIdentityTemplateArn=arn, AttestationPolicy=first)["ResponseMetadata"]["HTTPStatusCode"] == 200
    got = iam.get_workload_identity_template_attestation_policy(WorkloadIdentityTemplateArn=arn)
    assert got["WorkloadIdentityTemplateArn"] == arn and got["AttestationPolicy"] == json.loads(first)
    bad = [
        ("{", "MalformedPolicyDocument"),
        # An identity policy (no Principal) is not a resource-based policy.
        (policy({"Effect": "Allow", "Action": "sts:IssueWorkloadIdentityContext", "Resource": "*"}),
         "MalformedPolicyDocument"),
        # A key of a source the pattern does not draw from does not fit the pattern.
        (attestation(key="aws:WorkloadAttestation/aws/ecs/TaskArn"), "InvalidInput"),
    ]
    for document, expected in bad:
        with pytest.raises(ClientError) as e:
            iam.put_workload_identity_template_attestation_policy(
                WorkloadIdentityTemplateArn=arn, AttestationPolicy=document)
        assert code(e) == expected, document
    got = iam.get_workload_identity_template_attestation_policy(WorkloadIdentityTemplateArn=arn)
    assert got["AttestationPolicy"] == json.loads(first)  # refused puts changed nothing
    second = attestation(key=EKS + "ServiceAccount", value="checkout-sa")
    iam.put_workload_identity_template_attestation_policy(WorkloadIdentityTemplateArn=arn, AttestationPolicy=second)
    got = iam.get_workload_identity_template_attestation_policy(WorkloadIdentityTemplateArn=arn)
    assert got["AttestationPolicy"] == json.loads(second)  # upsert
    iam.delete_workload_identity_template_attestation_policy(WorkloadIdentityTemplateArn=arn)
    with pytest.raises(ClientError) as e:
        iam.get_workload_identity_template_attestation_policy(WorkloadIdentityTemplateArn=arn)
    assert code(e) == "NoSuchEntity"
    assert iam.get_workload_identity_template(WorkloadIdentityTemplateArn=arn)["Arn"] == arn  # template stays


def test_a_provider_referenced_by_a_template_cannot_be_deleted(tessera, tmp_path):
    iam = tessera.client("iam")
    env = cli_env(tessera, tmp_path)
    provider = new_provider(iam)
    name = unique("tpl-ref-")
    made = tessera.cli("iam", "create-workload-identity-template", "--name", name,
                       "--workload-identity-provider-arn", provider, "--path-pattern", PATTERN, env=env)
    template = made["Arn"]
    assert made["Name"] == name and made["PathPattern"] == PATTERN and made["TemplateId"].startswith("AWTA")
    with pytest.raises(ClientError) as e:
        iam.delete_workload_identity_provider(WorkloadIdentityProviderArn=provider)
    assert code(e) == "DeleteConflict"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert iam.get_workload_identity_provider(WorkloadIdentityProviderArn=provider)["Arn"] == provider
    # The AWS CLI sees the same conflict.
    proc = tessera.cli("iam", "delete-workload-identity-provider", "--workload-identity-provider-arn", provider,
                       env=env, check=False)
    assert proc.returncode != 0 and "DeleteConflict" in proc.stderr
    iam.delete_workload_identity_template(WorkloadIdentityTemplateArn=template)
    assert iam.delete_workload_identity_provider(WorkloadIdentityProviderArn=provider)["DeletionTaskId"]


def test_template_denials_and_tag_conditions(tessera):
    root = tessera.client("iam")
    account = tessera.client("sts").get_caller_identity()["Account"]
    provider = new_provider(root)
    dev = root.create_workload_identity_template(
        Name=unique("tpl-dev-"), WorkloadIdentityProviderArn=provider, PathPattern=PATTERN,
        AttestationPolicy=attestation(), Tags=[{"Key": "env", "Value": "dev"}])["Arn"]
    prod = root.create_workload_identity_template(
        Name=unique("tpl-prod-"), WorkloadIdentityProviderArn=provider, PathPattern=PATTERN,
        Tags=[{"Key": "env", "Value": "prod"}])["Arn"]
    user = unique("tpl-user-")
    creds = user_with_key(tessera, tessera.root_creds, user, policy(
        {"Effect": "Allow", "Action": "iam:GetWorkloadIdentityTemplate", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/env": "dev"}}},
        {"Effect": "Allow", "Action": "iam:CreateWorkloadIdentityTemplate", "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestTag/env": "dev"}, "ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}}}))
    iam = tessera.client("iam", **creds)
    assert iam.get_workload_identity_template(WorkloadIdentityTemplateArn=dev)["Arn"] == dev
    denied_with_awss_message(iam.get_workload_identity_template, f"arn:aws:iam::{account}:user/{user}",
                             "iam:GetWorkloadIdentityTemplate", prod, WorkloadIdentityTemplateArn=prod)
    with pytest.raises(ClientError) as e:  # existence is not told
        iam.get_workload_identity_template(WorkloadIdentityTemplateArn=prod + "-nope")
    assert code(e) == "AccessDenied"

    # aws:RequestTag and aws:TagKeys decide a create; a refused create creates nothing.
    name = unique("tpl-new-")
    for tags in ([{"Key": "env", "Value": "prod"}], [{"Key": "env", "Value": "dev"}, {"Key": "x", "Value": "y"}], []):
        with pytest.raises(ClientError) as e:
            iam.create_workload_identity_template(
                Name=name, WorkloadIdentityProviderArn=provider, PathPattern=PATTERN, Tags=tags)
        assert code(e) == "AccessDenied"
        assert (f"iam:CreateWorkloadIdentityTemplate on resource: "
                f"arn:aws:iam::{account}:workload-identity-template/{name}") in e.value.response["Error"]["Message"]
    assert name not in template_names(root, provider)
    made = iam.create_workload_identity_template(
        Name=name, WorkloadIdentityProviderArn=provider, PathPattern=PATTERN, Tags=[{"Key": "env", "Value": "dev"}])
    assert name in template_names(root, provider) and made["Tags"] == [{"Key": "env", "Value": "dev"}]

    # Denied changes change nothing.
    for call, action in [
        (lambda: iam.delete_workload_identity_template(WorkloadIdentityTemplateArn=dev),
         "iam:DeleteWorkloadIdentityTemplate"),
        (lambda: iam.put_workload_identity_template_attestation_policy(
            WorkloadIdentityTemplateArn=dev, AttestationPolicy=attestation(value="other")),
         "iam:PutWorkloadIdentityTemplateAttestationPolicy"),
        (lambda: iam.get_workload_identity_template_attestation_policy(WorkloadIdentityTemplateArn=dev),
         "iam:GetWorkloadIdentityTemplateAttestationPolicy"),
        (lambda: iam.untag_workload_identity_template(WorkloadIdentityTemplateArn=dev, TagKeys=["env"]),
         "iam:UntagWorkloadIdentityTemplate"),
        (lambda: iam.list_workload_identity_templates(WorkloadIdentityProviderArn=provider),
         "iam:ListWorkloadIdentityTemplates"),
    ]:
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) == "AccessDenied"
        assert f"is not authorized to perform: {action}" in e.value.response["Error"]["Message"]
    assert root.get_workload_identity_template(WorkloadIdentityTemplateArn=dev)["Tags"] == [
        {"Key": "env", "Value": "dev"}]
    got = root.get_workload_identity_template_attestation_policy(WorkloadIdentityTemplateArn=dev)
    assert got["AttestationPolicy"] == json.loads(attestation())


# ---------------------------------------------------------------------------------------------
# Organization-level resources: API_EnableOrganizationLevelResources.html,
# API_DisableOrganizationLevelResources.html, ResourceScope ORGANIZATION on providers and
# templates. A server of its own: the feature is organization-wide.

IAM_SP = "iam.amazonaws.com"


def test_organization_scope_enable_disable_and_binding(fresh_tessera):
    t = fresh_tessera
    iam, org = t.client("iam"), t.client("organizations")
    name = unique("wip-org-")
    # No organization yet.
    with pytest.raises(ClientError) as e:
        iam.enable_organization_level_resources()
    assert code(e) == "OrganizationNotFoundException"
    with pytest.raises(ClientError) as e:
        iam.create_workload_identity_provider(ProviderName=name, Scheme="NONE", ResourceScope="ORGANIZATION")
    assert code(e) == "InvalidInput"

    from conftest import Accounts
    accounts = Accounts(t)
    org_id = org.describe_organization()["Organization"]["Id"]
    with pytest.raises(ClientError) as e:
        iam.enable_organization_level_resources()
    assert code(e) == "ServiceAccessNotEnabledException"
    org.enable_aws_service_access(ServicePrincipal=IAM_SP)
    # Not enabled yet: organization scope is refused and nothing is created.
    with pytest.raises(ClientError) as e:
        iam.create_workload_identity_provider(ProviderName=name, Scheme="NONE", ResourceScope="ORGANIZATION")
    assert code(e) == "InvalidInput"
    assert iam.list_workload_identity_providers(ResourceScope="ORGANIZATION")["WorkloadIdentityProviders"] == []

    member = accounts.create("wit-member")
    member_iam = t.client("iam", **accounts.admin_creds(member))
    with pytest.raises(ClientError) as e:
        member_iam.enable_organization_level_resources()
    assert code(e) == "CallerIsNotManagementAccountException"

    out = iam.enable_organization_level_resources()
    assert out["OrganizationId"] == org_id and out["EnabledFeatures"] == ["OrganizationIamResources"]
    assert iam.enable_organization_level_resources()["EnabledFeatures"] == ["OrganizationIamResources"]
    listed = t.cli("iam", "list-organizations-features")
    assert listed["EnabledFeatures"] == ["OrganizationIamResources"]

    provider = iam.create_workload_identity_provider(
        ProviderName=name, Scheme="SPIFFE", WorkloadIdentityDomain="corp.example.com", ResourceScope="ORGANIZATION")
    assert provider["Arn"] == f"arn:aws:iam::{org_id}:workload-identity-provider/{name}"
    assert provider["ResourceScope"] == "ORGANIZATION" and provider["ProviderId"].startswith("AWPO")
    assert [p["Arn"] for p in iam.list_workload_identity_providers(
        ResourceScope="ORGANIZATION")["WorkloadIdentityProviders"]] == [provider["Arn"]]
    assert provider["Arn"] not in [p["Arn"] for p in iam.list_workload_identity_providers()["WorkloadIdentityProviders"]]
    # A member cannot create organization-scoped resources.
    with pytest.raises(ClientError) as e:
        member_iam.create_workload_identity_provider(ProviderName=unique("m-"), Scheme="NONE",
                                                     ResourceScope="ORGANIZATION")
    assert code(e) == "InvalidInput"

    org_template = iam.create_workload_identity_template(
        Name=unique("org-tpl-"), WorkloadIdentityProviderArn=provider["Arn"], PathPattern=PATTERN,
        ResourceScope="ORGANIZATION")
    assert org_template["Arn"].startswith(f"arn:aws:iam::{org_id}:workload-identity-template/")
    assert org_template["ResourceScope"] == "ORGANIZATION" and org_template["TemplateId"].startswith("AWTO")
    assert [x["Arn"] for x in iam.list_workload_identity_templates(
        WorkloadIdentityProviderArn=provider["Arn"], ResourceScope="ORGANIZATION")["WorkloadIdentityTemplates"]] == [
        org_template["Arn"]]
    # An ORGANIZATION-scoped template must reference an organization-scoped provider.
    local = new_provider(iam)
    with pytest.raises(ClientError) as e:
        iam.create_workload_identity_template(Name=unique("bad-"), WorkloadIdentityProviderArn=local,
                                              PathPattern=PATTERN, ResourceScope="ORGANIZATION")
    assert code(e) == "InvalidInput"

    # A member binds its own template to the organization's provider only when the provider's
    # resource policy allows it, in addition to its own identity policy.
    bound_name = unique("member-tpl-")
    with pytest.raises(ClientError) as e:
        member_iam.create_workload_identity_template(
            Name=bound_name, WorkloadIdentityProviderArn=provider["Arn"], PathPattern=PATTERN)
    assert code(e) == "AccessDenied"
    assert "iam:AssociateWorkloadIdentityTemplate" in e.value.response["Error"]["Message"]
    assert template_names(member_iam, provider["Arn"]) == []
    iam.put_workload_identity_provider_resource_policy(WorkloadIdentityProviderArn=provider["Arn"], PolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{member}:root"},
         "Action": ["iam:AssociateWorkloadIdentityTemplate", "iam:DisassociateWorkloadIdentityTemplate"],
         "Resource": provider["Arn"]}))
    bound = member_iam.create_workload_identity_template(
        Name=bound_name, WorkloadIdentityProviderArn=provider["Arn"], PathPattern=PATTERN)
    assert bound["Arn"] == f"arn:aws:iam::{member}:workload-identity-template/{bound_name}"
    assert bound["ResourceScope"] == "ACCOUNT" and bound["WorkloadIdentityProviderArn"] == provider["Arn"]
    assert template_names(member_iam, provider["Arn"]) == [bound_name]

    # API_ListWorkloadIdentityProviderOutboundSigners.html: "any account in the organization
    # can call this operation"; the other provider operations are the management account's or a
    # delegated administrator's (API_DisableWorkloadIdentityProviderOutboundSigner.html).
    listed = member_iam.list_workload_identity_provider_outbound_signers(WorkloadIdentityProviderArn=provider["Arn"])
    assert sorted(x["SigningAlgorithm"] for x in listed["OutboundSigners"]) == ["ES384", "RS256"]
    with pytest.raises(ClientError) as e:
        member_iam.get_workload_identity_provider(WorkloadIdentityProviderArn=provider["Arn"])
    assert code(e) == "NoSuchEntity"
    with pytest.raises(ClientError) as e:
        member_iam.disable_workload_identity_provider_outbound_signer(
            WorkloadIdentityProviderArn=provider["Arn"], SignerType="X509")
    assert code(e) == "NoSuchEntity"
    outsider = t.client("iam", **accounts.admin_creds(accounts.create("wit-outsider")))
    org.register_delegated_administrator(AccountId=member, ServicePrincipal=IAM_SP)
    got = member_iam.get_workload_identity_provider(WorkloadIdentityProviderArn=provider["Arn"])
    assert got["Arn"] == provider["Arn"]
    member_iam.disable_workload_identity_provider_outbound_signer(
        WorkloadIdentityProviderArn=provider["Arn"], SignerType="X509")
    with pytest.raises(ClientError) as e:
        outsider.get_workload_identity_provider(WorkloadIdentityProviderArn=provider["Arn"])
    assert code(e) == "NoSuchEntity"
    org.deregister_delegated_administrator(AccountId=member, ServicePrincipal=IAM_SP)
    with pytest.raises(ClientError) as e:
        member_iam.get_workload_identity_provider(WorkloadIdentityProviderArn=provider["Arn"])
    assert code(e) == "NoSuchEntity"

    # Disabling is refused while organization-level resources exist.
    with pytest.raises(ClientError) as e:
        iam.disable_organization_level_resources()
    assert code(e) == "OrganizationLevelResourcesExistException"
    with pytest.raises(ClientError) as e:
        iam.delete_workload_identity_provider(WorkloadIdentityProviderArn=provider["Arn"])
    assert code(e) == "DeleteConflict"
    iam.delete_workload_identity_template(WorkloadIdentityTemplateArn=org_template["Arn"])
    member_iam.delete_workload_identity_template(WorkloadIdentityTemplateArn=bound["Arn"])
    iam.delete_workload_identity_provider(WorkloadIdentityProviderArn=provider["Arn"])
    with pytest.raises(ClientError) as e:
        member_iam.disable_organization_level_resources()
    assert code(e) == "CallerIsNotManagementAccountException"
    out = iam.disable_organization_level_resources()
    assert out["OrganizationId"] == org_id and out["EnabledFeatures"] == []
    with pytest.raises(ClientError) as e:
        iam.create_workload_identity_provider(ProviderName=name, Scheme="NONE", ResourceScope="ORGANIZATION")
    assert code(e) == "InvalidInput"
