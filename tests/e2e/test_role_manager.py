"""IAM role manager through boto3 (and the AWS CLI for CloudTrail): account properties, role
templates, AcquireRole. docs/ROLE_MANAGER.md.

Pages: IAM User Guide "Create roles automatically with role manager"
(id_roles_create_role-manager.html), "Manage access to role manager"
(id_roles_create_role-manager_enable-use.html), "Overview of role templates"
(id_roles_create_role-template.html); IAM API Reference API_GetAccountProperties,
API_PutAccountProperties, API_GetRoleTemplateVersion, API_AcquireRole.

The pinned AWS CLI's model predates these operations, so they are called through boto3; the
CloudTrail event is read with the CLI. One server for the module: role manager is an account
setting, and the tests below switch it.
"""
import json
import urllib.parse

import pytest

from conftest import expect_error, policy_document, unique, user_with_key

POWER = "arn:aws:iam::aws:role-template/iam.amazonaws.com/PowerUserRoleTemplate:1"
POWER_USER_ACCESS = "arn:aws:iam::aws:policy/PowerUserAccess"
BACKUP = "arn:aws:iam::aws:role-template/backup.amazonaws.com/AWSBackupDefaultServiceRoleTemplate:1"
RUM = "arn:aws:iam::aws:role-template/rum.amazonaws.com/AmazonCloudWatchRUMPutEventsRoleTemplate:1"
SYNTHETICS_VPC = \
    "arn:aws:iam::aws:role-template/synthetics.amazonaws.com/AmazonCloudWatchSyntheticsVpcExecutionRoleTemplate:1"
SECRETS = "arn:aws:iam::aws:role-template/secretsmanager.amazonaws.com/AWSSecretsManagerRotationRoleTemplate:1"
SAGEMAKER_USER = \
    "arn:aws:iam::aws:role-template/datazone.amazonaws.com/AmazonSageMakerUserIAMPermissiveExecutionRoleTemplate:1"


@pytest.fixture(scope="module")
def t(module_tessera):
    return module_tessera


def set_role_manager(iam, on):
    iam.put_account_properties(Properties={"RoleManager/Enabled": "true" if on else "false"})


def values(**kw):
    return {k: {"Values": v if isinstance(v, list) else [v]} for k, v in kw.items()}


def acquire(iam, **kw):
    return iam.acquire_role(TemplateArn=POWER, ReplacementValues=values(**kw))["Role"]


def no_role(iam, name):
    expect_error(iam.get_role, "NoSuchEntity", RoleName=name)


def test_account_properties_default_enable_disable(t):
    iam = t.client("iam")
    set_role_manager(iam, False)
    assert iam.get_account_properties()["Properties"] == {"RoleManager/Enabled": "false"}
    set_role_manager(iam, True)
    assert iam.get_account_properties()["Properties"] == {"RoleManager/Enabled": "true"}
    set_role_manager(iam, False)
    assert iam.get_account_properties()["Properties"] == {"RoleManager/Enabled": "false"}


@pytest.mark.parametrize(
    "props",
    [
        {"Nope/Enabled": "true"},  # unknown namespace
        {"RoleManager/Other": "true"},  # unknown property
        {"RoleManager": "true"},  # no '/'
        {"RoleManager/Enabled/x": "true"},  # two '/'
        {"RoleManager/Enabled": "yes"},  # not a boolean
        {"RoleManager/Enabled": "true", "Other/Enabled": "true"},  # two namespaces
    ],
)
def test_put_account_properties_rejects_what_aws_does_not_define(t, props):
    iam = t.client("iam")
    set_role_manager(iam, False)
    expect_error(iam.put_account_properties, "InvalidInput", Properties=props)
    assert iam.get_account_properties()["Properties"] == {"RoleManager/Enabled": "false"}


