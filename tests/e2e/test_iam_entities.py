"""IAM users, groups, roles and policies through the real AWS CLI and boto3 (issue 5, "How it must
be shown"): CRUD with paths and tags, group membership, trust policies, inline and managed
policies with versions, AWS managed policies, permissions boundaries, pagination, and who may
call what, with AWS's error codes and HTTP statuses."""

import json

import boto3
import botocore.config
import botocore.exceptions
import pytest

from conftest import REGION, CliError, unique, user_with_key

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
S3_READ = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
EC2_READ = "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess"
IAM_READ = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def trust(account):
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]}


def doc(action, resource="*", effect="Allow"):
    return {"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": action, "Resource": resource}]}


def unvalidated(t):
    """A root IAM client that skips botocore's own parameter checks, to see the server's."""
    return boto3.session.Session(region_name=REGION).client(
        "iam", endpoint_url=t.endpoint,
        config=botocore.config.Config(parameter_validation=False, retries={"max_attempts": 1}),
        **t.root_creds)


def fails(call, code, status, **kwargs):
    """Run a boto3 call that must fail with `code` and HTTP `status`; return the error."""
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kwargs)
    err = e.value.response
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == (code, status), err["Error"]
    return err["Error"]


@pytest.fixture(scope="module")
def iam(tessera):
    return tessera.client("iam")


@pytest.fixture(scope="module")
def acct(tessera):
    return tessera.client("sts").get_caller_identity()["Account"]


# ---------------------------------------------------------------------------------------------
# Users


def test_user_crud_paths_and_errors(tessera, iam, acct):
    name, path = unique("u-"), f"/{unique('p')}/dev/"
    u = iam.create_user(UserName=name, Path=path)["User"]
    assert u["UserName"] == name and u["Path"] == path
    assert u["Arn"] == f"arn:aws:iam::{acct}:user{path}{name}"
    assert u["UserId"].startswith("AIDA")
    got = iam.get_user(UserName=name)["User"]
    assert got["UserId"] == u["UserId"] and got["Arn"] == u["Arn"]

    fails(iam.create_user, "EntityAlreadyExists", 409, UserName=name)
    # IAM names are case-insensitively unique.
    fails(iam.create_user, "EntityAlreadyExists", 409, UserName=name.upper())
    fails(iam.get_user, "NoSuchEntity", 404, UserName=unique("nobody-"))
    fails(iam.delete_user, "NoSuchEntity", 404, UserName=unique("nobody-"))

    listed = iam.list_users(PathPrefix=path)["Users"]
    assert [x["UserName"] for x in listed] == [name]
    top = path.split("/")[1]
    assert [x["UserName"] for x in iam.list_users(PathPrefix=f"/{top}/")["Users"]] == [name]
    assert iam.list_users(PathPrefix=f"/{top}/prod/")["Users"] == []

    # Rename and move: the old name is gone, the id is kept.
    new, new_path = unique("u-renamed-"), f"/{unique('p')}/"
    iam.update_user(UserName=name, NewUserName=new, NewPath=new_path)
    fails(iam.get_user, "NoSuchEntity", 404, UserName=name)
    moved = iam.get_user(UserName=new)["User"]
    assert moved["UserId"] == u["UserId"] and moved["Path"] == new_path
    assert moved["Arn"] == f"arn:aws:iam::{acct}:user{new_path}{new}"

    iam.delete_user(UserName=new)
    fails(iam.get_user, "NoSuchEntity", 404, UserName=new)


def test_user_validation_errors(tessera):
    raw = unvalidated(tessera)
    fails(raw.create_user, "ValidationError", 400, UserName="a" * 65)
    fails(raw.create_user, "ValidationError", 400, UserName="bad name!")
    fails(raw.create_user, "ValidationError", 400, UserName=unique("u-"), Path="no-slashes")


def test_user_crud_through_the_cli(tessera, acct):
    name, path = unique("cli-u-"), f"/{unique('cp')}/"
    out = tessera.cli("iam", "create-user", "--user-name", name, "--path", path,
                      "--tags", "Key=team,Value=blue")["User"]
    assert out["Arn"] == f"arn:aws:iam::{acct}:user{path}{name}"
    assert tessera.cli("iam", "get-user", "--user-name", name)["User"]["Tags"] == [{"Key": "team", "Value": "blue"}]
    users = tessera.cli("iam", "list-users", "--path-prefix", path)["Users"]
    assert [u["UserName"] for u in users] == [name]
    with pytest.raises(CliError) as e:
        tessera.cli("iam", "create-user", "--user-name", name)
    assert e.value.code == "EntityAlreadyExists"
    tessera.cli("iam", "delete-user", "--user-name", name)
    with pytest.raises(CliError) as e:
        tessera.cli("iam", "get-user", "--user-name", name)
    assert e.value.code == "NoSuchEntity"


def test_user_tags_and_the_50_tag_limit(tessera, iam):
    name = unique("tagged-")
    iam.create_user(UserName=name, Tags=[{"Key": "a", "Value": "1"}])
    iam.tag_user(UserName=name, Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "one"}])
    tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=name)["Tags"]}
    assert tags == {"a": "one", "b": "2"}
    iam.untag_user(UserName=name, TagKeys=["a"])
    assert iam.list_user_tags(UserName=name)["Tags"] == [{"Key": "b", "Value": "2"}]

    iam.tag_user(UserName=name, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(49)])
    assert len(iam.list_user_tags(UserName=name)["Tags"]) == 50
    raw = unvalidated(tessera)
    fails(raw.tag_user, "LimitExceeded", 409, UserName=name, Tags=[{"Key": "one-too-many", "Value": "v"}])
    assert len(iam.list_user_tags(UserName=name)["Tags"]) == 50
    # Overwriting an existing key is not a new tag.
    iam.tag_user(UserName=name, Tags=[{"Key": "k0", "Value": "changed"}])
    fails(iam.tag_user, "NoSuchEntity", 404, UserName=unique("nobody-"), Tags=[{"Key": "a", "Value": "b"}])
    # More than 50 in one request fails the API's own constraint.
    fails(raw.create_user, "ValidationError", 400, UserName=unique("many-"),
          Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])


def test_delete_user_with_attachments_is_a_conflict_not_a_cascade(tessera, iam):
    name, group = unique("busy-"), unique("busy-g-")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=json.dumps(doc("s3:ListAllMyBuckets")))
    fails(iam.delete_user, "DeleteConflict", 409, UserName=name)
    iam.delete_user_policy(UserName=name, PolicyName="inline")

    iam.attach_user_policy(UserName=name, PolicyArn=S3_READ)
    fails(iam.delete_user, "DeleteConflict", 409, UserName=name)
    assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]] == [S3_READ]
    iam.detach_user_policy(UserName=name, PolicyArn=S3_READ)

    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=name)
    fails(iam.delete_user, "DeleteConflict", 409, UserName=name)
    iam.remove_user_from_group(GroupName=group, UserName=name)

    key = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
    fails(iam.delete_user, "DeleteConflict", 409, UserName=name)
    iam.delete_access_key(UserName=name, AccessKeyId=key)

    iam.create_login_profile(UserName=name, Password="Correct-Horse-9!")
    fails(iam.delete_user, "DeleteConflict", 409, UserName=name)
    iam.delete_login_profile(UserName=name)

    iam.delete_user(UserName=name)
    fails(iam.get_user, "NoSuchEntity", 404, UserName=name)
    iam.delete_group(GroupName=group)


# ---------------------------------------------------------------------------------------------
# Groups


