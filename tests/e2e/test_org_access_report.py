"""IAM GenerateOrganizationsAccessReport / GetOrganizationsAccessReport (IAM API reference; IAM User
Guide, "Refining permissions in AWS using last accessed information"): the services the SCPs of an
Organizations entity allow, with the last call of the IAM users and roles of the accounts in it,
from Tessera's audit trail."""

import json

import botocore.exceptions
import pytest

from conftest import Accounts
from test_organizations import expect

SCP = "SERVICE_CONTROL_POLICY"


def report(iam, path, **kw):
    job = iam.generate_organizations_access_report(EntityPath=path, **kw)["JobId"]
    assert len(job) == 36
    return iam.get_organizations_access_report(JobId=job)


def test_organizations_access_report(fresh_tessera):
    t = fresh_tessera
    accounts = Accounts(t)
    org = t.client("organizations")
    iam = t.client("iam")
    o = org.describe_organization()["Organization"]["Id"]
    root = org.list_roots()["Roots"][0]["Id"]
    member = accounts.create("reported")
    path = f"{o}/{root}/{member}"

    # SCPs not enabled: the job fails, as AWS's does.
    failed = report(iam, path)
    assert failed["JobStatus"] == "FAILED" and "ErrorDetails" in failed

    org.enable_policy_type(RootId=root, PolicyType=SCP)
    creds = accounts.admin_creds(member)
    t.client("iam", **creds).list_users()  # a call by the member account's role session

    done = report(iam, path)
    assert done["JobStatus"] == "COMPLETED"
    by_ns = {d["ServiceNamespace"]: d for d in done["AccessDetails"]}
    assert {"iam", "sts", "s3", "organizations"} <= set(by_ns)
    assert by_ns["iam"]["EntityPath"] == path and by_ns["iam"]["TotalAuthenticatedEntities"] == 1
    assert "LastAuthenticatedTime" in by_ns["iam"] and by_ns["iam"]["Region"] == "us-east-1"
    assert "LastAuthenticatedTime" not in by_ns["s3"]
    assert done["NumberOfServicesAccessible"] == len(done["AccessDetails"])
    assert done["NumberOfServicesNotAccessed"] == len([d for d in done["AccessDetails"] if "LastAuthenticatedTime" not in d])
    # The root covers the member account too.
    whole = {d["ServiceNamespace"]: d for d in report(iam, f"{o}/{root}")["AccessDetails"]}
    assert whole["iam"]["EntityPath"] == path

    # An allow-list SCP in place of FullAWSAccess narrows the services.
    only = org.create_policy(Name="only-iam", Description="", Type=SCP, Content=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:*", "sts:*"], "Resource": "*"}]}))[
        "Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=only, TargetId=member)
    org.detach_policy(PolicyId="p-FullAWSAccess", TargetId=member)
    narrowed = report(iam, path)
    assert sorted(d["ServiceNamespace"] for d in narrowed["AccessDetails"]) == ["iam", "sts"]
    by_policy = report(iam, f"{o}/{root}", OrganizationsPolicyId=only)
    assert sorted(d["ServiceNamespace"] for d in by_policy["AccessDetails"]) == ["iam", "sts"]
    # Sorted and paged.
    desc = iam.get_organizations_access_report(
        JobId=iam.generate_organizations_access_report(EntityPath=path)["JobId"],
        SortKey="SERVICE_NAMESPACE_DESCENDING", MaxItems=1)
    assert [d["ServiceNamespace"] for d in desc["AccessDetails"]] == ["sts"] and desc["IsTruncated"]

    # Errors.
    wrong = report(iam, f"{o}/{root}/ou-abcd-12345678")
    assert wrong["JobStatus"] == "FAILED"
    expect(iam.get_organizations_access_report, "NoSuchEntity", JobId="0" * 36)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.generate_organizations_access_report(EntityPath="not-a-path-at-all-here")
    assert e.value.response["Error"]["Code"] in ("ValidationError", "InvalidInput")
    expect(t.client("iam", **creds).generate_organizations_access_report, "AccessDenied", EntityPath=path)

    # Through the AWS CLI.
    job = t.cli("iam", "generate-organizations-access-report", "--entity-path", path)["JobId"]
    got = t.cli("iam", "get-organizations-access-report", "--job-id", job)
    assert got["JobStatus"] == "COMPLETED"