def test_put_account_properties_is_authorized_with_the_namespace_key(t):
    iam = t.client("iam")
    # The User Guide's DenyRoleManagerEnablement statement, as an identity policy here.
    creds = user_with_key(t, t.root_creds, unique("rm-props-"), policy_document(
        {"Effect": "Allow", "Action": ["iam:GetAccountProperties", "iam:PutAccountProperties"], "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:PutAccountProperties", "Resource": "*",
         "Condition": {"ForAnyValue:StringEquals": {"iam:AccountPropertyNamespaces": "RoleManager"}}},
    ))
    user = t.client("iam", **creds)
    assert user.get_account_properties()["Properties"]["RoleManager/Enabled"] in ("true", "false")
    e = expect_error(user.put_account_properties, "AccessDenied", Properties={"RoleManager/Enabled": "true"})
    assert "iam:PutAccountProperties" in e.response["Error"]["Message"]
    nobody = t.client("iam", **user_with_key(t, t.root_creds, unique("rm-none-")))
    expect_error(nobody.get_account_properties, "AccessDenied")


def test_get_role_template_version(t):
    iam = t.client("iam")
    v = iam.get_role_template_version(TemplateArn=POWER)["RoleTemplateVersion"]
    assert v["TemplateArn"] == POWER and v["TemplateName"] == "PowerUserRoleTemplate"
    assert (v["MajorVersion"], v["MinorVersion"], v["DefaultMinorVersion"]) == (1, 0, 0)
    assert v["Enabled"] is True and v["VersionEnabled"] is True
    assert v["ManagedByType"] == "Service" and v["ManagedByValue"] == "iam.amazonaws.com"
    assert v["ManagedPolicyArns"] == [POWER_USER_ACCESS]
    trust = v["AssumeRolePolicyDocumentTemplate"]  # botocore decodes policyDocumentType members
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "@{AWSServiceName}"}
    params = {p["Name"]: p for p in v["ParametersDefinition"]}
    assert set(params) == {"AWSServiceName", "RoleName"}
    assert params["AWSServiceName"]["IsRequired"] is True
    assert params["RoleName"]["DefaultValue"] == "PowerUserRole"
    assert iam.get_role_template_version(TemplateArn=POWER, MinorVersion=0)["RoleTemplateVersion"] == v
    expect_error(iam.get_role_template_version, "NoSuchEntity", TemplateArn=POWER, MinorVersion=5)
    expect_error(iam.get_role_template_version, "NoSuchEntity",
                 TemplateArn="arn:aws:iam::aws:role-template/iam.amazonaws.com/NoSuchTemplate:1")
    expect_error(iam.get_role_template_version, "InvalidInput", TemplateArn="not-a-role-template-arn")
    # A template whose parameters Tessera cannot map onto a documented role: said, not invented.
    e = expect_error(iam.get_role_template_version, "NotImplemented", TemplateArn=SAGEMAKER_USER)
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_acquire_role_works_without_role_manager(t):
    # IAM User Guide, "Overview of role templates": "you can also use role templates without role
    # manager"; role manager's switch governs the consoles' automatic roles, not the API.
    iam = t.client("iam")
    set_role_manager(iam, False)
    name = unique("rm-off-")
    role = acquire(iam, AWSServiceName="lambda.amazonaws.com", RoleName=name)
    assert role["RoleName"] == name
    assert iam.get_role(RoleName=name)["Role"]["RoleId"] == role["RoleId"]


def test_acquire_role_creates_then_returns_the_same_role(t):
    iam = t.client("iam")
    set_role_manager(iam, True)
    name = unique("rm-fn-")
    first = acquire(iam, AWSServiceName="lambda.amazonaws.com", RoleName=name)
    assert first["RoleName"] == name and first["Path"] == "/"
    assert first["SourceRoleTemplate"] == {"TemplateArn": POWER, "TemplateMinorVersion": 0}
    role = iam.get_role(RoleName=name)["Role"]
    assert role["RoleId"] == first["RoleId"]
    assert role["SourceRoleTemplate"] == {"TemplateArn": POWER, "TemplateMinorVersion": 0}
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [POWER_USER_ACCESS]
    listed = [r for r in iam.list_roles()["Roles"] if r["RoleName"] == name]
    assert listed and listed[0]["SourceRoleTemplate"]["TemplateArn"] == POWER
    second = acquire(iam, AWSServiceName="lambda.amazonaws.com", RoleName=name)
    assert second["RoleId"] == first["RoleId"] and second["CreateDate"] == first["CreateDate"]
    assert sum(r["RoleName"] == name for r in iam.list_roles()["Roles"]) == 1
    # Roles made by hand carry no SourceRoleTemplate.
    plain = unique("rm-plain-")
    iam.create_role(RoleName=plain, AssumeRolePolicyDocument=policy_document(
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}))
    assert "SourceRoleTemplate" not in iam.get_role(RoleName=plain)["Role"]


