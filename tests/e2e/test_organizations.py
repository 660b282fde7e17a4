"""AWS Organizations through the AWS CLI and boto3 (shared/CONTRACT.md "Accounts", issue 4 item 5):
the organization, member accounts with OrganizationAccountAccessRole, OUs, moves, SCPs and their
attachments, tags, every error path, and an SCP on an OU enforced on a member account (once STS
AssumeRole and the policy engine are there)."""

import json
import time

import botocore.exceptions
import pytest

from conftest import CliError, Tessera, _require_binary, unique

SCP = "SERVICE_CONTROL_POLICY"
DENY_S3 = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]})


def code_of(e):
    return e.response["Error"]["Code"]


def expect(fn, code, reason=None, **kwargs):
    """Call a boto3 operation that must fail with `code` (and `Reason`)."""
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(**kwargs)
    assert code_of(e.value) == code, e.value.response
    if reason is not None:
        assert e.value.response.get("Reason") == reason, e.value.response
    return e.value


def wait_for_account(org, request_id, timeout=30):
    """Poll DescribeCreateAccountStatus as a script on AWS would."""
    deadline = time.time() + timeout
    while True:
        status = org.describe_create_account_status(CreateAccountRequestId=request_id)["CreateAccountStatus"]
        if status["State"] != "IN_PROGRESS" or time.time() > deadline:
            return status
        time.sleep(0.2)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server of this module's own: an organization is one per management account, so the
    session server (shared with other files) is not used."""
    _require_binary()
    t = Tessera(tmp_path_factory.mktemp("orgs") / "data").start()
    yield t
    t.stop()


@pytest.fixture(scope="module")
def world(server):
    """The contract's flow through the AWS CLI: an organization and two member accounts."""
    created = server.cli("organizations", "create-organization")["Organization"]
    accounts = []
    for name in ("Dev", "Prod"):
        status = server.cli("organizations", "create-account", "--email", f"{name.lower()}@example.com",
                            "--account-name", name)["CreateAccountStatus"]
        assert status["State"] == "IN_PROGRESS"
        assert status["Id"].startswith("car-")
        for _ in range(100):
            status = server.cli("organizations", "describe-create-account-status",
                                "--create-account-request-id", status["Id"])["CreateAccountStatus"]
            if status["State"] != "IN_PROGRESS":
                break
        assert status["State"] == "SUCCEEDED", status
        accounts.append(status["AccountId"])
    root = server.cli("organizations", "list-roots")["Roots"][0]
    return {"org": created, "root": root["Id"], "accounts": accounts, "t": server,
            "mgmt": server.cli("sts", "get-caller-identity")["Account"]}


@pytest.fixture
def org(world):
    return world["t"].client("organizations")


# --- The organization -------------------------------------------------------------------------

def test_contract_flow_created_the_organization(world):
    o = world["org"]
    assert o["Id"].startswith("o-") and len(o["Id"]) == 12 and o["Id"][2:].isalnum()
    assert o["Id"][2:] == o["Id"][2:].lower()
    assert o["Arn"] == f"arn:aws:organizations::{world['mgmt']}:organization/{o['Id']}"
    assert o["MasterAccountId"] == world["mgmt"]
    assert o["MasterAccountArn"] == f"arn:aws:organizations::{world['mgmt']}:account/{o['Id']}/{world['mgmt']}"
    assert o["FeatureSet"] == "ALL"
    assert "@" in o["MasterAccountEmail"]
    for a in world["accounts"]:
        assert len(a) == 12 and a.isdigit() and a != world["mgmt"]


def test_describe_organization_and_roots(world, org):
    o = org.describe_organization()["Organization"]
    assert o["Id"] == world["org"]["Id"]
    roots = org.list_roots()["Roots"]
    assert len(roots) == 1
    r = roots[0]
    assert r["Id"].startswith("r-") and len(r["Id"]) == 6
    assert r["Arn"] == f"arn:aws:organizations::{world['mgmt']}:root/{o['Id']}/{r['Id']}"
    assert r["Name"] == "Root"


def test_create_organization_twice_is_already_in_organization(world):
    with pytest.raises(CliError) as e:
        world["t"].cli("organizations", "create-organization")
    assert e.value.code == "AlreadyInOrganizationException"


