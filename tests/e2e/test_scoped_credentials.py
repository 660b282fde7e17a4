"""STS GetScopedCredentials through boto3 (the pinned AWS CLI predates it): scoped credentials keep the calling
session's identity and narrow what it may do with scope-down policy layers, each of which must
allow, and never outlive it.

STS API Reference, "GetScopedCredentials"
(https://docs.aws.amazon.com/STS/latest/APIReference/API_GetScopedCredentials.html); IAM User
Guide, "Permissions for GetScopedCredentials"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_getscopedcredentials.html).
Tessera's choices where AWS is silent are in docs/SESSION_TOKENS.md, "GetScopedCredentials"."""

import json
import random
import string
import time

import pytest

from conftest import expect_error, unique, unvalidated_client, user_with_key

SCOPE = "sts:GetScopedCredentials"


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions, resource="*", **extra):
    return {"Effect": "Allow", "Action": actions, "Resource": resource, **extra}


def deny(actions, resource="*"):
    return {"Effect": "Deny", "Action": actions, "Resource": resource}


def creds_of(result):
    c = result["Credentials"]
    return {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
            "aws_session_token": c["SessionToken"]}


# What the role lets its sessions do.
ROLE_POLICY = doc(allow(["iam:ListRoles", "iam:ListUsers", "iam:GetRole", SCOPE, "sts:TagSession"]))


@pytest.fixture(scope="module")
def env(tessera):
    """A role whose sessions may list roles and users (not create anything), and an IAM user
    who may assume it."""
    t = tessera
    iam = t.client("iam")
    account = t.client("sts").get_caller_identity()["Account"]
    role = unique("scoped-role-")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]}))
    iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=ROLE_POLICY)
    user = unique("scoped-user-")
    ucreds = user_with_key(t, t.root_creds, user, doc(
        allow(["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity", "sts:GetFederationToken"]),
        allow([SCOPE, "iam:ListRoles"])))
    return {"t": t, "account": account, "role": role, "role_arn": f"arn:aws:iam::{account}:role/{role}",
            "user": user, "ucreds": ucreds}


def session(env, **kwargs):
    """A fresh role session: (boto3 credential kwargs, AssumeRole result)."""
    sts = env["t"].client("sts", **env["ucreds"])
    r = sts.assume_role(RoleArn=env["role_arn"], RoleSessionName=kwargs.pop("name", "agent-host"), **kwargs)
    return creds_of(r), r


def scoped(env, creds, **kwargs):
    return env["t"].client("sts", **creds).get_scoped_credentials(**kwargs)


def test_a_layer_narrows_what_the_session_may_do(env):
    t = env["t"]
    creds, r = session(env)
    iam = t.client("iam", **creds)
    iam.list_users()  # the session itself may
    s = scoped(env, creds, Policy=doc(allow(["iam:ListRoles", "iam:CreateUser", SCOPE])),
               ScopedSessionDescription="read roles only")
    assert s["ScopedPoliciesCount"] == 1
    assert s["SessionInfo"]["Arn"] == r["AssumedRoleUser"]["Arn"]
    assert s["SessionInfo"]["ScopedSessionId"] == r["AssumedRoleUser"]["AssumedRoleId"]
    assert s["Credentials"]["AccessKeyId"] != r["Credentials"]["AccessKeyId"]
    assert s["Credentials"]["Expiration"] == r["Credentials"]["Expiration"], "inherits the session's expiry"
    siam = t.client("iam", **creds_of(s))
    # Both allow: allowed.
    assert any(x["RoleName"] == env["role"] for x in siam.list_roles()["Roles"])
    # The role allows, the layer does not: refused.
    e = expect_error(siam.list_users, "AccessDenied")
    assert "because no session policy allows the iam:ListUsers action" in e.response["Error"]["Message"]
    assert r["AssumedRoleUser"]["Arn"] in e.response["Error"]["Message"]
    # The layer allows, the role does not: refused (a layer never grants).
    e = expect_error(siam.create_user, "AccessDenied", UserName=unique("never-"))
    assert "because no identity-based policy allows the iam:CreateUser action" in e.response["Error"]["Message"]
    # The session's own credentials are untouched.
    iam.list_users()


def test_an_explicit_deny_in_a_layer_denies(env):
    t = env["t"]
    creds, _ = session(env)
    s = scoped(env, creds, Policy=doc(allow("*"), deny("iam:ListUsers")))
    siam = t.client("iam", **creds_of(s))
    siam.list_roles()
    e = expect_error(siam.list_users, "AccessDenied")
    assert "with an explicit deny in a session policy" in e.response["Error"]["Message"]


