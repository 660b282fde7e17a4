"""The tutorials of shared/seeds/, command for command through the AWS CLI, in accounts made
through Organizations (issue 6: "An end-to-end test per seed")."""

import json
import os
import subprocess
import textwrap

import botocore.exceptions
import pytest

from conftest import AWS, CliError, unique, user_with_key

TRUST_ACCOUNT = '{{ "Version": "2012-10-17", "Statement": [ {{ "Effect": "Allow", "Principal": {{ "AWS": "arn:aws:iam::{a}:root" }}, "Action": "sts:AssumeRole" }} ] }}'
CROSS_ACCOUNT_PERMISSIONS = '{ "Version": "2012-10-17", "Statement": [ { "Sid": "CrossAccountPermissions", "Effect": "Allow", "Action": [ "s3:*", "cloudwatch:*", "cloudformation:*", "sqs:*", "events:*" ], "Resource": "*" } ] }'


@pytest.fixture(scope="module")
def seed003(tessera, accounts):
    """Seed 003 steps 1-3: CrossAccountAccessRole in account B trusting account A; a user in A
    allowed to assume it."""
    a, b = accounts.create("seed003-a"), accounts.create("seed003-b")
    b_env = tessera.env_for(**accounts.admin_creds(b))
    # Step 1 and 2: the role in account B, its permissions, its trust in account A.
    tessera.cli("iam", "create-role", "--role-name", "CrossAccountAccessRole",
                "--assume-role-policy-document", TRUST_ACCOUNT.format(a=a), env=b_env)
    tessera.cli("iam", "put-role-policy", "--role-name", "CrossAccountAccessRole", "--policy-name",
                "CrossAccountPermissions", "--policy-document", CROSS_ACCOUNT_PERMISSIONS, env=b_env)
    # Step 3: a user in account A with the seed's policy.
    role_arn = f"arn:aws:iam::{b}:role/CrossAccountAccessRole"
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                         "Action": ["sts:AssumeRole", "iam:PassRole", "iam:ListRoles"], "Resource": role_arn}]})
    user = user_with_key(tessera, accounts.admin_creds(a), "deployer", policy)
    return {"a": a, "b": b, "role_arn": role_arn, "user_env": tessera.env_for(**user), "b_env": b_env}