def test_not_in_use_before_create_and_after_delete(fresh_tessera):
    o = fresh_tessera.client("organizations")
    expect(o.describe_organization, "AWSOrganizationsNotInUseException")
    expect(o.list_accounts, "AWSOrganizationsNotInUseException")
    expect(o.create_account, "AWSOrganizationsNotInUseException", Email="x@example.com", AccountName="x")
    expect(o.create_organization, "InvalidInputException", FeatureSet="HALF")
    created = o.create_organization(FeatureSet="CONSOLIDATED_BILLING")["Organization"]
    assert created["FeatureSet"] == "CONSOLIDATED_BILLING"
    root = o.list_roots()["Roots"][0]["Id"]
    expect(o.enable_policy_type, "PolicyTypeNotAvailableForOrganizationException", RootId=root, PolicyType=SCP)
    o.delete_organization()
    expect(o.describe_organization, "AWSOrganizationsNotInUseException")
    again = o.create_organization()["Organization"]
    assert again["Id"] != created["Id"]


def test_delete_organization_with_members_is_refused(fresh_tessera):
    o = fresh_tessera.client("organizations")
    o.create_organization()
    car = o.create_account(Email="m@example.com", AccountName="M")["CreateAccountStatus"]
    member = wait_for_account(o, car["Id"])["AccountId"]
    expect(o.delete_organization, "OrganizationNotEmptyException")
    expect(o.remove_account_from_organization, "MasterCannotLeaveOrganizationException",
           AccountId=fresh_tessera.cli("sts", "get-caller-identity")["Account"])
    o.remove_account_from_organization(AccountId=member)
    expect(o.describe_account, "AccountNotFoundException", AccountId=member)
    o.delete_organization()


# --- Accounts --------------------------------------------------------------------------------

def test_accounts_are_listed_and_described(world, org):
    ids = [a["Id"] for a in org.list_accounts()["Accounts"]]
    assert set(ids) == {world["mgmt"], *world["accounts"]}
    dev = org.describe_account(AccountId=world["accounts"][0])["Account"]
    assert dev["Name"] == "Dev"
    assert dev["Email"] == "dev@example.com"
    assert dev["Status"] == "ACTIVE"
    assert dev["JoinedMethod"] == "CREATED"
    assert dev["Arn"] == f"arn:aws:organizations::{world['mgmt']}:account/{world['org']['Id']}/{dev['Id']}"
    mgmt = org.describe_account(AccountId=world["mgmt"])["Account"]
    assert mgmt["JoinedMethod"] == "INVITED"
    expect(org.describe_account, "AccountNotFoundException", AccountId="111111111111")
    expect(org.describe_account, "InvalidInputException", "INVALID_PATTERN", AccountId="12345")


def test_accounts_paginate(world, org):
    pages = list(org.get_paginator("list_accounts").paginate(PaginationConfig={"PageSize": 1}))
    assert len(pages) == 3
    assert all(len(p["Accounts"]) == 1 for p in pages)
    assert sorted(a["Id"] for p in pages for a in p["Accounts"]) == sorted([world["mgmt"], *world["accounts"]])
    expect(org.list_accounts, "InvalidInputException", "MAX_VALUE_EXCEEDED", MaxResults=21)
    expect(org.list_accounts, "InvalidInputException", "INVALID_NEXT_TOKEN", NextToken="garbage")


def test_create_account_with_boto3_role_name_and_tags(world, org):
    name = unique("acct")
    car = org.create_account(Email=f"{name}@example.com", AccountName=name, RoleName="Admin",
                             IamUserAccessToBilling="DENY", Tags=[{"Key": "team", "Value": "blue"}])
    status = wait_for_account(org, car["CreateAccountStatus"]["Id"])
    assert status["State"] == "SUCCEEDED"
    assert status["AccountName"] == name
    assert isinstance(status["RequestedTimestamp"], type(status["CompletedTimestamp"]))
    new = status["AccountId"]
    assert org.list_tags_for_resource(ResourceId=new)["Tags"] == [{"Key": "team", "Value": "blue"}]
    succeeded = org.list_create_account_status(States=["SUCCEEDED"])["CreateAccountStatuses"]
    assert new in [s.get("AccountId") for s in succeeded]


def test_duplicate_email_fails_as_aws(world, org):
    car = org.create_account(Email="DEV@example.com", AccountName="Again")["CreateAccountStatus"]
    assert car["State"] == "IN_PROGRESS"
    status = wait_for_account(org, car["Id"])
    assert status["State"] == "FAILED"
    assert status["FailureReason"] == "EMAIL_ALREADY_EXISTS"
    assert "AccountId" not in status
    failed = org.list_create_account_status(States=["FAILED"])["CreateAccountStatuses"]
    assert car["Id"] in [s["Id"] for s in failed]


