"""Centralized root access for member accounts, through boto3 and the AWS CLI (docs/ROOT_ACCESS.md):
the organization's features (IAM API reference: API_EnableOrganizationsRootCredentialsManagement,
API_EnableOrganizationsRootSessions, API_ListOrganizationsFeatures and the Disable operations) and
privileged root sessions (STS API reference: API_AssumeRoot; IAM User Guide:
id_root-user-privileged-task.html), with the errors and denials AWS documents.

The tests run on a server of their own: they switch organization-wide features on and off."""

import json
import subprocess
import time

import pytest

from conftest import expect_error as expect, policy_document as policy, BIN, Accounts, CliError, unique, unvalidated_client, user_with_key

IAM_SP = "iam.amazonaws.com"
AUDIT = "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"
DELETE = "arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials"
CREATE = "arn:aws:iam::aws:policy/root-task/IAMCreateRootUserPassword"


def creds_of(c):
    return {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
            "aws_session_token": c["SessionToken"]}


@pytest.fixture(scope="module")
def server(module_tessera):
    """A server of this module's own: the feature is organization-wide."""
    return module_tessera


def test_features_need_an_all_features_organization_with_trusted_access(server):
    t = server
    iam, org = t.client("iam"), t.client("organizations")
    expect(iam.enable_organizations_root_credentials_management, "OrganizationNotFoundException")
    expect(iam.list_organizations_features, "OrganizationNotFoundException")
    org.create_organization(FeatureSet="CONSOLIDATED_BILLING")
    expect(iam.enable_organizations_root_sessions, "OrganizationNotInAllFeaturesModeException")
    org.delete_organization()
    org.create_organization(FeatureSet="ALL")
    # Trusted access for IAM first (EnableAWSServiceAccess), as the API reference requires.
    expect(iam.enable_organizations_root_credentials_management, "ServiceAccessNotEnabledException")
    expect(iam.disable_organizations_root_sessions, "ServiceAccessNotEnabledException")


def test_enable_disable_and_list_features(server):
    t = server
    accounts = Accounts(t)
    iam, org = t.client("iam"), t.client("organizations")
    org_id = org.describe_organization()["Organization"]["Id"]
    org.enable_aws_service_access(ServicePrincipal=IAM_SP)
    assert iam.list_organizations_features()["EnabledFeatures"] == []
    out = iam.enable_organizations_root_credentials_management()
    assert out["OrganizationId"] == org_id
    assert out["EnabledFeatures"] == ["RootCredentialsManagement"]
    out = t.cli("iam", "enable-organizations-root-sessions")
    assert out["EnabledFeatures"] == ["RootCredentialsManagement", "RootSessions"]
    # Enabling again is no error.
    assert iam.enable_organizations_root_sessions()["EnabledFeatures"] == ["RootCredentialsManagement", "RootSessions"]
    assert iam.list_organizations_features()["EnabledFeatures"] == ["RootCredentialsManagement", "RootSessions"]
    out = iam.disable_organizations_root_credentials_management()
    assert out["EnabledFeatures"] == ["RootSessions"]
    assert t.cli("iam", "list-organizations-features")["EnabledFeatures"] == ["RootSessions"]

    # A member account: refused, unless it is IAM's delegated administrator, which may list and
    # disable but not enable (CallerIsNotManagementAccount).
    member = accounts.create("features")
    member_iam = t.client("iam", **accounts.admin_creds(member))
    expect(member_iam.list_organizations_features, "AccountNotManagementOrDelegatedAdministratorException")
    expect(member_iam.enable_organizations_root_sessions, "AccountNotManagementOrDelegatedAdministratorException")
    org.register_delegated_administrator(AccountId=member, ServicePrincipal=IAM_SP)
    try:
        assert member_iam.list_organizations_features()["EnabledFeatures"] == ["RootSessions"]
        expect(member_iam.enable_organizations_root_credentials_management, "CallerIsNotManagementAccountException")
        assert member_iam.disable_organizations_root_sessions()["EnabledFeatures"] == []
    finally:
        org.deregister_delegated_administrator(AccountId=member, ServicePrincipal=IAM_SP)
    assert iam.list_organizations_features()["EnabledFeatures"] == []

    # Each operation is authorized by the engine first.
    bare = t.client("iam", **user_with_key(t, t.root_creds, unique("features-bare-")))
    expect(bare.enable_organizations_root_sessions, "AccessDenied")
    expect(bare.disable_organizations_root_credentials_management, "AccessDenied")
    allowed = t.client("iam", **user_with_key(
        t, t.root_creds, unique("features-ops-"),
        policy({"Effect": "Allow", "Action": "iam:EnableOrganizationsRootSessions", "Resource": "*"})))
    assert allowed.enable_organizations_root_sessions()["EnabledFeatures"] == ["RootSessions"]
    expect(allowed.disable_organizations_root_sessions, "AccessDenied")


