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


def names(iam):
    out, kwargs = [], {}
    while True:
        page = iam.list_workload_identity_providers(**kwargs)
        out += [p["ProviderName"] for p in page["WorkloadIdentityProviders"]]
        if not page.get("IsTruncated"):
            return out
        kwargs["Marker"] = page["Marker"]


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
        ("ES256", "ECC_NIST_P256"), ("ES384", "ECC_NIST_P384")]
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
    assert sorted(s["SigningAlgorithm"] for s in signer_list["OutboundSigners"]) == ["ES256", "ES384"]
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
    iam.get_workload_identity_provider(WorkloadIdentityProviderArn=out["Arn"])
    iam.list_workload_identity_provider_outbound_signers(WorkloadIdentityProviderArn=out["Arn"])
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


def test_organization_scope_is_not_implemented(tessera):
    iam = tessera.client("iam")
    name = unique("wip-org-")
    with pytest.raises(ClientError) as e:
        iam.create_workload_identity_provider(ProviderName=name, Scheme="NONE", ResourceScope="ORGANIZATION")
    assert code(e) == "NotImplemented"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    with pytest.raises(ClientError) as e:
        iam.list_workload_identity_providers(ResourceScope="ORGANIZATION")
    assert code(e) == "NotImplemented"
    assert name not in names(iam)


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
    with pytest.raises(ClientError) as e:
        iam.get_workload_identity_provider(WorkloadIdentityProviderArn=prod)
    assert code(e) == "AccessDenied"
    assert e.value.response["Error"]["Message"].startswith(
        f"User: arn:aws:iam::{account}:user/{user} is not authorized to perform: "
        f"iam:GetWorkloadIdentityProvider on resource: {prod}")
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
    iam.delete_workload_identity_provider(WorkloadIdentityProviderArn=arn)
    ct = tessera.client("cloudtrail")
    found = {}
    for event_name in ("CreateWorkloadIdentityProvider", "DeleteWorkloadIdentityProvider"):
        events = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": event_name}],
                                  MaxResults=50)["Events"]
        mine = [e for e in events if name in e["CloudTrailEvent"]]
        assert mine, event_name
        found[event_name] = json.loads(mine[0]["CloudTrailEvent"])
    created = found["CreateWorkloadIdentityProvider"]
    assert created["eventSource"] == "iam.amazonaws.com" and created["readOnly"] is False
    assert created["requestParameters"]["providerName"] == name
    assert "PRIVATE" not in json.dumps(found)


def test_aws_cli_lists_and_reads_providers(tessera, tmp_path):
    # The AWS CLI v1 vendors an IAM model older than the workload identity family; AWS_DATA_PATH
    # hands it the pinned botocore's IAM model (AWS's own), as `aws configure add-model` would.
    import gzip
    import pathlib

    import botocore
    model = pathlib.Path(botocore.__file__).parent / "data" / "iam" / "2010-05-08" / "service-2.json.gz"
    target = tmp_path / "models" / "iam" / "2010-05-08"
    target.mkdir(parents=True)
    (target / "service-2.json").write_bytes(gzip.decompress(model.read_bytes()))
    env = {**tessera.root_env, "AWS_DATA_PATH": str(tmp_path / "models")}
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
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
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
    assert sorted(k["alg"] for k in keys) == ["ES256", "ES384"]
    for k in keys:
        assert k["use"] == "jwt-svid" and k["kty"] == "EC" and "d" not in k  # public only
        assert k["kid"] == rfc7638_thumbprint(k)
        key = jwt.PyJWK(k)
        assert key.key.curve.name == {"ES256": "secp256r1", "ES384": "secp384r1"}[k["alg"]]
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


def test_x509_signers_need_aws_private_ca_which_is_not_served(tessera):
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