@pytest.mark.parametrize("kwargs,reason", [
    ({"Email": "abc@example.com", "AccountName": "n" * 51}, "MAX_LENGTH_EXCEEDED"),
    ({"Email": "no-at-sign.example.com", "AccountName": "x"}, "INVALID_PATTERN"),
    ({"Email": ("a" * 60) + "@example.com", "AccountName": "x"}, "MAX_LENGTH_EXCEEDED"),
    ({"Email": "abc@example.com", "AccountName": "x", "RoleName": "has space"}, "INVALID_PATTERN"),
    ({"Email": "abc@example.com", "AccountName": "x", "RoleName": "r" * 65}, "MAX_LENGTH_EXCEEDED"),
    ({"Email": "abc@example.com", "AccountName": "x", "IamUserAccessToBilling": "SOMETIMES"}, "INVALID_ENUM"),
    ({"Email": "abc@example.com", "AccountName": "x", "Tags": [{"Key": "k", "Value": "a*"}]}, "INVALID_PATTERN"),
    ({"Email": "abc@example.com", "AccountName": "x",
      "Tags": [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]}, "DUPLICATE_TAG_KEY"),
])
def test_create_account_bad_input_changes_nothing(world, org, kwargs, reason):
    before = len(org.list_create_account_status()["CreateAccountStatuses"])
    expect(org.create_account, "InvalidInputException", reason, **kwargs)
    assert len(org.list_create_account_status()["CreateAccountStatuses"]) == before


def test_create_account_status_not_found(world, org):
    expect(org.describe_create_account_status, "CreateAccountStatusNotFoundException",
           CreateAccountRequestId="car-" + "0" * 32)
    expect(org.describe_create_account_status, "InvalidInputException", "INVALID_PATTERN",
           CreateAccountRequestId="car-X")


# --- OUs -------------------------------------------------------------------------------------

def test_organizational_units_and_moves(world, org):
    root, (dev, prod) = world["root"], world["accounts"]
    org_id = world["org"]["Id"]
    name = unique("Workloads")
    ou = org.create_organizational_unit(ParentId=root, Name=name)["OrganizationalUnit"]
    assert ou["Id"].startswith(f"ou-{root[2:]}-") and len(ou["Id"]) == len(f"ou-{root[2:]}-") + 8
    assert ou["Arn"] == f"arn:aws:organizations::{world['mgmt']}:ou/{org_id}/{ou['Id']}"
    expect(org.create_organizational_unit, "DuplicateOrganizationalUnitException", ParentId=root, Name=name)
    expect(org.create_organizational_unit, "ParentNotFoundException", ParentId="ou-zzzz-zzzzzzzz", Name="x")
    expect(org.create_organizational_unit, "InvalidInputException", "INVALID_PATTERN", ParentId="nope", Name="x")
    expect(org.create_organizational_unit, "InvalidInputException", "MAX_LENGTH_EXCEEDED", ParentId=root, Name="n" * 129)
    child = org.create_organizational_unit(ParentId=ou["Id"], Name="Team")["OrganizationalUnit"]
    assert org.describe_organizational_unit(OrganizationalUnitId=child["Id"])["OrganizationalUnit"]["Name"] == "Team"

    listed = org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]
    assert ou["Id"] in [x["Id"] for x in listed]
    children = org.list_children(ParentId=ou["Id"], ChildType="ORGANIZATIONAL_UNIT")["Children"]
    assert children == [{"Id": child["Id"], "Type": "ORGANIZATIONAL_UNIT"}]
    assert org.list_parents(ChildId=child["Id"])["Parents"] == [{"Id": ou["Id"], "Type": "ORGANIZATIONAL_UNIT"}]
    assert org.list_parents(ChildId=ou["Id"])["Parents"] == [{"Id": root, "Type": "ROOT"}]
    expect(org.list_parents, "ChildNotFoundException", ChildId="111111111111")
    expect(org.list_children, "ParentNotFoundException", ParentId="ou-zzzz-zzzzzzzz", ChildType="ACCOUNT")

    # MoveAccount: the source must be the account's parent.
    expect(org.move_account, "SourceParentNotFoundException", AccountId=dev, SourceParentId=ou["Id"],
           DestinationParentId=child["Id"])
    expect(org.move_account, "DestinationParentNotFoundException", AccountId=dev, SourceParentId=root,
           DestinationParentId="ou-zzzz-zzzzzzzz")
    expect(org.move_account, "DuplicateAccountException", AccountId=dev, SourceParentId=root, DestinationParentId=root)
    expect(org.move_account, "AccountNotFoundException", AccountId="111111111111", SourceParentId=root,
           DestinationParentId=child["Id"])
    org.move_account(AccountId=dev, SourceParentId=root, DestinationParentId=child["Id"])
    assert org.list_parents(ChildId=dev)["Parents"] == [{"Id": child["Id"], "Type": "ORGANIZATIONAL_UNIT"}]
    in_child = org.list_accounts_for_parent(ParentId=child["Id"])["Accounts"]
    assert [a["Id"] for a in in_child] == [dev]
    assert dev not in [a["Id"] for a in org.list_accounts_for_parent(ParentId=root)["Accounts"]]
    assert org.list_children(ParentId=child["Id"], ChildType="ACCOUNT")["Children"] == [{"Id": dev, "Type": "ACCOUNT"}]

    # Rename; delete only when empty.
    renamed = org.update_organizational_unit(OrganizationalUnitId=child["Id"], Name="Team2")["OrganizationalUnit"]
    assert renamed["Name"] == "Team2"
    expect(org.delete_organizational_unit, "OrganizationalUnitNotEmptyException", OrganizationalUnitId=child["Id"])
    expect(org.delete_organizational_unit, "OrganizationalUnitNotEmptyException", OrganizationalUnitId=ou["Id"])
    org.move_account(AccountId=dev, SourceParentId=child["Id"], DestinationParentId=root)
    org.delete_organizational_unit(OrganizationalUnitId=child["Id"])
    org.delete_organizational_unit(OrganizationalUnitId=ou["Id"])
    expect(org.describe_organizational_unit, "OrganizationalUnitNotFoundException", OrganizationalUnitId=ou["Id"])


