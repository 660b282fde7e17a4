"""Outbound identity federation, through boto3 and the AWS CLI (docs/OUTBOUND_FEDERATION.md):
IAM EnableOutboundWebIdentityFederation / DisableOutboundWebIdentityFederation /
GetOutboundWebIdentityFederationInfo and STS GetWebIdentityToken (STS API reference:
API_GetWebIdentityToken; IAM User Guide: id_roles_providers_outbound_token_claims.html).

A relying party's view: the token is verified with PyJWT against the JWKS found through the
issuer's OIDC discovery document, fetched over HTTP without credentials."""

import json
import os
import subprocess
import urllib.error
import urllib.request

import jwt
import pytest

from conftest import expect_error as expect, policy_document as policy, BIN, unique, unvalidated_client, user_with_key

NAMESPACE = "https://sts.amazonaws.com/"


def fetch_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        return json.loads(r.read())


def verify(token, issuer, audience, algorithms=("RS256", "ES384")):
    """Verify `token` as a relying party would: discovery document, JWKS, signature, claims."""
    discovery = fetch_json(issuer + "/.well-known/openid-configuration")
    assert discovery["issuer"] == issuer
    jwks = jwt.PyJWKSet.from_dict(fetch_json(discovery["jwks_uri"]))
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    return jwt.decode(token, key=key.key, algorithms=list(algorithms), audience=audience, issuer=issuer,
                      options={"require": ["exp", "iat", "iss", "sub", "aud"]})


def enabled_issuer(t):
    """Enable outbound federation unless it is on; return the issuer URL."""
    iam = t.client("iam")
    try:
        return iam.enable_outbound_web_identity_federation()["IssuerIdentifier"]
    except iam.exceptions.FeatureEnabledException:
        return iam.get_outbound_web_identity_federation_info()["IssuerIdentifier"]


@pytest.fixture(scope="module")
def server(module_tessera):
    """A server of this module's own: the feature is account-wide."""
    return module_tessera


def test_enable_info_disable(server):
    t = server
    iam = t.client("iam")
    expect(iam.get_outbound_web_identity_federation_info, "FeatureDisabled")
    expect(iam.disable_outbound_web_identity_federation, "FeatureDisabled")
    issuer = iam.enable_outbound_web_identity_federation()["IssuerIdentifier"]
    assert issuer.startswith(t.endpoint + "/_tessera/outbound/")
    expect(iam.enable_outbound_web_identity_federation, "FeatureEnabled")
    info = t.cli("iam", "get-outbound-web-identity-federation-info")
    assert info == {"IssuerIdentifier": issuer, "JwtVendingEnabled": True}
    # The documents are public: no credentials.
    discovery = fetch_json(issuer + "/.well-known/openid-configuration")
    assert discovery["jwks_uri"] == issuer + "/.well-known/jwks.json"
    assert set(discovery["id_token_signing_alg_values_supported"]) == {"RS256", "ES384"}
    keys = fetch_json(discovery["jwks_uri"])["keys"]
    assert {k["alg"] for k in keys} == {"RS256", "ES384"}
    assert all("d" not in k for k in keys), "the JWKS must hold public keys only"
    with pytest.raises(urllib.error.HTTPError) as e:
        fetch_json(t.endpoint + "/_tessera/outbound/no-such-issuer/.well-known/jwks.json")
    assert e.value.code == 404
    iam.disable_outbound_web_identity_federation()
    assert iam.get_outbound_web_identity_federation_info() | {"ResponseMetadata": None} == \
        {"IssuerIdentifier": issuer, "JwtVendingEnabled": False, "ResponseMetadata": None}
    # Enabled again: the same issuer, so relying parties keep their trust.
    assert iam.enable_outbound_web_identity_federation()["IssuerIdentifier"] == issuer


