"""A principal is its unique id, not its name; MFA devices belong to their user; sessions the
root user makes have the root user's permissions limited by their session policy; session-token
keys rotate with `tessera keys rotate` without breaking live sessions (issues 5 and 6)."""

import json
import subprocess
import time

import botocore.exceptions
import pytest

from conftest import BIN
from test_sts import ALLOW_ALL, allow, client, creds_of, doc, expect, new_user, totp, trust


def make_mfa_user(iam, name, policies):
    user = new_user(iam, name, policies)
    dev = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]
    seed = dev["Base32StringSeed"]
    seed = seed.decode() if isinstance(seed, bytes) else seed
    step = int(time.time()) // 30
    iam.enable_mfa_device(UserName=name, SerialNumber=dev["SerialNumber"],
                          AuthenticationCode1=totp(seed, step - 1), AuthenticationCode2=totp(seed, step))
    return user, dev["SerialNumber"], seed, step


def test_an_mfa_device_of_another_user_is_refused(fresh_tessera):
    # STS API reference, AssumeRole: SerialNumber is "the identification number of the MFA device
    # that is associated with the user who is making the AssumeRole call".
    t = fresh_tessera
    iam = t.client("iam")
    a = t.client("sts").get_caller_identity()["Account"]
    iam.create_role(RoleName="NeedsMfa", AssumeRolePolicyDocument=trust(
        f"arn:aws:iam::{a}:root", condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}))
    _, serial, seed, step = make_mfa_user(iam, "owner", [])
    mallory = new_user(iam, "mallory", [doc(allow("sts:AssumeRole"))])
    sts = client(t, "sts", mallory)
    expect(sts.assume_role, 403, "AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code.",
           RoleArn=f"arn:aws:iam::{a}:role/NeedsMfa", RoleSessionName="mm", SerialNumber=serial,
           TokenCode=totp(seed, step + 1))
    expect(client(t, "sts", mallory).get_session_token, 403, "AccessDenied",
           SerialNumber=serial, TokenCode=totp(seed, step + 2))


def test_a_session_of_a_deleted_role_gets_nothing_from_a_new_role_of_that_name(fresh_tessera):
    # IAM User Guide, "IAM identifiers", unique identifiers: a role deleted and created again
    # under its old name is a different principal.
    t = fresh_tessera
    iam = t.client("iam")
    a = t.client("sts").get_caller_identity()["Account"]
    caller = new_user(iam, "caller", [doc(allow("sts:AssumeRole"))])

    def make_role():
        iam.create_role(RoleName="Reader", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{a}:root"))
        iam.put_role_policy(RoleName="Reader", PolicyName="read", PolicyDocument=doc(allow("iam:ListUsers")))

    make_role()
    arn = f"arn:aws:iam::{a}:role/Reader"
    old = creds_of(client(t, "sts", caller).assume_role(RoleArn=arn, RoleSessionName="old"))
    client(t, "iam", old).list_users()
    iam.delete_role_policy(RoleName="Reader", PolicyName="read")
    iam.delete_role(RoleName="Reader")
    make_role()
    expect(client(t, "iam", old).list_users, 403, "AccessDenied", "iam:ListUsers")
    new = creds_of(client(t, "sts", caller).assume_role(RoleArn=arn, RoleSessionName="new"))
    client(t, "iam", new).list_users()


def test_a_session_of_a_deleted_user_gets_nothing_from_a_new_user_of_that_name(fresh_tessera):
    t = fresh_tessera
    iam = t.client("iam")
    old = new_user(iam, "u", [ALLOW_ALL])
    session = creds_of(client(t, "sts", old).get_session_token())
    client(t, "ec2", session).describe_instances()
    iam.delete_user_policy(UserName="u", PolicyName="p0")
    iam.delete_access_key(UserName="u", AccessKeyId=old["aws_access_key_id"])
    iam.delete_user(UserName="u")
    new_user(iam, "u", [ALLOW_ALL])
    expect(client(t, "iam", old).list_users, 403, "InvalidClientTokenId")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(t, "ec2", session).describe_instances()
    assert e.value.response["Error"]["Code"] == "UnauthorizedOperation", e.value.response


def test_a_federated_user_of_the_root_user_has_the_session_policy_permissions(fresh_tessera):
    # IAM User Guide, "Permissions for GetFederationToken": the intersection of the caller's
    # permissions (for the root user: everything in its account) and the session policy.
    t = fresh_tessera
    t.client("organizations").create_organization(FeatureSet="ALL")
    sts = t.client("sts")
    a = sts.get_caller_identity()["Account"]
    bob = creds_of(sts.get_federation_token(Name="Bob", Policy=doc(allow("organizations:Describe*"))))
    assert client(t, "sts", bob).get_caller_identity()["Arn"] == f"arn:aws:sts::{a}:federated-user/Bob"
    assert client(t, "organizations", bob).describe_organization()["Organization"]["MasterAccountId"] == a
    expect(client(t, "organizations", bob).list_accounts, 400, "AccessDeniedException")
    nobody = creds_of(sts.get_federation_token(Name="Nobody"))
    expect(client(t, "organizations", nobody).describe_organization, 400, "AccessDeniedException")


def test_the_access_role_of_a_new_account_is_in_the_attachment_index(accounts):
    member = accounts.create("indexed")
    iam = accounts.t.client("iam", **accounts.admin_creds(member))
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    roles = iam.list_entities_for_policy(PolicyArn=admin)["PolicyRoles"]
    assert [r["RoleName"] for r in roles] == ["OrganizationAccountAccessRole"]
    attached = iam.list_attached_role_policies(RoleName="OrganizationAccountAccessRole")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [admin]
    # Detaching works like any attachment and takes the permissions away.
    role = iam.get_role(RoleName="OrganizationAccountAccessRole")["Role"]
    assert role["RoleId"].startswith("AROA")


def rotate(t):
    out = subprocess.run([str(BIN), "keys", "rotate", "--data-dir", str(t.data_dir)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["KeyId"]


def test_keys_rotate_keeps_live_sessions_and_seals_new_ones_with_the_new_key(fresh_tessera):
    t = fresh_tessera
    iam = t.client("iam")
    a = t.client("sts").get_caller_identity()["Account"]
    user = new_user(iam, "u", [ALLOW_ALL])
    iam.create_role(RoleName="R", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{a}:root"))
    before = creds_of(client(t, "sts", user).assume_role(RoleArn=f"arn:aws:iam::{a}:role/R", RoleSessionName="s1"))
    first = rotate(t)
    second = rotate(t)
    assert first != second and len(first) == 8
    # Sessions sealed before the rotations still verify, on the running server.
    assert client(t, "sts", before).get_caller_identity()["Arn"] == f"arn:aws:sts::{a}:assumed-role/R/s1"
    after = creds_of(client(t, "sts", user).assume_role(RoleArn=f"arn:aws:iam::{a}:role/R", RoleSessionName="t1"))
    assert client(t, "sts", after).get_caller_identity()["Arn"] == f"arn:aws:sts::{a}:assumed-role/R/t1"
    # And after a restart.
    t.stop()
    t.start()
    assert client(t, "sts", before).get_caller_identity()["Arn"].endswith("/R/s1")
    assert client(t, "sts", after).get_caller_identity()["Arn"].endswith("/R/t1")


def test_keys_rotate_refuses_a_directory_that_is_not_a_data_dir(tmp_path):
    out = subprocess.run([str(BIN), "keys", "rotate", "--data-dir", str(tmp_path / "nothing")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "master.key" in out.stderr
    assert not (tmp_path / "nothing").exists()