def test_ou_depth_limit(world, org):
    parent = world["root"]
    made = []
    for n in range(5):
        parent = org.create_organizational_unit(ParentId=parent, Name=unique(f"L{n}"))["OrganizationalUnit"]["Id"]
        made.append(parent)
    expect(org.create_organizational_unit, "ConstraintViolationException", "OU_DEPTH_LIMIT_EXCEEDED",
           ParentId=parent, Name="L6")
    for ou in reversed(made):
        org.delete_organizational_unit(OrganizationalUnitId=ou)


def test_cli_ous_and_move(world):
    t, root, prod = world["t"], world["root"], world["accounts"][1]
    ou = t.cli("organizations", "create-organizational-unit", "--parent-id", root,
               "--name", unique("CliOU"))["OrganizationalUnit"]
    t.cli("organizations", "move-account", "--account-id", prod, "--source-parent-id", root,
          "--destination-parent-id", ou["Id"])
    parents = t.cli("organizations", "list-parents", "--child-id", prod)["Parents"]
    assert parents == [{"Id": ou["Id"], "Type": "ORGANIZATIONAL_UNIT"}]
    t.cli("organizations", "move-account", "--account-id", prod, "--source-parent-id", ou["Id"],
          "--destination-parent-id", root)
    t.cli("organizations", "delete-organizational-unit", "--organizational-unit-id", ou["Id"])


# --- Policies --------------------------------------------------------------------------------

