"""STS through the AWS CLI and boto3 (issue 6): the seed tutorials across accounts made through
Organizations, every AssumeRole / GetSessionToken / GetFederationToken limit and error code, the
traps emulators fall into (missing roles, foreign trust, missing identity policy, explicit deny,
tampered and expired tokens, role chaining past an hour), session tags, source identity, MFA,
revocation, ~/.aws/config profiles, restarts."""

import base64
import datetime
import hashlib
import hmac
import json
import os
import shutil
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions
import pytest

from conftest import AWS, REGION, CliError, Tessera, _require_binary, clean_env, unique

ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def trust(principal, action="sts:AssumeRole", condition=None):
    s = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": action}
    if condition:
        s["Condition"] = condition
    return doc(s)


def creds_of(result):
    c = result["Credentials"]
    return {
        "aws_access_key_id": c["AccessKeyId"],
        "aws_secret_access_key": c["SecretAccessKey"],
        "aws_session_token": c["SessionToken"],
    }


def client(t, service, creds, validate=True):
    """A boto3 client; `validate=False` sends what botocore would refuse, to reach the server."""
    return boto3.session.Session(region_name=REGION).client(
        service,
        endpoint_url=t.endpoint,
        config=botocore.config.Config(retries={"max_attempts": 1}, parameter_validation=validate),
        **creds,
    )


def failure(fn, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(**kwargs)
    err = e.value.response["Error"]
    return e.value.response["ResponseMetadata"]["HTTPStatusCode"], err["Code"], err.get("Message", "")


def expect(fn, status, code, message=None, **kwargs):
    got = failure(fn, **kwargs)
    assert got[:2] == (status, code), got
    if message is not None:
        assert message in got[2], got
    return got[2]


def totp(seed_b32, step):
    key = base64.b32decode(seed_b32)
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    o = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1_000_000)


# --- The world: an organization with a member account -----------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server of this module's own (an organization is one per management account)."""
    _require_binary()
    t = Tessera(tmp_path_factory.mktemp("sts") / "data").start()
    yield t
    t.stop()


def new_user(iam, name, policies=(), groups=()):
    iam.create_user(UserName=name)
    for i, p in enumerate(policies):
        iam.put_user_policy(UserName=name, PolicyName=f"p{i}", PolicyDocument=p)
    for g in groups:
        iam.add_user_to_group(GroupName=g, UserName=name)
    k = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": k["AccessKeyId"], "aws_secret_access_key": k["SecretAccessKey"]}


@pytest.fixture(scope="module")
def world(server):
    """Account A (management) and account B (made by CreateAccount); an admin user in A and an
    admin session in B through OrganizationAccountAccessRole, as the contract describes."""
    t = server
    org = t.client("organizations")
    org.create_organization(FeatureSet="ALL")
    status = org.create_account(Email="b@example.com", AccountName="B")["CreateAccountStatus"]
    for _ in range(200):
        status = org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
        if status["State"] != "IN_PROGRESS":
            break
        time.sleep(0.05)
    assert status["State"] == "SUCCEEDED", status
    b = status["AccountId"]
    a = t.client("sts").get_caller_identity()["Account"]
    admin = new_user(t.client("iam"), "admin", [ALLOW_ALL])
    time.sleep(0)
    r = client(t, "sts", admin).assume_role(
        RoleArn=f"arn:aws:iam::{b}:role/OrganizationAccountAccessRole", RoleSessionName="setup"
    )
    b_admin = creds_of(r)
    return {"t": t, "a": a, "b": b, "admin": admin, "b_admin": b_admin,
            "iam_a": t.client("iam"), "iam_b": client(t, "iam", b_admin)}


def cross_role(world, name, trust_doc, policies=(), managed=(), max_duration=None):
    """A role in account B."""
    iam = world["iam_b"]
    kw = {"MaxSessionDuration": max_duration} if max_duration else {}
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_doc, **kw)
    for i, p in enumerate(policies):
        iam.put_role_policy(RoleName=name, PolicyName=f"p{i}", PolicyDocument=p)
    for arn in managed:
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    return f"arn:aws:iam::{world['b']}:role/{name}"