def test_group_crud_and_membership(tessera, iam, acct):
    group, path = unique("g-"), f"/{unique('gp')}/"
    g = iam.create_group(GroupName=group, Path=path)["Group"]
    assert g["Arn"] == f"arn:aws:iam::{acct}:group{path}{group}" and g["GroupId"].startswith("AGPA")
    fails(iam.create_group, "EntityAlreadyExists", 409, GroupName=group)
    fails(iam.get_group, "NoSuchEntity", 404, GroupName=unique("nogroup-"))
    assert [x["GroupName"] for x in iam.list_groups(PathPrefix=path)["Groups"]] == [group]

    alice, bob = unique("alice-"), unique("bob-")
    for u in (alice, bob):
        iam.create_user(UserName=u)
    iam.add_user_to_group(GroupName=group, UserName=alice)
    iam.add_user_to_group(GroupName=group, UserName=bob)
    iam.add_user_to_group(GroupName=group, UserName=bob)  # idempotent as on AWS
    got = iam.get_group(GroupName=group)
    assert got["Group"]["GroupName"] == group
    assert sorted(u["UserName"] for u in got["Users"]) == sorted([alice, bob])
    assert [x["GroupName"] for x in iam.list_groups_for_user(UserName=alice)["Groups"]] == [group]
    fails(iam.add_user_to_group, "NoSuchEntity", 404, GroupName=group, UserName=unique("nobody-"))
    fails(iam.add_user_to_group, "NoSuchEntity", 404, GroupName=unique("nogroup-"), UserName=alice)

    # A group with members cannot be deleted.
    fails(iam.delete_group, "DeleteConflict", 409, GroupName=group)
    iam.remove_user_from_group(GroupName=group, UserName=alice)
    assert [u["UserName"] for u in iam.get_group(GroupName=group)["Users"]] == [bob]
    assert iam.list_groups_for_user(UserName=alice)["Groups"] == []
    fails(iam.remove_user_from_group, "NoSuchEntity", 404, GroupName=group, UserName=alice)
    iam.remove_user_from_group(GroupName=group, UserName=bob)

    # Rename keeps the id; inline and attached policies block deletion.
    renamed = unique("g-renamed-")
    iam.update_group(GroupName=group, NewGroupName=renamed)
    fails(iam.get_group, "NoSuchEntity", 404, GroupName=group)
    assert iam.get_group(GroupName=renamed)["Group"]["GroupId"] == g["GroupId"]
    iam.put_group_policy(GroupName=renamed, PolicyName="inline", PolicyDocument=json.dumps(doc("s3:List*")))
    fails(iam.delete_group, "DeleteConflict", 409, GroupName=renamed)
    iam.delete_group_policy(GroupName=renamed, PolicyName="inline")
    iam.attach_group_policy(GroupName=renamed, PolicyArn=S3_READ)
    fails(iam.delete_group, "DeleteConflict", 409, GroupName=renamed)
    iam.detach_group_policy(GroupName=renamed, PolicyArn=S3_READ)
    iam.delete_group(GroupName=renamed)
    fails(iam.get_group, "NoSuchEntity", 404, GroupName=renamed)


def test_group_membership_through_the_cli(tessera):
    group, user = unique("cli-g-"), unique("cli-gu-")
    tessera.cli("iam", "create-group", "--group-name", group)
    tessera.cli("iam", "create-user", "--user-name", user)
    tessera.cli("iam", "add-user-to-group", "--group-name", group, "--user-name", user)
    out = tessera.cli("iam", "get-group", "--group-name", group)
    assert [u["UserName"] for u in out["Users"]] == [user]
    groups = tessera.cli("iam", "list-groups-for-user", "--user-name", user)["Groups"]
    assert [g["GroupName"] for g in groups] == [group]
    with pytest.raises(CliError) as e:
        tessera.cli("iam", "delete-group", "--group-name", group)
    assert e.value.code == "DeleteConflict"
    tessera.cli("iam", "remove-user-from-group", "--group-name", group, "--user-name", user)
    tessera.cli("iam", "delete-group", "--group-name", group)


# ---------------------------------------------------------------------------------------------
# Roles


def test_role_crud_trust_policy_and_session_duration(tessera, iam, acct):
    name, path = unique("r-"), f"/{unique('rp')}/"
    policy = trust(acct)
    r = iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=json.dumps(policy),
                        Description="first", MaxSessionDuration=7200)["Role"]
    assert r["Arn"] == f"arn:aws:iam::{acct}:role{path}{name}" and r["RoleId"].startswith("AROA")
    got = iam.get_role(RoleName=name)["Role"]
    # boto3 URL-decodes the document into a dict: it must be what was put.
    assert got["AssumeRolePolicyDocument"] == policy
    assert got["Description"] == "first" and got["MaxSessionDuration"] == 7200
    assert "RoleLastUsed" in got
    assert [x["RoleName"] for x in iam.list_roles(PathPrefix=path)["Roles"]] == [name]

    fails(iam.create_role, "EntityAlreadyExists", 409, RoleName=name, AssumeRolePolicyDocument=json.dumps(policy))
    fails(iam.get_role, "NoSuchEntity", 404, RoleName=unique("norole-"))

    # UpdateAssumeRolePolicy replaces the trust policy.
    other = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(other))
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == other
    fails(iam.update_assume_role_policy, "MalformedPolicyDocument", 400, RoleName=name, PolicyDocument="{not json")
    fails(iam.update_assume_role_policy, "NoSuchEntity", 404, RoleName=unique("norole-"),
          PolicyDocument=json.dumps(other))

    # MaxSessionDuration: 3,600 to 43,200 seconds.
    iam.update_role(RoleName=name, MaxSessionDuration=43200, Description="second")
    got = iam.get_role(RoleName=name)["Role"]
    assert got["MaxSessionDuration"] == 43200 and got["Description"] == "second"
    iam.update_role(RoleName=name, MaxSessionDuration=3600)
    assert iam.get_role(RoleName=name)["Role"]["MaxSessionDuration"] == 3600
    raw = unvalidated(tessera)
    for bad in (3599, 43201):
        fails(raw.update_role, "ValidationError", 400, RoleName=name, MaxSessionDuration=bad)
        fails(raw.create_role, "ValidationError", 400, RoleName=unique("r-bad-"),
              AssumeRolePolicyDocument=json.dumps(policy), MaxSessionDuration=bad)
    assert iam.get_role(RoleName=name)["Role"]["MaxSessionDuration"] == 3600

    iam.update_role_description(RoleName=name, Description="third")
    assert iam.get_role(RoleName=name)["Role"]["Description"] == "third"

    iam.delete_role(RoleName=name)
    fails(iam.get_role, "NoSuchEntity", 404, RoleName=name)


def test_role_trust_policy_through_the_cli(tessera, acct):
    name = unique("cli-r-")
    policy = trust(acct)
    tessera.cli("iam", "create-role", "--role-name", name, "--assume-role-policy-document", json.dumps(policy),
                "--max-session-duration", "3600")
    role = tessera.cli("iam", "get-role", "--role-name", name)["Role"]
    assert role["AssumeRolePolicyDocument"] == policy
    with pytest.raises(CliError) as e:
        tessera.cli("iam", "update-role", "--role-name", name, "--max-session-duration", "50000")
    assert e.value.code == "ValidationError"
    with pytest.raises(CliError) as e:
        tessera.cli("iam", "create-role", "--role-name", unique("cli-r-"), "--assume-role-policy-document",
                    '{"Version": "2012-10-17", "Statement": [{"Effect": "Maybe"}]}')
    assert e.value.code == "MalformedPolicyDocument"
    tessera.cli("iam", "delete-role", "--role-name", name)


def test_role_tags(tessera, iam, acct):
    name = unique("tagged-r-")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust(acct)),
                    Tags=[{"Key": "env", "Value": "dev"}])
    iam.tag_role(RoleName=name, Tags=[{"Key": "owner", "Value": "ops"}])
    tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name)["Tags"]}
    assert tags == {"env": "dev", "owner": "ops"}
    assert {t["Key"] for t in iam.get_role(RoleName=name)["Role"]["Tags"]} == {"env", "owner"}
    iam.untag_role(RoleName=name, TagKeys=["env"])
    assert iam.list_role_tags(RoleName=name)["Tags"] == [{"Key": "owner", "Value": "ops"}]
    iam.tag_role(RoleName=name, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(49)])
    fails(unvalidated(tessera).tag_role, "LimitExceeded", 409, RoleName=name, Tags=[{"Key": "x", "Value": "y"}])
    fails(iam.tag_role, "NoSuchEntity", 404, RoleName=unique("norole-"), Tags=[{"Key": "a", "Value": "b"}])


