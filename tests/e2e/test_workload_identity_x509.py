"""X.509 outbound signers of IAM workload identity providers over a real AWS Private CA
certificate authority, through boto3 and the AWS CLI: IAM API Reference
(API_CreateWorkloadIdentityProviderOutboundSigner.html and its neighbours).
docs/WORKLOAD_IDENTITY.md, "X.509 outbound signers", says what is built.

The server's clock is the real one and SigningDelayInHours is at least 1, so a signer attached
here never reaches ACTIVE: the unit tests (workload_identity_x509_tests.rs) move the clock."""

import time

import pytest
from botocore.exceptions import ClientError

from conftest import unique, user_with_key
from test_workload_identity import cli_env, code, policy

EC = {"KeyAlgorithm": "EC_prime256v1", "SigningAlgorithm": "SHA256WITHECDSA"}
AFFILIATED = {"UsageMode": "SERVICE_AFFILIATED",
              "ServiceAffiliation": {"ServiceAffiliationCode": "IAM_WORKLOAD_IDENTITY"}}
ROOT_TEMPLATE = "arn:aws:acm-pca:::template/RootCACertificate/V1"


def make_ca(pca, activate=True, **mode):
    """A root CA (us-east-1): created, and, when `activate`, its CSR issued with the root
    template and the certificate imported. Returns (id, arn)."""
    arn = pca.create_certificate_authority(
        CertificateAuthorityConfiguration={**EC, "Subject": {"CommonName": unique("wi-ca-")}},
        CertificateAuthorityType="ROOT", **mode)["CertificateAuthorityArn"]
    if activate:
        csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
        cert_arn = pca.issue_certificate(
            CertificateAuthorityArn=arn, Csr=csr.encode(), SigningAlgorithm="SHA256WITHECDSA",
            TemplateArn=ROOT_TEMPLATE, Validity={"Value": 365, "Type": "DAYS"})["CertificateArn"]
        cert = None
        for _ in range(50):
            try:
                cert = pca.get_certificate(CertificateAuthorityArn=arn, CertificateArn=cert_arn)["Certificate"]
                break
            except ClientError as e:
                if e.response["Error"]["Code"] != "RequestInProgressException":
                    raise
                time.sleep(0.1)
        assert cert
        pca.import_certificate_authority_certificate(CertificateAuthorityArn=arn, Certificate=cert.encode())
        assert pca.describe_certificate_authority(CertificateAuthorityArn=arn)["CertificateAuthority"]["Status"] == "ACTIVE"
    return arn.rsplit("/", 1)[1], arn


def signer(ca_id, account):
    return {"X509": {"CertificateAuthorityId": ca_id, "AccountId": account}}


def x509_entries(iam, arn):
    """{CA id: Status} of every X.509 entry ListWorkloadIdentityProviderOutboundSigners pages through."""
    out, kwargs = {}, {"WorkloadIdentityProviderArn": arn, "MaxItems": 1}
    while True:
        page = iam.list_workload_identity_provider_outbound_signers(**kwargs)
        for s in page["OutboundSigners"]:
            if s["SignerType"] == "X509":
                out[s["Configuration"]["X509"]["CertificateAuthorityId"]] = s["Status"]
        if not page.get("IsTruncated"):
            return out
        kwargs["Marker"] = page["Marker"]


