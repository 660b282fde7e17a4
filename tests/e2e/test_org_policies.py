"""AWS Organizations: management policy types and DescribeEffectivePolicy (User Guide,
"Understanding management policy inheritance", "Inheritance operators", "Inheritance examples"),
the organization's resource policy (PutResourcePolicy and friends, "Delegated administrator for
AWS Organizations"), and EnableAllFeatures with its handshakes ("Enabling all features for an
organization"), through boto3 and the AWS CLI, with the errors AWS documents."""

import json
import time

import pytest

from conftest import Accounts, CliError, Tessera, _require_binary, user_with_key
from test_organizations import expect

TAG = "TAG_POLICY"


ROOT_A = {"tags": {"costcenter": {
    "tag_key": {"@@operators_allowed_for_child_policies": ["@@none"], "@@assign": "CostCenter"},
    "tag_value": {"@@operators_allowed_for_child_policies": ["@@append"], "@@assign": ["Development", "Support"]},
}}}
OU_APPEND = {"tags": {"costcenter": {"tag_value": {"@@append": ["Marketing"]}}}}
ACCOUNT_ASSIGN = {"tags": {"costcenter": {"tag_value": {"@@assign": ["Sandbox"]}}}}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server of this module's own (one organization per management account)."""
    _require_binary()
    t = Tessera(tmp_path_factory.mktemp("orgpol") / "data").start()
    yield t
    t.stop()


@pytest.fixture(scope="module")
def world(server):
    t = server
    accounts = Accounts(t)
    org = t.client("organizations")
    a, b = accounts.create("eff-a"), accounts.create("eff-b")
    root = org.list_roots()["Roots"][0]["Id"]
    ou = org.create_organizational_unit(ParentId=root, Name="Teams")["OrganizationalUnit"]["Id"]
    org.move_account(AccountId=a, SourceParentId=root, DestinationParentId=ou)
    return {"t": t, "accounts": accounts, "org": org, "a": a, "b": b, "root": root, "ou": ou,
            "mgmt": accounts.mgmt}


def create(org, name, content, kind=TAG):
    return org.create_policy(Name=name, Description="", Type=kind, Content=json.dumps(content))["Policy"][
        "PolicySummary"]["Id"]