def test_layers_stack_up_to_three(env):
    t = env["t"]
    creds, r = session(env)
    one = scoped(env, creds, Policy=doc(allow(["iam:ListRoles", "iam:GetRole", SCOPE])))
    # The second layer allows ListUsers, the first does not: still refused.
    two = scoped(env, creds_of(one), Policy=doc(allow(["iam:ListUsers", "iam:ListRoles", SCOPE])))
    assert two["ScopedPoliciesCount"] == 2
    assert two["SessionInfo"]["Arn"] == r["AssumedRoleUser"]["Arn"]
    tiam = t.client("iam", **creds_of(two))
    tiam.list_roles()
    expect_error(tiam.list_users, "AccessDenied")
    # GetRole: the role and the first layer allow it, the second does not.
    t.client("iam", **creds_of(one)).get_role(RoleName=env["role"])
    expect_error(tiam.get_role, "AccessDenied", RoleName=env["role"])
    three = scoped(env, creds_of(two), Policy=doc(allow(["iam:ListRoles", SCOPE])))
    assert three["ScopedPoliciesCount"] == 3
    # A fourth layer is refused; a shorter life alone adds none and is not.
    e = expect_error(scoped, "AccessDenied", env=env, creds=creds_of(three), Policy=doc(allow("*")))
    assert "maximum of 3" in e.response["Error"]["Message"]
    shorter = scoped(env, creds_of(three), DurationSeconds=600)
    assert shorter["ScopedPoliciesCount"] == 3
    t.client("iam", **creds_of(shorter)).list_roles()
    expect_error(t.client("iam", **creds_of(shorter)).list_users, "AccessDenied")


def test_a_layer_must_allow_scoping_again(env):
    creds, _ = session(env)
    s = scoped(env, creds, Policy=doc(allow("iam:ListRoles")))
    e = expect_error(scoped, "AccessDenied", env=env, creds=creds_of(s), DurationSeconds=60)
    assert "sts:GetScopedCredentials" in e.response["Error"]["Message"]


def test_long_term_keys_are_refused(env):
    t = env["t"]
    sts = t.client("sts", **env["ucreds"])
    expect_error(sts.get_scoped_credentials, "InvalidSubjectCredentials", DurationSeconds=900)
    expect_error(t.client("sts").get_scoped_credentials, "InvalidSubjectCredentials", DurationSeconds=900)
    # GetSessionToken first, as the API reference advises: then it works, as the same user.
    st = sts.get_session_token(DurationSeconds=900)
    s = scoped(env, creds_of(st), Policy=doc(allow("iam:ListRoles")))
    me = t.client("sts", **creds_of(s)).get_caller_identity()
    assert me["Arn"] == f"arn:aws:iam::{env['account']}:user/{env['user']}"
    assert s["SessionInfo"]["Arn"] == me["Arn"]


def test_federated_users_may_scope_down(env):
    t = env["t"]
    ft = t.client("sts", **env["ucreds"]).get_federation_token(
        Name="fed-agent", Policy=doc(allow([SCOPE, "iam:ListRoles"])))
    s = scoped(env, creds_of(ft), DurationSeconds=300)
    assert s["SessionInfo"]["Arn"] == ft["FederatedUser"]["Arn"]
    assert t.client("sts", **creds_of(s)).get_caller_identity()["Arn"] == ft["FederatedUser"]["Arn"]


def expiry(result):
    return result["Credentials"]["Expiration"]


def test_durations_never_outlive_the_session(env):
    t = env["t"]
    creds, r = session(env, DurationSeconds=1800)
    shorter = scoped(env, creds, DurationSeconds=900)
    assert expiry(shorter) < expiry(r)
    assert shorter["ScopedPoliciesCount"] == 0
    # The scoped credentials work and are the same principal.
    assert t.client("sts", **creds_of(shorter)).get_caller_identity()["Arn"] == r["AssumedRoleUser"]["Arn"]
    e = expect_error(scoped, "InsufficientSessionLifetime", env=env, creds=creds, DurationSeconds=3600)
    assert "remaining lifetime" in e.response["Error"]["Message"]
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Scoped credentials cannot be stretched either.
    expect_error(scoped, "InsufficientSessionLifetime", env=env, creds=creds_of(shorter), DurationSeconds=1000)
    # Inheriting: the policy alone keeps the session's expiry.
    same = scoped(env, creds, Policy=doc(allow("iam:ListRoles")))
    assert expiry(same) == expiry(r)
    # The model's limits, checked by the server too.
    raw = unvalidated_client(t, "sts", **creds)
    for bad in (0, 129601):
        e = expect_error(raw.get_scoped_credentials, "ValidationError", DurationSeconds=bad)
        assert "durationSeconds" in e.response["Error"]["Message"]
    e = expect_error(raw.get_scoped_credentials, "ValidationError")
    assert "at least one of Policy or DurationSeconds" in e.response["Error"]["Message"]