def test_x509_signers_attach_rotate_disable_enable_and_delete(tessera, tmp_path):
    iam, pca = tessera.client("iam"), tessera.client("acm-pca")
    account = tessera.client("sts").get_caller_identity()["Account"]
    provider = iam.create_workload_identity_provider(
        ProviderName=unique("wi-x509-"), Scheme="SPIFFE", WorkloadIdentityDomain="x509.example.org")["Arn"]
    a, a_arn = make_ca(pca, **AFFILIATED)

    def create(ca_id, client=iam):
        return client.create_workload_identity_provider_outbound_signer(
            WorkloadIdentityProviderArn=provider, OutboundSigner=signer(ca_id, account), SigningDelayInHours=1)

    # Refusals change nothing.
    general, _ = make_ca(pca, UsageMode="GENERAL_PURPOSE")
    pending, _ = make_ca(pca, activate=False, **AFFILIATED)
    for ca_id, words in [(general, "SERVICE_AFFILIATED"), (pending, "ACTIVE"), ("no-such-ca", "cannot be found")]:
        with pytest.raises(ClientError) as e:
            create(ca_id)
        assert code(e) == "InvalidInput", ca_id
        assert words in e.value.response["Error"]["Message"], e.value.response["Error"]["Message"]
    iam_only = user_with_key(tessera, tessera.root_creds, unique("wi-iam-only-"),
                             policy({"Effect": "Allow", "Action": "iam:*", "Resource": "*"}))
    with pytest.raises(ClientError) as e:
        create(a, client=tessera.client("iam", **iam_only))
    assert code(e) == "AccessDenied"
    assert "acm-pca:CreateCertificateAuthorityAssociation" in e.value.response["Error"]["Message"]
    assert x509_entries(iam, provider) == {}

    # Attach: IN_TRANSITION for an hour, the association recorded on the CA.
    before = time.time()
    create(a)
    got = iam.get_workload_identity_provider(WorkloadIdentityProviderArn=provider)["OutboundSigners"]
    assert len(got["Jwt"]) == 2
    [entry] = got["X509"]
    assert entry["Configuration"] == {"CertificateAuthorityId": a, "AccountId": account}
    assert entry["Status"] == "IN_TRANSITION"
    assert abs(entry["StartSigningTime"].timestamp() - (before + 3600)) < 120
    assert "EndSigningTime" not in entry and "DiscoveryExpirationTime" not in entry
    listed = iam.list_workload_identity_provider_outbound_signers(WorkloadIdentityProviderArn=provider)
    assert sorted(s["SignerType"] for s in listed["OutboundSigners"]) == ["JWT", "JWT", "X509"]
    assert x509_entries(iam, provider) == {a: "IN_TRANSITION"}
    assoc = pca.list_certificate_authority_associations(CertificateAuthorityArn=a_arn)["Associations"]
    assert [x["AssociatedResourceArn"] for x in assoc] == [provider]

    # The slot (EC_prime256v1) is taken; an IN_TRANSITION entry cannot be deleted.
    b, b_arn = make_ca(pca, **AFFILIATED)
    with pytest.raises(ClientError) as e:
        create(b)
    assert code(e) == "EntityAlreadyExists"
    with pytest.raises(ClientError) as e:
        iam.delete_workload_identity_provider_outbound_signer(
            WorkloadIdentityProviderArn=provider, OutboundSigner=signer(a, account))
    assert code(e) == "InvalidInput"

    # Rotation to b: a, which never signed, stops; b comes in.
    iam.update_workload_identity_provider_outbound_signer(
        WorkloadIdentityProviderArn=provider, OutboundSigner=signer(b, account), SigningDelayInHours=1)
    assert x509_entries(iam, provider) == {a: "VALIDATING", b: "IN_TRANSITION"}

    # Disable stops b; enable resumes it (never a, stopped by the rotation before it signed).
    iam.disable_workload_identity_provider_outbound_signer(WorkloadIdentityProviderArn=provider, SignerType="X509")
    assert x509_entries(iam, provider) == {a: "VALIDATING", b: "VALIDATING"}
    iam.disable_workload_identity_provider_outbound_signer(WorkloadIdentityProviderArn=provider, SignerType="X509")
    with pytest.raises(ClientError) as e:
        iam.enable_workload_identity_provider_outbound_signer(WorkloadIdentityProviderArn=provider, SignerType="JWT")
    assert code(e) == "InvalidInput"
    iam.enable_workload_identity_provider_outbound_signer(
        WorkloadIdentityProviderArn=provider, SignerType="X509", SigningDelayInHours=1)
    assert x509_entries(iam, provider) == {a: "VALIDATING", b: "IN_TRANSITION"}

    # The AWS CLI reads the same list.
    env = cli_env(tessera, tmp_path)
    out = tessera.cli("iam", "list-workload-identity-provider-outbound-signers",
                      "--workload-identity-provider-arn", provider, env=env)
    assert {s["Configuration"]["X509"]["CertificateAuthorityId"]: s["Status"]
            for s in out["OutboundSigners"] if s["SignerType"] == "X509"} == {a: "VALIDATING", b: "IN_TRANSITION"}

    # The provider cannot go while entries remain; delete them after a disable.
    with pytest.raises(ClientError) as e:
        iam.delete_workload_identity_provider(WorkloadIdentityProviderArn=provider)
    assert code(e) == "DeleteConflict"
    iam.disable_workload_identity_provider_outbound_signer(WorkloadIdentityProviderArn=provider, SignerType="X509")
    for ca_id, ca_arn in [(a, a_arn), (b, b_arn)]:
        done = iam.delete_workload_identity_provider_outbound_signer(
            WorkloadIdentityProviderArn=provider, OutboundSigner=signer(ca_id, account))
        assert done["Status"] == "SUCCEEDED"
        assert done["OutboundSigner"] == signer(ca_id, account)
        assert pca.list_certificate_authority_associations(CertificateAuthorityArn=ca_arn)["Associations"] == []
        assert pca.describe_certificate_authority(CertificateAuthorityArn=ca_arn)["CertificateAuthority"]["Status"] == "ACTIVE"
    with pytest.raises(ClientError) as e:
        iam.delete_workload_identity_provider_outbound_signer(
            WorkloadIdentityProviderArn=provider, OutboundSigner=signer(a, account))
    assert code(e) == "NoSuchEntity"
    assert x509_entries(iam, provider) == {}
    iam.delete_workload_identity_provider(WorkloadIdentityProviderArn=provider)
    with pytest.raises(ClientError) as e:
        iam.get_workload_identity_provider(WorkloadIdentityProviderArn=provider)
    assert code(e) == "NoSuchEntity"
