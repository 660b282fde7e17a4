"""IAM Access Analyzer over the wire (docs/ACCESS_ANALYZER.md), through boto3's `accessanalyzer`
client: analyzers and their errors, tags, external-access findings for role trust policies and
S3 buckets that appear and resolve as policies change, archive rules, statistics, the
operations Tessera does not build, and the PostgreSQL backend.

Each test works in member accounts of its own (an account may hold one ACCOUNT analyzer per
Region), made through Organizations on the session server."""

import json
import os
import time
from datetime import datetime, timezone

import botocore.exceptions
import pytest

from conftest import Accounts, unique, user_with_key
from test_postgres_backend import create_account_boto3, needs_postgres, store_url  # noqa: F401

OUTSIDE = "123456789012"  # an account no Tessera organization holds


def aa(t, creds):
    return t.client("accessanalyzer", **creds)


def error_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


def trust(*principals, condition=None):
    statement = {"Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def findings(client, arn, **kw):
    return client.list_findings(analyzerArn=arn, **kw)["findings"]


def by_resource(client, arn, resource):
    return [f for f in findings(client, arn) if f["resource"] == resource]


@pytest.fixture
def member(tessera, accounts):
    """A fresh member account: (account id, admin credentials)."""
    account = accounts.create("aa")
    return account, accounts.admin_creds(account)


def test_analyzer_lifecycle_tags_and_errors(tessera, member):
    account, creds = member
    client = aa(tessera, creds)
    name = unique("acct-")
    arn = client.create_analyzer(analyzerName=name, type="ACCOUNT", tags={"team": "sec"})["arn"]
    assert arn == f"arn:aws:access-analyzer:us-east-1:{account}:analyzer/{name}"
    got = client.get_analyzer(analyzerName=name)["analyzer"]
    assert (got["arn"], got["name"], got["type"], got["status"], got["tags"]) == (arn, name, "ACCOUNT", "ACTIVE", {"team": "sec"})
    assert isinstance(got["createdAt"], datetime)
    assert [a["name"] for a in client.list_analyzers()["analyzers"]] == [name]
    assert client.list_analyzers(type="ORGANIZATION")["analyzers"] == []

    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.create_analyzer(analyzerName=name, type="ACCOUNT")
    assert error_of(e) == "ConflictException" and e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.create_analyzer(analyzerName=unique("second-"), type="ACCOUNT")
    assert error_of(e) == "ServiceQuotaExceededException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.create_analyzer(analyzerName="1-starts-with-a-digit", type="ACCOUNT")
    assert error_of(e) == "ValidationException"
    assert e.value.response["reason"] == "fieldValidationFailed"
    assert [f["name"] for f in e.value.response["fieldList"]] == ["analyzerName"]

    client.tag_resource(resourceArn=arn, tags={"env": "prod"})
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "sec", "env": "prod"}
    client.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "prod"}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.tag_resource(resourceArn=arn, tags={"aws:reserved": "x"})
    assert error_of(e) == "ValidationException"

    client.delete_analyzer(analyzerName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.get_analyzer(analyzerName=name)
    assert error_of(e) == "ResourceNotFoundException" and e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.list_tags_for_resource(resourceArn=arn)
    assert error_of(e) == "ResourceNotFoundException"
    # The quota counts live analyzers: one may be made again.
    client.create_analyzer(analyzerName=name, type="ACCOUNT")


def test_organization_analyzer_only_from_management_or_delegated_admin(tessera, accounts, member):
    account, creds = member
    with pytest.raises(botocore.exceptions.ClientError) as e:
        aa(tessera, creds).create_analyzer(analyzerName=unique("org-"), type="ORGANIZATION")
    assert error_of(e) == "AccessDeniedException"

    # Registered as delegated administrator for Access Analyzer, the member may.
    org = tessera.client("organizations")
    org.enable_aws_service_access(ServicePrincipal="access-analyzer.amazonaws.com")
    org.register_delegated_administrator(AccountId=account, ServicePrincipal="access-analyzer.amazonaws.com")
    try:
        client = aa(tessera, creds)
        name = unique("org-")
        client.create_analyzer(analyzerName=name, type="ORGANIZATION")
        assert client.get_analyzer(analyzerName=name)["analyzer"]["type"] == "ORGANIZATION"

        # Zone of trust: the organization. A role trusting another member is not a finding; one
        # trusting an account outside the organization is.
        other = accounts.create("aa-other")
        iam = tessera.client("iam", **creds)
        inside, outside = unique("inside-"), unique("outside-")
        iam.create_role(RoleName=inside, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{other}:root"))
        iam.create_role(RoleName=outside, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{OUTSIDE}:root"))
        arn = client.get_analyzer(analyzerName=name)["analyzer"]["arn"]
        assert by_resource(client, arn, f"arn:aws:iam::{account}:role/{inside}") == []
        [f] = by_resource(client, arn, f"arn:aws:iam::{account}:role/{outside}")
        assert f["principal"] == {"AWS": f"arn:aws:iam::{OUTSIDE}:root"} and f["status"] == "ACTIVE"
        client.delete_analyzer(analyzerName=name)
    finally:
        org.deregister_delegated_administrator(AccountId=account, ServicePrincipal="access-analyzer.amazonaws.com")


def test_unbuilt_operations_say_not_implemented(tessera, member):
    _, creds = member
    client = aa(tessera, creds)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.create_service_linked_analyzer(type="ACCOUNT_UNUSED_ACCESS")
    assert error_of(e) == "NotImplemented" and e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.create_analyzer(analyzerName=unique("unused-"), type="ACCOUNT_UNUSED_ACCESS",
                               configuration={"unusedAccess": {"analysisRule": {"exclusions": [{"accountIds": ["111111111111"]}]}}})
    assert error_of(e) == "NotImplemented"
    assert client.list_analyzers()["analyzers"] == []


def test_role_trust_findings_appear_and_resolve(tessera, accounts, member):
    account, creds = member
    other = accounts.create("aa-peer")
    client, iam = aa(tessera, creds), tessera.client("iam", **creds)
    arn = client.create_analyzer(analyzerName=unique("acct-"), type="ACCOUNT")["arn"]
    role = unique("trusting-")
    role_arn = f"arn:aws:iam::{account}:role/{role}"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{account}:root"))
    assert by_resource(client, arn, role_arn) == [], "the account itself is the zone of trust"

    # Trusting another account (another member: outside an ACCOUNT analyzer's zone) and an
    # account of another organization, with an external id.
    t0 = time.time()
    iam.update_assume_role_policy(
        RoleName=role,
        PolicyDocument=trust(f"arn:aws:iam::{other}:root", f"arn:aws:iam::{OUTSIDE}:root", condition={"StringEquals": {"sts:ExternalId": "xyz"}}),
    )
    # (How soon the background analysis writes it is a benchmark, bench/analyzer_latency.py, not
    # a timed assertion; a read catches up first in any case.)
    found = by_resource(client, arn, role_arn)
    assert sorted(f["principal"]["AWS"] for f in found) == sorted([f"arn:aws:iam::{other}:root", f"arn:aws:iam::{OUTSIDE}:root"])
    for f in found:
        assert f["status"] == "ACTIVE" and f["resourceType"] == "AWS::IAM::Role" and not f["isPublic"]
        assert f["resourceOwnerAccount"] == account
        assert f["condition"] == {"sts:ExternalId": "xyz"}
        assert "sts:AssumeRole" in f["action"]
        assert f["createdAt"].timestamp() >= t0 - 1, (f["createdAt"], t0)  # made by this change
    first = found[0]["id"]
    got = client.get_finding(analyzerArn=arn, id=first)["finding"]
    assert got["id"] == first and got["resource"] == role_arn
    v2 = client.get_finding_v2(analyzerArn=arn, id=first)
    assert v2["findingType"] == "ExternalAccess"
    assert v2["findingDetails"][0]["externalAccessDetails"]["condition"] == {"sts:ExternalId": "xyz"}

    # Back to the account only: both findings resolve.
    t1 = time.time()
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=trust(f"arn:aws:iam::{account}:root"))
    resolved = by_resource(client, arn, role_arn)
    assert {f["status"] for f in resolved} == {"RESOLVED"} and len(resolved) == 2
    for f in resolved:
        assert f["updatedAt"].timestamp() >= t1 - 1, (f["updatedAt"], t1)  # resolved by this change

    # A wildcard principal is public; deleting the role resolves its finding.
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=trust("*"))
    public = [f for f in by_resource(client, arn, role_arn) if f["status"] == "ACTIVE"]
    assert [(f["principal"], f["isPublic"]) for f in public] == [({"AWS": "*"}, True)]
    iam.delete_role(RoleName=role)
    assert {f["status"] for f in by_resource(client, arn, role_arn)} == {"RESOLVED"}


def test_a_trust_pinned_to_the_own_organization_is_not_a_finding(tessera, member):
    account, creds = member
    client, iam = aa(tessera, creds), tessera.client("iam", **creds)
    org_id = tessera.client("organizations").describe_organization()["Organization"]["Id"]
    arn = client.create_analyzer(analyzerName=unique("acct-"), type="ACCOUNT")["arn"]
    role = unique("org-pinned-")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust("*", condition={"StringEquals": {"aws:PrincipalOrgID": org_id}}))
    [f] = by_resource(client, arn, f"arn:aws:iam::{account}:role/{role}")
    # Outside the account but inside the organization: reported as such, not as public.
    assert f["principal"] == {"AWS": "*"} and not f["isPublic"]
    assert f["condition"] == {"aws:PrincipalOrgID": org_id}
    org_client = aa(tessera, creds)
    assert org_client.get_analyzer(analyzerName=arn.rsplit("/", 1)[1])["analyzer"]["arn"] == arn


