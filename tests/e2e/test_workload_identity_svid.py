"""X509-SVIDs end to end through boto3: a SERVICE_AFFILIATED root CA made and activated through AWS
Private CA (acm-pca), attached to a workload identity provider as its X.509 outbound signer (IAM),
STS GetCertificate for a CSR made with `cryptography`, the certificate verified with `cryptography`
against the x5c trust anchor of GetTrustBundles, and an RS256 JWT-SVID verified against the same
bundle with PyJWT (STS API Reference: API_GetCertificate.html, API_GetTrustBundles.html; IAM API
Reference: API_CreateWorkloadIdentityProviderOutboundSigner.html; docs/WORKLOAD_IDENTITY.md).

A new X.509 signer starts signing `SigningDelayInHours` (at least 1) after it is attached, so the
server is restarted with its clock two hours ahead (libfaketime, as test_sts.py does) and the
clients sign their requests with the same offset."""

import base64
import datetime
import json
import os
import time
from pathlib import Path

import botocore.auth
import jwt
import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from conftest import Tessera, _require_binary, unique
from test_workload_identity_sts import Setup, code, csr_pem, policy, trust_bundle_key

# Debian's libfaketime (package faketime), which scripts/test installs.
LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
AHEAD = datetime.timedelta(hours=2)


def make_root_ca(t):
    """A SERVICE_AFFILIATED (IAM_WORKLOAD_IDENTITY) root CA, activated with its own certificate."""
    pca = t.client("acm-pca")
    arn = pca.create_certificate_authority(
        CertificateAuthorityType="ROOT",
        CertificateAuthorityConfiguration={
            "KeyAlgorithm": "EC_prime256v1", "SigningAlgorithm": "SHA256WITHECDSA",
            "Subject": {"CommonName": "Workload Root", "Organization": "Example"}},
        UsageMode="SERVICE_AFFILIATED", ServiceAffiliation={"ServiceAffiliationCode": "IAM_WORKLOAD_IDENTITY"},
        IdempotencyToken=unique("svid"))["CertificateAuthorityArn"]
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
    issued = pca.issue_certificate(
        CertificateAuthorityArn=arn, Csr=csr.encode(), SigningAlgorithm="SHA256WITHECDSA",
        TemplateArn="arn:aws:acm-pca:::template/RootCACertificate/V1",
        Validity={"Value": 10, "Type": "YEARS"})["CertificateArn"]
    for _ in range(100):
        try:
            cert = pca.get_certificate(CertificateAuthorityArn=arn, CertificateArn=issued)["Certificate"]
            break
        except ClientError as e:
            if code_of(e) != "RequestInProgressException":
                raise
            time.sleep(0.1)
    pca.import_certificate_authority_certificate(CertificateAuthorityArn=arn, Certificate=cert.encode())
    assert pca.describe_certificate_authority(CertificateAuthorityArn=arn)["CertificateAuthority"]["Status"] == "ACTIVE"
    return arn, cert


def code_of(e):
    return e.response["Error"]["Code"]


