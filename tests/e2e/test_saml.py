"""STS AssumeRoleWithSAML through boto3 and the AWS CLI (issue 24, docs/SAML.md): the test is its
own SAML 2.0 identity provider. It makes an RSA key and a self-signed certificate (`cryptography`),
publishes IdP metadata with that certificate through `aws iam create-saml-provider`, and signs real
SAML responses with `signxml` (XML-DSig, exclusive c14n, RSA-SHA256), which Tessera verifies with
libxmlsec1. The call is unsigned, as on AWS. Encrypted assertions (`EncryptedAssertion`) are made
here too, with `cryptography`'s RSA-OAEP and AES (W3C XML Encryption framing written by the test)."""

import base64
import datetime
import json
import os
import shutil
import uuid

import boto3
import botocore
import botocore.config
import botocore.exceptions
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner, methods
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod

from conftest import REGION, CliError, clean_env, unique

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
SIGNIN = "https://signin.aws.amazon.com/saml"
ATTR = "https://aws.amazon.com/SAML/Attributes/"
SUBJECT = "alice@example.com"


def instant(offset=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_key_and_cert(name):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"


def encrypt_assertion(assertion_el, public_key, data_alg="aes256-gcm", transport="rsa-oaep-mgf1p"):
    """`assertion_el` as a `saml:EncryptedAssertion` (W3C XML Encryption) for `public_key`: a
    fresh AES content key (GCM or CBC), transported with RSA-OAEP (SHA-1) or, for testing the
    refusal, RSA PKCS#1 v1.5."""
    plain = etree.tostring(assertion_el)
    bits = int(data_alg[3:6])
    key = os.urandom(bits // 8)
    if data_alg.endswith("gcm"):
        iv = os.urandom(12)
        data = iv + AESGCM(key).encrypt(iv, plain, None)
        data_uri = XENC11 + data_alg
    else:
        iv = os.urandom(16)
        pad = 16 - len(plain) % 16
        body = plain + os.urandom(pad - 1) + bytes([pad])
        enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        data = iv + enc.update(body) + enc.finalize()
        data_uri = XENC + data_alg
    if transport == "rsa-oaep-mgf1p":
        wrapped = public_key.encrypt(key, padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(),
                                                       label=None))
    else:
        wrapped = public_key.encrypt(key, padding.PKCS1v15())
    b64 = lambda b: base64.b64encode(b).decode()
    return etree.fromstring((
        f'<saml:EncryptedAssertion xmlns:saml="{SAML}"><xenc:EncryptedData xmlns:xenc="{XENC}" '
        f'Type="{XENC}Element"><xenc:EncryptionMethod Algorithm="{data_uri}"/>'
        f'<ds:KeyInfo xmlns:ds="{DS}"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="{XENC}{transport}">'
        f'<ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/></xenc:EncryptionMethod>'
        f"<xenc:CipherData><xenc:CipherValue>{b64(wrapped)}</xenc:CipherValue></xenc:CipherData>"
        f"</xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{b64(data)}</xenc:CipherValue>"
        f"</xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>").encode())


def cert_b64(cert_pem):
    return "".join(line for line in cert_pem.decode().splitlines() if "-----" not in line)


class IdP:
    """A SAML 2.0 identity provider: its signing keys, its metadata, and signed responses."""

    def __init__(self, entity_id=None):
        self.entity_id = entity_id or f"https://idp.example.com/{uuid.uuid4().hex}"
        self.key, self.cert = new_key_and_cert("Tessera test IdP")

    def metadata(self, certs=None):
        """IdP metadata naming `certs` (default: this IdP's certificate) as signing keys."""
        keys = "".join(
            f'<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64(c)}'
            f"</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
            for c in (certs or [self.cert]))
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>'
            f'<md:EntityDescriptor xmlns:md="{MD}" xmlns:ds="{DS}" entityID="{self.entity_id}">'
            f'<md:IDPSSODescriptor protocolSupportEnumeration="{SAMLP}">{keys}'
            f"<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>"
            f'<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
            f'Location="{self.entity_id}/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>')

    def response(self, roles, session_name="alice", subject=SUBJECT, audience="urn:amazon:webservices",
                 recipient=SIGNIN, not_before=-60, not_on_or_after=300, attributes=None, sign="assertion",
                 key=None, cert=None, issuer=None, status="urn:oasis:names:tc:SAML:2.0:status:Success",
                 encrypt_for=None, data_alg="aes256-gcm", transport="rsa-oaep-mgf1p"):
        """A base64 SAML response; `roles` are (role_arn, provider_arn) pairs for the Role attribute."""
        assertion_id = "_" + uuid.uuid4().hex
        attrs = {ATTR + "Role": [f"{r},{p}" for r, p in roles]}
        if session_name is not None:
            attrs[ATTR + "RoleSessionName"] = [session_name]
        attrs.update(attributes or {})
        attr_xml = "".join(
            f'<saml:Attribute Name="{name}">'
            + "".join(f'<saml:AttributeValue xsi:type="xs:string">{v}</saml:AttributeValue>' for v in values)
            + "</saml:Attribute>" for name, values in attrs.items())
        issuer = issuer or self.entity_id
        assertion = (
            f'<saml:Assertion xmlns:saml="{SAML}" xmlns:xs="http://www.w3.org/2001/XMLSchema" '
            f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="{assertion_id}" Version="2.0" '
            f'IssueInstant="{instant()}"><saml:Issuer>{issuer}</saml:Issuer>'
            + ('<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="placeholder"/>'
               if sign == "assertion" else "")
            + f'<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">'
            f'{subject}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
            f'<saml:SubjectConfirmationData NotOnOrAfter="{instant(not_on_or_after)}" Recipient="{recipient}"/>'
            f'</saml:SubjectConfirmation></saml:Subject>'
            f'<saml:Conditions NotBefore="{instant(not_before)}" NotOnOrAfter="{instant(not_on_or_after)}">'
            f"<saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>"
            f"</saml:Conditions>"
            f'<saml:AuthnStatement AuthnInstant="{instant()}" SessionIndex="{assertion_id}">'
            f"<saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:"
            f"PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
            f"<saml:AttributeStatement>{attr_xml}</saml:AttributeStatement></saml:Assertion>")
        signer = XMLSigner(method=methods.enveloped, signature_algorithm=SignatureMethod.RSA_SHA256,
                           digest_algorithm=DigestAlgorithm.SHA256,
                           c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0)
        key, cert = key or self.key, cert or self.cert
        assertion_el = etree.fromstring(assertion.encode())
        if sign == "assertion":
            assertion_el = signer.sign(assertion_el, key=key, cert=cert, reference_uri=assertion_id)
        response_id = "_" + uuid.uuid4().hex
        response = etree.fromstring((
            f'<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="{response_id}" Version="2.0" '
            f'IssueInstant="{instant()}" Destination="{recipient}"><saml:Issuer>{issuer}</saml:Issuer>'
            + ('<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="placeholder"/>'
               if sign == "response" else "")
            + f'<samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status></samlp:Response>').encode())
        if encrypt_for is not None:
            assertion_el = encrypt_assertion(assertion_el, encrypt_for, data_alg, transport)
        response.append(assertion_el)
        if sign == "response":
            response = signer.sign(response, key=key, cert=cert, reference_uri=response_id)
        return base64.b64encode(etree.tostring(response)).decode()