def test_management_policy_types_are_validated_and_inherited(world):
    t, org, a, b, root, ou = world["t"], world["org"], world["a"], world["b"], world["root"], world["ou"]
    # Not enabled yet: nothing to attach, no effective policy.
    pa = create(org, "root-a", ROOT_A)
    expect(org.attach_policy, "PolicyTypeNotEnabledException", PolicyId=pa, TargetId=root)
    expect(org.describe_effective_policy, "EffectivePolicyNotFoundException", PolicyType=TAG, TargetId=a)
    org.enable_policy_type(RootId=root, PolicyType=TAG)

    # The grammar of each type: the top-level element, the operators, JSON objects only.
    expect(org.create_policy, "MalformedPolicyDocumentException", Name="bad1", Description="", Type="BACKUP_POLICY",
           Content=json.dumps(ROOT_A))
    expect(org.create_policy, "MalformedPolicyDocumentException", Name="bad2", Description="", Type=TAG,
           Content=json.dumps({"tags": {"x": {"@@append": "not a list"}}}))
    expect(org.create_policy, "MalformedPolicyDocumentException", Name="bad3", Description="", Type=TAG,
           Content=json.dumps({"tags": {"x": {"@@replace": ["v"]}}}))
    expect(org.create_policy, "MalformedPolicyDocumentException", Name="bad4", Description="",
           Type="AISERVICES_OPT_OUT_POLICY", Content="[1]")
    expect(org.create_policy, "ConstraintViolationException", "POLICY_CONTENT_LIMIT_EXCEEDED", Name="big",
           Description="", Type="AISERVICES_OPT_OUT_POLICY",
           Content=json.dumps({"services": {"default": {"opt_out_policy": {"@@assign": "x" * 2600}}}}))
    create(org, "ai-ok", {"services": {"default": {"opt_out_policy": {"@@assign": "optOut"}}}},
           kind="AISERVICES_OPT_OUT_POLICY")
    create(org, "chatbot-ok", {"chatbot": {"platforms": {"slack": {"client": {"@@assign": "disabled"}}}}},
           kind="CHATBOT_POLICY")
    create(org, "ec2-ok", {"ec2_attributes": {"image_block_public_access": {"state": {"@@assign": "block_new_sharing"}}}},
           kind="DECLARATIVE_POLICY_EC2")
    # SCP and RCP are authorization policies: no effective policy.
    expect(org.describe_effective_policy, "InvalidInputException", "INVALID_ENUM_POLICY_TYPE",
           PolicyType="SERVICE_CONTROL_POLICY", TargetId=a)

    po = create(org, "ou-append", OU_APPEND)
    pacct = create(org, "acct-assign", ACCOUNT_ASSIGN)
    org.attach_policy(PolicyId=pa, TargetId=root)
    org.attach_policy(PolicyId=po, TargetId=ou)

    eff = org.describe_effective_policy(PolicyType=TAG, TargetId=a)["EffectivePolicy"]
    assert eff["TargetId"] == a and eff["PolicyType"] == TAG
    assert json.loads(eff["PolicyContent"]) == {"tags": {"costcenter": {
        "tag_key": "CostCenter", "tag_value": ["Development", "Support", "Marketing"]}}}
    # b is under the root only.
    eff_b = json.loads(org.describe_effective_policy(PolicyType=TAG, TargetId=b)["EffectivePolicy"]["PolicyContent"])
    assert eff_b["tags"]["costcenter"]["tag_value"] == ["Development", "Support"]

    # @@assign on a value whose parent allows only @@append: left out, reported.
    org.attach_policy(PolicyId=pacct, TargetId=a)
    eff = json.loads(org.describe_effective_policy(PolicyType=TAG, TargetId=a)["EffectivePolicy"]["PolicyContent"])
    assert eff["tags"]["costcenter"]["tag_value"] == ["Development", "Support", "Marketing"]
    errors = org.list_effective_policy_validation_errors(AccountId=a, PolicyType=TAG)
    assert errors["AccountId"] == a and errors["Path"].endswith(f"/{ou}/{a}/")
    [e] = errors["EffectivePolicyValidationErrors"]
    assert e["PathToError"] == "tags.costcenter.tag_value" and e["ContributingPolicies"] == [pacct, pa]
    invalid = org.list_accounts_with_invalid_effective_policy(PolicyType=TAG)["Accounts"]
    assert [x["Id"] for x in invalid] == [a]
    assert org.list_effective_policy_validation_errors(AccountId=b, PolicyType=TAG)[
        "EffectivePolicyValidationErrors"] == []
    expect(org.list_effective_policy_validation_errors, "AccountNotFoundException", AccountId="999999999999",
           PolicyType=TAG)

    # A member account sees its own effective policy (no TargetId), not another's, and no lists.
    mine = t.client("organizations", **world["accounts"].admin_creds(b))
    own = mine.describe_effective_policy(PolicyType=TAG)["EffectivePolicy"]
    assert own["TargetId"] == b
    expect(mine.describe_effective_policy, "AccessDeniedException", PolicyType=TAG, TargetId=a)
    expect(mine.list_accounts_with_invalid_effective_policy, "AccessDeniedException", PolicyType=TAG)
    # Roots and OUs are not targets.
    expect(org.describe_effective_policy, "InvalidInputException", "TARGET_NOT_SUPPORTED", PolicyType=TAG,
           TargetId=ou)

    # Through the AWS CLI.
    out = t.cli("organizations", "describe-effective-policy", "--policy-type", TAG, "--target-id", b)
    assert json.loads(out["EffectivePolicy"]["PolicyContent"]) == eff_b
    with pytest.raises(CliError) as e:
        t.cli("organizations", "describe-effective-policy", "--policy-type", "BACKUP_POLICY", "--target-id", b)
    assert e.value.code == "EffectivePolicyNotFoundException"

    # Disabling the type detaches its policies: no effective policy any more.
    org.disable_policy_type(RootId=root, PolicyType=TAG)
    expect(org.describe_effective_policy, "EffectivePolicyNotFoundException", PolicyType=TAG, TargetId=a)