def test_get_certificate_issues_an_x509_svid_that_verifies_against_the_trust_bundle(tmp_path, monkeypatch):
    if not Path(LIBFAKETIME).exists():
        pytest.skip("faketime is not installed (apt-get install faketime)")
    _require_binary()
    t = Tessera(tmp_path / "data").start()
    try:
        w = Setup(t)
        ca_arn, ca_cert_pem = make_root_ca(t)
        # The workload's role may have the CA issue and read its certificate.
        t.client("iam").put_role_policy(RoleName=w.role_name, PolicyName="ca", PolicyDocument=policy(
            {"Effect": "Allow", "Action": ["acm-pca:IssueCertificate", "acm-pca:GetCertificate"],
             "Resource": ca_arn}))
        t.client("iam").create_workload_identity_provider_outbound_signer(
            WorkloadIdentityProviderArn=w.provider,
            OutboundSigner={"X509": {"CertificateAuthorityId": ca_arn.split("/")[-1], "AccountId": w.account}},
            SigningDelayInHours=1)
        # Before it signs, the signer's root is already published, and GetCertificate says when.
        bundle = json.loads(t.client("sts").get_trust_bundles(ProviderArn=w.provider)["TrustBundles"][0]["Bundle"])
        assert [k["use"] for k in bundle["keys"]].count("x509-svid") == 1
        session = w.workload_session()
        with pytest.raises(ClientError) as e:
            t.client("sts", **session).get_certificate(
                CertificateSigningRequest=csr_pem(ec.generate_private_key(ec.SECP256R1())))
        assert code(e) == "RegionalSignerUnavailableException"

        # Two hours later the signer signs.
        t.stop()
        t.proc_env = dict(os.environ, LD_PRELOAD=LIBFAKETIME, FAKETIME="+2h", FAKETIME_DONT_FAKE_MONOTONIC="1")
        real = botocore.auth.get_current_datetime
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: real(*a, **k) + AHEAD)
        t.start()
        session = w.workload_session()
        sts = t.client("sts", **session)
        key = ec.generate_private_key(ec.SECP384R1())
        out = sts.get_certificate(CertificateSigningRequest=csr_pem(key, hashes.SHA384()), MaxDurationSeconds=3600)
        assert out["Subject"] == w.subject
        cert = x509.load_pem_x509_certificate(out["Certificate"].encode())
        assert cert.subject == x509.Name([])
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.UniformResourceIdentifier) == [w.subject]
        assert cert.public_key().public_numbers() == key.public_key().public_numbers()  # only the CSR's key
        assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert ExtendedKeyUsageOID.SERVER_AUTH in eku and ExtendedKeyUsageOID.CLIENT_AUTH in eku
        assert cert.not_valid_before_utc == out["NotBefore"] and cert.not_valid_after_utc == out["NotAfter"]
        assert out["NotAfter"] - out["NotBefore"] == datetime.timedelta(seconds=3600 + 300)
        now = datetime.datetime.now(datetime.timezone.utc) + AHEAD
        assert out["NotBefore"] <= now <= out["NotAfter"]

        # The trust anchor comes from the bundle, never from the chain in the response.
        # (read by the account's administrator: the relying party, not the workload)
        bundle = json.loads(t.client("sts").get_trust_bundles(ProviderArn=w.provider)["TrustBundles"][0]["Bundle"])
        anchors = [k for k in bundle["keys"] if k["use"] == "x509-svid"]
        assert len(anchors) == 1 and len(anchors[0]["x5c"]) == 1
        anchor = x509.load_der_x509_certificate(base64.b64decode(anchors[0]["x5c"][0]))
        assert anchor == x509.load_pem_x509_certificate(ca_cert_pem.encode())
        assert anchors[0]["kty"] == "EC" and anchors[0]["crv"] == "P-256"
        numbers = anchor.public_key().public_numbers()
        b64int = lambda v: int.from_bytes(base64.urlsafe_b64decode(v + "=" * (-len(v) % 4)), "big")  # noqa: E731
        assert (b64int(anchors[0]["x"]), b64int(anchors[0]["y"])) == (numbers.x, numbers.y)
        cert.verify_directly_issued_by(anchor)  # signature and issuer name; raises if not
        assert cert.issuer == anchor.subject

        # A JWT-SVID with RS256 verifies against the same bundle.
        token = sts.get_web_identity_token(Audience=["spiffe://example.org/rp"], SigningAlgorithm="RS256",
                                           TokenType="JWT_SVID")["WebIdentityToken"]
        header = jwt.get_unverified_header(token)
        assert header["alg"] == "RS256"
        claims = jwt.decode(token, key=jwt.PyJWK.from_dict(trust_bundle_key(w, header["kid"])),
                            algorithms=["RS256"], audience="spiffe://example.org/rp",
                            leeway=AHEAD + datetime.timedelta(minutes=1))  # issued on the server's clock
        assert claims["sub"] == w.subject
    finally:
        t.stop()
