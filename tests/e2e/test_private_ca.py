"""AWS Private CA (acm-pca) through boto3 and the AWS CLI: a root CA's lifecycle, end-entity
certificates from CSRs made with `cryptography`, a subordinate CA, cross-account issuance
through the CA's resource policy, disable/delete/restore, tags and errors
(docs/PRIVATE_CA.md)."""

import datetime
import json

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conftest import expect_error, policy_document

SUBJECT = {"Country": "US", "Organization": "Example Corp", "CommonName": "Example Root CA"}
EC_CONFIG = {"KeyAlgorithm": "EC_prime256v1", "SigningAlgorithm": "SHA256WITHECDSA", "Subject": SUBJECT}
TEMPLATE = "arn:aws:acm-pca:::template/{}"


def pca(t, **creds):
    return t.client("acm-pca", **creds)


def csr_for(common_name, dns=None):
    """A P-256 key and its PEM CSR (bytes) for `common_name`."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
    return key, builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def create_ca(client, ca_type="ROOT", **extra):
    arn = client.create_certificate_authority(
        CertificateAuthorityConfiguration=EC_CONFIG, CertificateAuthorityType=ca_type, **extra
    )["CertificateAuthorityArn"]
    return arn


def ca_certificate(client, issuer_arn, ca_arn, template, years):
    """The certificate (PEM) `issuer_arn` issues with `template` for the CSR of CA `ca_arn`."""
    csr = client.get_certificate_authority_csr(CertificateAuthorityArn=ca_arn)["Csr"]
    cert_arn = client.issue_certificate(
        CertificateAuthorityArn=issuer_arn, Csr=csr.encode(), SigningAlgorithm="SHA256WITHECDSA",
        TemplateArn=TEMPLATE.format(template), Validity={"Type": "YEARS", "Value": years},
    )["CertificateArn"]
    return client.get_certificate(CertificateAuthorityArn=issuer_arn, CertificateArn=cert_arn)["Certificate"]


def activate_root(client, arn):
    """Issue the root's certificate from its own CSR (RootCACertificate/V1) and import it."""
    pem = ca_certificate(client, arn, arn, "RootCACertificate/V1", 10)
    client.import_certificate_authority_certificate(CertificateAuthorityArn=arn, Certificate=pem.encode())
    return pem


def verify_signed_by(child_pem, parent_pem):
    """Raise unless `child_pem` was signed by `parent_pem`'s key and names it as issuer."""
    child = x509.load_pem_x509_certificate(child_pem.encode())
    parent = x509.load_pem_x509_certificate(parent_pem.encode())
    child.verify_directly_issued_by(parent)
    return child, parent