def test_delete_role_with_policies_is_a_conflict(tessera, iam, acct):
    name = unique("busy-r-")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust(acct)))
    iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(doc("s3:*")))
    fails(iam.delete_role, "DeleteConflict", 409, RoleName=name)
    iam.delete_role_policy(RoleName=name, PolicyName="inline")
    iam.attach_role_policy(RoleName=name, PolicyArn=EC2_READ)
    fails(iam.delete_role, "DeleteConflict", 409, RoleName=name)
    assert iam.get_role(RoleName=name)["Role"]["RoleName"] == name
    iam.detach_role_policy(RoleName=name, PolicyArn=EC2_READ)
    profile = unique("ip-")
    iam.create_instance_profile(InstanceProfileName=profile)
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=name)
    fails(iam.delete_role, "DeleteConflict", 409, RoleName=name)
    iam.remove_role_from_instance_profile(InstanceProfileName=profile, RoleName=name)
    iam.delete_instance_profile(InstanceProfileName=profile)
    iam.delete_role(RoleName=name)
    fails(iam.get_role, "NoSuchEntity", 404, RoleName=name)


# ---------------------------------------------------------------------------------------------
# Inline policies


@pytest.mark.parametrize("kind", ["user", "group", "role"])
def test_inline_policies(tessera, iam, acct, kind):
    name = unique(f"inl-{kind}-")
    Kind = kind.capitalize()
    if kind == "user":
        iam.create_user(UserName=name)
    elif kind == "group":
        iam.create_group(GroupName=name)
    else:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust(acct)))
    put = getattr(iam, f"put_{kind}_policy")
    get = getattr(iam, f"get_{kind}_policy")
    lst = getattr(iam, f"list_{kind}_policies")
    delete = getattr(iam, f"delete_{kind}_policy")
    who = {f"{Kind}Name": name}

    first, second = doc("s3:GetObject", "arn:aws:s3:::bucket/*"), doc(["ec2:Describe*"])
    put(**who, PolicyName="b-policy", PolicyDocument=json.dumps(first))
    put(**who, PolicyName="a-policy", PolicyDocument=json.dumps(second))
    got = get(**who, PolicyName="b-policy")
    assert got["PolicyName"] == "b-policy" and got[f"{Kind}Name"] == name
    assert got["PolicyDocument"] == first
    assert lst(**who)["PolicyNames"] == ["a-policy", "b-policy"]
    # Put again replaces.
    put(**who, PolicyName="b-policy", PolicyDocument=json.dumps(second))
    assert get(**who, PolicyName="b-policy")["PolicyDocument"] == second

    fails(put, "MalformedPolicyDocument", 400, **who, PolicyName="bad", PolicyDocument="not json")
    fails(put, "MalformedPolicyDocument", 400, **who, PolicyName="bad",
          PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}))
    fails(get, "NoSuchEntity", 404, **who, PolicyName="missing")
    fails(delete, "NoSuchEntity", 404, **who, PolicyName="missing")
    fails(put, "NoSuchEntity", 404, **{f"{Kind}Name": unique("nobody-")}, PolicyName="p",
          PolicyDocument=json.dumps(first))

    delete(**who, PolicyName="a-policy")
    assert lst(**who)["PolicyNames"] == ["b-policy"]
    delete(**who, PolicyName="b-policy")
    assert lst(**who)["PolicyNames"] == []
    getattr(iam, f"delete_{kind}")(**who)


def test_inline_policy_through_the_cli(tessera):
    user = unique("cli-inl-")
    tessera.cli("iam", "create-user", "--user-name", user)
    policy = doc("s3:ListBucket", "arn:aws:s3:::b")
    tessera.cli("iam", "put-user-policy", "--user-name", user, "--policy-name", "p",
                "--policy-document", json.dumps(policy))
    assert tessera.cli("iam", "get-user-policy", "--user-name", user, "--policy-name", "p")["PolicyDocument"] == policy
    assert tessera.cli("iam", "list-user-policies", "--user-name", user)["PolicyNames"] == ["p"]
    with pytest.raises(CliError) as e:
        tessera.cli("iam", "put-user-policy", "--user-name", user, "--policy-name", "p", "--policy-document", "{")
    assert e.value.code == "MalformedPolicyDocument"
    tessera.cli("iam", "delete-user-policy", "--user-name", user, "--policy-name", "p")
    tessera.cli("iam", "delete-user", "--user-name", user)


# ---------------------------------------------------------------------------------------------
# Managed policies


def test_customer_managed_policy_versions(tessera, iam, acct):
    name, path = unique("mp-"), f"/{unique('mpp')}/"
    v1 = doc("s3:GetObject")
    p = iam.create_policy(PolicyName=name, Path=path, PolicyDocument=json.dumps(v1), Description="d")["Policy"]
    arn = p["Arn"]
    assert arn == f"arn:aws:iam::{acct}:policy{path}{name}"
    assert p["DefaultVersionId"] == "v1" and p["AttachmentCount"] == 0 and p["PolicyId"].startswith("ANPA")
    fails(iam.create_policy, "EntityAlreadyExists", 409, PolicyName=name, Path=path, PolicyDocument=json.dumps(v1))
    assert iam.get_policy(PolicyArn=arn)["Policy"]["PolicyName"] == name
    got = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert got["Document"] == v1 and got["IsDefaultVersion"] is True
    local = [x["Arn"] for x in iam.list_policies(Scope="Local", PathPrefix=path)["Policies"]]
    assert local == [arn]

    # A new default version.
    v2 = doc(["s3:GetObject", "s3:PutObject"])
    out = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(v2), SetAsDefault=True)["PolicyVersion"]
    assert out["VersionId"] == "v2" and out["IsDefaultVersion"] is True
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    assert iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]["IsDefaultVersion"] is False

    # Non-default versions up to five; the sixth is LimitExceeded.
    for _ in range(3):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(v1))
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert sorted(v["VersionId"] for v in versions) == ["v1", "v2", "v3", "v4", "v5"]
    assert [v["VersionId"] for v in versions if v["IsDefaultVersion"]] == ["v2"]
    fails(iam.create_policy_version, "LimitExceeded", 409, PolicyArn=arn, PolicyDocument=json.dumps(v1))

    # The default version cannot be deleted; another can, and the default can be switched.
    fails(iam.delete_policy_version, "DeleteConflict", 409, PolicyArn=arn, VersionId="v2")
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v4")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v4"
    iam.delete_policy_version(PolicyArn=arn, VersionId="v2")
    fails(iam.get_policy_version, "NoSuchEntity", 404, PolicyArn=arn, VersionId="v2")
    fails(iam.set_default_policy_version, "NoSuchEntity", 404, PolicyArn=arn, VersionId="v2")
    # Version ids are never reused.
    assert iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(v2))["PolicyVersion"]["VersionId"] == "v6"

    fails(iam.create_policy_version, "MalformedPolicyDocument", 400, PolicyArn=arn, PolicyDocument="[]")
    fails(iam.create_policy, "MalformedPolicyDocument", 400, PolicyName=unique("mp-bad-"),
          PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]}))
    fails(iam.get_policy, "NoSuchEntity", 404, PolicyArn=f"arn:aws:iam::{acct}:policy/{unique('nopolicy-')}")

    for v in ("v1", "v3", "v5", "v6"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=v)
    iam.delete_policy(PolicyArn=arn)
    fails(iam.get_policy, "NoSuchEntity", 404, PolicyArn=arn)


def test_delete_policy_with_versions_or_attachments_is_a_conflict(tessera, iam):
    arn = iam.create_policy(PolicyName=unique("mp-del-"), PolicyDocument=json.dumps(doc("s3:*")))["Policy"]["Arn"]
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(doc("ec2:*")))
    fails(iam.delete_policy, "DeleteConflict", 409, PolicyArn=arn)
    iam.delete_policy_version(PolicyArn=arn, VersionId="v2")
    user = unique("mp-del-u-")
    iam.create_user(UserName=user)
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    fails(iam.delete_policy, "DeleteConflict", 409, PolicyArn=arn)
    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)