def test_acquire_role_default_name_is_the_cloudtrail_examples(t):
    # The User Guide's CloudTrail example: only AWSServiceName given, role PowerUserRole at /.
    iam = t.client("iam")
    set_role_manager(iam, True)
    role = acquire(iam, AWSServiceName="iam.amazonaws.com")
    assert (role["RoleName"], role["Path"]) == ("PowerUserRole", "/")
    doc = json.loads(urllib.parse.unquote(role["AssumeRolePolicyDocument"])) \
        if isinstance(role["AssumeRolePolicyDocument"], str) else role["AssumeRolePolicyDocument"]
    assert doc["Statement"][0]["Principal"] == {"Service": "iam.amazonaws.com"}


@pytest.mark.parametrize(
    "given",
    [
        {"RoleName": "rm-missing-service"},  # AWSServiceName is required
        {"AWSServiceName": "lambda.amazonaws.com", "RoleName": "rm-x", "Department": "x"},  # not a parameter
        {"AWSServiceName": ["lambda.amazonaws.com", "events.amazonaws.com"], "RoleName": "rm-two"},  # String: one
        {"AWSServiceName": "lambda.amazonaws.com", "RoleName": "bad name!"},  # not a role name
    ],
)
def test_acquire_role_checks_replacement_values(t, given):
    iam = t.client("iam")
    set_role_manager(iam, True)
    expect_error(iam.acquire_role, "InvalidInput", TemplateArn=POWER, ReplacementValues=values(**given))
    name = given.get("RoleName")
    if isinstance(name, str) and " " not in name:
        no_role(iam, name)


def test_acquire_role_unknown_or_unpublished_template(t):
    iam = t.client("iam")
    set_role_manager(iam, True)
    expect_error(iam.acquire_role, "NoSuchEntity",
                 TemplateArn="arn:aws:iam::aws:role-template/iam.amazonaws.com/NoSuchTemplate:1")
    expect_error(iam.acquire_role, "NoSuchEntity", TemplateArn=POWER, TemplateMinorVersion=9,
                 ReplacementValues=values(AWSServiceName="lambda.amazonaws.com"))
    name = unique("rm-sm-")
    expect_error(iam.acquire_role, "NotImplemented", TemplateArn=SAGEMAKER_USER,
                 ReplacementValues=values(accountId="123456789012", RoleName=name))
    no_role(iam, name)


def test_acquire_role_evaluates_each_underlying_action(t):
    iam = t.client("iam")
    set_role_manager(iam, True)
    name = unique("rm-perm-")
    given = values(AWSServiceName="lambda.amazonaws.com", RoleName=name)
    # Without iam:CreateRole: denied, nothing created.
    no_create = t.client("iam", **user_with_key(t, t.root_creds, unique("rm-nocreate-"), policy_document(
        {"Effect": "Allow", "Action": ["iam:GetRole", "iam:AttachRolePolicy", "iam:PutRolePolicy"], "Resource": "*"})))
    e = expect_error(no_create.acquire_role, "AccessDenied", TemplateArn=POWER, ReplacementValues=given)
    assert "iam:CreateRole" in e.response["Error"]["Message"]
    no_role(iam, name)
    # iam:CreateRole without iam:AttachRolePolicy: the template attaches a managed policy.
    no_attach = t.client("iam", **user_with_key(t, t.root_creds, unique("rm-noattach-"), policy_document(
        {"Effect": "Allow", "Action": ["iam:GetRole", "iam:CreateRole"], "Resource": "*"})))
    e = expect_error(no_attach.acquire_role, "AccessDenied", TemplateArn=POWER, ReplacementValues=given)
    assert "iam:AttachRolePolicy" in e.response["Error"]["Message"]
    no_role(iam, name)
    # The three it needs: created.
    full = t.client("iam", **user_with_key(t, t.root_creds, unique("rm-full-"), policy_document(
        {"Effect": "Allow", "Action": ["iam:CreateRole", "iam:AttachRolePolicy"], "Resource": "*"})))
    made = full.acquire_role(TemplateArn=POWER, ReplacementValues=given)["Role"]
    assert made["RoleName"] == name
    # The role exists now: returning it needs iam:GetRole alone.
    expect_error(full.acquire_role, "AccessDenied", TemplateArn=POWER, ReplacementValues=given)
    reader = t.client("iam", **user_with_key(t, t.root_creds, unique("rm-reader-"), policy_document(
        {"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"})))
    assert reader.acquire_role(TemplateArn=POWER, ReplacementValues=given)["Role"]["RoleId"] == made["RoleId"]