@pytest.fixture(scope="module")
def caller_a(world):
    """A user in account A allowed sts:AssumeRole (and tagging, source identity) on anything."""
    creds = new_user(world["iam_a"], "caller", [doc(allow(["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]))])
    return creds


@pytest.fixture(scope="module")
def open_role(world):
    """A role in B trusting account A, with IAM read access."""
    return cross_role(world, "OpenRole", trust(f"arn:aws:iam::{world['a']}:root",
                                               ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]),
                      managed=["arn:aws:iam::aws:policy/IAMReadOnlyAccess"], max_duration=7200)


# --- The seeds ---------------------------------------------------------------------------------


def test_seed_003_external_id_and_the_jq_export_script(world, tmp_path):
    t = world["t"]
    role_arn = cross_role(
        world, "CrossAccountAccessRole", trust(f"arn:aws:iam::{world['a']}:root"),
        policies=[doc({"Sid": "CrossAccountPermissions", "Effect": "Allow",
                       "Action": ["s3:*", "cloudwatch:*", "cloudformation:*", "sqs:*", "events:*"], "Resource": "*"})],
    )
    user = new_user(world["iam_a"], "deployer", [doc(allow(["sts:AssumeRole", "iam:PassRole", "iam:ListRoles"], role_arn))])
    env = t.env_for(**user)
    out = t.cli("sts", "assume-role", "--role-arn", role_arn, "--role-session-name", "AWSCLI-Session",
                "--external-id", "12345678TESTID", env=env)
    assert out["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{world['b']}:assumed-role/CrossAccountAccessRole/AWSCLI-Session"
    assert out["AssumedRoleUser"]["AssumedRoleId"].startswith("AROA")
    assert out["AssumedRoleUser"]["AssumedRoleId"].endswith(":AWSCLI-Session")
    assert len(out["Credentials"]["SessionToken"]) < 2048
    # The seed's script, unchanged but for the ARN, then a call with the exported credentials.
    script = tmp_path / "assume.sh"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        OUT=$(aws sts assume-role --role-arn "{role_arn}" --role-session-name AWSCLI-Session --external-id 12345678TESTID);\\
        export AWS_ACCESS_KEY_ID=$(echo $OUT | jq -r '.Credentials.AccessKeyId');\\
        export AWS_SECRET_ACCESS_KEY=$(echo $OUT | jq -r '.Credentials.SecretAccessKey');\\
        export AWS_SESSION_TOKEN=$(echo $OUT | jq -r '.Credentials.SessionToken');
        aws sts get-caller-identity --output json
        """))
    env = dict(env, PATH=os.path.dirname(AWS) + os.pathsep + env.get("PATH", ""))
    if not shutil.which("jq", path=env["PATH"]):
        pytest.skip("jq is not installed")
    proc = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    who = json.loads(proc.stdout)
    assert who["Account"] == world["b"]
    assert who["Arn"] == f"arn:aws:sts::{world['b']}:assumed-role/CrossAccountAccessRole/AWSCLI-Session"


def test_seed_003_external_id_condition_is_enforced(world, caller_a):
    t = world["t"]
    role_arn = cross_role(world, "NeedsExternalId", trust(f"arn:aws:iam::{world['a']}:root",
                                                         condition={"StringEquals": {"sts:ExternalId": "12345678TESTID"}}))
    env = t.env_for(**caller_a)
    for extra in ([], ["--external-id", "wrong-id"]):
        with pytest.raises(CliError) as e:
            t.cli("sts", "assume-role", "--role-arn", role_arn, "--role-session-name", "x1", *extra, env=env)
        assert e.value.code == "AccessDenied"
    t.cli("sts", "assume-role", "--role-arn", role_arn, "--role-session-name", "x1",
          "--external-id", "12345678TESTID", env=env)


def test_seed_004_group_member_assumes_a_read_only_role(world):
    t = world["t"]
    role_arn = cross_role(world, "my_cross_account_role", trust(f"arn:aws:iam::{world['a']}:root"),
                          managed=["arn:aws:iam::aws:policy/IAMReadOnlyAccess"])
    iam_a = world["iam_a"]
    iam_a.create_group(GroupName="POC")
    policy_arn = iam_a.create_policy(PolicyName="AssumeRolePolicy",
                                     PolicyDocument=doc(allow("sts:AssumeRole", role_arn)))["Policy"]["Arn"]
    iam_a.attach_group_policy(GroupName="POC", PolicyArn=policy_arn)
    sandy = new_user(iam_a, "sandy", groups=["POC"])
    # Outside the group's policy: nothing else.
    other = cross_role(world, "not_for_sandy", trust(f"arn:aws:iam::{world['a']}:root"))
    expect(client(t, "sts", sandy).assume_role, 403, "AccessDenied",
           RoleArn=other, RoleSessionName="sandy")
    out = t.cli("sts", "assume-role", "--role-arn", role_arn, "--role-session-name", "sandy", env=t.env_for(**sandy))
    env = t.env_for(**creds_of(out))
    roles = t.cli("iam", "list-roles", env=env)["Roles"]
    assert "my_cross_account_role" in [r["RoleName"] for r in roles]
    with pytest.raises(CliError) as e:
        t.cli("iam", "create-user", "--user-name", "intruder", env=env)
    assert e.value.code == "AccessDenied"
    # Removing Sandy from the group takes the permission away.
    iam_a.remove_user_from_group(GroupName="POC", UserName="sandy")
    expect(client(t, "sts", sandy).assume_role, 403, "AccessDenied", RoleArn=role_arn, RoleSessionName="sandy")


def test_seeds_000_002_a_role_session_in_b_assumes_a_role_in_a(world):
    """Seeds 000/002: a role in one account (the EC2 role) assumes a read-only role in the other."""
    t = world["t"]
    a, b = world["a"], world["b"]
    # In A: RoleForB trusts account B and has ReadOnlyAccess.
    world["iam_a"].create_role(RoleName="RoleForB", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{b}:root"))
    world["iam_a"].attach_role_policy(RoleName="RoleForB", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    role_for_b = f"arn:aws:iam::{a}:role/RoleForB"
    # In B: AssumeRoleInA may assume it (and is assumable by B's admin session, standing in for EC2).
    assume_in_a = cross_role(world, "AssumeRoleInA", trust(f"arn:aws:iam::{b}:root"),
                             policies=[doc(allow("sts:AssumeRole", [role_for_b]))])
    ec2 = creds_of(client(t, "sts", world["b_admin"]).assume_role(RoleArn=assume_in_a, RoleSessionName="i-0abc"))
    out = t.cli("sts", "assume-role", "--role-arn", role_for_b, "--role-session-name", "EC2FromB", env=t.env_for(**ec2))
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{a}:assumed-role/RoleForB/EC2FromB"
    env = t.env_for(**creds_of(out))
    assert t.cli("sts", "get-caller-identity", env=env)["Account"] == a
    t.cli("iam", "list-users", env=env)
    with pytest.raises(CliError) as e:
        t.cli("iam", "create-user", "--user-name", "nope", env=env)
    assert e.value.code == "AccessDenied"
    # Role chaining: at most one hour.
    with pytest.raises(CliError) as e:
        t.cli("sts", "assume-role", "--role-arn", role_for_b, "--role-session-name", "EC2FromB",
              "--duration-seconds", "3601", env=t.env_for(**ec2))
    assert e.value.code == "ValidationError"
    assert "1 hour session limit for roles assumed by role chaining" in e.value.stderr


# --- Limits and validation -------------------------------------------------------------------


LIMIT_CASES = [
    ({"RoleSessionName": "s"}, "at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"),
    ({"RoleSessionName": "s" * 65}, "Member must have length less than or equal to 64"),
    ({"RoleSessionName": "Session1:2"}, r"Member must satisfy regular expression pattern: [\w+=,.@-]*"),
    ({"DurationSeconds": 899}, "at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"),
    ({"DurationSeconds": 43201}, "Member must have value less than or equal to 43200"),
    ({"ExternalId": "x"}, "at 'externalId' failed to satisfy constraint: Member must have length greater than or equal to 2"),
    ({"ExternalId": "x" * 1225}, "at 'externalId' failed to satisfy constraint: Member must have length less than or equal to 1224"),
    ({"ExternalId": "a b"}, r"[\w+=,.@:\/-]*"),
    ({"SourceIdentity": "a"}, "at 'sourceIdentity' failed to satisfy constraint: Member must have length greater than or equal to 2"),
    ({"SourceIdentity": "a" * 65}, "at 'sourceIdentity' failed to satisfy constraint: Member must have length less than or equal to 64"),
    ({"SourceIdentity": "a:b"}, "at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern"),
    ({"SerialNumber": "arn:x"}, "at 'serialNumber'"),
    ({"TokenCode": "12345", "SerialNumber": "arn:aws:iam::123456789012:mfa/x"}, "at 'tokenCode'"),
    ({"Policy": json.dumps({"Version": "2012-10-17", "Statement": [], "Pad": "a" * 2048})},
     "at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048"),
    ({"PolicyArns": [{"arn": f"arn:aws:iam::aws:policy/P{i}"} for i in range(11)]},
     "at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10"),
    ({"Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(51)]},
     "at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"),
    ({"Tags": [{"Key": "k" * 129, "Value": "v"}]},
     "at 'tags.1.member.key' failed to satisfy constraint: Member must have length less than or equal to 128"),
    ({"Tags": [{"Key": "k", "Value": "v" * 257}]},
     "at 'tags.1.member.value' failed to satisfy constraint: Member must have length less than or equal to 256"),
    ({"Tags": [{"Key": "a*b", "Value": "v"}]}, "at 'tags.1.member.key' failed to satisfy constraint"),
    ({"TransitiveTagKeys": [f"k{i}" for i in range(51)]},
     "at 'transitiveTagKeys' failed to satisfy constraint: Member must have length less than or equal to 50"),
    ({"RoleArn": "arn:aws:iam::1:r"}, "at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20"),
]


@pytest.mark.parametrize("extra,message", LIMIT_CASES, ids=[str(i) for i in range(len(LIMIT_CASES))])
def test_assume_role_limits(world, caller_a, open_role, extra, message):
    sts = client(world["t"], "sts", caller_a, validate=False)
    params = {"RoleArn": open_role, "RoleSessionName": "limits", **extra}
    got = expect(sts.assume_role, 400, "ValidationError", **params)
    assert message in got, got
    assert got.startswith("1 validation error detected: Value ")


def test_several_violations_are_reported_together(world, caller_a, open_role):
    sts = client(world["t"], "sts", caller_a, validate=False)
    got = expect(sts.assume_role, 400, "ValidationError", RoleArn=open_role, RoleSessionName="s", DurationSeconds=1)
    assert got.startswith("2 validation errors detected: ")


def test_limits_through_the_cli(world, caller_a, open_role):
    t = world["t"]
    env = t.env_for(**caller_a)
    with pytest.raises(CliError) as e:
        t.cli("sts", "assume-role", "--role-arn", open_role, "--role-session-name", "s" * 65, env=env)
    assert e.value.code == "ValidationError" and "less than or equal to 64" in e.value.stderr
    with pytest.raises(CliError) as e:
        t.cli("sts", "assume-role", "--role-arn", open_role, "--role-session-name", "ok",
              "--duration-seconds", "43201", env=env)
    assert e.value.code == "ValidationError"
    with pytest.raises(CliError) as e:
        t.cli("sts", "assume-role", "--role-arn", "nothing-valid-in-here", "--role-session-name", "ok", env=env)
    assert e.value.code == "ValidationError" and "nothing-valid-in-here is invalid" in e.value.stderr


def test_duration_limits_of_the_role(world, caller_a, open_role):
    sts = client(world["t"], "sts", caller_a)
    r = sts.assume_role(RoleArn=open_role, RoleSessionName="dd", DurationSeconds=7200)
    exp = r["Credentials"]["Expiration"]
    left = (exp - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    assert 7100 < left <= 7200
    r = sts.assume_role(RoleArn=open_role, RoleSessionName="dd")
    left = (r["Credentials"]["Expiration"] - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    assert 3500 < left <= 3600, "the default is one hour"
    expect(sts.assume_role, 400, "ValidationError",
           "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
           RoleArn=open_role, RoleSessionName="dd", DurationSeconds=7201)


def test_tag_rules(world, caller_a, open_role):
    sts = client(world["t"], "sts", caller_a)
    expect(sts.assume_role, 400, "InvalidParameterValue",
           "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
           RoleArn=open_role, RoleSessionName="tt", Tags=[{"Key": "Dept", "Value": "a"}, {"Key": "dept", "Value": "b"}])
    expect(sts.assume_role, 400, "InvalidParameterValue",
           "The specified transitive tag key must be included in the requested tags.",
           RoleArn=open_role, RoleSessionName="tt", Tags=[{"Key": "Dept", "Value": "a"}], TransitiveTagKeys=["team"])


def test_session_policies_and_packed_policy_size(world, caller_a, open_role):
    t = world["t"]
    sts = client(t, "sts", caller_a)
    expect(sts.assume_role, 400, "MalformedPolicyDocument", RoleArn=open_role, RoleSessionName="pp", Policy="{not json")
    r = sts.assume_role(RoleArn=open_role, RoleSessionName="pp",
                        Policy=doc(allow("iam:ListRoles")))
    assert 0 < r["PackedPolicySize"] < 100
    assert "PackedPolicySize" not in sts.assume_role(RoleArn=open_role, RoleSessionName="pp")
    # The session policy narrows the role's permissions.
    iam = client(t, "iam", creds_of(r))
    iam.list_roles()
    expect(iam.list_users, 403, "AccessDenied")
    # Managed session policies.
    r = sts.assume_role(RoleArn=open_role, RoleSessionName="pp",
                        PolicyArns=[{"arn": "arn:aws:iam::aws:policy/IAMReadOnlyAccess"}])
    client(t, "iam", creds_of(r)).list_users()
    # Tags count toward the packed size.
    big = [{"Key": f"k{i}-" + os.urandom(40).hex()[:100], "Value": base64.b32encode(os.urandom(150)).decode()[:240]}
           for i in range(50)]
    message = expect(sts.assume_role, 400, "PackedPolicyTooLarge", RoleArn=open_role, RoleSessionName="pp", Tags=big)
    assert message.startswith("Packed policy consumes ") and "% of allotted space" in message


# --- Denials: the traps ---------------------------------------------------------------------


def test_root_cannot_assume_roles(world, open_role):
    t = world["t"]
    with pytest.raises(CliError) as e:
        t.cli("sts", "assume-role", "--role-arn", open_role, "--role-session-name", "root")
    assert e.value.code == "AccessDenied"
    assert "Roles may not be assumed by root accounts." in e.value.stderr


def test_missing_role_is_access_denied_like_a_refusing_trust(world, caller_a):
    sts = client(world["t"], "sts", caller_a)
    refusing = cross_role(world, "TrustsSomeoneElse", trust("arn:aws:iam::999988887777:root"))
    missing = f"arn:aws:iam::{world['b']}:role/DoesNotExist"
    m1 = expect(sts.assume_role, 403, "AccessDenied", RoleArn=refusing, RoleSessionName="x1")
    m2 = expect(sts.assume_role, 403, "AccessDenied", RoleArn=missing, RoleSessionName="x1")
    assert m1.replace("TrustsSomeoneElse", "R") == m2.replace("DoesNotExist", "R")
    assert m2.endswith(f"is not authorized to perform: sts:AssumeRole on resource: {missing}")
    # Not even a duration past any maximum gives it away.
    expect(sts.assume_role, 403, "AccessDenied", RoleArn=missing, RoleSessionName="x1", DurationSeconds=43200)
    # Nor a missing role in a missing account.
    expect(sts.assume_role, 403, "AccessDenied", RoleArn="arn:aws:iam::123412341234:role/X", RoleSessionName="x1")


def test_identity_policy_missing_on_the_callers_side(world, open_role):
    nobody = new_user(world["iam_a"], "no-policy")
    message = expect(client(world["t"], "sts", nobody).assume_role, 403, "AccessDenied",
                     RoleArn=open_role, RoleSessionName="x1")
    assert f"User: arn:aws:iam::{world['a']}:user/no-policy is not authorized to perform: sts:AssumeRole" in message


def test_explicit_deny_wins(world, open_role):
    denied = new_user(world["iam_a"], "denied", [
        doc(allow("sts:AssumeRole")),
        doc({"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": open_role}),
    ])
    expect(client(world["t"], "sts", denied).assume_role, 403, "AccessDenied", RoleArn=open_role, RoleSessionName="x1")


def test_tagging_and_source_identity_need_their_permissions(world, open_role):
    t = world["t"]
    only_assume = new_user(world["iam_a"], "only-assume", [doc(allow("sts:AssumeRole"))])
    sts = client(t, "sts", only_assume)
    sts.assume_role(RoleArn=open_role, RoleSessionName="x1")
    expect(sts.assume_role, 403, "AccessDenied", "sts:TagSession",
           RoleArn=open_role, RoleSessionName="x1", Tags=[{"Key": "k", "Value": "v"}])
    expect(sts.assume_role, 403, "AccessDenied", "sts:SetSourceIdentity",
           RoleArn=open_role, RoleSessionName="x1", SourceIdentity="alice")


def test_tampered_and_misbound_tokens(world, caller_a, open_role):
    t = world["t"]
    c = creds_of(client(t, "sts", caller_a).assume_role(RoleArn=open_role, RoleSessionName="tamper"))
    client(t, "sts", c).get_caller_identity()
    token = c["aws_session_token"]
    # Each tampered token differs from the real one (a random token has "x" at [10] one time in 64).
    flipped = token[:10] + ("x" if token[10] != "x" else "y") + token[11:]
    for bad in (token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), flipped, "garbage", token[:50]):
        expect(client(t, "sts", dict(c, aws_session_token=bad)).get_caller_identity, 403, "InvalidClientTokenId",
               "The security token included in the request is invalid")
    other = creds_of(client(t, "sts", caller_a).assume_role(RoleArn=open_role, RoleSessionName="other"))
    swapped = dict(c, aws_session_token=other["aws_session_token"])
    expect(client(t, "sts", swapped).get_caller_identity, 403, "InvalidClientTokenId")
    no_token = {k: v for k, v in c.items() if k != "aws_session_token"}
    expect(client(t, "sts", no_token).get_caller_identity, 403, "InvalidClientTokenId")
    wrong_secret = dict(c, aws_secret_access_key=other["aws_secret_access_key"])
    expect(client(t, "sts", wrong_secret).get_caller_identity, 403, "SignatureDoesNotMatch")


# --- Sessions: identity, tags, source identity, MFA, revocation -------------------------------


def test_session_identity_and_role_last_used(world, caller_a, open_role):
    t = world["t"]
    r = client(t, "sts", caller_a).assume_role(RoleArn=open_role, RoleSessionName="who")
    role_id = world["iam_b"].get_role(RoleName="OpenRole")["Role"]["RoleId"]
    assert r["AssumedRoleUser"]["AssumedRoleId"] == f"{role_id}:who"
    who = client(t, "sts", creds_of(r)).get_caller_identity()
    assert who["Arn"] == f"arn:aws:sts::{world['b']}:assumed-role/OpenRole/who"
    assert who["UserId"] == f"{role_id}:who"
    assert who["Account"] == world["b"]
    last = world["iam_b"].get_role(RoleName="OpenRole")["Role"].get("RoleLastUsed", {})
    assert "LastUsedDate" in last, last


def test_session_tags_become_principal_tags_and_transitive_tags_carry(world, caller_a):
    t = world["t"]
    b = world["b"]
    tagged_only = doc(allow("iam:ListRoles", condition=None) if False else
                      {"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*",
                       "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}})
    all_actions = ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]
    first = cross_role(world, "TagFirst", trust(f"arn:aws:iam::{world['a']}:root", all_actions),
                       policies=[tagged_only, doc(allow(all_actions))])
    world["iam_b"].tag_role(RoleName="TagFirst", Tags=[{"Key": "team", "Value": "red"}])
    second = cross_role(world, "TagSecond", trust(f"arn:aws:iam::{b}:root", all_actions), policies=[tagged_only])
    sts = client(t, "sts", caller_a)
    # The role's own tag (red) does not allow; a session tag overrides it.
    red = creds_of(sts.assume_role(RoleArn=first, RoleSessionName="red"))
    expect(client(t, "iam", red).list_roles, 403, "AccessDenied")
    r = sts.assume_role(RoleArn=first, RoleSessionName="blue", Tags=[{"Key": "team", "Value": "blue"},
                                                                     {"Key": "cost", "Value": "1"}],
                        TransitiveTagKeys=["team"], SourceIdentity="alice")
    assert r["SourceIdentity"] == "alice"
    blue = creds_of(r)
    client(t, "iam", blue).list_roles()
    # Chained: the transitive tag carries; it cannot be overridden; the source identity stays.
    sts_blue = client(t, "sts", blue)
    expect(sts_blue.assume_role, 400, "InvalidParameterValue",
           "conflicts with a transitive tag key from the calling session",
           RoleArn=second, RoleSessionName="s2", Tags=[{"Key": "Team", "Value": "red"}])
    expect(sts_blue.assume_role, 400, "InvalidParameterValue", RoleArn=second, RoleSessionName="s2",
           SourceIdentity="mallory")
    r2 = sts_blue.assume_role(RoleArn=second, RoleSessionName="s2")
    assert r2["SourceIdentity"] == "alice"
    client(t, "iam", creds_of(r2)).list_roles()


def mfa_user(world, name, policies):
    """A user with an enabled virtual MFA device: (credentials, serial, seed, last step used)."""
    iam = world["iam_a"]
    user = new_user(iam, name, policies)
    try:
        dev = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]
    except botocore.exceptions.ClientError as e:
        pytest.skip(f"virtual MFA devices: {e}")
    seed = dev["Base32StringSeed"]
    seed = seed.decode() if isinstance(seed, bytes) else seed
    step = int(time.time()) // 30
    iam.enable_mfa_device(UserName=name, SerialNumber=dev["SerialNumber"],
                          AuthenticationCode1=totp(seed, step - 1), AuthenticationCode2=totp(seed, step))
    return user, dev["SerialNumber"], seed, step


def test_mfa_through_a_virtual_device(world):
    t = world["t"]
    role = cross_role(world, "NeedsMfa", trust(f"arn:aws:iam::{world['a']}:root",
                                               condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
                      managed=["arn:aws:iam::aws:policy/IAMReadOnlyAccess"])
    user, serial, seed, step = mfa_user(world, "mfa-user", [doc(allow("sts:AssumeRole"))])
    sts = client(t, "sts", user)
    expect(sts.assume_role, 403, "AccessDenied", RoleArn=role, RoleSessionName="mm")
    wrong = "000000" if totp(seed, step + 1) != "000000" else "111111"
    expect(sts.assume_role, 403, "AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code.",
           RoleArn=role, RoleSessionName="mm", SerialNumber=serial, TokenCode=wrong)
    r = sts.assume_role(RoleArn=role, RoleSessionName="mm", SerialNumber=serial, TokenCode=totp(seed, step + 1))
    client(t, "iam", creds_of(r)).list_roles()
    # A code is good once.
    expect(sts.assume_role, 403, "AccessDenied", RoleArn=role, RoleSessionName="mm", SerialNumber=serial,
           TokenCode=totp(seed, step + 1))


def test_get_session_token_with_mfa(world):
    t = world["t"]
    role = f"arn:aws:iam::{world['b']}:role/NeedsMfa2"
    cross_role(world, "NeedsMfa2", trust(f"arn:aws:iam::{world['a']}:root",
                                         condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}))
    user, serial, seed, step = mfa_user(world, "mfa-session-user", [ALLOW_ALL])
    s = client(t, "sts", user).get_session_token(SerialNumber=serial, TokenCode=totp(seed, step + 1),
                                                DurationSeconds=900)
    session = creds_of(s)
    # With MFA: IAM is callable, and AssumeRole carries the MFA context into the trust policy.
    client(t, "iam", session).get_user()
    client(t, "sts", session).assume_role(RoleArn=role, RoleSessionName="via-session")


def test_revoking_older_sessions_with_token_issue_time(world, caller_a):
    t = world["t"]
    role = cross_role(world, "Revocable", trust(f"arn:aws:iam::{world['a']}:root"),
                      managed=["arn:aws:iam::aws:policy/IAMReadOnlyAccess"])
    sts = client(t, "sts", caller_a)
    old = creds_of(sts.assume_role(RoleArn=role, RoleSessionName="old"))
    client(t, "iam", old).list_roles()
    time.sleep(1.1)
    cutoff = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    world["iam_b"].put_role_policy(RoleName="Revocable", PolicyName="AWSRevokeOlderSessions", PolicyDocument=doc(
        {"Effect": "Deny", "Action": "*", "Resource": "*",
         "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}}}))
    expect(client(t, "iam", old).list_roles, 403, "AccessDenied")
    time.sleep(1.1)
    new = creds_of(sts.assume_role(RoleArn=role, RoleSessionName="new"))
    client(t, "iam", new).list_roles()


# --- GetSessionToken, GetFederationToken, GetAccessKeyInfo, DecodeAuthorizationMessage ----------


def test_get_session_token(world):
    t = world["t"]
    user = new_user(world["iam_a"], "gst-user", [ALLOW_ALL])
    out = t.cli("sts", "get-session-token", env=t.env_for(**user))
    c = out["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA")
    left = (datetime.datetime.fromisoformat(c["Expiration"].replace("Z", "+00:00"))
            - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    assert 43100 < left <= 43200, "12 hours by default"
    session = creds_of(out)
    who = client(t, "sts", session).get_caller_identity()
    assert who["Arn"] == f"arn:aws:iam::{world['a']}:user/gst-user"
    # Without MFA: no IAM (as AWS answers), and no STS but AssumeRole and GetCallerIdentity.
    expect(client(t, "iam", session).list_users, 403, "InvalidClientTokenId")
    expect(client(t, "sts", session).get_session_token, 403, "AccessDenied",
           "Cannot call GetSessionToken with session credentials")
    expect(client(t, "sts", session).get_federation_token, 403, "AccessDenied", Name="bob")
    client(t, "organizations", session).describe_organization()
    # Durations.
    sts = client(t, "sts", user, validate=False)
    r = sts.get_session_token(DurationSeconds=129600)
    left = (r["Credentials"]["Expiration"] - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    assert 129500 < left <= 129600
    expect(sts.get_session_token, 400, "ValidationError", "Member must have value less than or equal to 129600",
           DurationSeconds=129601)
    expect(sts.get_session_token, 400, "ValidationError", "Member must have value greater than or equal to 900",
           DurationSeconds=899)
    expect(sts.get_session_token, 403, "AccessDenied", "MultiFactorAuthentication failed",
           SerialNumber=f"arn:aws:iam::{world['a']}:mfa/gst-user", TokenCode="123456")
    # Root: at most an hour.
    r = t.client("sts").get_session_token(DurationSeconds=7200)
    left = (r["Credentials"]["Expiration"] - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    assert 3500 < left <= 3600
    # Role sessions cannot.
    r = client(t, "sts", world["b_admin"])
    expect(r.get_session_token, 403, "AccessDenied", "Cannot call GetSessionToken with session credentials")


def test_get_federation_token(world):
    t = world["t"]
    user = new_user(world["iam_a"], "broker", [doc(allow(["sts:GetFederationToken", "organizations:Describe*"]))])
    sts = client(t, "sts", user, validate=False)
    out = t.cli("sts", "get-federation-token", "--name", "Bob", "--policy",
                doc(allow("organizations:DescribeOrganization")), env=t.env_for(**user))
    assert out["FederatedUser"]["Arn"] == f"arn:aws:sts::{world['a']}:federated-user/Bob"
    assert out["FederatedUser"]["FederatedUserId"] == f"{world['a']}:Bob"
    assert 0 < out["PackedPolicySize"] < 100
    bob = creds_of(out)
    assert client(t, "sts", bob).get_caller_identity()["Arn"] == f"arn:aws:sts::{world['a']}:federated-user/Bob"
    # Permissions: the user's policies intersected with the session policy.
    client(t, "organizations", bob).describe_organization()
    expect(client(t, "organizations", bob).list_accounts, 400, "AccessDeniedException")
    # Without a session policy nothing is granted.
    nobody = creds_of(sts.get_federation_token(Name="Nobody"))
    expect(client(t, "organizations", nobody).describe_organization, 400, "AccessDeniedException")
    # No IAM, no STS but GetCallerIdentity.
    expect(client(t, "iam", bob).list_users, 403, "InvalidClientTokenId")
    expect(client(t, "sts", bob).assume_role, 403, "AccessDenied", RoleArn=f"arn:aws:iam::{world['b']}:role/OpenRole",
           RoleSessionName="x1")
    # Limits and permission.
    expect(sts.get_federation_token, 400, "ValidationError", "at 'name'", Name="B")
    expect(sts.get_federation_token, 400, "ValidationError", "at 'name'", Name="B" * 33)
    expect(sts.get_federation_token, 400, "ValidationError", "at 'name'", Name="Bo b")
    expect(sts.get_federation_token, 400, "ValidationError", "durationSeconds", Name="Bob", DurationSeconds=129601)
    nothing = new_user(world["iam_a"], "not-a-broker")
    expect(client(t, "sts", nothing).get_federation_token, 403, "AccessDenied", "sts:GetFederationToken", Name="Bob")


def test_get_access_key_info(world, caller_a):
    t = world["t"]
    sts = t.client("sts")
    assert sts.get_access_key_info(AccessKeyId=caller_a["aws_access_key_id"])["Account"] == world["a"]
    assert sts.get_access_key_info(AccessKeyId=world["b_admin"]["aws_access_key_id"])["Account"] == world["b"]
    expect(sts.get_access_key_info, 400, "InvalidParameterValue", AccessKeyId="AKIAIOSFODNN7EXAMPLE")
    expect(client(t, "sts", t.root_creds, validate=False).get_access_key_info, 400, "ValidationError",
           "at 'accessKeyId'", AccessKeyId="AKIA")


def test_decode_authorization_message(world):
    t = world["t"]
    expect(t.client("sts").decode_authorization_message, 400, "InvalidAuthorizationMessageException",
           EncodedMessage="not-a-message")
    nobody = new_user(world["iam_a"], "no-decode")
    expect(client(t, "sts", nobody).decode_authorization_message, 403, "AccessDenied",
           "sts:DecodeAuthorizationMessage", EncodedMessage="x")


# --- AWS habits: ~/.aws/config ----------------------------------------------------------------


def test_aws_config_profiles(world, tmp_path):
    t = world["t"]
    role = cross_role(world, "ProfileRole", trust(f"arn:aws:iam::{world['a']}:root",
                                                  condition={"StringEquals": {"sts:ExternalId": "12345678TESTID"}}))
    user = new_user(world["iam_a"], "profile-user", [doc(allow("sts:AssumeRole", role))])
    proc_script = tmp_path / "creds.py"
    proc_script.write_text("import json\nprint(json.dumps({'Version': 1, 'AccessKeyId': %r, 'SecretAccessKey': %r}))\n"
                           % (user["aws_access_key_id"], user["aws_secret_access_key"]))
    config = tmp_path / "config"
    config.write_text(textwrap.dedent(f"""\
        [profile base]
        aws_access_key_id = {user['aws_access_key_id']}
        aws_secret_access_key = {user['aws_secret_access_key']}

        [profile cross]
        role_arn = {role}
        source_profile = base
        external_id = 12345678TESTID
        duration_seconds = 900
        role_session_name = from-config

        [profile process]
        credential_process = {sys.executable} {proc_script}

        [profile cross-via-process]
        role_arn = {role}
        source_profile = process
        external_id = 12345678TESTID

        [profile cross-from-env]
        role_arn = {role}
        credential_source = Environment
        external_id = 12345678TESTID
        """))
    env = clean_env()
    env.update(AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_ENDPOINT_URL=t.endpoint,
               AWS_DEFAULT_REGION=REGION)
    who = t.cli("sts", "get-caller-identity", "--profile", "cross", env=env)
    assert who["Arn"] == f"arn:aws:sts::{world['b']}:assumed-role/ProfileRole/from-config"
    who = t.cli("sts", "get-caller-identity", "--profile", "process", env=env)
    assert who["Arn"] == f"arn:aws:iam::{world['a']}:user/profile-user"
    who = t.cli("sts", "get-caller-identity", "--profile", "cross-via-process", env=env)
    assert who["Arn"].startswith(f"arn:aws:sts::{world['b']}:assumed-role/ProfileRole/")
    env_keys = dict(env, AWS_ACCESS_KEY_ID=user["aws_access_key_id"], AWS_SECRET_ACCESS_KEY=user["aws_secret_access_key"])
    who = t.cli("sts", "get-caller-identity", "--profile", "cross-from-env", env=env_keys)
    assert who["Arn"].startswith(f"arn:aws:sts::{world['b']}:assumed-role/ProfileRole/")
    # boto3's own chain with the same file.
    old = {k: os.environ.get(k) for k in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL")}
    try:
        os.environ.update(AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=os.devnull,
                          AWS_ENDPOINT_URL=t.endpoint)
        session = boto3.session.Session(profile_name="cross", region_name=REGION)
        assert session.client("sts").get_caller_identity()["Arn"].endswith(":assumed-role/ProfileRole/from-config")
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# --- Restart and expiry -----------------------------------------------------------------------


def test_sessions_survive_a_restart(fresh_tessera):
    t = fresh_tessera
    iam = t.client("iam")
    a = t.client("sts").get_caller_identity()["Account"]
    user = new_user(iam, "u", [ALLOW_ALL])
    iam.create_role(RoleName="R", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{a}:root"))
    c = creds_of(client(t, "sts", user).assume_role(RoleArn=f"arn:aws:iam::{a}:role/R", RoleSessionName="s1"))
    g = creds_of(client(t, "sts", user).get_session_token())
    t.stop()
    t.start()
    assert client(t, "sts", c)  # new endpoint, same data dir
    assert client(t, "sts", c).get_caller_identity()["Arn"] == f"arn:aws:sts::{a}:assumed-role/R/s1"
    assert client(t, "sts", g).get_caller_identity()["Arn"] == f"arn:aws:iam::{a}:user/u"


# Debian's libfaketime (package faketime), which scripts/test installs.
LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def test_expired_credentials_under_faketime(tmp_path):
    """The real server's clock moved past a session's expiry with libfaketime."""
    if not Path(LIBFAKETIME).exists():
        pytest.skip("faketime is not installed (apt-get install faketime)")
    _require_binary()
    t = Tessera(tmp_path / "data").start()
    try:
        iam = t.client("iam")
        a = t.client("sts").get_caller_identity()["Account"]
        user = new_user(iam, "u", [ALLOW_ALL])
        iam.create_role(RoleName="R", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{a}:root"))
        c = creds_of(client(t, "sts", user).assume_role(RoleArn=f"arn:aws:iam::{a}:role/R", RoleSessionName="s1",
                                                        DurationSeconds=900))
        client(t, "sts", c).get_caller_identity()
        t.stop()
        # The library preloaded into the server itself: the `faketime` command runs its program
        # as a child and waits, so stopping it (SIGTERM) would leave the server running behind it.
        t.proc_env = dict(os.environ, LD_PRELOAD=LIBFAKETIME, FAKETIME="+1h", FAKETIME_DONT_FAKE_MONOTONIC="1")
        t.start()
        expect(client(t, "sts", c).get_caller_identity, 400, "ExpiredToken",
               "The security token included in the request is expired")
    finally:
        t.stop()