def test_seed003_assume_role_with_external_id(tessera, seed003):
    out = tessera.cli("sts", "assume-role", "--role-arn", seed003["role_arn"], "--role-session-name",
                      "AWSCLI-Session", "--external-id", "12345678TESTID", env=seed003["user_env"])
    c = out["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA") and c["SessionToken"] and c["Expiration"]
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{seed003['b']}:assumed-role/CrossAccountAccessRole/AWSCLI-Session"
    env = tessera.env_for(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    who = tessera.cli("sts", "get-caller-identity", env=env)
    assert who["Account"] == seed003["b"]
    assert who["UserId"].startswith("AROA") and who["UserId"].endswith(":AWSCLI-Session")


def test_seed003_bash_jq_export_script(tessera, seed003, tmp_path):
    # The seed's script, unchanged but for the ARN and the deploy command.
    script = tmp_path / "assume.sh"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        OUT=$(aws sts assume-role --role-arn "{seed003['role_arn']}" --role-session-name AWSCLI-Session --external-id 12345678TESTID);\\
        export AWS_ACCESS_KEY_ID=$(echo $OUT | jq -r '.Credentials.AccessKeyId');\\
        export AWS_SECRET_ACCESS_KEY=$(echo $OUT | jq -r '.Credentials.SecretAccessKey');\\
        export AWS_SESSION_TOKEN=$(echo $OUT | jq -r '.Credentials.SessionToken');
        aws sts get-caller-identity --output json
        """))
    env = dict(seed003["user_env"], PATH=os.path.dirname(AWS) + ":" + os.environ["PATH"])
    proc = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["Arn"].endswith(":assumed-role/CrossAccountAccessRole/AWSCLI-Session")


def test_seed003_role_permissions_are_enforced(tessera, seed003):
    out = tessera.cli("sts", "assume-role", "--role-arn", seed003["role_arn"], "--role-session-name", "s1",
                      env=seed003["user_env"])
    c = out["Credentials"]
    env = tessera.env_for(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    with pytest.raises(CliError) as e:
        tessera.cli("iam", "list-users", env=env)
    assert e.value.code == "AccessDenied"
    assert (f"User: arn:aws:sts::{seed003['b']}:assumed-role/CrossAccountAccessRole/s1 is not authorized to perform: "
            f"iam:ListUsers on resource: arn:aws:iam::{seed003['b']}:user/") in e.value.stderr


def test_seed003_traps(tessera, accounts, seed003):
    """What emulators let through: a missing role, a caller without the identity policy, a trust
    policy naming another account, and an explicit deny."""
    env = seed003["user_env"]
    # A role that does not exist: AccessDenied, never NoSuchEntity.
    with pytest.raises(CliError) as e:
        tessera.cli("sts", "assume-role", "--role-arn", f"arn:aws:iam::{seed003['b']}:role/NoSuchRole",
                    "--role-session-name", "s1", env=env)
    assert e.value.code == "AccessDenied"
    # A user of account A without sts:AssumeRole in its identity policy.
    bare = user_with_key(tessera, accounts.admin_creds(seed003["a"]), unique("bare"))
    with pytest.raises(CliError) as e:
        tessera.cli("sts", "assume-role", "--role-arn", seed003["role_arn"], "--role-session-name", "s1",
                    env=tessera.env_for(**bare))
    assert e.value.code == "AccessDenied"
    # A trust policy naming another account.
    other = accounts.create("seed003-c")
    tessera.cli("iam", "create-role", "--role-name", "TrustsC", "--assume-role-policy-document",
                TRUST_ACCOUNT.format(a=other), env=seed003["b_env"])
    allow_any = json.dumps({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}})
    broad = user_with_key(tessera, accounts.admin_creds(seed003["a"]), unique("broad"), allow_any)
    with pytest.raises(CliError) as e:
        tessera.cli("sts", "assume-role", "--role-arn", f"arn:aws:iam::{seed003['b']}:role/TrustsC",
                    "--role-session-name", "s1", env=tessera.env_for(**broad))
    assert e.value.code == "AccessDenied"
    # An explicit deny beside the allow wins.
    deny = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
        {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": seed003["role_arn"]}]})
    denied = user_with_key(tessera, accounts.admin_creds(seed003["a"]), unique("denied"), deny)
    with pytest.raises(CliError) as e:
        tessera.cli("sts", "assume-role", "--role-arn", seed003["role_arn"], "--role-session-name", "s1",
                    env=tessera.env_for(**denied))
    assert e.value.code == "AccessDenied"
    # AssumeRole denials carry no reason clause (docs/SESSION_TOKENS.md), whatever denied them.
    assert e.value.stderr.strip().endswith(f"is not authorized to perform: sts:AssumeRole on resource: {seed003['role_arn']}")


def test_seed003_chained_session_cannot_ask_for_more_than_an_hour(tessera, seed003):
    out = tessera.cli("sts", "assume-role", "--role-arn", seed003["role_arn"], "--role-session-name", "s1",
                      env=seed003["user_env"])
    c = out["Credentials"]
    env = tessera.env_for(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    # The role session may not assume the role again unless the trust allows it; even so a chained
    # session is limited to 3,600 seconds.
    with pytest.raises(CliError) as e:
        tessera.cli("sts", "assume-role", "--role-arn", seed003["role_arn"], "--role-session-name", "t1",
                    "--duration-seconds", "7200", env=env)
    assert e.value.code in ("ValidationError", "AccessDenied")


def test_seed003_tampered_session_token_is_invalid(tessera, seed003):
    out = tessera.cli("sts", "assume-role", "--role-arn", seed003["role_arn"], "--role-session-name", "s1",
                      env=seed003["user_env"])
    c = out["Credentials"]
    token = c["SessionToken"]
    flipped = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    with pytest.raises(CliError) as e:
        tessera.cli("sts", "get-caller-identity", env=tessera.env_for(c["AccessKeyId"], c["SecretAccessKey"], flipped))
    assert e.value.code == "InvalidClientTokenId"


S3_READ = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
EC2_READ = "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess"


def test_seed004_sandy_in_group_poc_switches_into_the_read_only_role(tessera, accounts):
    trusted, trusting = accounts.create("seed004-own"), accounts.create("seed004-friend")
    friend = tessera.env_for(**accounts.admin_creds(trusting))
    own = tessera.env_for(**accounts.admin_creds(trusted))
    # Trusting account: my_cross_account_role for the trusted account, S3ReadOnly + EC2ReadOnly.
    role = tessera.cli("iam", "create-role", "--role-name", "my_cross_account_role",
                       "--assume-role-policy-document", TRUST_ACCOUNT.format(a=trusted), env=friend)["Role"]
    for arn in (S3_READ, EC2_READ):
        tessera.cli("iam", "attach-role-policy", "--role-name", "my_cross_account_role", "--policy-arn", arn, env=friend)
    # Trusted account: Sandy with a console password, group POC, AssumeRolePolicy on the group.
    tessera.cli("iam", "create-user", "--user-name", "Sandy", env=own)
    tessera.cli("iam", "create-login-profile", "--user-name", "Sandy", "--password", "Redhat-2026!",
                "--no-password-reset-required", env=own)
    tessera.cli("iam", "create-group", "--group-name", "POC", env=own)
    tessera.cli("iam", "add-user-to-group", "--group-name", "POC", "--user-name", "Sandy", env=own)
    policy = tessera.cli("iam", "create-policy", "--policy-name", "AssumeRolePolicy", "--policy-document", json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role["Arn"]}]}),
        env=own)["Policy"]
    tessera.cli("iam", "attach-group-policy", "--group-name", "POC", "--policy-arn", policy["Arn"], env=own)
    key = tessera.cli("iam", "create-access-key", "--user-name", "Sandy", env=own)["AccessKey"]
    sandy = tessera.env_for(key["AccessKeyId"], key["SecretAccessKey"])

    # Switch Role: Sandy assumes my_cross_account_role.
    c = tessera.cli("sts", "assume-role", "--role-arn", role["Arn"], "--role-session-name", "Sandy", env=sandy)["Credentials"]
    as_role = tessera.env_for(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    assert tessera.cli("sts", "get-caller-identity", env=as_role)["Arn"] == \
        f"arn:aws:sts::{trusting}:assumed-role/my_cross_account_role/Sandy"
    # Writes are AccessDenied; the role reaches nothing outside S3/EC2 read.
    with pytest.raises(CliError) as e:
        tessera.cli("iam", "create-user", "--user-name", "intruder", env=as_role)
    assert e.value.code == "AccessDenied"
    # Sandy out of the group can no longer assume the role.
    tessera.cli("iam", "remove-user-from-group", "--group-name", "POC", "--user-name", "Sandy", env=own)
    with pytest.raises(CliError) as e:
        tessera.cli("sts", "assume-role", "--role-arn", role["Arn"], "--role-session-name", "Sandy", env=sandy)
    assert e.value.code == "AccessDenied"