def test_service_control_policies(world, org):
    root, (dev, prod) = world["root"], world["accounts"]
    org_id = world["org"]["Id"]
    name = unique("DenyS3")
    pol = org.create_policy(Content=DENY_S3, Description="no s3", Name=name, Type=SCP)["Policy"]
    pid = pol["PolicySummary"]["Id"]
    assert pid.startswith("p-")
    assert pol["PolicySummary"]["Arn"] == (
        f"arn:aws:organizations::{world['mgmt']}:policy/{org_id}/service_control_policy/{pid}")
    assert pol["PolicySummary"]["AwsManaged"] is False
    assert json.loads(pol["Content"]) == json.loads(DENY_S3)
    expect(org.create_policy, "DuplicatePolicyException", Content=DENY_S3, Description="", Name=name, Type=SCP)
    expect(org.create_policy, "InvalidInputException", "INVALID_ENUM_POLICY_TYPE", Content=DENY_S3,
           Description="", Name="x", Type="NOT_A_TYPE")
    expect(org.create_policy, "MalformedPolicyDocumentException", Content="{nope", Description="", Name="m", Type=SCP)
    big = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "x" * 5200, "Effect": "Deny", "Action": "s3:*", "Resource": "*"}]})
    expect(org.create_policy, "ConstraintViolationException", "POLICY_CONTENT_LIMIT_EXCEEDED", Content=big,
           Description="", Name="big", Type=SCP)

    ou = org.create_organizational_unit(ParentId=root, Name=unique("Guarded"))["OrganizationalUnit"]["Id"]
    expect(org.attach_policy, "PolicyTypeNotEnabledException", PolicyId=pid, TargetId=ou)

    enabled = org.enable_policy_type(RootId=root, PolicyType=SCP)["Root"]
    assert {"Type": SCP, "Status": "ENABLED"} in enabled["PolicyTypes"]
    assert {"Type": SCP, "Status": "ENABLED"} in org.list_roots()["Roots"][0]["PolicyTypes"]
    expect(org.enable_policy_type, "PolicyTypeAlreadyEnabledException", RootId=root, PolicyType=SCP)
    expect(org.enable_policy_type, "RootNotFoundException", RootId="r-zzzz", PolicyType=SCP)
    for target in (root, ou, dev, prod, world["mgmt"]):
        attached = org.list_policies_for_target(TargetId=target, Filter=SCP)["Policies"]
        assert [p["Id"] for p in attached] == ["p-FullAWSAccess"], target
        assert attached[0]["AwsManaged"] is True
        assert attached[0]["Arn"] == "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess"
    full = org.describe_policy(PolicyId="p-FullAWSAccess")["Policy"]
    assert json.loads(full["Content"])["Statement"][0] == {"Effect": "Allow", "Action": "*", "Resource": "*"}
    assert "p-FullAWSAccess" in [p["Id"] for p in org.list_policies(Filter=SCP)["Policies"]]
    assert pid in [p["Id"] for p in org.list_policies(Filter=SCP)["Policies"]]

    org.attach_policy(PolicyId=pid, TargetId=ou)
    expect(org.attach_policy, "DuplicatePolicyAttachmentException", PolicyId=pid, TargetId=ou)
    expect(org.attach_policy, "TargetNotFoundException", PolicyId=pid, TargetId="ou-zzzz-zzzzzzzz")
    expect(org.attach_policy, "PolicyNotFoundException", PolicyId="p-zzzzzzzz", TargetId=ou)
    expect(org.attach_policy, "InvalidInputException", "INVALID_PATTERN_TARGET_ID", PolicyId=pid, TargetId="x")
    on_ou = {p["Id"] for p in org.list_policies_for_target(TargetId=ou, Filter=SCP)["Policies"]}
    assert on_ou == {"p-FullAWSAccess", pid}
    targets = org.list_targets_for_policy(PolicyId=pid)["Targets"]
    assert [(x["TargetId"], x["Type"]) for x in targets] == [(ou, "ORGANIZATIONAL_UNIT")]
    expect(org.delete_policy, "PolicyInUseException", PolicyId=pid)
    expect(org.update_policy, "InvalidInputException", "IMMUTABLE_POLICY", PolicyId="p-FullAWSAccess", Name="x")

    # Detaching the target's last SCP is refused.
    org.detach_policy(PolicyId="p-FullAWSAccess", TargetId=ou)
    expect(org.detach_policy, "ConstraintViolationException", "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
           PolicyId=pid, TargetId=ou)
    expect(org.detach_policy, "PolicyNotAttachedException", PolicyId="p-FullAWSAccess", TargetId=ou)
    org.attach_policy(PolicyId="p-FullAWSAccess", TargetId=ou)
    org.detach_policy(PolicyId=pid, TargetId=ou)
    assert org.list_targets_for_policy(PolicyId=pid)["Targets"] == []

    updated = org.update_policy(PolicyId=pid, Description="still no s3")["Policy"]
    assert updated["PolicySummary"]["Description"] == "still no s3"
    org.delete_policy(PolicyId=pid)
    expect(org.describe_policy, "PolicyNotFoundException", PolicyId=pid)
    org.delete_organizational_unit(OrganizationalUnitId=ou)