def test_token_size_figures_and_minimum_size(env):
    t = env["t"]
    creds, _ = session(env)
    s = scoped(env, creds, DurationSeconds=900)
    token = s["Credentials"]["SessionToken"]
    assert s["SessionTokenSize"] == len(token)
    assert s["SessionTokenUtilization"] == -(-len(token) * 100 // 4096)
    for minimum in (3000, 4096):
        s = scoped(env, creds, DurationSeconds=900, MinimumSessionTokenSize=minimum)
        token = s["Credentials"]["SessionToken"]
        assert minimum <= len(token) <= minimum + 1, (minimum, len(token))
        assert s["SessionTokenSize"] == len(token)
        assert t.client("sts", **creds_of(s)).get_caller_identity()["Account"] == env["account"]
    raw = unvalidated_client(t, "sts", **creds)
    expect_error(raw.get_scoped_credentials, "ValidationError", DurationSeconds=900, MinimumSessionTokenSize=4097)


def test_too_large_and_malformed_policies(env):
    creds, _ = session(env)
    expect_error(scoped, "MalformedPolicyDocument", env=env, creds=creds, Policy='{"Version":"2012-10-17"')
    expect_error(scoped, "MalformedPolicyDocument", env=env, creds=creds,
                 Policy=doc({"Effect": "Allow", "Action": "s3:*"}))
    # Layers of random characters (each its own) do not pack: by the third, the token is past
    # its maximum.
    rng = random.Random(11)

    def big():
        noise = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(1850))
        policy = doc(allow(SCOPE), allow("s3:GetObject", f"arn:aws:s3:::{noise}"))
        assert len(policy) <= 2048
        return policy

    current = creds_of(scoped(env, creds, Policy=big()))
    refused = None
    for _ in range(2):
        try:
            current = creds_of(scoped(env, current, Policy=big()))
        except Exception as e:  # noqa: BLE001 - the ClientError is inspected below
            refused = e
            break
    assert refused is not None, "three incompressible layers fit in one token"
    assert refused.response["Error"]["Code"] == "PackedPolicyTooLarge"
    assert "4096 bytes" in refused.response["Error"]["Message"]


def test_identity_tags_and_source_identity_are_kept(env):
    t = env["t"]
    creds, r = session(env, SourceIdentity="alice", Tags=[{"Key": "team", "Value": "blue"}])
    # A layer that allows only while the session tag is there.
    s = scoped(env, creds, Policy=doc(allow("iam:ListRoles", Condition={
        "StringEquals": {"aws:PrincipalTag/team": "blue", "aws:SourceIdentity": "alice"}})))
    assert s["SourceIdentity"] == "alice"
    t.client("iam", **creds_of(s)).list_roles()
    blocked = scoped(env, creds, Policy=doc(allow("iam:ListRoles", Condition={
        "StringEquals": {"aws:PrincipalTag/team": "red"}})))
    expect_error(t.client("iam", **creds_of(blocked)).list_roles, "AccessDenied")
    plain = scoped(env, session(env)[0], DurationSeconds=900)
    assert "SourceIdentity" not in plain


def lookup(t, key, value):
    ct = t.client("cloudtrail")
    for _ in range(100):
        events = ct.lookup_events(LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}])["Events"]
        if events:
            return [json.loads(e["CloudTrailEvent"]) for e in events]
        time.sleep(0.1)
    return []


def test_caller_identity_and_cloudtrail_see_the_same_session(env):
    t = env["t"]
    creds, r = session(env, name="trail-check")
    before = t.client("sts", **creds).get_caller_identity()
    s = scoped(env, creds, Policy=doc(allow(["iam:ListRoles", "iam:ListUsers"])),
               ScopedSessionDescription="ticket-4711 report job")
    key = s["Credentials"]["AccessKeyId"]
    after = t.client("sts", **creds_of(s)).get_caller_identity()
    assert [after[k] for k in ("Arn", "UserId", "Account")] == [before[k] for k in ("Arn", "UserId", "Account")]
    assert after["Arn"] == r["AssumedRoleUser"]["Arn"]
    t.client("iam", **creds_of(s)).list_roles()

    # The GetScopedCredentials call, made by the session, names the new key and its purpose.
    issued = [e for e in lookup(t, "AccessKeyId", r["Credentials"]["AccessKeyId"])
              if e["eventName"] == "GetScopedCredentials"]
    assert issued, "GetScopedCredentials was not recorded"
    event = issued[0]
    assert event["eventSource"] == "sts.amazonaws.com"
    assert event["userIdentity"]["arn"] == r["AssumedRoleUser"]["Arn"]
    assert event["requestParameters"]["scopedSessionDescription"] == "ticket-4711 report job"
    assert "iam:ListRoles" in event["requestParameters"]["policy"]
    assert event["responseElements"]["credentials"]["accessKeyId"] == key
    assert "sessionToken" not in event["responseElements"]["credentials"]
    assert "secretAccessKey" not in event["responseElements"]["credentials"]
    assert str(event["responseElements"]["scopedPoliciesCount"]) == "1"
    # Calls made with the scoped credentials: the same session, told apart by the access key.
    made = lookup(t, "AccessKeyId", key)
    listed = [e for e in made if e["eventName"] == "ListRoles"]
    assert listed, [e["eventName"] for e in made]
    who = listed[0]["userIdentity"]
    assert (who["type"], who["arn"], who["principalId"], who["accessKeyId"]) == (
        "AssumedRole", r["AssumedRoleUser"]["Arn"], r["AssumedRoleUser"]["AssumedRoleId"], key)
    assert who["sessionContext"]["sessionIssuer"]["arn"] == env["role_arn"]
    text = json.dumps(made + issued)
    assert s["Credentials"]["SecretAccessKey"] not in text and s["Credentials"]["SessionToken"] not in text