@pytest.fixture(scope="module")
def root_org(server):
    """The organization with RootSessions on, a member account, and an operator user of the
    management account allowed sts:AssumeRoot with the audit and delete task policies."""
    t = server
    accounts = Accounts(t)
    org = t.client("organizations")
    org.enable_aws_service_access(ServicePrincipal=IAM_SP)
    t.client("iam").enable_organizations_root_sessions()
    member = accounts.create("privileged")
    ops = user_with_key(t, t.root_creds, unique("root-ops-"), policy({
        "Effect": "Allow", "Action": "sts:AssumeRoot", "Resource": "*",
        "Condition": {"StringEquals": {"sts:TaskPolicyArn": [AUDIT, DELETE]}},
    }))
    return {"accounts": accounts, "member": member, "ops": ops}


def test_assume_root_audit_session(server, root_org):
    t, member, ops = server, root_org["member"], root_org["ops"]
    sts = t.client("sts", **ops)
    out = sts.assume_root(TargetPrincipal=member, TaskPolicyArn={"arn": AUDIT}, DurationSeconds=300)
    c = out["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA")
    lifetime = c["Expiration"].timestamp() - time.time()
    assert 0 < lifetime <= 300
    session = creds_of(c)
    who = t.client("sts", **session).get_caller_identity()
    assert who["Arn"] == f"arn:aws:iam::{member}:root"
    assert who["Account"] == member
    # The audit task: the member root's credentials may be read...
    iam = t.client("iam", **session)
    assert iam.list_access_keys()["AccessKeyMetadata"] == []
    assert iam.list_mfa_devices()["MFADevices"] == []
    assert "SummaryMap" in iam.get_account_summary()
    # ...and nothing else: the task policy denies every other action.
    expect(iam.create_user, "AccessDenied", UserName="not-allowed")
    expect(iam.list_users, "AccessDenied")
    expect(iam.delete_access_key, "AccessDenied", AccessKeyId="AKIAEXAMPLEEXAMPLE00")
    # A privileged session starts no other session.
    expect(t.client("sts", **session).assume_role, "AccessDenied",
           RoleArn=f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole", RoleSessionName="xx")


def test_assume_root_delete_session_through_the_cli(server, root_org):
    t, member, ops = server, root_org["member"], root_org["ops"]
    env = t.env_for(ops["aws_access_key_id"], ops["aws_secret_access_key"])
    out = t.cli("sts", "assume-root", "--target-principal", f"arn:aws:iam::{member}:root",
                "--task-policy-arn", f"arn={DELETE}", env=env)
    c = out["Credentials"]
    iam = t.client("iam", **creds_of(c))
    # The delete task may delete the root's access keys: the request passes authorization and
    # reaches the key lookup (the member root has none, as AWS creates member accounts).
    expect(iam.delete_access_key, "NoSuchEntity", AccessKeyId="AKIAEXAMPLEEXAMPLE00")
    assert iam.list_access_keys()["AccessKeyMetadata"] == []
    expect(iam.create_access_key, "AccessDenied")
    # A user's credentials are not the root user's: the task policy denies them.
    expect(iam.list_access_keys, "AccessDenied", UserName="someone")


def test_root_password_audited_then_deleted(server, root_org):
    """The member root's console password (`tessera console set-root-password`) as a root session
    sees it: GetLoginProfile without UserName audits it, DeleteLoginProfile removes it."""
    t, member, ops = server, root_org["member"], root_org["ops"]
    proc = subprocess.run([str(BIN), "console", "set-root-password", "--data-dir", str(t.data_dir), "--account",
                           member], input="Member-root-Passw0rd!\n", capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    sts = t.client("sts", **ops)
    audit = t.client("iam", **creds_of(sts.assume_root(TargetPrincipal=member, TaskPolicyArn={"arn": AUDIT})["Credentials"]))
    profile = audit.get_login_profile()["LoginProfile"]
    assert profile["PasswordResetRequired"] is False and profile["CreateDate"]
    expect(audit.delete_login_profile, "AccessDenied")
    delete = t.client("iam", **creds_of(sts.assume_root(TargetPrincipal=member, TaskPolicyArn={"arn": DELETE})["Credentials"]))
    delete.delete_login_profile()
    expect(delete.get_login_profile, "NoSuchEntity")
    expect(delete.delete_login_profile, "NoSuchEntity")
    expect(audit.get_login_profile, "NoSuchEntity")


def console_root_sign_in(t, email, password):
    """The console's root sign-in (email and password); returns the HTTP status (303: signed in)."""
    from test_console import Browser
    b = Browser(t.endpoint)
    return b.post("/console/signin", {"csrf": b.csrf("/console/signin"), "kind": "root", "email": email,
                                      "password": password}).status


def test_create_root_password_session_lets_the_member_root_sign_in_again(server, root_org):
    """AssumeRoot with IAMCreateRootUserPassword, then CreateLoginProfile without UserName: the
    member account's root user has a login profile again (IAM User Guide,
    id_root-user-privileged-task.html; IAM API reference, API_CreateLoginProfile: in an AssumeRoot
    session the user name is omitted). With a Password (Tessera's addition: it sends no recovery
    mail) the root user signs in to the console with it at once; without one (AWS's form) the
    profile waits for its password, which the operator sets (`tessera console set-root-password`,
    Tessera's stand-in for the recovery mail)."""
    t, accounts = server, root_org["accounts"]
    ops = user_with_key(t, t.root_creds, unique("root-pw-ops-"), policy({
        "Effect": "Allow", "Action": "sts:AssumeRoot", "Resource": "*",
        "Condition": {"StringEquals": {"sts:TaskPolicyArn": CREATE}}}))
    sts = t.client("sts", **ops)
    org = t.client("organizations")

    member = accounts.create("recovered")
    email = org.describe_account(AccountId=member)["Account"]["Email"]
    password = "Recovered-r00t-Pw!"
    assert console_root_sign_in(t, email, password) == 401
    iam = t.client("iam", **creds_of(sts.assume_root(TargetPrincipal=member, TaskPolicyArn={"arn": CREATE})["Credentials"]))
    expect(iam.get_login_profile, "NoSuchEntity")
    expect(iam.create_login_profile, "PasswordPolicyViolation", Password="weak")
    profile = iam.create_login_profile(Password=password)["LoginProfile"]
    assert profile["PasswordResetRequired"] is False and profile["CreateDate"]
    assert iam.get_login_profile()["LoginProfile"]["CreateDate"] == profile["CreateDate"]
    expect(iam.create_login_profile, "EntityAlreadyExists")
    assert console_root_sign_in(t, email, password) == 303
    assert console_root_sign_in(t, email, password + "x") == 401
    # The task is the root user's password only: an IAM user's is denied.
    expect(iam.create_login_profile, "AccessDenied", UserName="someone", Password=password)

    # AWS's form, through the CLI: no Password.
    waiting = accounts.create("recovering")
    email = org.describe_account(AccountId=waiting)["Account"]["Email"]
    c = sts.assume_root(TargetPrincipal=waiting, TaskPolicyArn={"arn": CREATE})["Credentials"]
    out = t.cli("iam", "create-login-profile", env=t.env_for(c["AccessKeyId"], c["SecretAccessKey"],
                                                              c["SessionToken"]))
    assert out["LoginProfile"]["PasswordResetRequired"] is True
    assert t.client("iam", **creds_of(c)).get_login_profile()["LoginProfile"]["PasswordResetRequired"] is True
    assert console_root_sign_in(t, email, password) == 401, "no password is set yet"
    proc = subprocess.run([str(BIN), "console", "set-root-password", "--data-dir", str(t.data_dir), "--account",
                           waiting], input=password + "\n", capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert console_root_sign_in(t, email, password) == 303


def test_other_callers_cannot_create_the_root_password(server, root_org):
    t, member, ops = server, root_org["member"], root_org["ops"]
    audit = t.client("iam", **creds_of(t.client("sts", **ops).assume_root(
        TargetPrincipal=member, TaskPolicyArn={"arn": AUDIT})["Credentials"]))
    expect(audit.create_login_profile, "AccessDenied", Password="Recovered-r00t-Pw!")
    expect(audit.create_login_profile, "AccessDenied")
    # The root user's own credentials must name a user ("you must use an AssumeRoot session to
    # omit the user name").
    expect(t.client("iam").create_login_profile, "ValidationError", Password="Recovered-r00t-Pw!")


def test_assume_root_errors_and_denials(server, root_org):
    t, accounts, member, ops = server, root_org["accounts"], root_org["member"], root_org["ops"]
    sts = t.client("sts", **ops)
    raw = unvalidated_client(t, "sts", **ops)
    # DurationSeconds at most 900.
    e = expect(raw.assume_root, "ValidationError", TargetPrincipal=member, TaskPolicyArn={"arn": AUDIT},
               DurationSeconds=901)
    assert "less than or equal to 900" in e.response["Error"]["Message"]
    # Only the AWS managed root-task policies.
    expect(sts.assume_root, "ValidationError", TargetPrincipal=member,
           TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/AdministratorAccess"})
    expect(sts.assume_root, "ValidationError", TargetPrincipal="arn:aws:iam::123456789012:user/x",
           TaskPolicyArn={"arn": AUDIT})
    # A task policy the caller's sts:TaskPolicyArn condition does not allow.
    expect(sts.assume_root, "AccessDenied", TargetPrincipal=member,
           TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/root-task/S3UnlockBucketPolicy"})
    # Never into the management account itself.
    expect(sts.assume_root, "AccessDenied", TargetPrincipal=accounts.mgmt, TaskPolicyArn={"arn": AUDIT})
    # Not into an account outside the organization.
    expect(sts.assume_root, "AccessDenied", TargetPrincipal="123456789012", TaskPolicyArn={"arn": AUDIT})
    # The caller needs sts:AssumeRoot.
    bare = t.client("sts", **user_with_key(t, t.root_creds, unique("root-bare-")))
    expect(bare.assume_root, "AccessDenied", TargetPrincipal=member, TaskPolicyArn={"arn": AUDIT})
    # Root user credentials cannot call it.
    expect(t.client("sts").assume_root, "AccessDenied", TargetPrincipal=member, TaskPolicyArn={"arn": AUDIT})
    # A member account that is not IAM's delegated administrator cannot call it.
    other = accounts.create("not-admin")
    member_sts = t.client("sts", **accounts.admin_creds(other))
    expect(member_sts.assume_root, "AccessDenied", TargetPrincipal=member, TaskPolicyArn={"arn": AUDIT})
    # RootSessions disabled: refused; enabled again: allowed.
    iam = t.client("iam")
    iam.disable_organizations_root_sessions()
    try:
        expect(sts.assume_root, "AccessDenied", TargetPrincipal=member, TaskPolicyArn={"arn": AUDIT})
        with pytest.raises(CliError) as e:
            t.cli("sts", "assume-root", "--target-principal", member, "--task-policy-arn", f"arn={AUDIT}",
                  env=t.env_for(ops["aws_access_key_id"], ops["aws_secret_access_key"]))
        assert e.value.code == "AccessDenied"
    finally:
        iam.enable_organizations_root_sessions()
    assert sts.assume_root(TargetPrincipal=member, TaskPolicyArn={"arn": AUDIT})["Credentials"]["AccessKeyId"]


def test_delegated_administrator_may_assume_root(server, root_org):
    t, accounts, member = server, root_org["accounts"], root_org["member"]
    admin = accounts.create("iam-admin")
    t.client("organizations").register_delegated_administrator(AccountId=admin, ServicePrincipal=IAM_SP)
    try:
        sts = t.client("sts", **accounts.admin_creds(admin))
        c = sts.assume_root(TargetPrincipal=member, TaskPolicyArn={"arn": AUDIT})["Credentials"]
        assert t.client("sts", **creds_of(c)).get_caller_identity()["Arn"] == f"arn:aws:iam::{member}:root"
    finally:
        t.client("organizations").deregister_delegated_administrator(AccountId=admin, ServicePrincipal=IAM_SP)


def test_assume_root_is_recorded_in_cloudtrail(server, root_org):
    t, member, ops = server, root_org["member"], root_org["ops"]
    c = t.client("sts", **ops).assume_root(TargetPrincipal=member, TaskPolicyArn={"arn": AUDIT})["Credentials"]
    trail = t.client("cloudtrail")
    events = []
    for _ in range(100):
        events = trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "AssumeRoot"}])["Events"]
        if events:
            break
        time.sleep(0.1)
    assert events, "AssumeRoot was not recorded in the management account"
    record = json.loads(events[0]["CloudTrailEvent"])
    assert record["eventSource"] == "sts.amazonaws.com"
    assert record["requestParameters"]["targetPrincipal"] == member
    assert record["responseElements"]["credentials"]["accessKeyId"] == c["AccessKeyId"]
    assert "secretAccessKey" not in record["responseElements"]["credentials"]
    assert record["userIdentity"]["arn"].endswith(":user/" + record["userIdentity"]["userName"])