def test_cli_policy_commands(world):
    t, root = world["t"], world["root"]
    name = unique("CliPolicy")
    pol = t.cli("organizations", "create-policy", "--name", name, "--type", SCP, "--description", "d",
                "--content", DENY_S3)["Policy"]["PolicySummary"]
    roots = t.cli("organizations", "list-roots")["Roots"]
    if not any(pt["Type"] == SCP for pt in roots[0]["PolicyTypes"]):
        t.cli("organizations", "enable-policy-type", "--root-id", root, "--policy-type", SCP)
    t.cli("organizations", "attach-policy", "--policy-id", pol["Id"], "--target-id", world["accounts"][1])
    listed = t.cli("organizations", "list-policies-for-target", "--target-id", world["accounts"][1],
                   "--filter", SCP)["Policies"]
    assert pol["Id"] in [p["Id"] for p in listed]
    t.cli("organizations", "detach-policy", "--policy-id", pol["Id"], "--target-id", world["accounts"][1])
    t.cli("organizations", "delete-policy", "--policy-id", pol["Id"])


def test_disable_policy_type_detaches_everything(fresh_tessera):
    o = fresh_tessera.client("organizations")
    o.create_organization()
    root = o.list_roots()["Roots"][0]["Id"]
    expect(o.disable_policy_type, "PolicyTypeNotEnabledException", RootId=root, PolicyType=SCP)
    o.enable_policy_type(RootId=root, PolicyType=SCP)
    pid = o.create_policy(Content=DENY_S3, Description="", Name="d", Type=SCP)["Policy"]["PolicySummary"]["Id"]
    o.attach_policy(PolicyId=pid, TargetId=root)
    root_after = o.disable_policy_type(RootId=root, PolicyType=SCP)["Root"]
    assert root_after["PolicyTypes"] == []
    assert o.list_policies_for_target(TargetId=root, Filter=SCP)["Policies"] == []
    assert o.list_targets_for_policy(PolicyId=pid)["Targets"] == []
    o.delete_policy(PolicyId=pid)


def test_resource_control_policies(fresh_tessera):
    o = fresh_tessera.client("organizations")
    o.create_organization()
    root = o.list_roots()["Roots"][0]["Id"]
    o.enable_policy_type(RootId=root, PolicyType="RESOURCE_CONTROL_POLICY")
    attached = o.list_policies_for_target(TargetId=root, Filter="RESOURCE_CONTROL_POLICY")["Policies"]
    assert [p["Id"] for p in attached] == ["p-RCPFullAWSAccess"]
    expect(o.detach_policy, "InvalidInputException", "NON_DETACHABLE_POLICY", PolicyId="p-RCPFullAWSAccess",
           TargetId=root)


# --- Tags ------------------------------------------------------------------------------------

def test_tags(world, org):
    dev, root = world["accounts"][0], world["root"]
    org.tag_resource(ResourceId=dev, Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "a"}])
    org.tag_resource(ResourceId=dev, Tags=[{"Key": "team", "Value": "b"}])
    tags = {t["Key"]: t["Value"] for t in org.list_tags_for_resource(ResourceId=dev)["Tags"]}
    assert tags == {"env": "dev", "team": "b"}
    org.untag_resource(ResourceId=dev, TagKeys=["team", "env"])
    assert org.list_tags_for_resource(ResourceId=dev)["Tags"] == []
    org.tag_resource(ResourceId=root, Tags=[{"Key": "k", "Value": ""}])
    assert org.list_tags_for_resource(ResourceId=root)["Tags"] == [{"Key": "k", "Value": ""}]
    org.untag_resource(ResourceId=root, TagKeys=["k"])
    expect(org.tag_resource, "TargetNotFoundException", ResourceId="111111111111", Tags=[{"Key": "k", "Value": "v"}])
    expect(org.tag_resource, "ConstraintViolationException", "MAX_TAG_LIMIT_EXCEEDED", ResourceId=dev,
           Tags=[{"Key": f"k{n}", "Value": ""} for n in range(51)])
    assert org.list_tags_for_resource(ResourceId=dev)["Tags"] == []


# --- Member accounts (need STS AssumeRole, IAM users and the policy engine) ------------------

def _not_implemented(e):
    return isinstance(e, botocore.exceptions.ClientError) and code_of(e) in ("NotImplemented", "InvalidAction")