def test_attach_detach_and_list_entities_for_policy(tessera, iam, acct):
    arn = iam.create_policy(PolicyName=unique("mp-att-"), PolicyDocument=json.dumps(doc("s3:List*")))["Policy"]["Arn"]
    user, group, role = unique("att-u-"), unique("att-g-"), unique("att-r-")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust(acct)))
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    iam.attach_role_policy(RoleName=role, PolicyArn=S3_READ)
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)  # idempotent

    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 3
    ents = iam.list_entities_for_policy(PolicyArn=arn)
    assert [u["UserName"] for u in ents["PolicyUsers"]] == [user]
    assert [g["GroupName"] for g in ents["PolicyGroups"]] == [group]
    assert [r["RoleName"] for r in ents["PolicyRoles"]] == [role]
    only_roles = iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Role")
    assert only_roles["PolicyUsers"] == [] and only_roles["PolicyGroups"] == []
    assert [r["RoleName"] for r in only_roles["PolicyRoles"]] == [role]

    assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]] == [arn]
    assert [p["PolicyArn"] for p in iam.list_attached_group_policies(GroupName=group)["AttachedPolicies"]] == [arn]
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert sorted(p["PolicyArn"] for p in attached) == sorted([arn, S3_READ])
    assert {p["PolicyName"] for p in attached} == {arn.rsplit("/", 1)[1], "AmazonS3ReadOnlyAccess"}

    fails(iam.attach_user_policy, "NoSuchEntity", 404, UserName=user,
          PolicyArn=f"arn:aws:iam::{acct}:policy/{unique('nopolicy-')}")
    fails(iam.attach_user_policy, "NoSuchEntity", 404, UserName=user,
          PolicyArn="arn:aws:iam::aws:policy/NoSuchAwsManagedPolicyAtAll")
    fails(iam.attach_user_policy, "NoSuchEntity", 404, UserName=unique("nobody-"), PolicyArn=arn)
    fails(iam.detach_group_policy, "NoSuchEntity", 404, GroupName=group, PolicyArn=S3_READ)

    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    iam.detach_group_policy(GroupName=group, PolicyArn=arn)
    iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    ents = iam.list_entities_for_policy(PolicyArn=arn)
    assert ents["PolicyUsers"] == ents["PolicyGroups"] == ents["PolicyRoles"] == []
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 0
    assert iam.list_attached_user_policies(UserName=user)["AttachedPolicies"] == []


def test_managed_policy_through_the_cli(tessera):
    name, role = unique("cli-mp-"), unique("cli-mp-r-")
    acct = tessera.cli("sts", "get-caller-identity")["Account"]
    p = tessera.cli("iam", "create-policy", "--policy-name", name, "--policy-document",
                    json.dumps(doc("sts:AssumeRole", "arn:aws:iam::*:role/x")))["Policy"]
    tessera.cli("iam", "create-role", "--role-name", role, "--assume-role-policy-document", json.dumps(trust(acct)))
    tessera.cli("iam", "attach-role-policy", "--role-name", role, "--policy-arn", p["Arn"])
    out = tessera.cli("iam", "list-attached-role-policies", "--role-name", role)["AttachedPolicies"]
    assert out == [{"PolicyName": name, "PolicyArn": p["Arn"]}]
    out = tessera.cli("iam", "create-policy-version", "--policy-arn", p["Arn"], "--policy-document",
                      json.dumps(doc("s3:*")), "--set-as-default")["PolicyVersion"]
    assert out["VersionId"] == "v2" and out["IsDefaultVersion"] is True
    with pytest.raises(CliError) as e:
        tessera.cli("iam", "delete-policy-version", "--policy-arn", p["Arn"], "--version-id", "v2")
    assert e.value.code == "DeleteConflict"
    ents = tessera.cli("iam", "list-entities-for-policy", "--policy-arn", p["Arn"])
    assert [r["RoleName"] for r in ents["PolicyRoles"]] == [role]


@pytest.mark.parametrize("name,action", [
    ("AdministratorAccess", "*"),
    ("ReadOnlyAccess", None),
    ("PowerUserAccess", None),
    ("IAMFullAccess", None),
    ("IAMReadOnlyAccess", "iam:List*"),
    ("AmazonS3FullAccess", None),
    ("AmazonS3ReadOnlyAccess", "s3:Get*"),
    ("AmazonEC2FullAccess", None),
    ("AmazonEC2ReadOnlyAccess", "ec2:Describe*"),
    ("AWSCloudTrail_ReadOnlyAccess", None),
])
def test_aws_managed_policies_have_real_documents(tessera, iam, name, action):
    arn = f"arn:aws:iam::aws:policy/{name}"
    p = iam.get_policy(PolicyArn=arn)["Policy"]
    assert p["PolicyName"] == name and p["Arn"] == arn and p["Path"] == "/"
    assert p["DefaultVersionId"].startswith("v")
    v = iam.get_policy_version(PolicyArn=arn, VersionId=p["DefaultVersionId"])["PolicyVersion"]
    assert v["IsDefaultVersion"] is True
    document = v["Document"]
    assert isinstance(document, dict) and document["Version"] == "2012-10-17"
    statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
    assert statements and all(s["Effect"] in ("Allow", "Deny") for s in statements)
    if action:
        actions = []
        for s in statements:
            a = s.get("Action", [])
            actions += a if isinstance(a, list) else [a]
        assert action in actions
    # AWS managed policies cannot be changed or deleted by an account.
    fails(iam.create_policy_version, "AccessDenied", 403, PolicyArn=arn, PolicyDocument=json.dumps(doc("s3:*")))
    fails(iam.delete_policy, "AccessDenied", 403, PolicyArn=arn)


def test_aws_managed_policies_are_listed(tessera, iam):
    arns = set()
    for page in iam.get_paginator("list_policies").paginate(Scope="AWS"):
        arns |= {p["Arn"] for p in page["Policies"]}
    assert {ADMIN, READ_ONLY, IAM_READ, S3_READ, EC2_READ} <= arns
    assert all(a.startswith("arn:aws:iam::aws:policy/") for a in arns)


# ---------------------------------------------------------------------------------------------
# Permissions boundaries


def test_permissions_boundaries_on_users_and_roles(tessera, iam, acct):
    user, role = unique("pb-u-"), unique("pb-r-")
    iam.create_user(UserName=user, PermissionsBoundary=S3_READ)
    assert iam.get_user(UserName=user)["User"]["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": S3_READ}
    iam.put_user_permissions_boundary(UserName=user, PermissionsBoundary=IAM_READ)
    assert iam.get_user(UserName=user)["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == IAM_READ
    ents = iam.list_entities_for_policy(PolicyArn=IAM_READ, PolicyUsageFilter="PermissionsBoundary")
    assert user in [u["UserName"] for u in ents["PolicyUsers"]]
    iam.delete_user_permissions_boundary(UserName=user)
    assert "PermissionsBoundary" not in iam.get_user(UserName=user)["User"]

    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust(acct)))
    iam.put_role_permissions_boundary(RoleName=role, PermissionsBoundary=EC2_READ)
    assert iam.get_role(RoleName=role)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == EC2_READ
    iam.delete_role_permissions_boundary(RoleName=role)
    assert "PermissionsBoundary" not in iam.get_role(RoleName=role)["Role"]

    fails(iam.put_user_permissions_boundary, "NoSuchEntity", 404, UserName=user,
          PermissionsBoundary=f"arn:aws:iam::{acct}:policy/{unique('nopolicy-')}")
    fails(iam.put_role_permissions_boundary, "NoSuchEntity", 404, RoleName=unique("norole-"),
          PermissionsBoundary=EC2_READ)


def test_a_user_cannot_exceed_its_boundary(tessera, iam, acct):
    name = unique("bounded-")
    creds = user_with_key(tessera, tessera.root_creds, name, json.dumps(ALLOW_ALL), PermissionsBoundary=IAM_READ)
    bounded = tessera.client("iam", **creds)
    # Inside the boundary and the identity policy: allowed.
    assert "Users" in bounded.list_users(MaxItems=1)
    assert bounded.get_user(UserName=name)["User"]["UserName"] == name
    # The identity policy allows everything, but the boundary does not allow writes.
    err = fails(bounded.create_user, "AccessDenied", 403, UserName=unique("escape-"))
    assert f"User: arn:aws:iam::{acct}:user/{name} is not authorized to perform: iam:CreateUser" in err["Message"]
    fails(bounded.delete_user_permissions_boundary, "AccessDenied", 403, UserName=name)
    # The boundary also caps other services.
    with pytest.raises(CliError) as e:
        tessera.cli("s3", "mb", f"s3://{unique('bounded-bucket-')}", env=tessera.env_for(**creds))
    assert e.value.code == "AccessDenied"
    # Lifting the boundary lifts the cap.
    iam.delete_user_permissions_boundary(UserName=name)
    made = unique("now-allowed-")
    bounded.create_user(UserName=made)
    assert iam.get_user(UserName=made)["User"]["UserName"] == made