def unsigned_sts(tessera):
    return boto3.session.Session(region_name=REGION).client(
        "sts", endpoint_url=tessera.endpoint,
        config=botocore.config.Config(signature_version=botocore.UNSIGNED, retries={"max_attempts": 1}))


def unsigned_env(tessera):
    env = clean_env()
    env.update(AWS_ENDPOINT_URL=tessera.endpoint, AWS_DEFAULT_REGION=REGION,
               AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    return env


def trust_policy(provider_arn, condition=None):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider_arn},
        "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession", "sts:SetSourceIdentity"],
        "Condition": condition or {"StringEquals": {"SAML:aud": SIGNIN}},
    }]})


@pytest.fixture(scope="module")
def saml(tessera):
    """An IdP registered as a SAML provider in the management account, and a role trusting it."""
    idp = IdP()
    account = tessera.cli("sts", "get-caller-identity")["Account"]
    name = unique("TestIdP")
    provider_arn = tessera.cli("iam", "create-saml-provider", "--name", name,
                               "--saml-metadata-document", idp.metadata())["SAMLProviderArn"]
    assert provider_arn == f"arn:aws:iam::{account}:saml-provider/{name}"
    role = unique("saml-admins")
    role_arn = tessera.cli("iam", "create-role", "--role-name", role, "--assume-role-policy-document",
                           trust_policy(provider_arn))["Role"]["Arn"]
    return {"idp": idp, "account": account, "name": name, "provider_arn": provider_arn, "role": role,
            "role_arn": role_arn}