def test_public_bucket_policy_acl_and_block_public_access(tessera, member):
    account, creds = member
    client, s3 = aa(tessera, creds), tessera.client("s3", **creds)
    arn = client.create_analyzer(analyzerName=unique("acct-"), type="ACCOUNT")["arn"]
    bucket = unique("aa-public-")
    bucket_arn = f"arn:aws:s3:::{bucket}"
    s3.create_bucket(Bucket=bucket, ObjectOwnership="ObjectWriter")
    s3.delete_public_access_block(Bucket=bucket)
    assert by_resource(client, arn, bucket_arn) == []

    public_read = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"{bucket_arn}/*"}],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public_read))
    [f] = by_resource(client, arn, bucket_arn)
    assert (f["isPublic"], f["principal"], f["resourceType"], f["status"]) == (True, {"AWS": "*"}, "AWS::S3::Bucket", "ACTIVE")
    assert f["action"] == ["s3:GetObject"] and f["sources"] == [{"type": "POLICY"}]

    # RestrictPublicBuckets: the public policy no longer grants anyone outside the account.
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False, "RestrictPublicBuckets": True,
        },
    )
    assert [f["status"] for f in by_resource(client, arn, bucket_arn)] == ["RESOLVED"]
    s3.delete_public_access_block(Bucket=bucket)

    # A condition on the caller's network is reported; the finding is a new one.
    public_read["Statement"][0]["Condition"] = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public_read))
    active = [f for f in by_resource(client, arn, bucket_arn) if f["status"] == "ACTIVE"]
    assert [f["condition"] for f in active] == [{"aws:SourceIp": "10.0.0.0/8"}]
    s3.delete_bucket_policy(Bucket=bucket)

    # A public-read ACL.
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    [acl] = [f for f in by_resource(client, arn, bucket_arn) if f["status"] == "ACTIVE"]
    assert acl["sources"] == [{"type": "BUCKET_ACL"}] and acl["isPublic"] and "s3:ListBucket" in acl["action"]
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": False,
        },
    )
    assert all(f["status"] == "RESOLVED" for f in by_resource(client, arn, bucket_arn))

    stats = client.get_findings_statistics(analyzerArn=arn)["findingsStatistics"][0]["externalAccessFindingsStatistics"]
    # Active: only the member account's OrganizationAccountAccessRole (it trusts the management
    # account, outside this ACCOUNT analyzer's zone of trust).
    assert "AWS::S3::Bucket" not in stats["resourceTypeStatistics"]
    assert stats["totalActiveFindings"] == 1 and stats["totalResolvedFindings"] == 3