def test_root_ca_lifecycle_with_the_cli(tessera, tmp_path):
    """create root CA -> get CSR -> issue its certificate -> import -> issue end-entity."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps(EC_CONFIG))
    arn = tessera.cli("acm-pca", "create-certificate-authority", "--certificate-authority-type", "ROOT",
                      "--certificate-authority-configuration", f"file://{config}",
                      "--tags", "Key=team,Value=pki")["CertificateAuthorityArn"]
    ca = tessera.cli("acm-pca", "describe-certificate-authority", "--certificate-authority-arn", arn)
    assert ca["CertificateAuthority"]["Status"] == "PENDING_CERTIFICATE"
    assert ca["CertificateAuthority"]["Type"] == "ROOT"
    csr = tessera.cli("acm-pca", "get-certificate-authority-csr", "--certificate-authority-arn", arn)["Csr"]
    (tmp_path / "ca.csr").write_text(csr)
    issued = tessera.cli("acm-pca", "issue-certificate", "--certificate-authority-arn", arn,
                         "--csr", f"fileb://{tmp_path / 'ca.csr'}", "--signing-algorithm", "SHA256WITHECDSA",
                         "--template-arn", TEMPLATE.format("RootCACertificate/V1"),
                         "--validity", "Value=10,Type=YEARS")
    root_pem = tessera.cli("acm-pca", "get-certificate", "--certificate-authority-arn", arn,
                           "--certificate-arn", issued["CertificateArn"])["Certificate"]
    (tmp_path / "root.pem").write_text(root_pem)
    tessera.cli("acm-pca", "import-certificate-authority-certificate", "--certificate-authority-arn", arn,
                "--certificate", f"fileb://{tmp_path / 'root.pem'}")
    ca = tessera.cli("acm-pca", "describe-certificate-authority", "--certificate-authority-arn", arn)
    assert ca["CertificateAuthority"]["Status"] == "ACTIVE"
    root = x509.load_pem_x509_certificate(root_pem.encode())
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    root.verify_directly_issued_by(root)
    got = tessera.cli("acm-pca", "get-certificate-authority-certificate", "--certificate-authority-arn", arn)
    assert got["Certificate"].strip() == root_pem.strip()

    _, leaf_csr = csr_for("www.example.com", dns="www.example.com")
    (tmp_path / "leaf.csr").write_bytes(leaf_csr)
    leaf_arn = tessera.cli("acm-pca", "issue-certificate", "--certificate-authority-arn", arn,
                           "--csr", f"fileb://{tmp_path / 'leaf.csr'}", "--signing-algorithm", "SHA256WITHECDSA",
                           "--validity", "Value=30,Type=DAYS")["CertificateArn"]
    assert leaf_arn.startswith(arn + "/certificate/")
    leaf = tessera.cli("acm-pca", "get-certificate", "--certificate-authority-arn", arn,
                       "--certificate-arn", leaf_arn)
    cert, _ = verify_signed_by(leaf["Certificate"], root_pem)
    assert leaf["CertificateChain"].strip() == root_pem.strip()
    assert format(cert.serial_number, "x") == leaf_arn.rsplit("/", 1)[1].lstrip("0")
    tags = tessera.cli("acm-pca", "list-tags", "--certificate-authority-arn", arn)["Tags"]
    assert tags == [{"Key": "team", "Value": "pki"}]


def test_end_entity_certificate_from_a_cryptography_csr(tessera):
    client = pca(tessera)
    arn = create_ca(client)
    root_pem = activate_root(client, arn)
    key, csr = csr_for("api.internal.example", dns="api.internal.example")
    out = client.issue_certificate(
        CertificateAuthorityArn=arn, Csr=csr, SigningAlgorithm="SHA256WITHECDSA",
        TemplateArn=TEMPLATE.format("EndEntityServerAuthCertificate/V1"), Validity={"Type": "DAYS", "Value": 7},
        IdempotencyToken="e2e-leaf",
    )
    again = client.issue_certificate(
        CertificateAuthorityArn=arn, Csr=csr, SigningAlgorithm="SHA256WITHECDSA",
        TemplateArn=TEMPLATE.format("EndEntityServerAuthCertificate/V1"), Validity={"Type": "DAYS", "Value": 7},
        IdempotencyToken="e2e-leaf",
    )
    assert again["CertificateArn"] == out["CertificateArn"]
    got = client.get_certificate(CertificateAuthorityArn=arn, CertificateArn=out["CertificateArn"])
    cert, root = verify_signed_by(got["Certificate"], root_pem)
    # The chain verifies with cryptography's path builder too.
    store = x509.verification.Store([root])
    chain = x509.verification.PolicyBuilder().store(store).time(
        datetime.datetime.now(datetime.timezone.utc)).build_server_verifier(
        x509.DNSName("api.internal.example")).verify(cert, [])
    assert chain[-1] == root
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "api.internal.example"
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    span = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert span == datetime.timedelta(days=7, hours=1)


def test_a_subordinate_ca_signed_by_the_root(tessera):
    client = pca(tessera)
    root_arn = create_ca(client)
    root_pem = activate_root(client, root_arn)
    sub_arn = create_ca(client, "SUBORDINATE")
    sub_pem = ca_certificate(client, root_arn, sub_arn, "SubordinateCACertificate_PathLen0/V1", 3)
    expect_error(client.import_certificate_authority_certificate, "InvalidRequestException",
                 CertificateAuthorityArn=sub_arn, Certificate=sub_pem.encode())
    client.import_certificate_authority_certificate(
        CertificateAuthorityArn=sub_arn, Certificate=sub_pem.encode(), CertificateChain=root_pem.encode())
    sub, _ = verify_signed_by(sub_pem, root_pem)
    assert sub.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    _, leaf_csr = csr_for("leaf.sub.example", dns="leaf.sub.example")
    leaf_arn = client.issue_certificate(
        CertificateAuthorityArn=sub_arn, Csr=leaf_csr, SigningAlgorithm="SHA256WITHECDSA",
        Validity={"Type": "DAYS", "Value": 1},
    )["CertificateArn"]
    got = client.get_certificate(CertificateAuthorityArn=sub_arn, CertificateArn=leaf_arn)
    leaf, _ = verify_signed_by(got["Certificate"], sub_pem)
    chain = x509.load_pem_x509_certificates(got["CertificateChain"].encode())
    assert [c.subject for c in chain] == [sub.subject, x509.load_pem_x509_certificate(root_pem.encode()).subject]
    verifier = x509.verification.PolicyBuilder().store(
        x509.verification.Store([chain[-1]])).build_server_verifier(x509.DNSName("leaf.sub.example"))
    assert len(verifier.verify(leaf, chain[:-1])) == 3


def test_cross_account_issue_through_the_resource_policy(tessera, accounts):
    client = pca(tessera)
    arn = create_ca(client)
    root_pem = activate_root(client, arn)
    other = accounts.create("pca-partner")
    partner = pca(tessera, **accounts.admin_creds(other))
    _, csr = csr_for("partner.example", dns="partner.example")
    issue = dict(CertificateAuthorityArn=arn, Csr=csr, SigningAlgorithm="SHA256WITHECDSA",
                 Validity={"Type": "DAYS", "Value": 1})
    expect_error(partner.issue_certificate, "AccessDeniedException", **issue)
    expect_error(partner.describe_certificate_authority, "AccessDeniedException", CertificateAuthorityArn=arn)
    policy = policy_document({
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other}:root"},
        "Action": ["acm-pca:IssueCertificate", "acm-pca:GetCertificate"], "Resource": arn})
    client.put_policy(ResourceArn=arn, Policy=policy)
    assert json.loads(client.get_policy(ResourceArn=arn)["Policy"]) == json.loads(policy)
    cert_arn = partner.issue_certificate(**issue)["CertificateArn"]
    got = partner.get_certificate(CertificateAuthorityArn=arn, CertificateArn=cert_arn)
    verify_signed_by(got["Certificate"], root_pem)
    expect_error(partner.describe_certificate_authority, "AccessDeniedException", CertificateAuthorityArn=arn)
    client.delete_policy(ResourceArn=arn)
    expect_error(partner.issue_certificate, "AccessDeniedException", **issue)


def test_disable_delete_restore(tessera):
    client = pca(tessera)
    arn = create_ca(client)
    activate_root(client, arn)
    expect_error(client.delete_certificate_authority, "InvalidStateException", CertificateAuthorityArn=arn)
    client.update_certificate_authority(CertificateAuthorityArn=arn, Status="DISABLED")
    _, csr = csr_for("disabled.example")
    expect_error(client.issue_certificate, "InvalidStateException", CertificateAuthorityArn=arn, Csr=csr,
                 SigningAlgorithm="SHA256WITHECDSA", Validity={"Type": "DAYS", "Value": 1})
    client.delete_certificate_authority(CertificateAuthorityArn=arn, PermanentDeletionTimeInDays=7)
    ca = client.describe_certificate_authority(CertificateAuthorityArn=arn)["CertificateAuthority"]
    assert ca["Status"] == "DELETED"
    restorable = ca["RestorableUntil"] - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(days=6, hours=23) < restorable <= datetime.timedelta(days=7)
    client.restore_certificate_authority(CertificateAuthorityArn=arn)
    assert client.describe_certificate_authority(CertificateAuthorityArn=arn)["CertificateAuthority"]["Status"] == "DISABLED"
    client.update_certificate_authority(CertificateAuthorityArn=arn, Status="ACTIVE")
    client.issue_certificate(CertificateAuthorityArn=arn, Csr=csr, SigningAlgorithm="SHA256WITHECDSA",
                             Validity={"Type": "DAYS", "Value": 1})
    listed = [c["Arn"] for c in client.list_certificate_authorities()["CertificateAuthorities"]]
    assert arn in listed


def test_tags(tessera):
    client = pca(tessera)
    arn = create_ca(client, Tags=[{"Key": "env", "Value": "test"}])
    client.tag_certificate_authority(CertificateAuthorityArn=arn, Tags=[{"Key": "owner", "Value": "pki"}])
    assert client.list_tags(CertificateAuthorityArn=arn)["Tags"] == [
        {"Key": "env", "Value": "test"}, {"Key": "owner", "Value": "pki"}]
    client.untag_certificate_authority(CertificateAuthorityArn=arn, Tags=[{"Key": "env"}])
    assert client.list_tags(CertificateAuthorityArn=arn)["Tags"] == [{"Key": "owner", "Value": "pki"}]
    expect_error(client.tag_certificate_authority, "InvalidTagException",
                 CertificateAuthorityArn=arn, Tags=[{"Key": "aws:reserved", "Value": "x"}])
    expect_error(client.tag_certificate_authority, "TooManyTagsException", CertificateAuthorityArn=arn,
                 Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])


def test_errors(tessera):
    client = pca(tessera)
    arn = create_ca(client)
    root_pem = activate_root(client, arn)
    valid = dict(CertificateAuthorityArn=arn, SigningAlgorithm="SHA256WITHECDSA", Validity={"Type": "DAYS", "Value": 1})
    expect_error(client.issue_certificate, "MalformedCSRException", Csr=b"not a certificate signing request", **valid)
    _, csr = csr_for("errors.example")
    e = expect_error(client.issue_certificate, "InvalidArgsException", Csr=csr,
                     TemplateArn=TEMPLATE.format("CodeSigningCertificate/V1"), **valid)
    assert "EndEntityCertificate/V1" in e.response["Error"]["Message"]
    # Importing a certificate whose key is not the CA's.
    other = create_ca(client)
    expect_error(client.import_certificate_authority_certificate, "CertificateMismatchException",
                 CertificateAuthorityArn=other, Certificate=root_pem.encode())
    expect_error(client.import_certificate_authority_certificate, "MalformedCertificateException",
                 CertificateAuthorityArn=other, Certificate=b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    expect_error(client.describe_certificate_authority, "InvalidArnException", CertificateAuthorityArn="arn:aws:acm-pca:us-east-1:1:ca/x")
    missing = arn.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    expect_error(client.describe_certificate_authority, "ResourceNotFoundException", CertificateAuthorityArn=missing)
    expect_error(client.get_certificate_authority_certificate, "InvalidStateException", CertificateAuthorityArn=other)
    expect_error(client.create_certificate_authority_audit_report, "NotImplemented",
                 CertificateAuthorityArn=arn, S3BucketName="audit-bucket", AuditReportResponseFormat="JSON")