def assume(tessera, saml, assertion, role_arn=None, **kw):
    return unsigned_sts(tessera).assume_role_with_saml(
        RoleArn=role_arn or saml["role_arn"], PrincipalArn=saml["provider_arn"], SAMLAssertion=assertion, **kw)


def failure(tessera, saml, assertion, role_arn=None):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        assume(tessera, saml, assertion, role_arn)
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"].get("Message", "")


def pair(saml, role_arn=None):
    return [(role_arn or saml["role_arn"], saml["provider_arn"])]


# --- Success -----------------------------------------------------------------------------------


def test_boto3_assume_role_with_saml(tessera, saml):
    idp = saml["idp"]
    out = assume(tessera, saml, idp.response(pair(saml)))
    account, role = saml["account"], saml["role"]
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account}:assumed-role/{role}/alice"
    assert out["AssumedRoleUser"]["AssumedRoleId"].startswith("AROA")
    assert out["Subject"] == SUBJECT
    assert out["SubjectType"] == "persistent"
    assert out["Issuer"] == idp.entity_id
    assert out["Audience"] == SIGNIN
    # AWS's formula: base64(sha1(issuer + account id + "/" + provider name)).
    import hashlib
    expected = base64.b64encode(hashlib.sha1(f"{idp.entity_id}{account}/{saml['name']}".encode()).digest()).decode()
    assert out["NameQualifier"] == expected
    assert "PackedPolicySize" not in out
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    me = boto3.session.Session(region_name=REGION).client(
        "sts", endpoint_url=tessera.endpoint, aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"]).get_caller_identity()
    assert me["Arn"] == f"arn:aws:sts::{account}:assumed-role/{role}/alice"
    assert me["UserId"] == out["AssumedRoleUser"]["AssumedRoleId"]


def test_cli_assume_role_with_saml_and_signed_response(tessera, saml):
    """The AWS CLI, unsigned; here the IdP signs the whole Response instead of the Assertion, and
    the role pair is written provider first."""
    idp = saml["idp"]
    assertion = idp.response([(saml["provider_arn"], saml["role_arn"])], session_name="alice.cli",
                             sign="response", audience="https://signin.aws.amazon.com/saml")
    out = tessera.cli("sts", "assume-role-with-saml", "--role-arn", saml["role_arn"], "--principal-arn",
                      saml["provider_arn"], "--saml-assertion", assertion, "--duration-seconds", "900",
                      env=unsigned_env(tessera))
    assert out["AssumedRoleUser"]["Arn"].endswith(f":assumed-role/{saml['role']}/alice.cli")
    creds = out["Credentials"]
    me = tessera.cli("sts", "get-caller-identity", env=tessera.env_for(
        creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]))
    assert me["Arn"] == out["AssumedRoleUser"]["Arn"]
    expiry = datetime.datetime.fromisoformat(creds["Expiration"].replace("Z", "+00:00"))
    left = (expiry - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    assert 800 < left <= 900


def test_certificate_rotation(tessera, saml):
    """Metadata with two signing certificates: assertions signed by either verify; once the old
    certificate is gone from the metadata, its signatures no longer do."""
    idp = saml["idp"]
    new_key, new_cert = new_key_and_cert("rotated")
    name = unique("RotatingIdP")
    provider_arn = tessera.cli("iam", "create-saml-provider", "--name", name, "--saml-metadata-document",
                               idp.metadata([idp.cert, new_cert]))["SAMLProviderArn"]
    role_arn = tessera.cli("iam", "create-role", "--role-name", unique("saml-rot"), "--assume-role-policy-document",
                           trust_policy(provider_arn))["Role"]["Arn"]
    ctx = {**saml, "provider_arn": provider_arn, "role_arn": role_arn}
    assume(tessera, ctx, idp.response(pair(ctx)))
    assume(tessera, ctx, idp.response(pair(ctx), key=new_key, cert=new_cert))
    tessera.client("iam").update_saml_provider(SAMLProviderArn=provider_arn,
                                               SAMLMetadataDocument=idp.metadata([new_cert]))
    assume(tessera, ctx, idp.response(pair(ctx), key=new_key, cert=new_cert))
    assert failure(tessera, ctx, idp.response(pair(ctx))) == (400, "InvalidIdentityToken", "Response signature invalid")


def test_session_tags_and_source_identity(tessera, saml):
    """PrincipalTag attributes become session tags (a policy conditioned on aws:PrincipalTag
    sees them); SourceIdentity is returned and set."""
    iam = tessera.client("iam")
    role = unique("saml-tagged")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust_policy(saml["provider_arn"]))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="blue-only", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*",
                                                "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}}]}))

    def session(team):
        out = assume(tessera, saml, saml["idp"].response(pair(saml, role_arn), attributes={
            ATTR + "PrincipalTag:team": [team], ATTR + "PrincipalTag:cost-center": ["42"],
            ATTR + "TransitiveTagKeys": ["team"], ATTR + "SourceIdentity": ["alice-si"]}), role_arn=role_arn)
        c = out["Credentials"]
        return out, tessera.client("iam", aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                                   aws_session_token=c["SessionToken"])

    out, blue = session("blue")
    assert out["SourceIdentity"] == "alice-si"
    assert out["PackedPolicySize"] > 0
    blue.list_users()
    _, red = session("red")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        red.list_users()
    assert e.value.response["Error"]["Code"] == "AccessDenied"