def test_role_template_arn_condition_key_blocks_templated_creation_only(t):
    iam = t.client("iam")
    set_role_manager(iam, True)
    # The User Guide's DenyTemplatedRoleCreation statement, beside an allow of everything IAM.
    user = t.client("iam", **user_with_key(t, t.root_creds, unique("rm-scp-"), policy_document(
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:*", "Resource": "*", "Condition": {"Null": {"iam:RoleTemplateARN": "false"}}},
    )))
    name = unique("rm-tpl-")
    expect_error(user.acquire_role, "AccessDenied", TemplateArn=POWER,
                 ReplacementValues=values(AWSServiceName="lambda.amazonaws.com", RoleName=name))
    no_role(iam, name)
    expect_error(user.get_role_template_version, "AccessDenied", TemplateArn=POWER)
    user.create_role(RoleName=name, AssumeRolePolicyDocument=policy_document(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}))


def test_name_conflict_and_role_modified(t):
    iam = t.client("iam")
    set_role_manager(iam, True)
    # A role of that name made by hand.
    hand = unique("rm-hand-")
    iam.create_role(RoleName=hand, AssumeRolePolicyDocument=policy_document(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}))
    iam.attach_role_policy(RoleName=hand, PolicyArn=POWER_USER_ACCESS)
    e = expect_error(iam.acquire_role, "NameConflict", TemplateArn=POWER,
                     ReplacementValues=values(AWSServiceName="lambda.amazonaws.com", RoleName=hand))
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert "SourceRoleTemplate" not in iam.get_role(RoleName=hand)["Role"]
    # Made from the template for another service: the same name with other values conflicts.
    other = unique("rm-other-")
    acquire(iam, AWSServiceName="lambda.amazonaws.com", RoleName=other)
    expect_error(iam.acquire_role, "NameConflict", TemplateArn=POWER,
                 ReplacementValues=values(AWSServiceName="events.amazonaws.com", RoleName=other))
    # Made from the template, then its permissions changed: role manager no longer manages it.
    changed = unique("rm-changed-")
    acquire(iam, AWSServiceName="lambda.amazonaws.com", RoleName=changed)
    iam.put_role_policy(RoleName=changed, PolicyName="extra", PolicyDocument=policy_document(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}))
    e = expect_error(iam.acquire_role, "RoleModified", TemplateArn=POWER,
                     ReplacementValues=values(AWSServiceName="lambda.amazonaws.com", RoleName=changed))
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    # Put back as the template made it: it matches again.
    iam.delete_role_policy(RoleName=changed, PolicyName="extra")
    assert acquire(iam, AWSServiceName="lambda.amazonaws.com", RoleName=changed)["RoleName"] == changed
    # A changed trust policy is a modification too.
    iam.update_assume_role_policy(RoleName=changed, PolicyDocument=policy_document(
        {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}))
    expect_error(iam.acquire_role, "RoleModified", TemplateArn=POWER,
                 ReplacementValues=values(AWSServiceName="lambda.amazonaws.com", RoleName=changed))


