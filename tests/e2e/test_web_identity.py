"""STS AssumeRoleWithWebIdentity through the AWS CLI and boto3 (issue 6, seed 001's EKS trust
policy): the test runs its own OpenID Connect issuer on loopback (discovery document + JWKS served
by http.server in a thread; keys and tokens made with `cryptography` and PyJWT), registers it with
`aws iam create-open-id-connect-provider`, and assumes a role with its tokens, unsigned."""

import base64
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import botocore
import botocore.config
import botocore.exceptions
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conftest import REGION, CliError, clean_env, unique

NAMESPACE = "payments"
SERVICE_ACCOUNT = "ledger"
SUB = f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"
AUDIENCE = "sts.amazonaws.com"


def b64int(n, length=None):
    raw = n.to_bytes(length or (n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Issuer:
    """An OIDC issuer on 127.0.0.1: `/<path>/.well-known/openid-configuration` and `/<path>/keys`."""

    def __init__(self, path="/oidc/id/CLUSTER1"):
        self.rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec_key = ec.generate_private_key(ec.SECP256R1())
        self.requests = []
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                issuer.requests.append(self.path)
                if self.path == f"{path}/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/keys",
                            "id_token_signing_alg_values_supported": ["RS256", "ES256"]}
                elif self.path == f"{path}/keys":
                    body = issuer.jwks()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        # What IAM calls the provider: the URL without its scheme.
        self.resource = self.url.split("://", 1)[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def jwks(self):
        rsa_numbers = self.rsa_key.public_key().public_numbers()
        ec_numbers = self.ec_key.public_key().public_numbers()
        return {"keys": [
            {"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256",
             "n": b64int(rsa_numbers.n), "e": b64int(rsa_numbers.e)},
            {"kty": "EC", "kid": "ec-1", "use": "sig", "alg": "ES256", "crv": "P-256",
             "x": b64int(ec_numbers.x, 32), "y": b64int(ec_numbers.y, 32)},
        ]}

    def token(self, sub=SUB, aud=AUDIENCE, lifetime=3600, alg="RS256", iss=None, **extra):
        now = int(time.time())
        claims = {"iss": iss or self.url, "sub": sub, "aud": aud, "iat": now, "nbf": now, "exp": now + lifetime,
                  **extra}
        if alg == "ES256":
            return jwt.encode(claims, self.ec_key, algorithm="ES256", headers={"kid": "ec-1"})
        return jwt.encode(claims, self.rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def eks_trust_policy(account, provider):
    """Seed 001's "EKS cluster policy attached to the role in trust relationship"."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": f"arn:aws:iam::{account}:oidc-provider/{provider}"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{provider}:aud": "sts.amazonaws.com",
                f"{provider}:sub": f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}",
            }},
        }],
    })


@pytest.fixture(scope="module")
def oidc(tessera):
    """The issuer, registered in the management account, and a role trusting it as seed 001 does."""
    issuer = Issuer()
    account = tessera.cli("sts", "get-caller-identity")["Account"]
    arn = tessera.cli("iam", "create-open-id-connect-provider", "--url", issuer.url,
                      "--client-id-list", AUDIENCE)["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::{account}:oidc-provider/{issuer.resource}"
    role = unique("irsa-ledger")
    role_arn = tessera.cli("iam", "create-role", "--role-name", role, "--assume-role-policy-document",
                           eks_trust_policy(account, issuer.resource))["Role"]["Arn"]
    yield {"issuer": issuer, "account": account, "provider_arn": arn, "role": role, "role_arn": role_arn}
    issuer.close()


def unsigned_env(tessera):
    """Environment for the AWS CLI with no credentials at all."""
    env = clean_env()
    env.update(AWS_ENDPOINT_URL=tessera.endpoint, AWS_DEFAULT_REGION=REGION,
               AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    return env


def assume_cli(tessera, role_arn, token, session="ledger-pod", **kw):
    args = ["sts", "assume-role-with-web-identity", "--role-arn", role_arn,
            "--role-session-name", session, "--web-identity-token", token]
    for k, v in kw.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    return tessera.cli(*args, env=unsigned_env(tessera))


def unsigned_sts(tessera):
    return boto3.session.Session(region_name=REGION).client(
        "sts", endpoint_url=tessera.endpoint,
        config=botocore.config.Config(signature_version=botocore.UNSIGNED, retries={"max_attempts": 1}))


def failure(tessera, role_arn, token):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unsigned_sts(tessera).assume_role_with_web_identity(
            RoleArn=role_arn, RoleSessionName="ledger-pod", WebIdentityToken=token)
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"].get("Message", "")


# --- Success -----------------------------------------------------------------------------------


def test_cli_assume_role_with_web_identity(tessera, oidc):
    issuer = oidc["issuer"]
    out = assume_cli(tessera, oidc["role_arn"], issuer.token())
    account, role = oidc["account"], oidc["role"]
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account}:assumed-role/{role}/ledger-pod"
    assert out["AssumedRoleUser"]["AssumedRoleId"].startswith("AROA")
    assert out["AssumedRoleUser"]["AssumedRoleId"].endswith(":ledger-pod")
    assert out["SubjectFromWebIdentityToken"] == SUB
    assert out["Audience"] == AUDIENCE
    assert out["Provider"] == oidc["provider_arn"]
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    # The discovery document and the key set were fetched from the issuer.
    assert any(p.endswith("/.well-known/openid-configuration") for p in issuer.requests)
    assert any(p.endswith("/keys") for p in issuer.requests)

    me = tessera.cli("sts", "get-caller-identity", env=tessera.env_for(
        creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]))
    assert me["Arn"] == f"arn:aws:sts::{account}:assumed-role/{role}/ledger-pod"
    assert me["UserId"] == out["AssumedRoleUser"]["AssumedRoleId"]


def test_es256_and_duration(tessera, oidc):
    out = assume_cli(tessera, oidc["role_arn"], oidc["issuer"].token(alg="ES256"), duration_seconds=900)
    assert out["SubjectFromWebIdentityToken"] == SUB


def test_boto3_default_chain_with_token_file(tessera, oidc, tmp_path):
    """AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE (how EKS pods get credentials): boto3's default
    chain calls AssumeRoleWithWebIdentity itself, with no other credentials anywhere."""
    token_file = tmp_path / "token"
    token_file.write_text(oidc["issuer"].token())
    env = clean_env()
    env.update(
        AWS_ROLE_ARN=oidc["role_arn"],
        AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
        AWS_ROLE_SESSION_NAME="boto3-chain",
        AWS_ENDPOINT_URL=tessera.endpoint,
        AWS_DEFAULT_REGION=REGION,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    script = textwrap.dedent("""
        import json, boto3
        session = boto3.session.Session()
        creds = session.get_credentials()
        print(json.dumps({"method": creds.method,
                          "identity": session.client("sts").get_caller_identity()}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["method"] == "assume-role-with-web-identity"
    assert out["identity"]["Arn"] == f"arn:aws:sts::{oidc['account']}:assumed-role/{oidc['role']}/boto3-chain"
    assert out["identity"]["Account"] == oidc["account"]


# --- Refusals ----------------------------------------------------------------------------------


def test_wrong_subject_is_access_denied(tessera, oidc):
    token = oidc["issuer"].token(sub=f"system:serviceaccount:{NAMESPACE}:other")
    with pytest.raises(CliError) as e:
        assume_cli(tessera, oidc["role_arn"], token)
    assert e.value.code == "AccessDenied"
    assert "Not authorized to perform sts:AssumeRoleWithWebIdentity" in e.value.stderr
    status, code, message = failure(tessera, oidc["role_arn"], token)
    assert (status, code, message) == (403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")


def test_missing_role_is_access_denied(tessera, oidc):
    role_arn = f"arn:aws:iam::{oidc['account']}:role/{unique('no-such-role')}"
    assert failure(tessera, role_arn, oidc["issuer"].token())[:2] == (403, "AccessDenied")


def test_wrong_audience_is_invalid_identity_token(tessera, oidc):
    status, code, message = failure(tessera, oidc["role_arn"], oidc["issuer"].token(aud="sts.amazon.com"))
    assert (status, code, message) == (400, "InvalidIdentityToken", "Incorrect token audience")


def test_expired_token(tessera, oidc):
    token = oidc["issuer"].token(lifetime=-600)
    with pytest.raises(CliError) as e:
        assume_cli(tessera, oidc["role_arn"], token)
    assert e.value.code == "ExpiredTokenException"
    status, code, message = failure(tessera, oidc["role_arn"], token)
    assert (status, code) == (400, "ExpiredTokenException")
    assert message.startswith("Token expired: current date/time ")


def test_tampered_signature(tessera, oidc):
    header, payload, signature = oidc["issuer"].token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "system:serviceaccount:kube-system:admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(CliError) as e:
        assume_cli(tessera, oidc["role_arn"], f"{header}.{forged}.{signature}")
    assert e.value.code == "InvalidIdentityToken"
    # A flipped signature byte, and garbage.
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    assert failure(tessera, oidc["role_arn"], f"{header}.{payload}.{flipped}")[1] == "InvalidIdentityToken"
    assert failure(tessera, oidc["role_arn"], "not-a-jwt-at-all")[1] == "InvalidIdentityToken"


def test_unregistered_issuer(tessera, oidc):
    other = Issuer(path="/unregistered")
    try:
        status, code, message = failure(tessera, oidc["role_arn"], other.token())
        assert (status, code) == (400, "InvalidIdentityToken")
        assert message == f"No OpenIDConnect provider found in your account for {other.url}"
        assert other.requests == []
    finally:
        other.close()


def test_issuer_down_is_idp_communication_error(tessera, oidc):
    down = f"http://127.0.0.1:{free_port()}/down"
    tessera.cli("iam", "create-open-id-connect-provider", "--url", down, "--client-id-list", AUDIENCE)
    try:
        token = oidc["issuer"].token(iss=down)
        with pytest.raises(CliError) as e:
            assume_cli(tessera, oidc["role_arn"], token)
        assert e.value.code == "IDPCommunicationError"
    finally:
        arn = f"arn:aws:iam::{oidc['account']}:oidc-provider/{down.split('://', 1)[1]}"
        tessera.cli("iam", "delete-open-id-connect-provider", "--open-id-connect-provider-arn", arn)


def test_other_unsigned_calls_still_need_a_signature(tessera):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        boto3.session.Session(region_name=REGION).client(
            "sts", endpoint_url=tessera.endpoint,
            config=botocore.config.Config(signature_version=botocore.UNSIGNED)).get_caller_identity()
    assert e.value.response["Error"]["Code"] == "MissingAuthenticationToken"


def test_token_is_recorded_as_web_identity_user_and_never_logged(tessera, oidc):
    """CloudTrail records the call in the role's account as a WebIdentityUser; neither the event
    nor the server log holds the token."""
    token = oidc["issuer"].token()
    assume_cli(tessera, oidc["role_arn"], token, session="audited")
    deadline = time.time() + 10
    event = None
    while time.time() < deadline and event is None:
        events = tessera.cli("cloudtrail", "lookup-events", "--lookup-attributes",
                             "AttributeKey=EventName,AttributeValue=AssumeRoleWithWebIdentity")["Events"]
        for e in events:
            record = json.loads(e["CloudTrailEvent"])
            if record.get("requestParameters", {}).get("roleSessionName") == "audited":
                event = record
        time.sleep(0.2)
    assert event is not None, "no AssumeRoleWithWebIdentity event"
    assert event["userIdentity"]["type"] == "WebIdentityUser"
    assert event["userIdentity"]["userName"] == SUB
    assert event["userIdentity"]["identityProvider"] == oidc["provider_arn"]
    assert event["recipientAccountId"] == oidc["account"]
    signature = token.rsplit(".", 1)[1]
    assert signature not in json.dumps(event)
    assert signature not in tessera.log.read_text(errors="replace")