def test_resource_policy_delegates_reads_to_a_member_account(world):
    t, org, b, mgmt = world["t"], world["org"], world["b"], world["mgmt"]
    member = t.client("organizations", **world["accounts"].admin_creds(b))
    expect(member.list_accounts, "AccessDeniedException")
    expect(org.describe_resource_policy, "ResourcePolicyNotFoundException")
    expect(org.delete_resource_policy, "ResourcePolicyNotFoundException")

    policy = {"Version": "2012-10-17", "Statement": [{
        "Sid": "Delegate", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{b}:root"},
        "Action": ["organizations:List*", "organizations:Describe*", "organizations:CreateAccount"],
        "Resource": "*"}]}
    expect(org.put_resource_policy, "InvalidInputException", "INVALID_RESOURCE_POLICY_JSON", Content="{nope")
    expect(org.put_resource_policy, "InvalidInputException", "UNSUPPORTED_ACTION_IN_RESOURCE_POLICY",
           Content=json.dumps({"Version": "2012-10-17", "Statement": [{
               "Effect": "Allow", "Principal": {"AWS": b}, "Action": "s3:GetObject", "Resource": "*"}]}))
    expect(member.put_resource_policy, "AccessDeniedException", Content=json.dumps(policy))
    put = org.put_resource_policy(Content=json.dumps(policy), Tags=[{"Key": "team", "Value": "sec"}])["ResourcePolicy"]
    rp = put["ResourcePolicySummary"]
    assert rp["Id"].startswith("rp-") and rp["Arn"] == f"arn:aws:organizations::{mgmt}:resourcepolicy/{world['org'].describe_organization()['Organization']['Id']}/{rp['Id']}"
    assert json.loads(org.describe_resource_policy()["ResourcePolicy"]["Content"]) == policy

    # The member account's principal now reads the organization, only through the policy.
    ids = {a["Id"] for a in member.list_accounts()["Accounts"]}
    assert b in ids and mgmt in ids
    assert member.describe_account(AccountId=mgmt)["Account"]["Id"] == mgmt
    # Not delegable even when the policy names it; writes it does not grant stay refused.
    expect(member.create_account, "AccessDeniedException", Email="x@example.com", AccountName="x")
    expect(member.create_organizational_unit, "AccessDeniedException", ParentId=world["root"], Name="nope")
    # The member's own identity policy still has to allow it (cross-account).
    iam = t.client("iam", **world["accounts"].admin_creds(b))
    weak = user_with_key(t, world["accounts"].admin_creds(b), "weak-reader",
                         json.dumps({"Version": "2012-10-17", "Statement": [
                             {"Effect": "Allow", "Action": "organizations:DescribeOrganization", "Resource": "*"}]}))
    assert iam.get_user(UserName="weak-reader")["User"]["UserName"] == "weak-reader"
    expect(t.client("organizations", **weak).list_accounts, "AccessDeniedException")
    # Another member account is not named by the policy.
    other = t.client("organizations", **world["accounts"].admin_creds(world["a"]))
    expect(other.list_accounts, "AccessDeniedException")

    # Through the AWS CLI: update keeps the id; delete removes the delegation.
    narrower = dict(policy, Statement=[dict(policy["Statement"][0], Action="organizations:DescribeOrganization")])
    again = t.cli("organizations", "put-resource-policy", "--content", json.dumps(narrower))["ResourcePolicy"]
    assert again["ResourcePolicySummary"]["Id"] == rp["Id"]
    expect(member.list_accounts, "AccessDeniedException")
    t.cli("organizations", "delete-resource-policy")
    expect(org.describe_resource_policy, "ResourcePolicyNotFoundException")
    assert member.describe_organization()["Organization"]["MasterAccountId"] == mgmt