# ---------------------------------------------------------------------------------------------
# Pagination


def test_list_users_pagination_with_marker_and_max_items(tessera, iam):
    path = f"/{unique('page')}/"
    names = sorted(unique(f"pg{i}-") for i in range(7))
    for n in names:
        iam.create_user(UserName=n, Path=path)
    seen, marker, pages = [], None, []
    while True:
        kwargs = {"PathPrefix": path, "MaxItems": 3}
        if marker:
            kwargs["Marker"] = marker
        page = iam.list_users(**kwargs)
        pages.append((len(page["Users"]), page["IsTruncated"]))
        seen += [u["UserName"] for u in page["Users"]]
        if not page["IsTruncated"]:
            assert "Marker" not in page
            break
        marker = page["Marker"]
    assert pages == [(3, True), (3, True), (1, False)]
    assert sorted(seen) == names and len(seen) == 7

    # boto3's paginator and the AWS CLI's auto-pagination return them all.
    got = []
    for page in iam.get_paginator("list_users").paginate(PathPrefix=path, PaginationConfig={"PageSize": 2}):
        got += [u["UserName"] for u in page["Users"]]
    assert sorted(got) == names
    out = tessera.cli("iam", "list-users", "--path-prefix", path, "--page-size", "3")
    assert sorted(u["UserName"] for u in out["Users"]) == names and "NextToken" not in out
    first = tessera.cli("iam", "list-users", "--path-prefix", path, "--max-items", "4")
    assert len(first["Users"]) == 4 and first["NextToken"]
    rest = tessera.cli("iam", "list-users", "--path-prefix", path, "--starting-token", first["NextToken"])
    assert sorted(u["UserName"] for u in first["Users"] + rest["Users"]) == names

    fails(unvalidated(tessera).list_users, "ValidationError", 400, PathPrefix=path, MaxItems=0)


def test_list_roles_and_groups_paginate(tessera, iam, acct):
    path = f"/{unique('pager')}/"
    roles = sorted(unique(f"pr{i}-") for i in range(5))
    for r in roles:
        iam.create_role(RoleName=r, Path=path, AssumeRolePolicyDocument=json.dumps(trust(acct)))
    page = iam.list_roles(PathPrefix=path, MaxItems=2)
    assert len(page["Roles"]) == 2 and page["IsTruncated"] is True
    out = tessera.cli("iam", "list-roles", "--path-prefix", path, "--page-size", "2")
    assert sorted(r["RoleName"] for r in out["Roles"]) == roles
    groups = sorted(unique(f"pgr{i}-") for i in range(4))
    for g in groups:
        iam.create_group(GroupName=g, Path=path)
    out = tessera.cli("iam", "list-groups", "--path-prefix", path, "--page-size", "3")
    assert sorted(g["GroupName"] for g in out["Groups"]) == groups


# ---------------------------------------------------------------------------------------------
# Authorization


def test_iam_read_only_user_can_list_but_not_create(tessera, iam, acct):
    name = unique("reader-")
    iam.create_user(UserName=name)
    iam.attach_user_policy(UserName=name, PolicyArn=IAM_READ)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    creds = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    reader = tessera.client("iam", **creds)
    assert name in [u["UserName"] for u in reader.get_paginator("list_users").paginate().build_full_result()["Users"]]
    assert reader.get_policy(PolicyArn=IAM_READ)["Policy"]["PolicyName"] == "IAMReadOnlyAccess"
    reader.list_roles(MaxItems=1)
    reader.list_groups(MaxItems=1)

    target = unique("not-made-")
    err = fails(reader.create_user, "AccessDenied", 403, UserName=target)
    assert (f"User: arn:aws:iam::{acct}:user/{name} is not authorized to perform: iam:CreateUser "
            f"on resource: arn:aws:iam::{acct}:user/{target}") in err["Message"]
    fails(iam.get_user, "NoSuchEntity", 404, UserName=target)
    err = fails(reader.create_role, "AccessDenied", 403, RoleName=target,
                AssumeRolePolicyDocument=json.dumps(trust(acct)))
    assert f"iam:CreateRole on resource: arn:aws:iam::{acct}:role/{target}" in err["Message"]
    fails(reader.attach_user_policy, "AccessDenied", 403, UserName=name, PolicyArn=ADMIN)

    with pytest.raises(CliError) as e:
        tessera.cli("iam", "create-group", "--group-name", target, env=tessera.env_for(**creds))
    assert e.value.code == "AccessDenied"
    assert (f"User: arn:aws:iam::{acct}:user/{name} is not authorized to perform: iam:CreateGroup "
            f"on resource: arn:aws:iam::{acct}:group/{target}") in e.value.stderr
    assert tessera.cli("iam", "list-users", "--max-items", "1", env=tessera.env_for(**creds))["Users"]


def test_users_manage_only_their_own_access_keys(tessera, iam, acct):
    # IAM User Guide, "IAM: Allows IAM users to manage their own access keys" style.
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["iam:CreateAccessKey", "iam:ListAccessKeys", "iam:DeleteAccessKey"],
        "Resource": "arn:aws:iam::*:user/${aws:username}"}]})
    a, b = unique("keys-a-"), unique("keys-b-")
    ca = user_with_key(tessera, tessera.root_creds, a, policy)
    cb = user_with_key(tessera, tessera.root_creds, b, policy)
    ia, ib = tessera.client("iam", **ca), tessera.client("iam", **cb)

    # Each manages their own keys, with or without naming themselves.
    assert [k["AccessKeyId"] for k in ia.list_access_keys()["AccessKeyMetadata"]] == [ca["aws_access_key_id"]]
    new = ia.create_access_key(UserName=a)["AccessKey"]
    assert new["UserName"] == a
    assert len(ia.list_access_keys(UserName=a)["AccessKeyMetadata"]) == 2
    ia.delete_access_key(UserName=a, AccessKeyId=new["AccessKeyId"])
    assert len(ib.list_access_keys()["AccessKeyMetadata"]) == 1

    # Nobody touches another's keys.
    err = fails(ia.list_access_keys, "AccessDenied", 403, UserName=b)
    assert (f"User: arn:aws:iam::{acct}:user/{a} is not authorized to perform: iam:ListAccessKeys "
            f"on resource: arn:aws:iam::{acct}:user/{b}") in err["Message"]
    fails(ia.create_access_key, "AccessDenied", 403, UserName=b)
    fails(ib.delete_access_key, "AccessDenied", 403, UserName=a, AccessKeyId=ca["aws_access_key_id"])
    assert len(iam.list_access_keys(UserName=b)["AccessKeyMetadata"]) == 1
    assert len(iam.list_access_keys(UserName=a)["AccessKeyMetadata"]) == 1
    # The policy allows only the key actions.
    fails(ia.list_users, "AccessDenied", 403)
    with pytest.raises(CliError) as e:
        tessera.cli("iam", "list-access-keys", "--user-name", a, env=tessera.env_for(**cb))
    assert e.value.code == "AccessDenied"


# ---------------------------------------------------------------------------------------------
# Quotas, wire format, and the effect of policies