@pytest.mark.parametrize("alg", ["RS256", "ES384"])
def test_token_verifies_against_the_published_jwks(server, alg):
    t = server
    iam = t.client("iam")
    issuer = enabled_issuer(t)
    account = t.client("sts").get_caller_identity()["Account"]
    name = unique("jwt-user-")
    creds = user_with_key(t, t.root_creds, name, policy(
        {"Effect": "Allow", "Action": ["sts:GetWebIdentityToken", "sts:TagGetWebIdentityToken"], "Resource": "*"}))
    sts = t.client("sts", **creds)
    out = sts.get_web_identity_token(Audience=["https://api.example.com"], SigningAlgorithm=alg,
                                     DurationSeconds=120, Tags=[{"Key": "team", "Value": "data"}])
    token = out["WebIdentityToken"]
    assert jwt.get_unverified_header(token)["alg"] == alg
    claims = verify(token, issuer, "https://api.example.com")
    assert claims["sub"] == f"arn:aws:iam::{account}:user/{name}"
    assert claims["iss"] == issuer
    assert claims["exp"] - claims["iat"] == 120
    assert abs(claims["exp"] - out["Expiration"].timestamp()) < 1
    assert claims[NAMESPACE]["aws_account"] == account
    assert claims[NAMESPACE]["request_tags"] == {"team": "data"}
    # The wrong audience, or a token changed by one character, is refused.
    with pytest.raises(jwt.InvalidAudienceError):
        verify(token, issuer, "https://other.example.com")
    header, payload, signature = token.split(".")
    forged = jwt.utils.base64url_encode(json.dumps({**claims, "sub": "arn:aws:iam::111111111111:root"}).encode())
    with pytest.raises(jwt.InvalidSignatureError):
        verify(f"{header}.{forged.decode()}.{signature}", issuer, "https://api.example.com")


def test_role_session_token_and_session_limit(server):
    t = server
    iam = t.client("iam")
    issuer = enabled_issuer(t)
    account = t.client("sts").get_caller_identity()["Account"]
    role = unique("jwt-role-")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}))
    iam.put_role_policy(RoleName=role, PolicyName="jwt", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "sts:GetWebIdentityToken", "Resource": "*",
         "Condition": {"ForAllValues:StringEquals": {"sts:IdentityTokenAudience": ["aud-a", "aud-b"]}}}))
    caller = user_with_key(t, t.root_creds, unique("jwt-caller-"), policy(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}))
    c = t.client("sts", **caller).assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}",
                                              RoleSessionName="jwt", DurationSeconds=900)["Credentials"]
    session = {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
               "aws_session_token": c["SessionToken"]}
    sts = t.client("sts", **session)
    token = sts.get_web_identity_token(Audience=["aud-a", "aud-b"], SigningAlgorithm="ES384")["WebIdentityToken"]
    claims = verify(token, issuer, "aud-b")
    # A role session's subject is its role.
    assert claims["sub"] == f"arn:aws:iam::{account}:role/{role}"
    assert claims["aud"] == ["aud-a", "aud-b"]
    assert claims["exp"] - claims["iat"] == 300
    # An audience the policy does not allow; a token outliving the session; tags without
    # sts:TagGetWebIdentityToken.
    expect(sts.get_web_identity_token, "AccessDenied", Audience=["aud-c"], SigningAlgorithm="RS256")
    expect(sts.get_web_identity_token, "SessionDurationEscalationException", Audience=["aud-a"],
           SigningAlgorithm="RS256", DurationSeconds=3600)
    expect(sts.get_web_identity_token, "AccessDenied", Audience=["aud-a"], SigningAlgorithm="RS256",
           Tags=[{"Key": "k", "Value": "v"}])


def test_errors_and_disable(server):
    t = server
    iam = t.client("iam")
    issuer = enabled_issuer(t)
    creds = user_with_key(t, t.root_creds, unique("jwt-errors-"), policy(
        {"Effect": "Allow", "Action": "sts:GetWebIdentityToken", "Resource": "*"}))
    raw = unvalidated_client(t, "sts", **creds)
    e = expect(raw.get_web_identity_token, "ValidationError", Audience=["a"], SigningAlgorithm="RS256",
               DurationSeconds=3601)
    assert "less than or equal to 3600" in e.response["Error"]["Message"]
    expect(raw.get_web_identity_token, "ValidationError", Audience=["a"], SigningAlgorithm="RS256",
           DurationSeconds=59)
    expect(raw.get_web_identity_token, "ValidationError", Audience=["a"], SigningAlgorithm="HS256")
    expect(raw.get_web_identity_token, "ValidationError", Audience=[f"a{i}" for i in range(11)],
           SigningAlgorithm="RS256")
    bare = t.client("sts", **user_with_key(t, t.root_creds, unique("jwt-bare-")))
    expect(bare.get_web_identity_token, "AccessDenied", Audience=["a"], SigningAlgorithm="RS256")
    sts = t.client("sts", **creds)
    token = sts.get_web_identity_token(Audience=["a"], SigningAlgorithm="RS256")["WebIdentityToken"]
    # The AWS CLI.
    env = t.env_for(creds["aws_access_key_id"], creds["aws_secret_access_key"])
    cli = t.cli("sts", "get-web-identity-token", "--audience", "cli-aud", "--signing-algorithm", "ES384", env=env)
    assert verify(cli["WebIdentityToken"], issuer, "cli-aud")["aud"] == "cli-aud"

    # Disabled: no new token (tokens issued before stay verifiable, as AWS documents).
    iam.disable_outbound_web_identity_federation()
    expect(sts.get_web_identity_token, "OutboundWebIdentityFederationDisabledException", Audience=["a"],
           SigningAlgorithm="RS256")
    assert verify(token, issuer, "a")["iss"] == issuer
    expect(iam.disable_outbound_web_identity_federation, "FeatureDisabled")
    iam.enable_outbound_web_identity_federation()