def test_enable_all_features_through_handshakes(fresh_tessera):
    t = fresh_tessera
    org = t.client("organizations")
    created = org.create_organization(FeatureSet="CONSOLIDATED_BILLING")["Organization"]
    assert created["FeatureSet"] == "CONSOLIDATED_BILLING"
    root = org.list_roots()["Roots"][0]["Id"]
    # SCPs and the other policy types need all features.
    expect(org.enable_policy_type, "PolicyTypeNotAvailableForOrganizationException", RootId=root,
           PolicyType="SERVICE_CONTROL_POLICY")
    expect(org.create_policy, "PolicyTypeNotAvailableForOrganizationException", Name="n", Description="",
           Type=TAG, Content=json.dumps(ROOT_A))

    accounts = Accounts(t)  # the organization exists: this only makes the admin user
    created_member = accounts.create("made")
    invited = accounts.create("invited")
    org.remove_account_from_organization(AccountId=invited)
    theirs = t.client("organizations", **accounts.admin_creds(invited))
    h = org.invite_account_to_organization(Target={"Id": invited, "Type": "ACCOUNT"})["Handshake"]
    theirs.accept_handshake(HandshakeId=h["Id"])

    enable = org.enable_all_features()["Handshake"]
    assert enable["Action"] == "ENABLE_ALL_FEATURES" and enable["State"] == "OPEN"
    expect(org.enable_all_features, "HandshakeConstraintViolationException",
           "ORGANIZATION_IS_ALREADY_PENDING_ALL_FEATURES_MIGRATION")
    expect(org.invite_account_to_organization, "HandshakeConstraintViolationException",
           "INVITE_DISABLED_DURING_ENABLE_ALL_FEATURES", Target={"Id": created_member, "Type": "ACCOUNT"})
    # Only the invited account approves; the created one does not have to.
    [approve] = theirs.list_handshakes_for_account(Filter={"ActionType": "APPROVE_ALL_FEATURES"})["Handshakes"]
    assert {"Value": enable["Id"], "Type": "PARENT_HANDSHAKE"} in approve["Resources"]
    children = org.list_handshakes_for_organization(Filter={"ParentHandshakeId": enable["Id"]})["Handshakes"]
    assert [c["Id"] for c in children] == [approve["Id"]]
    made = t.client("organizations", **accounts.admin_creds(created_member))
    assert made.list_handshakes_for_account()["Handshakes"] == []
    # Finalizing before every approval is refused.
    expect(org.accept_handshake, "InvalidHandshakeTransitionException", HandshakeId=enable["Id"])
    assert theirs.accept_handshake(HandshakeId=approve["Id"])["Handshake"]["State"] == "ACCEPTED"
    done = t.cli("organizations", "accept-handshake", "--handshake-id", enable["Id"])["Handshake"]
    assert done["State"] == "ACCEPTED"
    assert org.describe_organization()["Organization"]["FeatureSet"] == "ALL"
    expect(org.enable_all_features, "HandshakeConstraintViolationException", "ORGANIZATION_ALREADY_HAS_ALL_FEATURES")
    org.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    expect(theirs.enable_all_features, "AccessDeniedException")

    # CloudTrail records the calls as for every operation.
    trail = t.client("cloudtrail")
    events = []
    for _ in range(50):
        events = [json.loads(ev["CloudTrailEvent"]) for ev in trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "EnableAllFeatures"}])["Events"]]
        if len(events) >= 3:
            break
        time.sleep(0.2)
    assert {e["eventSource"] for e in events} == {"organizations.amazonaws.com"}
    assert sorted(e.get("errorCode", "") for e in events if e["recipientAccountId"] == created["MasterAccountId"]) == [
        "", "HandshakeConstraintViolationException", "HandshakeConstraintViolationException"]


def test_cancelling_enable_all_features_cancels_the_approvals(fresh_tessera):
    t = fresh_tessera
    org = t.client("organizations")
    org.create_organization(FeatureSet="CONSOLIDATED_BILLING")
    accounts = Accounts(t)
    invited = accounts.create("invited")
    org.remove_account_from_organization(AccountId=invited)
    theirs = t.client("organizations", **accounts.admin_creds(invited))
    theirs.accept_handshake(HandshakeId=org.invite_account_to_organization(
        Target={"Id": invited, "Type": "ACCOUNT"})["Handshake"]["Id"])
    enable = org.enable_all_features()["Handshake"]
    [approve] = theirs.list_handshakes_for_account(Filter={"ActionType": "APPROVE_ALL_FEATURES"})["Handshakes"]
    assert org.cancel_handshake(HandshakeId=enable["Id"])["Handshake"]["State"] == "CANCELED"
    assert theirs.describe_handshake(HandshakeId=approve["Id"])["Handshake"]["State"] == "CANCELED"
    expect(theirs.accept_handshake, "InvalidHandshakeTransitionException", HandshakeId=approve["Id"])
    assert org.describe_organization()["Organization"]["FeatureSet"] == "CONSOLIDATED_BILLING"
    # A new attempt may start.
    assert org.enable_all_features()["Handshake"]["State"] == "OPEN"


def test_create_gov_cloud_account_needs_a_govcloud_management_account(world):
    """Tessera has no GovCloud partition: AWS's answer for a management account not associated
    with AWS GovCloud (US-West), after CreateAccount's input checks."""
    t, org = world["t"], world["org"]
    before = len(org.list_accounts()["Accounts"])
    expect(org.create_gov_cloud_account, "ConstraintViolationException", "MASTER_ACCOUNT_NOT_GOVCLOUD_ENABLED",
           Email="gov@example.com", AccountName="Gov")
    expect(org.create_gov_cloud_account, "InvalidInputException", "INVALID_PATTERN", Email="not-an-email",
           AccountName="Gov")
    member = t.client("organizations", **world["accounts"].admin_creds(world["b"]))
    expect(member.create_gov_cloud_account, "AccessDeniedException", Email="gov@example.com", AccountName="Gov")
    with pytest.raises(CliError) as e:
        t.cli("organizations", "create-gov-cloud-account", "--email", "gov@example.com", "--account-name", "Gov")
    assert e.value.code == "ConstraintViolationException"
    assert len(org.list_accounts()["Accounts"]) == before