# --- Refusals ----------------------------------------------------------------------------------


def test_tampered_assertion(tessera, saml):
    raw = base64.b64decode(saml["idp"].response(pair(saml))).decode()
    assert ">alice<" in raw
    tampered = base64.b64encode(raw.replace(">alice<", ">mallory<").encode()).decode()
    assert failure(tessera, saml, tampered) == (400, "InvalidIdentityToken", "Response signature invalid")


def test_signature_by_another_key(tessera, saml):
    key, cert = new_key_and_cert("impostor")
    assertion = saml["idp"].response(pair(saml), key=key, cert=cert)
    assert failure(tessera, saml, assertion) == (400, "InvalidIdentityToken", "Response signature invalid")


def test_unsigned_response(tessera, saml):
    assertion = saml["idp"].response(pair(saml), sign=None)
    assert failure(tessera, saml, assertion) == (400, "InvalidIdentityToken", "Response signature invalid")


def test_wrapped_assertion_is_not_read(tessera, saml):
    """XML signature wrapping: a forged, unsigned assertion put before the signed one (naming
    another session) is never read: the call either fails or uses only the signed content."""
    idp = saml["idp"]
    raw = base64.b64decode(idp.response(pair(saml))).decode()
    doc = etree.fromstring(raw.encode())
    signed = doc.find(f"{{{SAML}}}Assertion")
    forged = etree.fromstring(etree.tostring(signed))
    forged.remove(forged.find(f"{{{DS}}}Signature"))
    forged.set("ID", "_forged")
    for v in forged.iter(f"{{{SAML}}}AttributeValue"):
        if v.text == "alice":
            v.text = "mallory"
    doc.insert(list(doc).index(signed), forged)
    wrapped = base64.b64encode(etree.tostring(doc)).decode()
    try:
        out = assume(tessera, saml, wrapped)
    except botocore.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "InvalidIdentityToken"
    else:
        assert out["AssumedRoleUser"]["Arn"].endswith("/alice")


def test_expired_assertion(tessera, saml):
    assertion = saml["idp"].response(pair(saml), not_before=-1200, not_on_or_after=-600)
    status, code, message = failure(tessera, saml, assertion)
    assert (status, code) == (400, "ExpiredTokenException")
    assert message.startswith("Token expired: current date/time ")
    with pytest.raises(CliError) as e:
        tessera.cli("sts", "assume-role-with-saml", "--role-arn", saml["role_arn"], "--principal-arn",
                    saml["provider_arn"], "--saml-assertion", assertion, env=unsigned_env(tessera))
    assert e.value.code == "ExpiredTokenException"


def test_not_yet_valid_assertion(tessera, saml):
    assertion = saml["idp"].response(pair(saml), not_before=900, not_on_or_after=1800)
    status, code, message = failure(tessera, saml, assertion)
    assert (status, code) == (400, "InvalidIdentityToken")
    assert message.startswith("Assertion not yet valid")