def test_policy_size_and_attachment_quotas(tessera, iam, acct):
    user, group = unique("quota-u-"), unique("quota-g-")
    iam.create_user(UserName=user)
    # Inline policies of a user: 2,048 characters in all.
    big = doc([f"s3:GetObject{i:04d}" for i in range(120)])
    assert len(json.dumps(big)) > 2048
    err = fails(iam.put_user_policy, "LimitExceeded", 409, UserName=user, PolicyName="big",
                PolicyDocument=json.dumps(big))
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == []
    # Managed policies: 6,144 characters.
    huge = doc([f"s3:GetObject{i:04d}" for i in range(400)])
    assert len(json.dumps(huge).replace(" ", "")) > 6144
    fails(iam.create_policy, "LimitExceeded", 409, PolicyName=unique("huge-"), PolicyDocument=json.dumps(huge))
    # Trust policies: 2,048 characters.
    principals = [f"arn:aws:iam::{acct}:user/trusted-user-number-{i:03d}" for i in range(60)]
    big_trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": principals}, "Action": "sts:AssumeRole"}]}
    assert len(json.dumps(big_trust)) > 2048
    fails(iam.create_role, "LimitExceeded", 409, RoleName=unique("bigtrust-"),
          AssumeRolePolicyDocument=json.dumps(big_trust))

    # At most 10 managed policies attached to a user.
    arns = [iam.create_policy(PolicyName=unique(f"q{i}-"), PolicyDocument=json.dumps(doc("s3:GetObject")))
            ["Policy"]["Arn"] for i in range(11)]
    for arn in arns[:10]:
        iam.attach_user_policy(UserName=user, PolicyArn=arn)
    fails(iam.attach_user_policy, "LimitExceeded", 409, UserName=user, PolicyArn=arns[10])
    assert len(iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]) == 10

    # A user in at most 10 groups.
    groups = [unique(f"qg{i}-") for i in range(11)]
    for g in groups:
        iam.create_group(GroupName=g)
    for g in groups[:10]:
        iam.add_user_to_group(GroupName=g, UserName=user)
    fails(iam.add_user_to_group, "LimitExceeded", 409, GroupName=groups[10], UserName=user)
    assert len(iam.list_groups_for_user(UserName=user)["Groups"]) == 10


def test_documents_are_url_encoded_on_the_wire(tessera, acct):
    iam = tessera.client("iam")
    bodies = []
    iam.meta.events.register("before-parse.iam.*",
                             lambda response_dict=None, **kw: bodies.append(response_dict["body"].decode()))
    name = unique("wire-")
    policy = trust(acct)
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(policy))
    bodies.clear()
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == policy
    raw = bodies[-1]
    assert "<AssumeRolePolicyDocument>%7B%22Version%22%3A" in raw
    assert '{"Version"' not in raw
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(doc("s3:*")))
    bodies.clear()
    assert iam.get_role_policy(RoleName=name, PolicyName="p")["PolicyDocument"] == doc("s3:*")
    assert "<PolicyDocument>%7B%22" in bodies[-1]


def test_group_policies_apply_to_members_only(tessera, iam, acct):
    group, name = unique("eff-g-"), unique("eff-u-")
    creds = user_with_key(tessera, tessera.root_creds, name)
    me = tessera.client("iam", **creds)
    iam.create_group(GroupName=group)
    iam.attach_group_policy(GroupName=group, PolicyArn=IAM_READ)
    err = fails(me.list_users, "AccessDenied", 403)
    assert f"User: arn:aws:iam::{acct}:user/{name} is not authorized to perform: iam:ListUsers" in err["Message"]
    iam.add_user_to_group(GroupName=group, UserName=name)
    assert "Users" in me.list_users(MaxItems=1)
    iam.remove_user_from_group(GroupName=group, UserName=name)
    fails(me.list_users, "AccessDenied", 403)


def test_explicit_deny_beats_administrator_access(tessera, iam, acct):
    name = unique("denied-admin-")
    creds = user_with_key(tessera, tessera.root_creds, name,
                          json.dumps(doc("iam:CreateUser", effect="Deny")))
    iam.attach_user_policy(UserName=name, PolicyArn=ADMIN)
    me = tessera.client("iam", **creds)
    assert "Users" in me.list_users(MaxItems=1)
    err = fails(me.create_user, "AccessDenied", 403, UserName=unique("x-"))
    assert "with an explicit deny in an identity-based policy" in err["Message"]
    made = unique("allowed-group-")
    me.create_group(GroupName=made)
    assert iam.get_group(GroupName=made)["Group"]["GroupName"] == made


def test_a_role_cannot_exceed_its_boundary(tessera, iam, acct):
    role = unique("bounded-r-")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust(acct)), PermissionsBoundary=IAM_READ)
    iam.attach_role_policy(RoleName=role, PolicyArn=ADMIN)
    caller = user_with_key(tessera, tessera.root_creds, unique("assumer-"),
                           json.dumps(doc("sts:AssumeRole", f"arn:aws:iam::{acct}:role/{role}")))
    c = tessera.client("sts", **caller).assume_role(RoleArn=f"arn:aws:iam::{acct}:role/{role}",
                                                    RoleSessionName="sess")["Credentials"]
    session = tessera.client("iam", aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                             aws_session_token=c["SessionToken"])
    assert "Roles" in session.list_roles(MaxItems=1)
    target = unique("escape-")
    err = fails(session.create_user, "AccessDenied", 403, UserName=target)
    assert (f"User: arn:aws:sts::{acct}:assumed-role/{role}/sess is not authorized to perform: iam:CreateUser "
            f"on resource: arn:aws:iam::{acct}:user/{target}") in err["Message"]
    assert "LastUsedDate" in iam.get_role(RoleName=role)["Role"]["RoleLastUsed"]


def test_renames_to_taken_names_and_renamed_users_keep_their_attachments(tessera, iam):
    a, b, group = unique("ren-a-"), unique("ren-b-"), unique("ren-g-")
    iam.create_user(UserName=a)
    iam.create_user(UserName=b)
    iam.create_group(GroupName=group)
    fails(iam.update_user, "EntityAlreadyExists", 409, UserName=a, NewUserName=b)
    fails(iam.update_user, "NoSuchEntity", 404, UserName=unique("nobody-"), NewUserName=unique("x-"))
    other = unique("ren-g2-")
    iam.create_group(GroupName=other)
    fails(iam.update_group, "EntityAlreadyExists", 409, GroupName=group, NewGroupName=other)
    iam.add_user_to_group(GroupName=group, UserName=a)
    iam.attach_user_policy(UserName=a, PolicyArn=S3_READ)
    iam.put_user_policy(UserName=a, PolicyName="p", PolicyDocument=json.dumps(doc("s3:List*")))
    new = unique("ren-new-")
    iam.update_user(UserName=a, NewUserName=new)
    assert [u["UserName"] for u in iam.get_group(GroupName=group)["Users"]] == [new]
    assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=new)["AttachedPolicies"]] == [S3_READ]
    assert iam.list_user_policies(UserName=new)["PolicyNames"] == ["p"]
    ents = iam.list_entities_for_policy(PolicyArn=S3_READ, EntityFilter="User")
    names = [u["UserName"] for u in ents["PolicyUsers"]]
    assert new in names and a not in names


def test_policy_document_validation_by_kind(tessera, iam, acct):
    user, role = unique("val-u-"), unique("val-r-")
    iam.create_user(UserName=user)
    with_principal = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:root"}, "Action": "s3:*", "Resource": "*"}]}
    # Identity policies must not name a principal.
    fails(iam.put_user_policy, "MalformedPolicyDocument", 400, UserName=user, PolicyName="p",
          PolicyDocument=json.dumps(with_principal))
    fails(iam.create_policy, "MalformedPolicyDocument", 400, PolicyName=unique("mp-"),
          PolicyDocument=json.dumps(with_principal))
    # Trust policies must name one, and no resource.
    fails(iam.create_role, "MalformedPolicyDocument", 400, RoleName=role,
          AssumeRolePolicyDocument=json.dumps(doc("sts:AssumeRole")))
    no_principal = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}
    fails(iam.create_role, "MalformedPolicyDocument", 400, RoleName=role,
          AssumeRolePolicyDocument=json.dumps(no_principal))
    fails(iam.get_role, "NoSuchEntity", 404, RoleName=role)
    # Unknown version strings and effects.
    fails(iam.put_user_policy, "MalformedPolicyDocument", 400, UserName=user, PolicyName="p",
          PolicyDocument=json.dumps({"Version": "2013-01-01", "Statement": doc("s3:*")["Statement"]}))
    fails(iam.put_user_policy, "MalformedPolicyDocument", 400, UserName=user, PolicyName="p",
          PolicyDocument=json.dumps(doc("s3:*", effect="Permit")))
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == []


def test_trust_policy_naming_a_missing_user_is_an_invalid_principal(tessera, iam, acct):
    role = unique("ghost-r-")
    ghost = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"AWS": f"arn:aws:iam::{acct}:user/{unique('ghost-')}"}}]}
    err = fails(iam.create_role, "MalformedPolicyDocument", 400, RoleName=role,
                AssumeRolePolicyDocument=json.dumps(ghost))
    assert "Invalid principal in policy" in err["Message"]