def _admin_user(t, name):
    """An IAM user in the management account allowed to assume roles, with an access key."""
    iam = t.client("iam")
    try:
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="assume", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
        key = iam.create_access_key(UserName=name)["AccessKey"]
    except botocore.exceptions.ClientError as e:
        if _not_implemented(e):
            pytest.skip(f"IAM users are not implemented yet: {e}")
        raise
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def _assume(t, creds, account, role="OrganizationAccountAccessRole"):
    sts = t.client("sts", **creds)
    arn = f"arn:aws:iam::{account}:role/{role}"
    for _ in range(50):  # IAM keys may take a moment, as on AWS
        try:
            c = sts.assume_role(RoleArn=arn, RoleSessionName="org-test")["Credentials"]
            return {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
                    "aws_session_token": c["SessionToken"]}
        except botocore.exceptions.ClientError as e:
            if _not_implemented(e):
                pytest.skip(f"sts:AssumeRole is not implemented yet: {e}")
            if code_of(e) != "InvalidClientTokenId":
                raise
            time.sleep(0.1)
    pytest.fail("the new access key never worked")


def test_member_account_is_reached_through_its_role_and_refused_management_calls(world):
    t, dev = world["t"], world["accounts"][0]
    creds = _assume(t, _admin_user(t, unique("orgadmin")), dev)
    ident = t.client("sts", **creds).get_caller_identity()
    assert ident["Account"] == dev
    assert ident["Arn"] == f"arn:aws:sts::{dev}:assumed-role/OrganizationAccountAccessRole/org-test"
    member_org = t.client("organizations", **creds)
    assert member_org.describe_organization()["Organization"]["Id"] == world["org"]["Id"]
    expect(member_org.list_accounts, "AccessDeniedException")
    expect(member_org.create_account, "AccessDeniedException", Email="x@example.com", AccountName="x")


def test_scp_on_an_ou_is_enforced_on_a_member_account(world):
    t, org, root, prod = world["t"], world["t"].client("organizations"), world["root"], world["accounts"][1]
    creds = _assume(t, _admin_user(t, unique("scpadmin")), prod)
    member_iam = t.client("iam", **creds)
    member_iam.list_roles()  # AdministratorAccess allows it

    roots = org.list_roots()["Roots"]
    if not any(pt["Type"] == SCP for pt in roots[0]["PolicyTypes"]):
        org.enable_policy_type(RootId=root, PolicyType=SCP)
    deny = json.dumps({"Version": "2012-10-17",
                       "Statement": [{"Effect": "Deny", "Action": "iam:ListRoles", "Resource": "*"}]})
    pid = org.create_policy(Content=deny, Description="", Name=unique("DenyListRoles"), Type=SCP)["Policy"][
        "PolicySummary"]["Id"]
    ou = org.create_organizational_unit(ParentId=root, Name=unique("Restricted"))["OrganizationalUnit"]["Id"]
    org.move_account(AccountId=prod, SourceParentId=root, DestinationParentId=ou)
    try:
        org.attach_policy(PolicyId=pid, TargetId=ou)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            member_iam.list_roles()
        assert code_of(e.value) == "AccessDenied"
        assert "service control policy" in e.value.response["Error"]["Message"]
        member_iam.list_users()  # other actions are still allowed by FullAWSAccess at every level
        # The management account is never restricted by SCPs.
        t.client("iam").list_roles()
        org.detach_policy(PolicyId=pid, TargetId=ou)
        member_iam.list_roles()
    finally:
        try:
            org.detach_policy(PolicyId=pid, TargetId=ou)
        except botocore.exceptions.ClientError:
            pass
        org.move_account(AccountId=prod, SourceParentId=ou, DestinationParentId=root)
        org.delete_organizational_unit(OrganizationalUnitId=ou)
        org.delete_policy(PolicyId=pid)


