"""STS workload identity through boto3: IssueWorkloadIdentityContext, AssumeRole with the context in
ProvidedContexts, GetWebIdentityToken with TokenType JWT_SVID (verified with PyJWT against
GetTrustBundles) and GetCertificate (STS API Reference: API_IssueWorkloadIdentityContext.html,
API_AssumeRole.html, API_GetWebIdentityToken.html, API_GetCertificate.html; IAM User Guide:
workload-identity-attestation-policies.html, workload-identity-condition-keys.html).

Tessera runs no service that attests workloads, so a Tessera principal allowed
sts:IssueWorkloadIdentityContext speaks for the service the attestation document's keys name
(eks/... keys: pods.eks.amazonaws.com); docs/WORKLOAD_IDENTITY.md says why."""

import json

import boto3
import botocore.config
import jwt
import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from conftest import REGION, unique, user_with_key

SERVICE = "pods.eks.amazonaws.com"
PATTERN = ("{aws:WorkloadAttestation/aws/eks/ClusterName}/ns/{aws:WorkloadAttestation/aws/eks/Namespace}"
           "/sa/{aws:WorkloadAttestation/aws/eks/ServiceAccount}")


def code(exc):
    return exc.value.response["Error"]["Code"]


def reason(exc):
    return exc.value.response["Error"].get("reason") or exc.value.response.get("reason")


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def creds_of(c):
    return {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
            "aws_session_token": c["SessionToken"]}


def unvalidated(t, service, **creds):
    return boto3.session.Session(region_name=REGION).client(
        service, endpoint_url=t.endpoint,
        config=botocore.config.Config(parameter_validation=False, retries={"max_attempts": 1}),
        **(creds or t.root_creds))


def doc(cluster="c1", namespace="payments", sa="checkout", **extra):
    d = {"eks/ClusterName": cluster, "eks/Namespace": namespace, "eks/ServiceAccount": sa}
    d.update(extra)
    return json.dumps(d)