def test_cloudtrail_records_one_acquire_role_event(t):
    iam = t.client("iam")
    set_role_manager(iam, True)
    name = unique("rm-trail-")
    role = acquire(iam, AWSServiceName="lambda.amazonaws.com", RoleName=name)
    out = t.cli("cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=EventName,AttributeValue=AcquireRole")
    events = [json.loads(e["CloudTrailEvent"]) for e in out["Events"]]
    mine = [e for e in events if (e.get("responseElements") or {}).get("role", {}).get("roleName") == name]
    assert len(mine) == 1, events
    e = mine[0]
    assert e["eventSource"] == "iam.amazonaws.com" and e["readOnly"] is False
    assert e["requestParameters"]["templateArn"] == POWER
    assert e["responseElements"]["role"]["sourceRoleTemplate"] == {"templateArn": POWER, "templateMinorVersion": 0}
    assert e["requestParameters"]["replacementValues"]["AWSServiceName"]["values"] == ["lambda.amazonaws.com"]
    assert e["responseElements"]["role"]["roleId"] == role["RoleId"]
    # One event: no CreateRole or AttachRolePolicy events of their own for that role.
    for other in ("CreateRole", "AttachRolePolicy"):
        out = t.cli("cloudtrail", "lookup-events", "--lookup-attributes", f"AttributeKey=EventName,AttributeValue={other}")
        assert not [x for x in out["Events"] if name in x["CloudTrailEvent"]]


def account_of(t):
    return t.client("sts").get_caller_identity()["Account"]


def as_doc(d):
    """A policy document as botocore returns it (decoded already, or URL-encoded JSON text)."""
    return json.loads(urllib.parse.unquote(d)) if isinstance(d, str) else d


def test_backup_template_renders_the_default_service_role(t):
    # AWS Backup Developer Guide, "IAM service roles": AWSBackupDefaultServiceRole trusts AWS Backup
    # and has AWSBackupServiceRolePolicyForBackup and AWSBackupServiceRolePolicyForRestores.
    iam = t.client("iam")
    v = iam.get_role_template_version(TemplateArn=BACKUP)["RoleTemplateVersion"]
    assert v["TemplateName"] == "AWSBackupDefaultServiceRoleTemplate"
    assert {p["Name"] for p in v["ParametersDefinition"]} == {"accountId", "RoleName"}
    role = iam.acquire_role(TemplateArn=BACKUP, ReplacementValues=values(accountId="123456789012"))["Role"]
    assert (role["RoleName"], role["Path"]) == ("AWSBackupDefaultServiceRole", "/service-role/")
    assert role["SourceRoleTemplate"] == {"TemplateArn": BACKUP, "TemplateMinorVersion": 0}
    got = iam.get_role(RoleName="AWSBackupDefaultServiceRole")["Role"]
    assert as_doc(got["AssumeRolePolicyDocument"])["Statement"][0]["Principal"] == {"Service": "backup.amazonaws.com"}
    attached = iam.list_attached_role_policies(RoleName="AWSBackupDefaultServiceRole")["AttachedPolicies"]
    assert sorted(p["PolicyArn"] for p in attached) == [
        "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
        "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
    ]
    assert iam.list_role_policies(RoleName="AWSBackupDefaultServiceRole")["PolicyNames"] == []