def test_trust_policy_naming_a_missing_user_of_another_tessera_account_is_an_invalid_principal(tessera, iam, accounts):
    # IAM User Guide, "Troubleshooting IAM policies": a trust policy's user or role must exist,
    # in another account too (IAM stores its unique id).
    other = accounts.create(unique("trusted-"))
    other_iam = tessera.client("iam", **accounts.admin_creds(other))
    real = unique("real-")
    other_iam.create_user(UserName=real)

    def trusting(principal):
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": principal}}]})

    ghost = f"arn:aws:iam::{other}:user/{unique('ghost-')}"
    err = fails(iam.create_role, "MalformedPolicyDocument", 400, RoleName=unique("x-r-"),
                AssumeRolePolicyDocument=trusting(ghost))
    assert err["Message"] == f'Invalid principal in policy: "AWS":"{ghost}"'
    role = unique("x-r-")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trusting(f"arn:aws:iam::{other}:user/{real}"))
    fails(iam.update_assume_role_policy, "MalformedPolicyDocument", 400, RoleName=role,
          PolicyDocument=trusting(f"arn:aws:iam::{other}:role/{unique('ghost-')}"))
    # The account itself, and accounts this Tessera does not hold, are not looked up.
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=trusting(f"arn:aws:iam::{other}:root"))
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=trusting("arn:aws:iam::999988887777:user/Anyone"))


def test_invalid_policy_arn_is_invalid_input(tessera, iam):
    user = unique("arn-u-")
    iam.create_user(UserName=user)
    fails(iam.attach_user_policy, "InvalidInput", 400, UserName=user, PolicyArn="not-an-arn-at-all-really")
    fails(iam.get_policy, "InvalidInput", 400, PolicyArn="arn:aws:s3:::not-a-policy")


def test_get_user_without_a_name_is_the_caller(tessera, acct):
    name = unique("self-")
    creds = user_with_key(tessera, tessera.root_creds, name,
                          json.dumps(doc("iam:GetUser", "arn:aws:iam::*:user/${aws:username}")))
    me = tessera.client("iam", **creds).get_user()["User"]
    assert me["UserName"] == name and me["Arn"] == f"arn:aws:iam::{acct}:user/{name}"
    out = tessera.cli("iam", "get-user", env=tessera.env_for(**creds))["User"]
    assert out["UserName"] == name


def test_recreated_entities_get_new_ids(tessera, iam, acct):
    name = unique("again-")
    first = iam.create_user(UserName=name)["User"]["UserId"]
    iam.delete_user(UserName=name)
    second = iam.create_user(UserName=name)["User"]["UserId"]
    assert first != second and second.startswith("AIDA")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust(acct)))
    r1 = iam.get_role(RoleName=name)["Role"]["RoleId"]
    iam.delete_role(RoleName=name)
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust(acct)))
    assert iam.get_role(RoleName=name)["Role"]["RoleId"] != r1


def test_role_max_session_duration_bounds_assume_role(tessera, iam, acct):
    role = unique("dur-r-")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust(acct)), MaxSessionDuration=7200)
    caller = user_with_key(tessera, tessera.root_creds, unique("dur-u-"),
                           json.dumps(doc("sts:AssumeRole", f"arn:aws:iam::{acct}:role/{role}")))
    sts = tessera.client("sts", **caller)
    arn = f"arn:aws:iam::{acct}:role/{role}"
    assert sts.assume_role(RoleArn=arn, RoleSessionName="ok", DurationSeconds=7200)["Credentials"]["AccessKeyId"]
    fails(sts.assume_role, "ValidationError", 400, RoleArn=arn, RoleSessionName="long", DurationSeconds=7201)
    iam.update_role(RoleName=role, MaxSessionDuration=3600)
    fails(sts.assume_role, "ValidationError", 400, RoleArn=arn, RoleSessionName="long", DurationSeconds=7200)


def test_policy_tags_and_only_attached_listing(tessera, iam):
    path = f"/{unique('tagp')}/"
    used = iam.create_policy(PolicyName=unique("used-"), Path=path, PolicyDocument=json.dumps(doc("s3:*")),
                             Tags=[{"Key": "k", "Value": "v"}])["Policy"]["Arn"]
    idle = iam.create_policy(PolicyName=unique("idle-"), Path=path, PolicyDocument=json.dumps(doc("s3:*")))["Policy"]["Arn"]
    assert iam.list_policy_tags(PolicyArn=used)["Tags"] == [{"Key": "k", "Value": "v"}]
    iam.tag_policy(PolicyArn=idle, Tags=[{"Key": "a", "Value": "b"}])
    iam.untag_policy(PolicyArn=used, TagKeys=["k"])
    assert iam.list_policy_tags(PolicyArn=used)["Tags"] == []
    user = unique("tagp-u-")
    iam.create_user(UserName=user)
    iam.attach_user_policy(UserName=user, PolicyArn=used)
    listed = [p["Arn"] for p in iam.list_policies(Scope="Local", PathPrefix=path)["Policies"]]
    assert sorted(listed) == sorted([used, idle])
    attached = [p["Arn"] for p in iam.list_policies(Scope="Local", PathPrefix=path, OnlyAttached=True)["Policies"]]
    assert attached == [used]


def test_name_path_description_and_tag_lengths(tessera, iam, acct):
    raw = unvalidated(tessera)
    # Names up to 64 characters are fine; 65 is not.
    longest = unique("n") + "x" * 40
    longest = longest + "y" * (64 - len(longest))
    iam.create_user(UserName=longest)
    iam.create_role(RoleName=longest, AssumeRolePolicyDocument=json.dumps(trust(acct)))
    iam.create_group(GroupName=longest[:128])
    fails(raw.create_role, "ValidationError", 400, RoleName=longest + "z",
          AssumeRolePolicyDocument=json.dumps(trust(acct)))
    fails(raw.create_user, "ValidationError", 400, UserName=longest + "z")
    # Paths up to 512 characters.
    fails(raw.create_user, "ValidationError", 400, UserName=unique("lp-"), Path="/" + "p" * 511 + "/")
    # Role descriptions up to 1,000 characters.
    fails(raw.create_role, "ValidationError", 400, RoleName=unique("ld-"),
          AssumeRolePolicyDocument=json.dumps(trust(acct)), Description="d" * 1001)
    # Tag keys up to 128 characters, values up to 256.
    fails(raw.tag_user, "ValidationError", 400, UserName=longest, Tags=[{"Key": "k" * 129, "Value": "v"}])
    fails(raw.tag_user, "ValidationError", 400, UserName=longest, Tags=[{"Key": "k", "Value": "v" * 257}])
    iam.tag_user(UserName=longest, Tags=[{"Key": "k" * 128, "Value": "v" * 256}])
    assert iam.list_user_tags(UserName=longest)["Tags"] == [{"Key": "k" * 128, "Value": "v" * 256}]


def test_membership_lookups_of_missing_entities(tessera, iam):
    fails(iam.list_groups_for_user, "NoSuchEntity", 404, UserName=unique("nobody-"))
    fails(iam.list_user_policies, "NoSuchEntity", 404, UserName=unique("nobody-"))
    fails(iam.list_attached_role_policies, "NoSuchEntity", 404, RoleName=unique("norole-"))
    fails(iam.list_group_policies, "NoSuchEntity", 404, GroupName=unique("nogroup-"))
    fails(iam.list_user_tags, "NoSuchEntity", 404, UserName=unique("nobody-"))
    fails(iam.delete_group, "NoSuchEntity", 404, GroupName=unique("nogroup-"))
    fails(iam.delete_role, "NoSuchEntity", 404, RoleName=unique("norole-"))