def test_rotation_keeps_old_keys_until_their_tokens_expire(server):
    t = server
    issuer = enabled_issuer(t)
    before = {k["kid"] for k in fetch_json(issuer + "/.well-known/jwks.json")["keys"]}
    token = t.client("sts").get_web_identity_token(Audience=["r"], SigningAlgorithm="RS256")["WebIdentityToken"]
    out = subprocess.run([str(BIN), "keys", "rotate", "--data-dir", str(t.data_dir)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    after = {k["kid"] for k in fetch_json(issuer + "/.well-known/jwks.json")["keys"]}
    assert before < after and len(after) == len(before) + 2
    # The old token still verifies; a new one is signed by a new key.
    assert verify(token, issuer, "r")["aud"] == "r"
    new = t.client("sts").get_web_identity_token(Audience=["r"], SigningAlgorithm="RS256")["WebIdentityToken"]
    assert jwt.get_unverified_header(new)["kid"] in after - before
    assert verify(new, issuer, "r")["aud"] == "r"


@pytest.mark.parametrize("how", ["flag", "env"])
def test_public_url_is_the_issuer_behind_a_load_balancer(tessera_factory, how):
    """`tessera serve --public-url URL` (or TESSERA_PUBLIC_URL): the issuer, the discovery
    document's `issuer` and `jwks_uri` and the tokens' `iss` are under the URL clients reach
    (a load balancer's), not the listen address; DIR/endpoint still names the listener."""
    public = "https://tessera.example.test:8443"
    if how == "flag":
        t = tessera_factory("lb", extra_args=["--public-url", public + "/"]).start()
    else:
        env = dict(os.environ, TESSERA_PUBLIC_URL=public)
        t = tessera_factory("lb-env", env=env).start()
    assert t.endpoint.startswith("http://127.0.0.1:")
    issuer = t.client("iam").enable_outbound_web_identity_federation()["IssuerIdentifier"]
    assert issuer.startswith(public + "/_tessera/outbound/"), issuer
    # The documents are served by the node under the same path; the balancer forwards to it.
    local = t.endpoint + issuer[len(public):]
    discovery = fetch_json(local + "/.well-known/openid-configuration")
    assert discovery["issuer"] == issuer
    assert discovery["jwks_uri"] == issuer + "/.well-known/jwks.json"
    creds = user_with_key(t, t.root_creds, unique("lb-user-"), policy(
        {"Effect": "Allow", "Action": "sts:GetWebIdentityToken", "Resource": "*"}))
    token = t.client("sts", **creds).get_web_identity_token(
        Audience=["https://api.example.com"], SigningAlgorithm="ES384")["WebIdentityToken"]
    jwks = jwt.PyJWKSet.from_dict(fetch_json(local + "/.well-known/jwks.json"))
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    claims = jwt.decode(token, key=key.key, algorithms=["ES384"], audience="https://api.example.com", issuer=issuer)
    assert claims["iss"] == issuer


@pytest.mark.parametrize("url", ["ftp://tessera.example.test", "tessera.example.test", "https://x.test/?a=b",
                                 "https://user@x.test", "https://"])
def test_a_public_url_that_is_no_issuer_stops_the_start(tmp_path, url):
    proc = subprocess.run([str(BIN), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"),
                           "--public-url", url], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "--public-url" in proc.stderr, proc.stderr
    assert not (tmp_path / "d").exists(), "nothing is made before the options are checked"