def test_archive_rules_update_findings_v2_filters_and_statistics(tessera, member):
    account, creds = member
    client, iam = aa(tessera, creds), tessera.client("iam", **creds)
    name = unique("acct-")
    arn = client.create_analyzer(
        analyzerName=name,
        type="ACCOUNT",
        archiveRules=[{"ruleName": "partner", "filter": {"principal.AWS": {"eq": ["111111111111"]}}}],
    )["arn"]
    roles = [unique("r1-"), unique("r2-"), unique("r3-")]
    iam.create_role(RoleName=roles[0], AssumeRolePolicyDocument=trust("111111111111"))
    iam.create_role(RoleName=roles[1], AssumeRolePolicyDocument=trust(OUTSIDE))
    iam.create_role(RoleName=roles[2], AssumeRolePolicyDocument=trust("*"))
    mine = {"resource": {"neq": [f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"]}}
    status = {f["resource"].rsplit("/", 1)[1]: f["status"] for f in findings(client, arn, filter=mine)}
    assert status == {roles[0]: "ARCHIVED", roles[1]: "ACTIVE", roles[2]: "ACTIVE"}, "the inline rule archives new findings"

    # A new rule archives new findings only; ApplyArchiveRule archives the existing ones.
    client.create_archive_rule(analyzerName=name, ruleName="public", filter={"isPublic": {"eq": ["true"]}})
    assert [r["ruleName"] for r in client.list_archive_rules(analyzerName=name)["archiveRules"]] == ["partner", "public"]
    assert client.get_archive_rule(analyzerName=name, ruleName="public")["archiveRule"]["filter"] == {"isPublic": {"eq": ["true"]}}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.create_archive_rule(analyzerName=name, ruleName="public", filter={"isPublic": {"eq": ["true"]}})
    assert error_of(e) == "ConflictException"
    public = findings(client, arn, filter={"isPublic": {"eq": ["true"]}})
    assert [f["status"] for f in public] == ["ACTIVE"]
    client.apply_archive_rule(analyzerArn=arn, ruleName="public")
    assert [f["status"] for f in findings(client, arn, filter={"isPublic": {"eq": ["true"]}})] == ["ARCHIVED"]
    client.update_archive_rule(analyzerName=name, ruleName="public", filter={"isPublic": {"eq": ["false"]}})
    client.delete_archive_rule(analyzerName=name, ruleName="public")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.get_archive_rule(analyzerName=name, ruleName="public")
    assert error_of(e) == "ResourceNotFoundException"

    # UpdateFindings, by id and by resource.
    [partner] = findings(client, arn, filter={"principal.AWS": {"eq": ["111111111111"]}})
    client.update_findings(analyzerArn=arn, status="ACTIVE", ids=[partner["id"]])
    client.update_findings(analyzerArn=arn, status="ACTIVE", resourceArn=f"arn:aws:iam::{account}:role/{roles[2]}")
    assert {f["status"] for f in findings(client, arn, filter=mine)} == {"ACTIVE"}
    client.update_findings(analyzerArn=arn, status="ARCHIVED", ids=[partner["id"]])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.update_findings(analyzerArn=arn, status="RESOLVED", ids=[partner["id"]])
    assert error_of(e) == "ValidationException"

    # V2: summaries, filters, sort and pages.
    v2 = client.list_findings_v2(analyzerArn=arn, filter=mine, sort={"attributeName": "resource", "orderBy": "DESC"})["findings"]
    assert [f["resource"].rsplit("/", 1)[1] for f in v2] == sorted(roles, reverse=True)
    assert {f["findingType"] for f in v2} == {"ExternalAccess"}
    active = client.list_findings_v2(analyzerArn=arn, filter={**mine, "status": {"eq": ["ACTIVE"]}})["findings"]
    assert len(active) == 2
    page = client.list_findings_v2(analyzerArn=arn, filter=mine, maxResults=2)
    assert len(page["findings"]) == 2 and "nextToken" in page
    rest = client.list_findings_v2(analyzerArn=arn, filter=mine, maxResults=2, nextToken=page["nextToken"])
    assert len(rest["findings"]) == 1 and "nextToken" not in rest

    stats = client.get_findings_statistics(analyzerArn=arn)["findingsStatistics"][0]["externalAccessFindingsStatistics"]
    # Active: roles[1], roles[2] and the member's OrganizationAccountAccessRole.
    assert (stats["totalActiveFindings"], stats["totalArchivedFindings"], stats["totalResolvedFindings"]) == (3, 1, 0)
    assert stats["resourceTypeStatistics"]["AWS::IAM::Role"] == {
        "totalActivePublic": 1, "totalActiveCrossAccount": 2, "totalActiveErrors": 0,
    }
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.get_finding(analyzerArn=arn, id="00000000-0000-4000-a000-000000000000")
    assert error_of(e) == "ResourceNotFoundException"


def test_calls_are_authorized_and_audited(tessera, member):
    account, creds = member
    name = unique("reader-")
    reader = user_with_key(
        tessera, creds, name,
        json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["access-analyzer:ListAnalyzers", "access-analyzer:GetAnalyzer"], "Resource": "*"},
        ]}),
    )
    client = aa(tessera, reader)
    assert client.list_analyzers()["analyzers"] == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.create_analyzer(analyzerName="denied", type="ACCOUNT")
    assert error_of(e) == "AccessDeniedException"
    assert "access-analyzer:CreateAnalyzer" in e.value.response["Error"]["Message"]

    trail = tessera.client("cloudtrail", **creds)
    deadline = time.time() + 10
    events = []
    while time.time() < deadline and not events:
        events = [
            json.loads(ev["CloudTrailEvent"])
            for ev in trail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateAnalyzer"}])["Events"]
        ]
        events = [ev for ev in events if ev["userIdentity"].get("userName") == name]
        time.sleep(0.2)
    assert events, "the denied CreateAnalyzer is in the trail"
    assert events[0]["eventSource"] == "access-analyzer.amazonaws.com"
    assert events[0]["errorCode"] == "AccessDeniedException"