def test_wrong_audience_and_recipient(tessera, saml):
    idp = saml["idp"]
    assert failure(tessera, saml, idp.response(pair(saml), audience="https://sp.example.com/saml")) == (
        400, "InvalidIdentityToken", "Incorrect audience in the SAML assertion")
    status, code, _ = failure(tessera, saml, idp.response(pair(saml), recipient="https://evil.example.com/saml"))
    assert (status, code) == (400, "InvalidIdentityToken")


def test_replayed_assertion(tessera, saml):
    assertion = saml["idp"].response(pair(saml))
    assume(tessera, saml, assertion)
    assert failure(tessera, saml, assertion) == (400, "InvalidIdentityToken", "The SAML assertion has already been used")


def test_role_not_in_assertion(tessera, saml):
    other = f"arn:aws:iam::{saml['account']}:role/{unique('not-offered')}"
    assertion = saml["idp"].response(pair(saml, other))
    assert failure(tessera, saml, assertion) == (403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithSAML")


def test_trust_policy_conditions_on_saml_keys(tessera, saml):
    """A trust policy on saml:sub (and saml:aud): only alice, only through the AWS endpoint."""
    iam = tessera.client("iam")
    role_arn = iam.create_role(RoleName=unique("saml-alice-only"), AssumeRolePolicyDocument=trust_policy(
        saml["provider_arn"], {"StringEquals": {"saml:sub": SUBJECT, "saml:aud": SIGNIN,
                                                "saml:iss": saml["idp"].entity_id,
                                                "saml:doc": f"{saml['account']}/{saml['name']}"}}))["Role"]["Arn"]
    idp = saml["idp"]
    assume(tessera, saml, idp.response(pair(saml, role_arn)), role_arn=role_arn)
    assert failure(tessera, saml, idp.response(pair(saml, role_arn), subject="bob@example.com"), role_arn)[:2] == (
        403, "AccessDenied")
    regional = "https://us-west-2.signin.aws.amazon.com/saml"
    assert failure(tessera, saml, idp.response(pair(saml, role_arn), recipient=regional), role_arn)[:2] == (
        403, "AccessDenied")


def test_unknown_provider_and_rejected_status(tessera, saml):
    idp = saml["idp"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unsigned_sts(tessera).assume_role_with_saml(
            RoleArn=saml["role_arn"], PrincipalArn=f"arn:aws:iam::{saml['account']}:saml-provider/NoSuchIdP",
            SAMLAssertion=idp.response(pair(saml)))
    assert e.value.response["Error"]["Code"] == "InvalidIdentityToken"
    assert e.value.response["Error"]["Message"] == "Specified provider doesn't exist"
    rejected = idp.response(pair(saml), status="urn:oasis:names:tc:SAML:2.0:status:Requester")
    assert failure(tessera, saml, rejected)[:2] == (403, "IDPRejectedClaim")


def test_malformed_assertions(tessera, saml):
    for junk in ["not base64 at all!", base64.b64encode(b"<not-xml").decode(),
                 base64.b64encode(b'<!DOCTYPE x [<!ENTITY a "b">]><samlp:Response xmlns:samlp="'
                                  + SAMLP.encode() + b'">&a;</samlp:Response>').decode()]:
        status, code, _ = failure(tessera, saml, junk)
        assert (status, code) == (400, "InvalidIdentityToken"), junk


# --- Across nodes --------------------------------------------------------------------------------

PG_URL = os.environ.get("TESSERA_TEST_POSTGRES_URL")


@pytest.mark.skipif(not PG_URL, reason="TESSERA_TEST_POSTGRES_URL is not set: no PostgreSQL to share")
def test_replay_is_refused_on_another_node(tessera_factory):
    """Two servers sharing one PostgreSQL schema: an assertion used on one is refused on the other."""
    import subprocess
    schema = f"tessera_saml_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    store_url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}"
    try:
        first = tessera_factory("one", ["--store-url", store_url]).start()
        second = tessera_factory("two", ["--store-url", store_url])
        second.data_dir.mkdir(mode=0o700)
        for name in ("master.key", "credentials"):
            shutil.copy2(first.data_dir / name, second.data_dir / name)
        second.start()
        idp = IdP()
        account = first.client("sts").get_caller_identity()["Account"]
        provider_arn = first.client("iam").create_saml_provider(
            Name="SharedIdP", SAMLMetadataDocument=idp.metadata())["SAMLProviderArn"]
        role_arn = first.client("iam").create_role(
            RoleName="saml-shared", AssumeRolePolicyDocument=trust_policy(provider_arn))["Role"]["Arn"]
        ctx = {"provider_arn": provider_arn, "role_arn": role_arn, "account": account}
        assertion = idp.response(pair(ctx))
        assume(first, ctx, assertion)
        assert failure(second, ctx, assertion)[:2] == (400, "InvalidIdentityToken")
    finally:
        if shutil.which("psql"):
            subprocess.run(["psql", PG_URL, "-Atc", f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'],
                           capture_output=True, timeout=60)


# --- Console sign-in from an IdP-initiated POST ----------------------------------------------------


def console_post(session, tessera, assertion):
    return session.post(f"{tessera.endpoint}/console/saml", data={"SAMLResponse": assertion}, allow_redirects=False)


def test_console_sign_in_with_one_role(tessera, saml):
    import requests
    browser = requests.Session()
    assertion = saml["idp"].response(pair(saml), session_name="alice.console",
                                     attributes={ATTR + "SessionDuration": ["1800"]})
    r = console_post(browser, tessera, assertion)
    assert r.status_code == 200, r.text
    assert 'url=/console"' in r.text and "SameSite=Strict" in r.headers["set-cookie"]
    home = browser.get(f"{tessera.endpoint}/console", allow_redirects=False)
    assert home.status_code == 200
    assert f"{saml['role']}/alice.console @ {saml['account']}" in home.text
    # The assertion was spent by the sign-in: posting it again is refused.
    again = console_post(requests.Session(), tessera, assertion)
    assert again.status_code == 400 and "InvalidIdentityToken" in again.text


def test_console_role_chooser(tessera, saml):
    import re
    import requests
    other = unique("saml-readers")
    other_arn = tessera.cli("iam", "create-role", "--role-name", other, "--assume-role-policy-document",
                            trust_policy(saml["provider_arn"]))["Role"]["Arn"]
    browser = requests.Session()
    r = console_post(browser, tessera, saml["idp"].response(pair(saml) + pair(saml, other_arn), session_name="bob"))
    assert r.status_code == 200 and 'id="saml-roles"' in r.text
    assert saml["role_arn"] in r.text and other_arn in r.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
    # Without the CSRF token the choice is refused.
    bad = browser.post(f"{tessera.endpoint}/console/saml/choose", data={"role": other_arn}, allow_redirects=False)
    assert bad.status_code == 403
    chosen = browser.post(f"{tessera.endpoint}/console/saml/choose", data={"csrf": csrf, "role": other_arn},
                          allow_redirects=False)
    assert chosen.status_code == 200, chosen.text
    home = browser.get(f"{tessera.endpoint}/console", allow_redirects=False)
    assert home.status_code == 200 and f"{other}/bob @ {saml['account']}" in home.text


def test_console_refuses_a_tampered_response(tessera, saml):
    import requests
    raw = base64.b64decode(saml["idp"].response(pair(saml))).decode().replace(">alice<", ">mallory<")
    r = console_post(requests.Session(), tessera, base64.b64encode(raw.encode()).decode())
    assert r.status_code == 400 and "Response signature invalid" in r.text
    assert "set-cookie" not in r.headers


# --- Encrypted assertions (IAM User Guide, "Manage SAML encryption keys") --------------------


@pytest.fixture(scope="module")
def encrypted(tessera, saml):
    """A SAML provider with a private key (`AddPrivateKey`), encryption Allowed, and a role
    trusting it; `sp_key` is the private key whose public half the IdP encrypts to."""
    sp_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = sp_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption()).decode()
    iam = tessera.client("iam")
    name = unique("EncIdP")
    out = iam.create_saml_provider(Name=name, SAMLMetadataDocument=saml["idp"].metadata(),
                                   AssertionEncryptionMode="Allowed", AddPrivateKey=pem)
    provider_arn = out["SAMLProviderArn"]
    role_arn = iam.create_role(RoleName=unique("saml-enc"),
                               AssumeRolePolicyDocument=trust_policy(provider_arn))["Role"]["Arn"]
    return {**saml, "provider_arn": provider_arn, "role_arn": role_arn, "sp_key": sp_key, "name": name}


@pytest.mark.parametrize("data_alg", ["aes256-gcm", "aes128-gcm", "aes128-cbc", "aes256-cbc"])
def test_encrypted_assertion_is_decrypted(tessera, encrypted, data_alg):
    """A signed assertion encrypted to the provider's key (AES-GCM or AES-CBC content, RSA-OAEP
    key transport) gives credentials; the session is the assertion's."""
    ctx = encrypted
    out = assume(tessera, ctx, ctx["idp"].response(pair(ctx), session_name=f"enc-{data_alg}",
                                                   encrypt_for=ctx["sp_key"].public_key(), data_alg=data_alg))
    assert out["AssumedRoleUser"]["Arn"].endswith(f"/enc-{data_alg}")
    assert out["Issuer"] == ctx["idp"].entity_id and out["Subject"] == SUBJECT


def test_encrypted_assertion_in_a_signed_response(tessera, encrypted):
    """The IdP signs the response (covering the EncryptedAssertion) and not the assertion."""
    ctx = encrypted
    out = assume(tessera, ctx, ctx["idp"].response(pair(ctx), sign="response", session_name="enc-outer",
                                                   encrypt_for=ctx["sp_key"].public_key()))
    assert out["AssumedRoleUser"]["Arn"].endswith("/enc-outer")


def test_encrypted_assertion_refusals(tessera, encrypted, saml):
    ctx = encrypted
    idp, pub = ctx["idp"], ctx["sp_key"].public_key()
    # Encrypted to another key: nothing decrypts it.
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    status, code, message = failure(tessera, ctx, idp.response(pair(ctx), encrypt_for=other))
    assert (status, code) == (400, "InvalidIdentityToken") and "could not be decrypted" in message
    # Decrypts, but neither the assertion nor the response is signed: decryption is not proof.
    assert failure(tessera, ctx, idp.response(pair(ctx), sign=None, encrypt_for=pub)) == (
        400, "InvalidIdentityToken", "Response signature invalid")
    # Signed by a key the metadata does not name.
    key, cert = new_key_and_cert("impostor")
    assert failure(tessera, ctx, idp.response(pair(ctx), key=key, cert=cert, encrypt_for=pub)) == (
        400, "InvalidIdentityToken", "Response signature invalid")
    # Altered ciphertext (AES-GCM's tag fails).
    raw = base64.b64decode(idp.response(pair(ctx), encrypt_for=pub)).decode()
    at = raw.rindex("</xenc:CipherValue>") - 8
    flipped = raw[:at] + ("A" if raw[at] != "A" else "B") + raw[at + 1:]
    status, code, message = failure(tessera, ctx, base64.b64encode(flipped.encode()).decode())
    assert (status, code) == (400, "InvalidIdentityToken") and "could not be decrypted" in message
    # RSA PKCS#1 v1.5 key transport is refused (Bleichenbacher).
    status, code, message = failure(tessera, ctx, idp.response(pair(ctx), encrypt_for=pub, transport="rsa-1_5"))
    assert (status, code) == (400, "InvalidIdentityToken") and "RSA-OAEP" in message
    # A provider without a private key cannot read an encrypted assertion.
    status, code, message = failure(tessera, saml, idp.response(pair(saml), encrypt_for=pub))
    assert (status, code) == (400, "InvalidIdentityToken") and "no private key" in message
    # A replayed encrypted assertion is refused like any other.
    once = idp.response(pair(ctx), encrypt_for=pub)
    assume(tessera, ctx, once)
    assert failure(tessera, ctx, once)[1] == "InvalidIdentityToken"


def test_required_encryption_and_key_rotation(tessera, encrypted):
    """With AssertionEncryptionMode Required an unencrypted assertion is refused; a second
    private key added for rotation decrypts, and once the first is removed its assertions no
    longer do."""
    ctx = encrypted
    iam = tessera.client("iam")
    idp, old = ctx["idp"], ctx["sp_key"]
    assume(tessera, ctx, idp.response(pair(ctx)))  # Allowed: unencrypted still accepted
    [old_id] = [k["KeyId"] for k in iam.get_saml_provider(SAMLProviderArn=ctx["provider_arn"])["PrivateKeyList"]]
    new = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    new_pem = new.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    iam.update_saml_provider(SAMLProviderArn=ctx["provider_arn"], AssertionEncryptionMode="Required",
                             AddPrivateKey=new_pem)
    status, code, message = failure(tessera, ctx, idp.response(pair(ctx)))
    assert (status, code) == (400, "InvalidIdentityToken") and "Required" in message
    assume(tessera, ctx, idp.response(pair(ctx), encrypt_for=old.public_key()))
    assume(tessera, ctx, idp.response(pair(ctx), encrypt_for=new.public_key()))
    keys = iam.get_saml_provider(SAMLProviderArn=ctx["provider_arn"])["PrivateKeyList"]
    assert len(keys) == 2
    iam.update_saml_provider(SAMLProviderArn=ctx["provider_arn"], RemovePrivateKey=old_id)
    assert failure(tessera, ctx, idp.response(pair(ctx), encrypt_for=old.public_key()))[1] == "InvalidIdentityToken"
    assume(tessera, ctx, idp.response(pair(ctx), encrypt_for=new.public_key()))
    # Not an RSA private key: refused, nothing changes.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_saml_provider(SAMLProviderArn=ctx["provider_arn"],
                                 AddPrivateKey="-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n")
    assert e.value.response["Error"]["Code"] == "InvalidInput"
    assert len(iam.get_saml_provider(SAMLProviderArn=ctx["provider_arn"])["PrivateKeyList"]) == 1


# --- The console flow in a real browser ---------------------------------------------------------

CONSOLE_TESTS = __import__("pathlib").Path(__file__).resolve().parents[1] / "console"


def idp_post_page(path, tessera, assertion):
    """The IdP's side of an IdP-initiated sign-in: a page that posts `assertion` to the console
    as soon as it loads (a cross-site form POST, as Okta's or ADFS's pages do)."""
    path.write_text(
        f'<!doctype html><html><body onload="document.forms[0].submit()">'
        f'<form method="post" action="{tessera.endpoint}/console/saml">'
        f'<input type="hidden" name="SAMLResponse" value="{assertion}">'
        f'<input type="hidden" name="RelayState" value=""><noscript><button>Continue</button></noscript>'
        f"</form></body></html>")
    return str(path)


def test_console_saml_sign_in_in_a_browser(tessera, saml, tmp_path):
    """Console sign-in from the test IdP in Debian's chromium: one role (straight in), two roles
    (the role chooser), a tampered response (refused, no session). Screenshots go to
    tests/console/artifacts/saml/."""
    import subprocess
    node = shutil.which("node")
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not node:
        pytest.skip("SKIP: node is not installed: the SAML browser test needs node and npm")
    if not (CONSOLE_TESTS / "node_modules" / "playwright-core").exists():
        pytest.skip("SKIP: tests/console/node_modules missing: run `npm ci` in tests/console (scripts/test does)")
    if not os.path.exists(chromium):
        pytest.skip(f"SKIP: {chromium} missing: apt-get install chromium (scripts/test does)")
    idp = saml["idp"]
    other = unique("saml-browser")
    other_arn = tessera.cli("iam", "create-role", "--role-name", other, "--assume-role-policy-document",
                            trust_policy(saml["provider_arn"]))["Role"]["Arn"]
    raw = base64.b64decode(idp.response(pair(saml), session_name="mallory")).decode()
    tampered = base64.b64encode(raw.replace(">mallory<", ">root<").encode()).decode()
    artifacts = CONSOLE_TESTS / "artifacts" / "saml"
    shutil.rmtree(artifacts, ignore_errors=True)
    env = dict(
        os.environ, TESSERA_ENDPOINT=tessera.endpoint, ARTIFACTS=str(artifacts), CHROMIUM=chromium,
        ONE_ROLE_PAGE=idp_post_page(tmp_path / "one.html", tessera, idp.response(pair(saml), session_name="carol")),
        ONE_ROLE_IDENTITY=f"{saml['role']}/carol @ {saml['account']}",
        TWO_ROLES_PAGE=idp_post_page(tmp_path / "two.html", tessera,
                                     idp.response(pair(saml) + pair(saml, other_arn), session_name="dave")),
        CHOSEN_ROLE=other_arn, CHOSEN_IDENTITY=f"{other}/dave @ {saml['account']}",
        TAMPERED_PAGE=idp_post_page(tmp_path / "tampered.html", tessera, tampered))
    proc = subprocess.run([node, "--test", "--test-reporter=spec", "saml_signin.mjs"], cwd=CONSOLE_TESTS, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert len(list(artifacts.glob("saml-*.png"))) == 5