def test_get_group_paginates_its_users(tessera, iam):
    group = unique("big-g-")
    iam.create_group(GroupName=group)
    users = sorted(unique(f"gm{i}-") for i in range(5))
    for u in users:
        iam.create_user(UserName=u)
        iam.add_user_to_group(GroupName=group, UserName=u)
    page = iam.get_group(GroupName=group, MaxItems=2)
    assert len(page["Users"]) == 2 and page["IsTruncated"] is True
    seen = [u["UserName"] for u in page["Users"]]
    while page["IsTruncated"]:
        page = iam.get_group(GroupName=group, MaxItems=2, Marker=page["Marker"])
        seen += [u["UserName"] for u in page["Users"]]
    assert sorted(seen) == users
    out = tessera.cli("iam", "get-group", "--group-name", group, "--page-size", "2")
    assert sorted(u["UserName"] for u in out["Users"]) == users


def test_authorization_uses_resource_arns_with_paths_and_iam_condition_keys(tessera, iam, acct):
    dev = f"/{unique('dev')}/"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:CreateUser", "Resource": f"arn:aws:iam::{acct}:user{dev}*",
         "Condition": {"StringEquals": {"iam:PermissionsBoundary": S3_READ}}},
        {"Effect": "Allow", "Action": "iam:AttachUserPolicy", "Resource": f"arn:aws:iam::{acct}:user{dev}*",
         "Condition": {"ArnEquals": {"iam:PolicyARN": [S3_READ, EC2_READ]}}},
        {"Effect": "Allow", "Action": "iam:DeleteUser", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/team": "blue"}}},
    ]}
    name = unique("delegate-")
    me = tessera.client("iam", **user_with_key(tessera, tessera.root_creds, name, json.dumps(policy)))

    # CreateUser: only under the path, only with the required boundary.
    made = unique("dev-user-")
    me.create_user(UserName=made, Path=dev, PermissionsBoundary=S3_READ)
    assert iam.get_user(UserName=made)["User"]["Path"] == dev
    elsewhere = unique("prod-user-")
    err = fails(me.create_user, "AccessDenied", 403, UserName=elsewhere, Path="/prod/", PermissionsBoundary=S3_READ)
    assert f"iam:CreateUser on resource: arn:aws:iam::{acct}:user/prod/{elsewhere}" in err["Message"]
    fails(me.create_user, "AccessDenied", 403, UserName=unique("unbounded-"), Path=dev)
    fails(me.create_user, "AccessDenied", 403, UserName=unique("wrongbound-"), Path=dev, PermissionsBoundary=ADMIN)

    # AttachUserPolicy: only the listed policies.
    me.attach_user_policy(UserName=made, PolicyArn=EC2_READ)
    err = fails(me.attach_user_policy, "AccessDenied", 403, UserName=made, PolicyArn=ADMIN)
    assert f"iam:AttachUserPolicy on resource: arn:aws:iam::{acct}:user{dev}{made}" in err["Message"]
    assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=made)["AttachedPolicies"]] == [EC2_READ]

    # DeleteUser: only users tagged team=blue.
    blue, red = unique("blue-"), unique("red-")
    iam.create_user(UserName=blue, Tags=[{"Key": "team", "Value": "blue"}])
    iam.create_user(UserName=red, Tags=[{"Key": "team", "Value": "red"}])
    fails(me.delete_user, "AccessDenied", 403, UserName=red)
    me.delete_user(UserName=blue)
    fails(iam.get_user, "NoSuchEntity", 404, UserName=blue)
    assert iam.get_user(UserName=red)["User"]["UserName"] == red


def test_iam_entities_are_per_account(tessera, accounts):
    a, b = accounts.create("iam-ents-a"), accounts.create("iam-ents-b")
    ia, ib = tessera.client("iam", **accounts.admin_creds(a)), tessera.client("iam", **accounts.admin_creds(b))
    # The same names in two accounts are two entities.
    ua = ia.create_user(UserName="Sandy")["User"]
    ub = ib.create_user(UserName="Sandy")["User"]
    assert ua["Arn"] == f"arn:aws:iam::{a}:user/Sandy" and ub["Arn"] == f"arn:aws:iam::{b}:user/Sandy"
    assert ua["UserId"] != ub["UserId"]
    only_a = unique("only-a-")
    ia.create_group(GroupName=only_a)
    fails(ib.get_group, "NoSuchEntity", 404, GroupName=only_a)
    assert only_a not in [g["GroupName"] for g in ib.list_groups()["Groups"]]
    # Another account's customer managed policy cannot be attached.
    arn = ib.create_policy(PolicyName=unique("b-policy-"), PolicyDocument=json.dumps(doc("s3:*")))["Policy"]["Arn"]
    assert arn.startswith(f"arn:aws:iam::{b}:policy/")
    fails(ia.attach_user_policy, "NoSuchEntity", 404, UserName="Sandy", PolicyArn=arn)
    # AWS managed policies are shared by all accounts.
    ia.attach_user_policy(UserName="Sandy", PolicyArn=S3_READ)
    ib.attach_user_policy(UserName="Sandy", PolicyArn=S3_READ)
    ids = [u["UserId"] for u in ia.list_entities_for_policy(PolicyArn=S3_READ, EntityFilter="User")["PolicyUsers"]
           if u["UserName"] == "Sandy"]
    assert ids == [ua["UserId"]]


def test_instance_profiles_hold_one_role(tessera, iam, acct):
    name, path = unique("ip-"), f"/{unique('ipp')}/"
    role, other = unique("ip-r-"), unique("ip-r2-")
    for r in (role, other):
        iam.create_role(RoleName=r, AssumeRolePolicyDocument=json.dumps(trust(acct)))
    p = iam.create_instance_profile(InstanceProfileName=name, Path=path,
                                    Tags=[{"Key": "k", "Value": "v"}])["InstanceProfile"]
    assert p["Arn"] == f"arn:aws:iam::{acct}:instance-profile{path}{name}" and p["Roles"] == []
    assert p["InstanceProfileId"].startswith("AIPA")
    fails(iam.create_instance_profile, "EntityAlreadyExists", 409, InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
    fails(iam.add_role_to_instance_profile, "LimitExceeded", 409, InstanceProfileName=name, RoleName=other)
    got = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == [role]
    assert got["Roles"][0]["AssumeRolePolicyDocument"] == trust(acct)
    assert [x["InstanceProfileName"] for x in iam.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"]] == [name]
    assert [x["InstanceProfileName"] for x in iam.list_instance_profiles(PathPrefix=path)["InstanceProfiles"]] == [name]
    assert iam.list_instance_profile_tags(InstanceProfileName=name)["Tags"] == [{"Key": "k", "Value": "v"}]
    fails(iam.delete_instance_profile, "DeleteConflict", 409, InstanceProfileName=name)
    iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=role)
    fails(iam.remove_role_from_instance_profile, "NoSuchEntity", 404, InstanceProfileName=name, RoleName=role)
    iam.delete_instance_profile(InstanceProfileName=name)
    fails(iam.get_instance_profile, "NoSuchEntity", 404, InstanceProfileName=name)


def test_policy_version_errors(tessera, iam, acct):
    missing = f"arn:aws:iam::{acct}:policy/{unique('nopolicy-')}"
    fails(iam.create_policy_version, "NoSuchEntity", 404, PolicyArn=missing, PolicyDocument=json.dumps(doc("s3:*")))
    fails(iam.list_policy_versions, "NoSuchEntity", 404, PolicyArn=missing)
    arn = iam.create_policy(PolicyName=unique("pv-"), PolicyDocument=json.dumps(doc("s3:*")))["Policy"]["Arn"]
    fails(iam.delete_policy_version, "NoSuchEntity", 404, PolicyArn=arn, VersionId="v9")
    fails(iam.get_policy_version, "NoSuchEntity", 404, PolicyArn=arn, VersionId="v9")
    fails(iam.delete_policy_version, "DeleteConflict", 409, PolicyArn=arn, VersionId="v1")
    fails(unvalidated(tessera).get_policy_version, "ValidationError", 400, PolicyArn=arn, VersionId="version-one")


def test_tag_keys_are_case_insensitive(tessera, iam, acct):
    name = unique("case-tags-")
    iam.create_user(UserName=name, Tags=[{"Key": "Team", "Value": "blue"}])
    err = fails(iam.tag_user, "InvalidInput", 400, UserName=name,
                Tags=[{"Key": "env", "Value": "a"}, {"Key": "ENV", "Value": "b"}])
    assert "Duplicate tag keys found" in err["Message"]
    assert iam.list_user_tags(UserName=name)["Tags"] == [{"Key": "Team", "Value": "blue"}]