@needs_postgres
def test_findings_on_postgres(tessera_factory, store_url):  # noqa: F811
    t = tessera_factory("data", ["--store-url", store_url]).start()
    client, iam = t.client("accessanalyzer"), t.client("iam")
    arn = client.create_analyzer(analyzerName="pg", type="ACCOUNT")["arn"]
    iam.create_role(RoleName="partner", AssumeRolePolicyDocument=trust(OUTSIDE))
    time.sleep(1.2)
    [f] = findings(client, arn)
    assert f["principal"] == {"AWS": OUTSIDE} and f["status"] == "ACTIVE"
    iam.delete_role(RoleName="partner")
    time.sleep(1.2)
    assert [f["status"] for f in findings(client, arn)] == ["RESOLVED"]
    t.stop()
    t.start()
    assert [f["status"] for f in aa(t, t.root_creds).list_findings(analyzerArn=arn)["findings"]] == ["RESOLVED"]


def test_validate_policy_in_access_analyzer_shape(tessera, member):
    _, creds = member
    client = aa(tessera, creds)
    doc = '{\n  "Version": "2012-10-17",\n  "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjekt"], "Resource": "*"}]\n}'
    found = client.validate_policy(policyDocument=doc, policyType="IDENTITY_POLICY")["findings"]
    [bad] = [f for f in found if f["findingType"] == "ERROR"]
    assert bad["issueCode"] == "INVALID_ACTION" and "s3:GetObjekt" in bad["findingDetails"]
    assert bad["learnMoreLink"].startswith("https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html#")
    [loc] = bad["locations"]
    assert loc["path"] == [{"key": "Statement"}, {"index": 0}, {"key": "Action"}, {"index": 1}]
    start, end = loc["span"]["start"], loc["span"]["end"]
    assert doc[start["offset"]:end["offset"]] == '"s3:GetObjekt"' and start["line"] == 3

    clean = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]})
    assert [f for f in client.validate_policy(policyDocument=clean, policyType="IDENTITY_POLICY")["findings"] if f["findingType"] == "ERROR"] == []
    broken = client.validate_policy(policyDocument="{not json", policyType="IDENTITY_POLICY")["findings"]
    assert [f["issueCode"] for f in broken] == ["JSON_SYNTAX_ERROR"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.validate_policy(policyDocument=clean, policyType="SESSION_POLICY")
    assert error_of(e) == "ValidationException"


def test_custom_policy_checks(tessera, member):
    _, creds = member
    client = aa(tessera, creds)
    public = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Pub", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]})
    private = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": OUTSIDE}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]})
    r = client.check_no_public_access(policyDocument=public, resourceType="AWS::S3::Bucket")
    assert r["result"] == "FAIL" and r["reasons"][0]["statementIndex"] == 0 and r["reasons"][0]["statementId"] == "Pub"
    assert client.check_no_public_access(policyDocument=private, resourceType="AWS::S3::Bucket")["result"] == "PASS"
    assert client.check_no_public_access(policyDocument=trust("*"), resourceType="AWS::IAM::AssumeRolePolicyDocument")["result"] == "FAIL"
    assert client.check_no_public_access(policyDocument=trust(OUTSIDE), resourceType="AWS::IAM::AssumeRolePolicyDocument")["result"] == "PASS"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.check_no_public_access(policyDocument=public, resourceType="AWS::KMS::Key")
    assert error_of(e) == "NotImplemented"

    identity = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"},
        {"Effect": "Deny", "Action": "s3:GetObjectAcl", "Resource": "*"}]})
    grants = lambda **access: client.check_access_not_granted(  # noqa: E731
        policyDocument=identity, policyType="IDENTITY_POLICY", access=[access])["result"]
    assert grants(actions=["s3:GetObject"]) == "FAIL"
    assert grants(actions=["s3:GetObjectAcl"]) == "PASS", "denied explicitly"
    assert grants(actions=["s3:PutObject"]) == "PASS"
    assert grants(actions=["s3:GetObject"], resources=["arn:aws:s3:::other/*"]) == "PASS"
    assert grants(resources=["arn:aws:s3:::b/*"]) == "FAIL"

    narrower = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/reports/*"}]})
    broader = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::b/*"}]})
    new_access = lambda new, old, ty="IDENTITY_POLICY": client.check_no_new_access(  # noqa: E731
        newPolicyDocument=new, existingPolicyDocument=old, policyType=ty)["result"]
    assert new_access(narrower, identity) == "PASS"
    assert new_access(broader, identity) == "FAIL"
    assert new_access(public, private, "RESOURCE_POLICY") == "FAIL"
    assert new_access(private, public, "RESOURCE_POLICY") == "PASS"


def test_analyzed_resources_and_resource_scan(tessera, member):
    account, creds = member
    client, iam, s3 = aa(tessera, creds), tessera.client("iam", **creds), tessera.client("s3", **creds)
    arn = client.create_analyzer(analyzerName=unique("acct-"), type="ACCOUNT")["arn"]
    role, bucket = unique("scanned-"), unique("aa-scanned-")
    role_arn = f"arn:aws:iam::{account}:role/{role}"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust("*"))
    s3.create_bucket(Bucket=bucket)
    listed = client.list_analyzed_resources(analyzerArn=arn)["analyzedResources"]
    assert {"resourceArn": role_arn, "resourceOwnerAccount": account, "resourceType": "AWS::IAM::Role"} in listed
    assert [r["resourceArn"] for r in client.list_analyzed_resources(analyzerArn=arn, resourceType="AWS::S3::Bucket")["analyzedResources"]] == [f"arn:aws:s3:::{bucket}"]

    client.start_resource_scan(analyzerArn=arn, resourceArn=role_arn)
    got = client.get_analyzed_resource(analyzerArn=arn, resourceArn=role_arn)["resource"]
    assert (got["isPublic"], got["status"], got["resourceType"], got["sharedVia"]) == (True, "ACTIVE", "AWS::IAM::Role", ["POLICY"])
    assert "sts:AssumeRole" in got["actions"]
    quiet = client.get_analyzed_resource(analyzerArn=arn, resourceArn=f"arn:aws:s3:::{bucket}")["resource"]
    assert (quiet["isPublic"], quiet["actions"], "status" in quiet) == (False, [], False)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.get_analyzed_resource(analyzerArn=arn, resourceArn=f"arn:aws:iam::{OUTSIDE}:role/elsewhere")
    assert error_of(e) == "ResourceNotFoundException"


# Debian's libfaketime (package faketime, which scripts/test installs): the server's clock, and
# the AWS CLI's that signs for it, moved past the tracking period.
LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def test_unused_access_after_the_tracking_period(tessera_factory):
    if not os.path.exists(LIBFAKETIME):
        pytest.skip("faketime is not installed (apt-get install faketime)")
    t = tessera_factory("data").start()
    iam, client = t.client("iam"), t.client("accessanalyzer")
    account = t.client("sts").get_caller_identity()["Account"]
    iam.create_user(UserName="idle")
    idle_key = iam.create_access_key(UserName="idle")["AccessKey"]["AccessKeyId"]
    iam.create_login_profile(UserName="idle", Password="Idle-password-1!")
    iam.create_user(UserName="busy")
    iam.put_user_policy(UserName="busy", PolicyName="assume", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    busy = iam.create_access_key(UserName="busy")["AccessKey"]
    iam.create_role(RoleName="idle-role", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{account}:root"))
    # A role that lists users but never lists buckets: its s3 permission is unused.
    iam.create_role(RoleName="worker", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{account}:root"))
    iam.put_role_policy(RoleName="worker", PolicyName="work", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:ListUsers", "s3:ListAllMyBuckets"], "Resource": "*"}]}))
    arn = client.create_analyzer(
        analyzerName="unused", type="ACCOUNT_UNUSED_ACCESS", configuration={"unusedAccess": {"unusedAccessAge": 30}},
    )["arn"]
    assert client.get_analyzer(analyzerName="unused")["analyzer"]["configuration"] == {"unusedAccess": {"unusedAccessAge": 30}}
    assert client.list_findings_v2(analyzerArn=arn)["findings"] == [], "everything is new"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.list_findings(analyzerArn=arn)
    assert error_of(e) == "ValidationException"

    # 40 days on: the server and the CLI that signs for it.
    t.stop()
    fake = {"LD_PRELOAD": LIBFAKETIME, "FAKETIME": "+40d", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    t.proc_env = dict(os.environ, **fake)
    t.start()
    later = dict(t.root_env, **fake)
    as_busy = dict(t.env_for(busy["AccessKeyId"], busy["SecretAccessKey"]), **fake)
    session = t.cli("sts", "assume-role", "--role-arn", f"arn:aws:iam::{account}:role/worker",
                    "--role-session-name", "worker", env=as_busy)["Credentials"]
    as_worker = dict(t.env_for(session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"]), **fake)
    t.cli("iam", "list-users", env=as_worker)
    found = t.cli("accessanalyzer", "list-findings-v2", "--analyzer-arn", arn, env=later)["findings"]
    kinds = sorted((f["findingType"], f["resource"]) for f in found if f["status"] == "ACTIVE")
    assert kinds == [
        ("UnusedIAMRole", f"arn:aws:iam::{account}:role/idle-role"),
        ("UnusedIAMUserAccessKey", f"arn:aws:iam::{account}:user/idle"),
        ("UnusedIAMUserPassword", f"arn:aws:iam::{account}:user/idle"),
        ("UnusedPermission", f"arn:aws:iam::{account}:role/worker"),
    ], "the busy key and the worker role were used today, the worker's iam permission too"
    [perm] = [f for f in found if f["findingType"] == "UnusedPermission" and f["status"] == "ACTIVE"]
    perm_details = t.cli("accessanalyzer", "get-finding-v2", "--analyzer-arn", arn, "--id", perm["id"], env=later)["findingDetails"]
    assert perm_details == [{"unusedPermissionDetails": {"serviceNamespace": "s3"}}]
    # The recommendation: the worker's policy without the unused s3 action (IAM User Guide,
    # "Remediate unused access findings").
    t.cli("accessanalyzer", "generate-finding-recommendation", "--analyzer-arn", arn, "--id", perm["id"], env=later)
    rec = t.cli("accessanalyzer", "get-finding-recommendation", "--analyzer-arn", arn, "--id", perm["id"], env=later)
    assert (rec["status"], rec["recommendationType"], rec["resourceArn"]) == (
        "SUCCEEDED", "UnusedPermissionRecommendation", f"arn:aws:iam::{account}:role/worker")
    [step] = [s["unusedPermissionsRecommendedStep"] for s in rec["recommendedSteps"]]
    assert (step["recommendedAction"], step["existingPolicyId"]) == ("CREATE_POLICY", "work")
    assert json.loads(step["recommendedPolicy"])["Statement"] == [{"Effect": "Allow", "Action": ["iam:ListUsers"], "Resource": "*"}]
    other = next(f for f in found if f["findingType"] == "UnusedIAMRole")
    proc = t.cli("accessanalyzer", "generate-finding-recommendation", "--analyzer-arn", arn, "--id", other["id"], env=later, check=False)
    assert proc.returncode != 0 and "ValidationException" in proc.stderr, "recommendations are for unused permissions"
    keys = [f for f in found if f["findingType"] == "UnusedIAMUserAccessKey"]
    [key] = [f for f in keys if f["status"] == "ACTIVE"]
    # The background analysis may have found the busy key unused at the restart, before its use.
    assert all(f["status"] == "RESOLVED" for f in keys if f["resource"].endswith(":user/busy"))
    details = t.cli("accessanalyzer", "get-finding-v2", "--analyzer-arn", arn, "--id", key["id"], env=later)["findingDetails"]
    assert details == [{"unusedIamUserAccessKeyDetails": {"accessKeyId": idle_key}}], "never used: no lastAccessed"
    stats = t.cli("accessanalyzer", "get-findings-statistics", "--analyzer-arn", arn, env=later)["findingsStatistics"][0]
    assert stats["unusedAccessFindingsStatistics"]["totalActiveFindings"] == 4

    # Deleting the idle key resolves its finding.
    t.cli("iam", "delete-access-key", "--user-name", "idle", "--access-key-id", idle_key, env=later)
    found = t.cli("accessanalyzer", "list-findings-v2", "--analyzer-arn", arn, env=later)["findings"]
    assert {f["status"] for f in found if f["findingType"] == "UnusedIAMUserAccessKey"} == {"RESOLVED"}


def test_policy_generation_from_the_trail(tessera, member):
    account, creds = member
    client, iam = aa(tessera, creds), tessera.client("iam", **creds)
    role_arn = f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
    user = unique("generated-")
    iam.create_user(UserName=user)
    iam.list_users()
    iam.tag_user(UserName=user, Tags=[{"Key": "k", "Value": "v"}])
    trail = tessera.client("cloudtrail", **creds)
    deadline = time.time() + 10
    while time.time() < deadline:
        names = {e["EventName"] for e in trail.lookup_events()["Events"]}
        if {"CreateUser", "TagUser"} <= names:
            break
        time.sleep(0.2)
    started = datetime.fromtimestamp(time.time() - 3600, tz=timezone.utc)
    job = client.start_policy_generation(
        policyGenerationDetails={"principalArn": role_arn},
        cloudTrailDetails={
            "trails": [{"cloudTrailArn": f"arn:aws:cloudtrail:us-east-1:{account}:trail/t", "allRegions": True}],
            "accessRole": f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
            "startTime": started,
        },
    )["jobId"]
    got = client.get_generated_policy(jobId=job)
    assert got["jobDetails"]["status"] == "SUCCEEDED"
    assert got["generatedPolicyResult"]["properties"]["principalArn"] == role_arn
    policy = json.loads(got["generatedPolicyResult"]["generatedPolicies"][0]["policy"])
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert {"iam:CreateUser", "iam:TagUser"} <= actions, actions
    assert "sts:AssumeRole" not in actions, "called by the management account's admin, not by this role"
    assert all(s["Effect"] == "Allow" and s["Resource"] == "*" for s in policy["Statement"])
    listed = client.list_policy_generations(principalArn=role_arn)["policyGenerations"]
    assert [(g["jobId"], g["status"]) for g in listed] == [(job, "SUCCEEDED")]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.start_policy_generation(policyGenerationDetails={"principalArn": f"arn:aws:iam::{account}:role/nope"})
    assert error_of(e) == "ResourceNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.get_generated_policy(jobId="00000000-0000-4000-a000-000000000000")
    assert error_of(e) == "ResourceNotFoundException"


def test_bad_input_is_a_client_error_never_a_server_error(tessera, member):
    """Every operation with members of the wrong type, out of range or missing (boto3's own
    validation off): a 4xx, or 501 for the operations Tessera does not build."""
    import botocore.config

    _, creds = member
    client = tessera.client("accessanalyzer", **creds)
    loose = botocore.session.get_session().create_client(
        "accessanalyzer", region_name="us-east-1", endpoint_url=tessera.endpoint,
        config=botocore.config.Config(parameter_validation=False, retries={"max_attempts": 1}), **creds,
    )
    arn = client.create_analyzer(analyzerName=unique("fuzz-"), type="ACCOUNT")["arn"]
    bad_values = [None, 7, -1, 10**20, "", "x" * 3000, [1, "a"], {"k": [None]}, "%zz", "arn:aws:access-analyzer:us-east-1:1:analyzer/"]
    model = loose.meta.service_model
    for op_name in model.operation_names:
        op = model.operation_model(op_name)
        members = list(op.input_shape.members) if op.input_shape else []
        method = getattr(loose, botocore.xform_name(op_name))
        for value in bad_values:
            params = {}
            for m in members:
                shape = op.input_shape.members[m]
                if shape.serialization.get("location") in ("uri",):
                    params[m] = value if isinstance(value, str) and value else "x"
                elif m == "analyzerArn":
                    params[m] = arn if value is None else value
                else:
                    params[m] = value
            try:
                method(**params)
            except botocore.exceptions.ClientError as e:
                status = e.response["ResponseMetadata"]["HTTPStatusCode"]
                assert status < 500 or status == 501, (op_name, params, e.response["Error"])
            except (botocore.exceptions.ParamValidationError, TypeError, ValueError, AttributeError, KeyError):
                pass  # botocore could not even serialize it


def allow(actions, resource):
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]})


def internal_findings(client, arn, principal):
    """The internal access findings of `principal` (ListFindingsV2, then GetFindingV2's details)."""
    out = []
    for f in client.list_findings_v2(analyzerArn=arn, filter={"principal.AWS": {"eq": [principal]}})["findings"]:
        got = client.get_finding_v2(analyzerArn=arn, id=f["id"])
        assert got["findingType"] == "InternalAccess" and f["findingType"] == "InternalAccess"
        out.append((f["status"], f["resource"], got["findingDetails"][0]["internalAccessDetails"]))
    return out


def active(found):
    return [(res, d) for status, res, d in found if status == "ACTIVE"]


def test_internal_access_findings_follow_identity_policies_and_scps(tessera_factory):
    """IAM User Guide, "IAM Access Analyzer internal access findings": who inside the zone of
    trust can reach the buckets the analysis rule names; an organization zone applies SCPs
    (`serviceControlPolicyRestriction` APPLIED), an account zone does not (APPLICABLE)."""
    t = tessera_factory("internal").start()
    accounts = Accounts(t)
    o = t.client("organizations")
    root_id = o.list_roots()["Roots"][0]["Id"]
    o.enable_policy_type(RootId=root_id, PolicyType="SERVICE_CONTROL_POLICY")
    member = accounts.create("internal")
    creds = accounts.admin_creds(member)
    iam, s3 = t.client("iam", **creds), t.client("s3", **creds)
    bucket, other_bucket = unique("internal-"), unique("elsewhere-")
    bucket_arn = f"arn:aws:s3:::{bucket}"
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=other_bucket)
    reader = f"arn:aws:iam::{member}:role/reader"
    iam.create_role(RoleName="reader", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{member}:root"))
    iam.put_role_policy(RoleName="reader", PolicyName="read", PolicyDocument=allow(["s3:GetObject"], f"{bucket_arn}/*"))
    iam.create_user(UserName="lister")
    lister = f"arn:aws:iam::{member}:user/lister"

    client = t.client("accessanalyzer")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.create_analyzer(analyzerName="roles", type="ORGANIZATION_INTERNAL_ACCESS",
                               configuration={"internalAccess": {"analysisRule": {"inclusions": [{"resourceTypes": ["AWS::IAM::Role"]}]}}})
    assert error_of(e) == "ValidationException", "internal access analyzers do not cover roles"
    rule = {"internalAccess": {"analysisRule": {"inclusions": [{"accountIds": [member], "resourceArns": [bucket_arn]}]}}}
    arn = client.create_analyzer(analyzerName="org-internal", type="ORGANIZATION_INTERNAL_ACCESS", configuration=rule)["arn"]
    assert client.get_analyzer(analyzerName="org-internal")["analyzer"]["configuration"] == rule

    [(res, d)] = active(internal_findings(client, arn, reader))
    assert res == bucket_arn
    assert d["action"] == ["s3:GetObject"] and d["principalType"] == "IAM_ROLE" and d["accessType"] == "INTRA_ACCOUNT"
    assert d["principalOwnerAccount"] == member and d["serviceControlPolicyRestriction"] == "APPLIED"
    assert internal_findings(client, arn, lister) == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.list_findings(analyzerArn=arn)
    assert error_of(e) == "ValidationException"

    # An identity policy gives the user access; taking it away resolves the finding.
    iam.put_user_policy(UserName="lister", PolicyName="list", PolicyDocument=allow(["s3:ListBucket"], bucket_arn))
    [(_, d)] = active(internal_findings(client, arn, lister))
    assert d["action"] == ["s3:ListBucket"] and d["principalType"] == "IAM_USER"
    iam.delete_user_policy(UserName="lister", PolicyName="list")
    assert [s for s, _, _ in internal_findings(client, arn, lister)] == ["RESOLVED"]

    # An SCP denying the role's action resolves its finding; detached, the access is back.
    scp = o.create_policy(Name="no-reads", Description="", Type="SERVICE_CONTROL_POLICY", Content=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}]}))["Policy"]["PolicySummary"]["Id"]
    o.attach_policy(PolicyId=scp, TargetId=member)
    assert active(internal_findings(client, arn, reader)) == []
    # An account zone of trust does not apply SCPs: the denied action is still reported.
    mine = t.client("accessanalyzer", **creds)
    acct = mine.create_analyzer(analyzerName="acct-internal", type="ACCOUNT_INTERNAL_ACCESS")["arn"]
    [(_, d)] = active(internal_findings(mine, acct, reader))
    assert d["action"] == ["s3:GetObject"] and d["serviceControlPolicyRestriction"] == "APPLICABLE"
    o.detach_policy(PolicyId=scp, TargetId=member)
    [(_, d)] = active(internal_findings(client, arn, reader))
    assert d["action"] == ["s3:GetObject"]

    stats = client.get_findings_statistics(analyzerArn=arn)["findingsStatistics"][0]["internalAccessFindingsStatistics"]
    assert stats["totalActiveFindings"] == stats["resourceTypeStatistics"]["AWS::S3::Bucket"]["totalActiveFindings"] >= 1
    assert stats["totalResolvedFindings"] >= 1

    # UpdateAnalyzer: a rule naming another bucket resolves this bucket's findings.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        mine.update_analyzer(analyzerName="acct-internal",
                             configuration={"internalAccess": {"analysisRule": {"inclusions": [{"accountIds": [member]}]}}})
    assert error_of(e) == "ValidationException", "account ids are for organization analyzers only"
    moved = {"internalAccess": {"analysisRule": {"inclusions": [{"resourceArns": [f"arn:aws:s3:::{other_bucket}"]}]}}}
    assert client.update_analyzer(analyzerName="org-internal", configuration=moved)["configuration"] == moved
    assert [s for s, res, _ in internal_findings(client, arn, reader) if res == bucket_arn] == ["RESOLVED"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.update_analyzer(analyzerName="org-internal", configuration={"unusedAccess": {"unusedAccessAge": 10}})
    assert error_of(e) == "ValidationException"

    # External access findings do not evaluate RCPs (ExternalAccessDetails: APPLIED "is not
    # currently available for external access findings"); they say whether one bounds the account.
    ext = mine.create_analyzer(analyzerName="acct-external", type="ACCOUNT")["arn"]
    shared = f"arn:aws:iam::{member}:role/shared"
    iam.create_role(RoleName="shared", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{OUTSIDE}:root"))
    [f] = by_resource(mine, ext, shared)
    assert f["resourceControlPolicyRestriction"] == "NOT_APPLICABLE"
    o.enable_policy_type(RootId=root_id, PolicyType="RESOURCE_CONTROL_POLICY")
    [f] = by_resource(mine, ext, shared)
    assert (f["status"], f["resourceControlPolicyRestriction"]) == ("ACTIVE", "APPLICABLE")
    details = mine.get_finding_v2(analyzerArn=ext, id=f["id"])["findingDetails"][0]["externalAccessDetails"]
    assert details["resourceControlPolicyRestriction"] == "APPLICABLE"


def test_update_analyzer_unused_access_age(tessera, member):
    _, creds = member
    client = aa(tessera, creds)
    name = unique("unused-")
    client.create_analyzer(analyzerName=name, type="ACCOUNT_UNUSED_ACCESS")
    assert client.get_analyzer(analyzerName=name)["analyzer"]["configuration"] == {"unusedAccess": {"unusedAccessAge": 90}}
    out = client.update_analyzer(analyzerName=name, configuration={"unusedAccess": {"unusedAccessAge": 45}})
    assert out["configuration"] == {"unusedAccess": {"unusedAccessAge": 45}}
    assert client.get_analyzer(analyzerName=name)["analyzer"]["configuration"] == {"unusedAccess": {"unusedAccessAge": 45}}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.update_analyzer(analyzerName=name, configuration={"unusedAccess": {"unusedAccessAge": 400}})
    assert error_of(e) == "ValidationException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.update_analyzer(analyzerName=unique("missing-"), configuration={"unusedAccess": {"unusedAccessAge": 10}})
    assert error_of(e) == "ResourceNotFoundException"
    external = unique("acct-")
    client.create_analyzer(analyzerName=external, type="ACCOUNT")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.update_analyzer(analyzerName=external, configuration={"unusedAccess": {"unusedAccessAge": 10}})
    assert error_of(e) == "ValidationException", "an external access analyzer has no configuration"


def test_access_previews_compare_with_existing_findings(tessera, member):
    """IAM User Guide, "Previewing access with IAM Access Analyzer APIs"."""
    account, creds = member
    client, iam, s3 = aa(tessera, creds), tessera.client("iam", **creds), tessera.client("s3", **creds)
    arn = client.create_analyzer(analyzerName=unique("acct-"), type="ACCOUNT")["arn"]
    bucket = unique("preview-")
    bucket_arn = f"arn:aws:s3:::{bucket}"
    s3.create_bucket(Bucket=bucket)
    public = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"{bucket_arn}/*"}]})
    pid = client.create_access_preview(analyzerArn=arn, configurations={
        bucket_arn: {"s3Bucket": {"bucketPolicy": public, "bucketPublicAccessBlock": {"ignorePublicAcls": False, "restrictPublicBuckets": False}}},
    })["id"]
    got = client.get_access_preview(accessPreviewId=pid, analyzerArn=arn)["accessPreview"]
    assert (got["id"], got["status"], got["analyzerArn"]) == (pid, "COMPLETED", arn)
    assert got["configurations"][bucket_arn]["s3Bucket"]["bucketPolicy"] == public
    [f] = client.list_access_preview_findings(accessPreviewId=pid, analyzerArn=arn)["findings"]
    assert (f["changeType"], f["status"], f["isPublic"], f["action"]) == ("NEW", "ACTIVE", True, ["s3:GetObject"])
    assert "existingFindingId" not in f
    assert by_resource(client, arn, bucket_arn) == [], "a preview changes nothing"
    # With RestrictPublicBuckets the same policy would give no finding.
    pid2 = client.create_access_preview(analyzerArn=arn, configurations={
        bucket_arn: {"s3Bucket": {"bucketPolicy": public, "bucketPublicAccessBlock": {"ignorePublicAcls": True, "restrictPublicBuckets": True}}},
    })["id"]
    assert client.list_access_preview_findings(accessPreviewId=pid2, analyzerArn=arn)["findings"] == []
    assert [p["id"] for p in client.list_access_previews(analyzerArn=arn)["accessPreviews"]] == [pid, pid2]

    # A role trusting an outside account: the same trust is UNCHANGED, the own account only
    # would resolve it (CHANGED, RESOLVED).
    role = unique("previewed-")
    role_arn = f"arn:aws:iam::{account}:role/{role}"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{OUTSIDE}:root"))
    [existing] = by_resource(client, arn, role_arn)
    same = client.create_access_preview(analyzerArn=arn, configurations={role_arn: {"iamRole": {"trustPolicy": trust(f"arn:aws:iam::{OUTSIDE}:root")}}})["id"]
    [f] = client.list_access_preview_findings(accessPreviewId=same, analyzerArn=arn)["findings"]
    assert (f["changeType"], f["existingFindingId"], f["existingFindingStatus"]) == ("UNCHANGED", existing["id"], "ACTIVE")
    inward = client.create_access_preview(analyzerArn=arn, configurations={role_arn: {"iamRole": {"trustPolicy": trust(f"arn:aws:iam::{account}:root")}}})["id"]
    [f] = client.list_access_preview_findings(accessPreviewId=inward, analyzerArn=arn)["findings"]
    assert (f["changeType"], f["status"], f["existingFindingId"]) == ("CHANGED", "RESOLVED", existing["id"])
    filtered = client.list_access_preview_findings(accessPreviewId=inward, analyzerArn=arn, filter={"status": {"eq": ["ACTIVE"]}})
    assert filtered["findings"] == []

    # A resource type Tessera does not serve, and a preview that does not exist.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.create_access_preview(analyzerArn=arn, configurations={
            f"arn:aws:sqs:us-east-1:{account}:q": {"sqsQueue": {"queuePolicy": public}}})
    assert error_of(e) == "ValidationException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.get_access_preview(accessPreviewId="00000000-0000-0000-0000-000000000000", analyzerArn=arn)
    assert error_of(e) == "ResourceNotFoundException"


def test_incremental_analysis_updates_only_the_changed_role(tessera, member):
    """A change to one role's trust policy updates that role's finding and leaves every other
    finding as it was (same id, same updatedAt)."""
    account, creds = member
    client, iam = aa(tessera, creds), tessera.client("iam", **creds)
    arn = client.create_analyzer(analyzerName=unique("acct-"), type="ACCOUNT")["arn"]
    outsiders = ["123456789012", "210987654321", "333344445555"]
    roles = [unique(f"incr{i}-") for i in range(3)]
    for role, outside in zip(roles, outsiders):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{outside}:root"))
    before = {f["resource"]: f for f in findings(client, arn)}
    arns = [f"arn:aws:iam::{account}:role/{r}" for r in roles]
    assert all(before[a]["status"] == "ACTIVE" for a in arns)
    iam.update_assume_role_policy(RoleName=roles[1], PolicyDocument=trust("arn:aws:iam::444455556666:root"))
    after = findings(client, arn)
    changed = sorted((f["principal"]["AWS"], f["status"]) for f in after if f["resource"] == arns[1])
    assert changed == [("arn:aws:iam::210987654321:root", "RESOLVED"), ("arn:aws:iam::444455556666:root", "ACTIVE")]
    for a in (arns[0], arns[2]):
        [f] = [f for f in after if f["resource"] == a]
        assert (f["id"], f["status"], f["updatedAt"]) == (before[a]["id"], "ACTIVE", before[a]["updatedAt"])
    # Deleting a role resolves its finding; re-creating it with the same trust opens it again.
    iam.delete_role(RoleName=roles[0])
    assert [f["status"] for f in findings(client, arn) if f["resource"] == arns[0]] == ["RESOLVED"]
    iam.create_role(RoleName=roles[0], AssumeRolePolicyDocument=trust(f"arn:aws:iam::{outsiders[0]}:root"))
    assert [f["status"] for f in findings(client, arn) if f["resource"] == arns[0]] == ["ACTIVE"]