def test_rum_template_renders_the_identity_pool_role(t):
    iam = t.client("iam")
    account = account_of(t)
    name = unique("rm-rum-")
    pool = "us-east-1:11111111-2222-3333-4444-555555555555"
    iam.acquire_role(TemplateArn=RUM, ReplacementValues=values(
        RoleName=name, accountId=account, appMonitor="shop-web", identityPool=pool, region="us-east-1"))
    trust = as_doc(iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"])["Statement"][0]
    assert trust["Principal"] == {"Federated": "cognito-identity.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Condition"]["StringEquals"] == {"cognito-identity.amazonaws.com:aud": pool}
    assert trust["Condition"]["ForAnyValue:StringLike"] == {"cognito-identity.amazonaws.com:amr": "unauthenticated"}
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
    [policy] = iam.list_role_policies(RoleName=name)["PolicyNames"]
    doc = as_doc(iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"])
    assert doc["Statement"] == [{"Effect": "Allow", "Action": "rum:PutRumEvents",
                                 "Resource": f"arn:aws:rum:us-east-1:{account}:appmonitor/shop-web"}]
    # Every placeholder is a declared parameter: a missing required one is InvalidInput, nothing made.
    other = unique("rm-rum-")
    expect_error(iam.acquire_role, "InvalidInput", TemplateArn=RUM,
                 ReplacementValues=values(RoleName=other, accountId=account, region="us-east-1"))
    no_role(iam, other)


def test_synthetics_vpc_template_renders_the_canary_role(t):
    iam = t.client("iam")
    account = account_of(t)
    name = unique("rm-canary-")
    iam.acquire_role(TemplateArn=SYNTHETICS_VPC, ReplacementValues=values(
        RoleName=name, account_id=account, canary_name="shop", region_name="eu-west-1", role_uuid="1a2b"))
    role = iam.get_role(RoleName=name)["Role"]
    assert role["Path"] == "/service-role/"
    assert as_doc(role["AssumeRolePolicyDocument"])["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["CloudWatchSyntheticsPolicy-shop-1a2b"]
    doc = as_doc(iam.get_role_policy(RoleName=name, PolicyName="CloudWatchSyntheticsPolicy-shop-1a2b")["PolicyDocument"])
    text = json.dumps(doc)
    assert "@{" not in text
    resources = [r for s in doc["Statement"] for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
    assert f"arn:aws:logs:eu-west-1:{account}:log-group:/aws/lambda/cwsyn-shop-*" in resources
    assert f"arn:aws:s3:::cw-syn-results-{account}-eu-west-1/canary/eu-west-1/shop-*" in resources
    actions = {a for s in doc["Statement"] for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert {"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
            "cloudwatch:PutMetricData", "xray:PutTraceSegments"} <= actions
    # The same values again return the same role.
    again = iam.acquire_role(TemplateArn=SYNTHETICS_VPC, ReplacementValues=values(
        RoleName=name, account_id=account, canary_name="shop", region_name="eu-west-1", role_uuid="1a2b"))
    assert again["Role"]["RoleId"] == role["RoleId"]


def test_secrets_manager_template_switches_the_key_statement_on(t):
    iam = t.client("iam")
    account = account_of(t)
    key = f"arn:aws:kms:us-east-1:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    base = dict(accountId=account, region="us-east-1")
    # CMK_ENABLED without the key it needs: InvalidInput, nothing made.
    name = unique("rm-rot-")
    expect_error(iam.acquire_role, "InvalidInput", TemplateArn=SECRETS,
                 ReplacementValues=values(RoleName=name, CMK_ENABLED="true", **base))
    no_role(iam, name)
    iam.acquire_role(TemplateArn=SECRETS, ReplacementValues=values(RoleName=name, CMK_ENABLED="true", kmsKeyArn=key, **base))
    role = iam.get_role(RoleName=name)["Role"]
    assert as_doc(role["AssumeRolePolicyDocument"])["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert sorted(iam.list_role_policies(RoleName=name)["PolicyNames"]) == [
        "SecretsManagerRotation", "SecretsManagerRotationCustomerManagedKey"]
    kms = as_doc(iam.get_role_policy(RoleName=name, PolicyName="SecretsManagerRotationCustomerManagedKey")["PolicyDocument"])
    assert kms["Statement"][0]["Resource"] == key
    rotate = as_doc(iam.get_role_policy(RoleName=name, PolicyName="SecretsManagerRotation")["PolicyDocument"])
    assert rotate["Statement"][0]["Resource"] == f"arn:aws:secretsmanager:us-east-1:{account}:secret:*"
    # Off by default: the rotation policy alone.
    plain = unique("rm-rot-")
    iam.acquire_role(TemplateArn=SECRETS, ReplacementValues=values(RoleName=plain, **base))
    assert iam.list_role_policies(RoleName=plain)["PolicyNames"] == ["SecretsManagerRotation"]