def test_close_account(fresh_tessera):
    """CloseAccount (Organizations API reference): the member account becomes SUSPENDED / CLOSED,
    stays in the organization, and its principals' keys and sessions stop authenticating; a second
    close, the management account and a member caller are refused as AWS words it."""
    from conftest import Accounts
    t = fresh_tessera
    accounts = Accounts(t)
    org = t.client("organizations")
    member, bystander = accounts.create("closing"), accounts.create("staying")
    admin = accounts.admin_creds(member)
    iam = t.client("iam", **admin)
    iam.create_user(UserName="worker")
    key = iam.create_access_key(UserName="worker")["AccessKey"]
    worker = t.client("sts", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    for _ in range(50):  # a new key may take a moment, as on AWS
        try:
            assert worker.get_caller_identity()["Account"] == member
            break
        except botocore.exceptions.ClientError:
            time.sleep(0.1)
    session = t.client("sts", **admin)
    assert session.get_caller_identity()["Account"] == member
    # A member account may not close accounts.
    expect(t.client("organizations", **accounts.admin_creds(bystander)).close_account, "AccessDeniedException",
           AccountId=member)
    org.close_account(AccountId=member)
    described = org.describe_account(AccountId=member)["Account"]
    assert (described["Status"], described["State"]) == ("SUSPENDED", "CLOSED")
    assert member in [a["Id"] for a in org.list_accounts()["Accounts"]]
    for client in (worker, session):
        expect(client.get_caller_identity, "InvalidClientTokenId")
    # The other member is untouched.
    assert t.client("sts", **accounts.admin_creds(bystander)).get_caller_identity()["Account"] == bystander
    expect(org.close_account, "AccountAlreadyClosedException", AccountId=member)
    expect(org.close_account, "ConstraintViolationException", "CANNOT_CLOSE_MANAGEMENT_ACCOUNT",
           AccountId=accounts.mgmt)
    expect(org.close_account, "AccountNotFoundException", AccountId="000000000000")


def test_invitations_by_handshake(fresh_tessera):
    """Handshakes (Organizations API reference, InviteAccountToOrganization and friends): an
    account that left the organization is invited back by id and by email; decline, cancel and
    accept move the handshake as AWS does, and accepting joins the root with JoinedMethod INVITED."""
    from conftest import Accounts
    t = fresh_tessera
    accounts = Accounts(t)
    org = t.client("organizations")
    wanderer, bystander = accounts.create("wanderer"), accounts.create("bystander")
    email = org.describe_account(AccountId=wanderer)["Account"]["Email"]
    org.remove_account_from_organization(AccountId=wanderer)
    theirs = t.client("organizations", **accounts.admin_creds(wanderer))
    others = t.client("organizations", **accounts.admin_creds(bystander))

    h = org.invite_account_to_organization(Target={"Id": wanderer, "Type": "ACCOUNT"}, Notes="come back")["Handshake"]
    assert h["State"] == "OPEN" and h["Action"] == "INVITE" and h["Id"].startswith("h-")
    assert {"Value": "come back", "Type": "NOTES"} in h["Resources"]
    assert h["ExpirationTimestamp"] > h["RequestedTimestamp"]
    assert [x["Id"] for x in theirs.list_handshakes_for_account()["Handshakes"]] == [h["Id"]]
    expect(org.invite_account_to_organization, "DuplicateHandshakeException", Target={"Id": wanderer, "Type": "ACCOUNT"})
    expect(others.describe_handshake, "HandshakeNotFoundException", HandshakeId=h["Id"])
    expect(org.accept_handshake, "HandshakeNotFoundException", HandshakeId=h["Id"])  # not the invited party
    assert theirs.decline_handshake(HandshakeId=h["Id"])["Handshake"]["State"] == "DECLINED"
    expect(theirs.decline_handshake, "HandshakeAlreadyInStateException", HandshakeId=h["Id"])

    h2 = org.invite_account_to_organization(Target={"Id": wanderer, "Type": "ACCOUNT"})["Handshake"]
    assert org.cancel_handshake(HandshakeId=h2["Id"])["Handshake"]["State"] == "CANCELED"
    expect(theirs.accept_handshake, "InvalidHandshakeTransitionException", HandshakeId=h2["Id"])

    h3 = org.invite_account_to_organization(Target={"Id": email, "Type": "EMAIL"})["Handshake"]
    accepted = theirs.accept_handshake(HandshakeId=h3["Id"])["Handshake"]
    assert accepted["State"] == "ACCEPTED"
    joined = org.describe_account(AccountId=wanderer)["Account"]
    assert joined["JoinedMethod"] == "INVITED" and joined["Status"] == "ACTIVE"
    root = org.list_roots()["Roots"][0]["Id"]
    assert org.list_parents(ChildId=wanderer)["Parents"][0]["Id"] == root
    expect(org.invite_account_to_organization, "HandshakeConstraintViolationException", "ALREADY_IN_AN_ORGANIZATION",
           Target={"Id": bystander, "Type": "ACCOUNT"})
    listed = org.list_handshakes_for_organization()["Handshakes"]
    assert sorted((x["Id"], x["State"]) for x in listed) == sorted(
        [(h["Id"], "DECLINED"), (h2["Id"], "CANCELED"), (h3["Id"], "ACCEPTED")])
    assert org.list_handshakes_for_organization(Filter={"ActionType": "ENABLE_ALL_FEATURES"})["Handshakes"] == []
    expect(org.describe_handshake, "InvalidInputException", HandshakeId="nope")