class Setup:
    """A SPIFFE provider, a template with an attestation policy, a role that trusts the EKS
    service, and a user allowed to speak for it."""

    def __init__(self, t):
        self.t = t
        iam = t.client("iam")
        self.account = t.client("sts").get_caller_identity()["Account"]
        self.provider = iam.create_workload_identity_provider(
            ProviderName=unique("wit-sts-"), Scheme="SPIFFE", WorkloadIdentityDomain="example.org")["Arn"]
        self.attestation = policy({
            "Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": "sts:IssueWorkloadIdentityContext",
            "Resource": "*", "Condition": {"StringEquals": {"aws:WorkloadAttestation/aws/eks/Namespace": "payments",
                                           "aws:SourceAccount": self.account}}})
        self.template = iam.create_workload_identity_template(
            Name=unique("wit-tpl-"), WorkloadIdentityProviderArn=self.provider, PathPrefix="prod",
            PathPattern=PATTERN, AttestationPolicy=self.attestation)["Arn"]
        self.role_name = unique("wit-role-")
        self.subject = "spiffe://example.org/prod/c1/ns/payments/sa/checkout"
        trust = policy({"Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"aws:SourceAccount": self.account}}})
        self.role = iam.create_role(RoleName=self.role_name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        # What the role may do depends on the workload identity the session carries.
        iam.put_role_policy(RoleName=self.role_name, PolicyName="by-origin", PolicyDocument=policy(
            {"Effect": "Allow", "Action": ["iam:GetRole", "sts:GetWebIdentityToken", "sts:GetCertificate"],
             "Resource": "*", "Condition": {"StringEquals": {"aws:OriginIdentity/Subject": self.subject,
                                                             "aws:OriginIdentity/Issuer": self.provider}}},
            {"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*",
             "Condition": {"StringEquals": {"aws:OriginIdentity/Subject": "spiffe://example.org/other"}}}))
        # GetWebIdentityToken and GetCertificate too, so that their refusal of this user's
        # long-term credentials is the missing workload identity, not a missing permission.
        self.service = user_with_key(t, {}, unique("wit-svc-"), policy(
            {"Effect": "Allow", "Action": ["sts:IssueWorkloadIdentityContext", "sts:AssumeRole",
                                           "sts:GetWebIdentityToken", "sts:GetCertificate"], "Resource": "*"}))

    def sts(self, **creds):
        return self.t.client("sts", **(creds or self.service))

    def issue(self, document=None, **kwargs):
        args = {"WorkloadIdentityTemplateArn": self.template, "AttestationDocument": document or doc(),
                "TargetRoleArn": self.role}
        args.update(kwargs)
        return self.sts().issue_workload_identity_context(**{k: v for k, v in args.items() if v is not None})

    def assume(self, context, sts=None, role=None, **kwargs):
        return (sts or self.sts()).assume_role(
            RoleArn=role or self.role, RoleSessionName="pod-1", ProvidedContexts=[context], **kwargs)

    def workload_session(self):
        out = self.issue()
        return creds_of(self.assume(out["ProvidedContext"])["Credentials"])


@pytest.fixture(scope="module")
def w(module_tessera):
    return Setup(module_tessera)


def test_context_renders_the_subject_and_assume_role_carries_the_identity(w):
    out = w.issue(SessionDurationSeconds=900)
    ctx = out["ProvidedContext"]
    assert out["Subject"] == w.subject
    assert ctx["ProviderArn"] == w.provider
    assert len(ctx["ContextAssertion"]) <= 3072 and w.subject not in ctx["ContextAssertion"]
    assert out["Audience"] == SERVICE
    assert out["Expiration"] < out["SessionExpiration"]

    assumed = w.assume(ctx, DurationSeconds=3600)
    assert assumed["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{w.account}:assumed-role/{w.role_name}/pod-1"
    # The session ends no later than SessionExpiration.
    assert assumed["Credentials"]["Expiration"] <= out["SessionExpiration"]
    session = creds_of(assumed["Credentials"])
    iam = w.t.client("iam", **session)
    # aws:OriginIdentity/Subject and /Issuer are the workload's: GetRole is allowed, ListRoles
    # (allowed for another subject only) is not.
    assert iam.get_role(RoleName=w.role_name)["Role"]["Arn"] == w.role
    with pytest.raises(ClientError) as e:
        iam.list_roles()
    assert code(e) == "AccessDenied"


def test_without_a_target_role_only_the_subject_comes_back(w):
    out = w.issue(TargetRoleArn=None)
    assert out["Subject"] == w.subject
    assert out["ProvidedContext"] == {"ProviderArn": w.provider}
    assert "Audience" not in out and "Expiration" not in out


def test_the_attestation_policy_and_the_callers_permission_decide(w):
    with pytest.raises(ClientError) as e:
        w.issue(doc(namespace="other"))  # the attestation policy allows namespace payments only
    assert code(e) == "AccessDenied" and SERVICE in str(e.value)
    with pytest.raises(ClientError) as e:
        w.issue(WorkloadIdentityTemplateArn=w.template + "-missing")
    assert code(e) == "AccessDenied"
    nobody = user_with_key(w.t, {}, unique("wit-nobody-"))
    with pytest.raises(ClientError) as e:
        w.sts(**nobody).issue_workload_identity_context(
            WorkloadIdentityTemplateArn=w.template, AttestationDocument=doc(), TargetRoleArn=w.role)
    assert code(e) == "AccessDenied" and "sts:IssueWorkloadIdentityContext" in str(e.value)
    with pytest.raises(ClientError) as e:
        w.issue(TargetRoleArn=f"arn:aws:iam::{w.account}:role/no-such-role")
    assert code(e) == "AccessDenied"


@pytest.mark.parametrize("document,why", [
    ("not json", "cannotParse"),
    ("[]", "cannotParse"),
    ("{}", "invalidValue"),
    ('{"ClusterName": "c1"}', "invalidKey"),
    ('{"ecs/TaskArn": "t"}', "providerNotFound"),
    ('{"eks/Secret": "s"}', "unexpectedAttestation"),
    ('{"eks/ClusterName": 7}', "invalidValue"),
    ('{"eks/ClusterName": "a", "eks/clustername": "b"}', "duplicateKey"),
    (json.dumps({"eks/ClusterName": "c" * 2100}), "tooLarge"),
    ('{"eks/ClusterName": "c1", "eks/Namespace": "payments"}', "unresolvedTemplateVariable"),
])
def test_attestation_documents_are_checked(w, document, why):
    with pytest.raises(ClientError) as e:
        unvalidated(w.t, "sts", **w.service).issue_workload_identity_context(
            WorkloadIdentityTemplateArn=w.template, AttestationDocument=document, TargetRoleArn=w.role)
    assert code(e) == "InvalidAttestationDocument", e.value.response
    assert reason(e) == why


def test_an_attested_value_that_is_not_a_path_segment_cannot_render(w):
    with pytest.raises(ClientError) as e:
        w.issue(doc(sa="a b"))
    assert code(e) == "InvalidWorkloadIdentityConfiguration" and reason(e) == "unrenderableTemplate"


def test_input_limits_are_the_models(w):
    sts = unvalidated(w.t, "sts", **w.service)
    for kwargs in ({"DurationSeconds": 59}, {"DurationSeconds": 301}, {"SessionDurationSeconds": 899},
                   {"WorkloadIdentityTemplateArn": "arn:aws:iam::1:workload-identity-template/x"}):
        args = {"WorkloadIdentityTemplateArn": w.template, "AttestationDocument": doc(), **kwargs}
        with pytest.raises(ClientError) as e:
            sts.issue_workload_identity_context(**args)
        assert code(e) == "ValidationError", kwargs
    with pytest.raises(ClientError) as e:
        sts.issue_workload_identity_context(AttestationDocument=doc())
    assert code(e) == "ValidationError"


def test_a_context_is_redeemed_only_by_its_requester_for_its_role_and_provider(w):
    ctx = w.issue()["ProvidedContext"]
    other = user_with_key(w.t, {}, unique("wit-other-"), policy(
        {"Effect": "Allow", "Action": ["sts:IssueWorkloadIdentityContext", "sts:AssumeRole"], "Resource": "*"}))
    for attempt in (
        lambda: w.assume(ctx, sts=w.sts(**other)),  # another principal
        lambda: w.assume({**ctx, "ProviderArn": w.provider + "x"}),  # another provider
        lambda: w.assume({**ctx, "ContextAssertion": ctx["ContextAssertion"][:-4] + "AAAA"}),  # tampered
    ):
        with pytest.raises(ClientError) as e:
            attempt()
        assert code(e) == "InvalidContextAssertion", e.value.response
    other_role = w.t.client("iam").create_role(RoleName=unique("wit-role2-"), AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": "sts:AssumeRole"}))["Role"]["Arn"]
    with pytest.raises(ClientError) as e:
        w.assume(ctx, role=other_role)
    assert code(e) == "InvalidContextAssertion"
    # Identity Center contexts are still refused, and a workload context must be the only one.
    with pytest.raises(ClientError) as e:
        w.assume({"ProviderArn": "arn:aws:iam::aws:contextProvider/IdentityCenter", "ContextAssertion": "abcd"})
    assert code(e) == "InvalidParameterValue"
    # The context still works for its own requester and role.
    assert w.assume(ctx)["AssumedRoleUser"]["Arn"].endswith("/pod-1")


def test_the_trust_policy_must_allow_the_service(w):
    iam = w.t.client("iam")
    name = unique("wit-untrusted-")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{w.account}:root"}, "Action": "sts:AssumeRole"}))[
        "Role"]["Arn"]
    ctx = w.issue(TargetRoleArn=arn)["ProvidedContext"]
    with pytest.raises(ClientError) as e:
        w.assume(ctx, role=arn)
    assert code(e) == "AccessDenied" and SERVICE in str(e.value)


def trust_bundle_key(w, kid):
    bundles = w.t.client("sts").get_trust_bundles(ProviderArn=w.provider)["TrustBundles"]
    keys = json.loads(bundles[0]["Bundle"])["keys"]
    return next(k for k in keys if k.get("kid") == kid)  # x509-svid keys have no kid


def test_jwt_svid_is_signed_by_the_providers_signer(w):
    session = w.workload_session()
    sts = w.t.client("sts", **session)
    out = sts.get_web_identity_token(Audience=["spiffe://example.org/rp"], SigningAlgorithm="ES384",
                                     TokenType="JWT_SVID", DurationSeconds=120)
    token = out["WebIdentityToken"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES384"
    key = jwt.PyJWK.from_dict(trust_bundle_key(w, header["kid"]))
    claims = jwt.decode(token, key=key, algorithms=["ES384"], audience="spiffe://example.org/rp")
    assert set(claims) == {"sub", "aud", "iss", "iat", "exp", "jti"}
    assert claims["sub"] == w.subject and claims["iss"] == w.provider
    assert claims["exp"] - claims["iat"] == 120
    # A token changed after signing does not verify.
    head, body, sig = token.split(".")
    forged = jwt.utils.base64url_encode(json.dumps({**claims, "sub": "spiffe://example.org/admin"}).encode())
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(f"{head}.{forged.decode()}.{sig}", key=key, algorithms=["ES384"],
                   audience="spiffe://example.org/rp")
    # RS256, the provider's other JWT signer, verifies against its own key in the bundle.
    rs = sts.get_web_identity_token(Audience=["rp"], SigningAlgorithm="RS256", TokenType="JWT_SVID")
    rs_header = jwt.get_unverified_header(rs["WebIdentityToken"])
    assert rs_header["alg"] == "RS256" and rs_header["kid"] != header["kid"]
    rs_key = trust_bundle_key(w, rs_header["kid"])
    assert rs_key["kty"] == "RSA" and rs_key["alg"] == "RS256"
    rs_claims = jwt.decode(rs["WebIdentityToken"], key=jwt.PyJWK.from_dict(rs_key), algorithms=["RS256"],
                           audience="rp")
    assert rs_claims["sub"] == w.subject
    with pytest.raises(jwt.PyJWTError):  # the ES384 key does not verify it
        jwt.decode(rs["WebIdentityToken"], key=jwt.PyJWK.from_dict(trust_bundle_key(w, header["kid"])),
                   algorithms=["RS256", "ES384"], audience="rp")


def test_jwt_svid_rules(w):
    session = w.workload_session()
    sts = unvalidated(w.t, "sts", **session)
    for kwargs in ({"Audience": ["a", "b"]}, {"SubjectMode": "AWSIdentity"}, {"Scope": "read"},
                   {"Tags": [{"Key": "k", "Value": "v"}]}):
        args = {"Audience": ["a"], "SigningAlgorithm": "ES384", "TokenType": "JWT_SVID", **kwargs}
        with pytest.raises(ClientError) as e:
            sts.get_web_identity_token(**args)
        assert code(e) == "ValidationError", kwargs
    # A session without a workload identity gets no JWT-SVID.
    plain = w.t.client("sts", **w.service)
    with pytest.raises(ClientError) as e:
        plain.get_web_identity_token(Audience=["a"], SigningAlgorithm="ES384", TokenType="JWT_SVID")
    assert code(e) == "AccessDenied" and "no workload identity" in str(e.value)


def csr_pem(key, hash_alg=None):
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ignored")]))
    return builder.sign(key, hash_alg or hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def test_get_certificate_checks_the_csr_then_has_no_x509_signer(w):
    session = w.workload_session()
    sts = w.t.client("sts", **session)
    for pem in (csr_pem(ec.generate_private_key(ec.SECP256R1())), csr_pem(ec.generate_private_key(ec.SECP384R1()),
                                                                         hashes.SHA384()),
                csr_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))):
        with pytest.raises(ClientError) as e:
            sts.get_certificate(CertificateSigningRequest=pem, MaxDurationSeconds=3600)
        assert code(e) == "SignerNotConfiguredException", e.value.response
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    good = csr_pem(ec.generate_private_key(ec.SECP256R1()))
    lines = good.splitlines()
    lines[2] = lines[2][:10] + ("A" if lines[2][10] != "A" else "B") + lines[2][11:]
    for bad in ("not a csr", "\n".join(lines), csr_pem(ec.generate_private_key(ec.SECP521R1()), hashes.SHA512()),
                csr_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024))):
        with pytest.raises(ClientError) as e:
            sts.get_certificate(CertificateSigningRequest=bad)
        assert code(e) == "MalformedCertificateSigningRequestException", bad
    with pytest.raises(ClientError) as e:
        unvalidated(w.t, "sts", **session).get_certificate(CertificateSigningRequest=good, MaxDurationSeconds=60)
    assert code(e) == "ValidationError"
    # Long-term credentials (no workload identity) are refused.
    with pytest.raises(ClientError) as e:
        w.t.client("sts", **w.service).get_certificate(CertificateSigningRequest=good)
    assert code(e) == "AccessDenied" and "no workload identity" in str(e.value)


def test_an_organization_providers_trust_bundle_is_read_by_its_member_accounts(fresh_tessera):
    t = fresh_tessera
    from conftest import Accounts
    accounts = Accounts(t)
    t.client("organizations").enable_aws_service_access(ServicePrincipal="iam.amazonaws.com")
    iam = t.client("iam")
    iam.enable_organization_level_resources()
    arn = iam.create_workload_identity_provider(
        ProviderName=unique("wit-org-"), Scheme="SPIFFE", WorkloadIdentityDomain="corp.example.com",
        ResourceScope="ORGANIZATION")["Arn"]
    member = accounts.create("wit-sts-member")
    for sts in (t.client("sts"), t.client("sts", **accounts.admin_creds(member))):
        bundle = sts.get_trust_bundles(ProviderArn=arn)["TrustBundles"][0]
        assert bundle["TrustDomain"] == "corp.example.com"
        assert sorted(k["alg"] for k in json.loads(bundle["Bundle"])["keys"]) == ["ES384", "RS256"]
    # An organization the caller is not in: not found.
    with pytest.raises(ClientError) as e:
        t.client("sts").get_trust_bundles(ProviderArn=arn.replace(arn.split(":")[4], "o-aaaaaaaaaa"))
    assert code(e) == "ResourceNotFoundException"


def events_named(t, name, needle):
    """CloudTrail events `name` whose text contains `needle` (the index may lag the journal a little)."""
    import time
    ct = t.client("cloudtrail")
    for _ in range(100):
        found = [e["CloudTrailEvent"] for e in ct.lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}], MaxResults=50)["Events"]
            if needle in e["CloudTrailEvent"]]
        if found:
            return [json.loads(e) for e in found]
        time.sleep(0.05)
    return []


def test_cloudtrail_records_the_attestation_document_but_never_the_assertion(w):
    cluster = unique("trail-")
    out = w.issue(doc(cluster=cluster))
    assertion = out["ProvidedContext"]["ContextAssertion"]
    w.assume(out["ProvidedContext"])
    issued = events_named(w.t, "IssueWorkloadIdentityContext", cluster)
    assert issued, "no IssueWorkloadIdentityContext event"
    assert json.loads(issued[0]["requestParameters"]["attestationDocument"])["eks/ClusterName"] == cluster
    assert assertion not in json.dumps(issued[0])
    assumed = events_named(w.t, "AssumeRole", w.provider)
    assert assumed and all(assertion not in json.dumps(e) for e in assumed)
