"""Organizations trusted access and delegated administrators, CloudTrail insight selectors and
trail tags, and the Account service (REST-JSON), through boto3 and the AWS CLI (Tessera issue 22,
items 5 and 6). Behaviour follows the API references (Organizations
API_RegisterDelegatedAdministrator.html, API_EnableAWSServiceAccess.html; CloudTrail
API_PutInsightSelectors.html, API_AddTags.html; Account API_GetAlternateContact.html,
API_PutContactInformation.html); choices where AWS is silent are in docs/ORGANIZATIONS.md,
docs/AUDIT.md and docs/ACCOUNT.md."""

import json

import botocore.exceptions
import pytest

from conftest import Accounts, CliError, Tessera, _require_binary, unique, user_with_key

ACCOUNT_SP = "account.amazonaws.com"
OTHER_SP = "guardduty.amazonaws.com"


def code_of(e):
    return e.response["Error"]["Code"]


def expect(fn, code, reason=None, status=None, **kwargs):
    """Call a boto3 operation that must fail with `code` (and `Reason`, HTTP status)."""
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(**kwargs)
    assert code_of(e.value) == code, e.value.response
    if reason is not None:
        assert e.value.response.get("Reason") == reason, e.value.response
    if status is not None:
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == status, e.value.response
    return e.value


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server of this module's own: trusted access and delegations are per organization."""
    _require_binary()
    t = Tessera(tmp_path_factory.mktemp("orgacct") / "data").start()
    yield t
    t.stop()


@pytest.fixture(scope="module")
def world(server):
    accts = Accounts(server)  # creates the organization and an admin user in the management account
    dev, prod, ops = accts.create("Dev"), accts.create("Prod"), accts.create("Ops")
    return {"t": server, "accts": accts, "mgmt": accts.mgmt, "dev": dev, "prod": prod, "ops": ops}


@pytest.fixture
def org(world):
    return world["t"].client("organizations")


# --- Organizations: trusted access ----------------------------------------------------------------

def test_service_access_round_trip_cli_and_boto3(world, org):
    t = world["t"]
    t.cli("organizations", "enable-aws-service-access", "--service-principal", OTHER_SP)
    listed = t.cli("organizations", "list-aws-service-access-for-organization")["EnabledServicePrincipals"]
    assert [p["ServicePrincipal"] for p in listed] == [OTHER_SP]
    assert "DateEnabled" in listed[0]
    first = org.list_aws_service_access_for_organization()["EnabledServicePrincipals"][0]["DateEnabled"]
    org.enable_aws_service_access(ServicePrincipal=OTHER_SP)  # again: idempotent, date kept
    again = org.list_aws_service_access_for_organization()["EnabledServicePrincipals"]
    assert [p["DateEnabled"] for p in again] == [first]
    org.disable_aws_service_access(ServicePrincipal=OTHER_SP)
    assert org.list_aws_service_access_for_organization()["EnabledServicePrincipals"] == []
    org.disable_aws_service_access(ServicePrincipal=OTHER_SP)  # again: no error


def test_service_access_input_and_member_errors(world, org):
    expect(org.enable_aws_service_access, "InvalidInputException", "INVALID_PATTERN", ServicePrincipal="a b")
    expect(org.enable_aws_service_access, "InvalidInputException", "MAX_LENGTH_EXCEEDED",
           ServicePrincipal="x" * 129)
    assert org.list_aws_service_access_for_organization()["EnabledServicePrincipals"] == []
    member = world["t"].client("organizations", **world["accts"].admin_creds(world["dev"]))
    expect(member.enable_aws_service_access, "AccessDeniedException", ServicePrincipal=OTHER_SP)
    expect(member.list_aws_service_access_for_organization, "AccessDeniedException")


def test_paging_of_service_access(world, org):
    sps = [f"svc{i}.amazonaws.com" for i in range(3)]
    for sp in sps:
        org.enable_aws_service_access(ServicePrincipal=sp)
    try:
        page = org.list_aws_service_access_for_organization(MaxResults=2)
        assert len(page["EnabledServicePrincipals"]) == 2 and page["NextToken"]
        rest = org.list_aws_service_access_for_organization(MaxResults=2, NextToken=page["NextToken"])
        got = [p["ServicePrincipal"] for p in page["EnabledServicePrincipals"] + rest["EnabledServicePrincipals"]]
        assert got == sorted(sps) and "NextToken" not in rest
    finally:
        for sp in sps:
            org.disable_aws_service_access(ServicePrincipal=sp)


# --- Organizations: delegated administrators --------------------------------------------------------

def test_delegated_administrator_errors_and_round_trip(world, org):
    dev, prod = world["dev"], world["prod"]
    # No trusted access yet: CONSTRAINT SERVICE_ACCESS_NOT_ENABLED, nothing recorded.
    expect(org.register_delegated_administrator, "ConstraintViolationException", "SERVICE_ACCESS_NOT_ENABLED",
           AccountId=dev, ServicePrincipal=OTHER_SP)
    assert org.list_delegated_administrators()["DelegatedAdministrators"] == []
    org.enable_aws_service_access(ServicePrincipal=OTHER_SP)
    try:
        expect(org.register_delegated_administrator, "ConstraintViolationException",
               "CANNOT_REGISTER_MASTER_AS_DELEGATED_ADMINISTRATOR",
               AccountId=world["mgmt"], ServicePrincipal=OTHER_SP)
        expect(org.register_delegated_administrator, "AccountNotFoundException",
               AccountId="999999999999", ServicePrincipal=OTHER_SP)
        expect(org.register_delegated_administrator, "InvalidInputException", "INVALID_PATTERN",
               AccountId="12345", ServicePrincipal=OTHER_SP)
        world["t"].cli("organizations", "register-delegated-administrator", "--account-id", dev,
                       "--service-principal", OTHER_SP)
        expect(org.register_delegated_administrator, "AccountAlreadyRegisteredException",
               AccountId=dev, ServicePrincipal=OTHER_SP)
        admins = org.list_delegated_administrators(ServicePrincipal=OTHER_SP)["DelegatedAdministrators"]
        assert [a["Id"] for a in admins] == [dev]
        a = admins[0]
        assert a["Arn"].endswith(f"/{dev}") and a["Status"] == "ACTIVE" and a["JoinedMethod"] == "CREATED"
        assert a["Name"] == "Dev" and "@" in a["Email"]
        assert "JoinedTimestamp" in a and "DelegationEnabledDate" in a
        assert org.list_delegated_administrators(ServicePrincipal="other.amazonaws.com")[
            "DelegatedAdministrators"] == []
        services = world["t"].cli("organizations", "list-delegated-services-for-account",
                                  "--account-id", dev)["DelegatedServices"]
        assert [s["ServicePrincipal"] for s in services] == [OTHER_SP]
        expect(org.list_delegated_services_for_account, "AccountNotRegisteredException", AccountId=prod)
        expect(org.list_delegated_services_for_account, "AccountNotFoundException", AccountId="999999999999")
        # A delegated administrator may read the lists; a plain member may not.
        delegate = world["t"].client("organizations", **world["accts"].admin_creds(dev))
        assert [a["Id"] for a in delegate.list_delegated_administrators()["DelegatedAdministrators"]] == [dev]
        plain = world["t"].client("organizations", **world["accts"].admin_creds(prod))
        expect(plain.list_delegated_administrators, "AccessDeniedException")
        expect(delegate.register_delegated_administrator, "AccessDeniedException",
               AccountId=prod, ServicePrincipal=OTHER_SP)
        # A delegated administrator cannot leave or be removed.
        expect(org.remove_account_from_organization, "ConstraintViolationException",
               "CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG", AccountId=dev)
        org.deregister_delegated_administrator(AccountId=dev, ServicePrincipal=OTHER_SP)
        expect(org.deregister_delegated_administrator, "AccountNotRegisteredException",
               AccountId=dev, ServicePrincipal=OTHER_SP)
        assert org.list_delegated_administrators()["DelegatedAdministrators"] == []
        # Existing reads are unaffected.
        assert org.describe_organization()["Organization"]["MasterAccountId"] == world["mgmt"]
        assert dev in [x["Id"] for x in org.list_accounts()["Accounts"]]
    finally:
        org.disable_aws_service_access(ServicePrincipal=OTHER_SP)


def test_outside_an_organization(world):
    t = world["t"]
    loner = t.client("organizations", **world["accts"].admin_creds(world["ops"]))
    loner.leave_organization()
    expect(loner.list_delegated_administrators, "AWSOrganizationsNotInUseException")
    expect(loner.enable_aws_service_access, "AWSOrganizationsNotInUseException", ServicePrincipal=OTHER_SP)
    org = t.client("organizations")
    expect(org.register_delegated_administrator, "AccountNotFoundException",
           AccountId=world["ops"], ServicePrincipal=OTHER_SP)


def test_iam_user_without_the_action_is_denied(world, org):
    t = world["t"]
    creds = user_with_key(t, {}, unique("orgreader-"), json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "organizations:Describe*", "Resource": "*"}]}))
    c = t.client("organizations", **creds)
    c.describe_organization()
    expect(c.enable_aws_service_access, "AccessDeniedException", ServicePrincipal=OTHER_SP)
    expect(c.list_delegated_administrators, "AccessDeniedException")
    expect(c.list_aws_service_access_for_organization, "AccessDeniedException")
    assert org.list_aws_service_access_for_organization()["EnabledServicePrincipals"] == []


# --- CloudTrail: insight selectors and tags -----------------------------------------------------------

@pytest.fixture(scope="module")
def trail(server):
    s3 = server.client("s3")
    bucket = unique("trail-bucket-")
    s3.create_bucket(Bucket=bucket)
    account = server.client("sts").get_caller_identity()["Account"]
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl",
             "Resource": f"arn:aws:s3:::{bucket}"},
            {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
             "Resource": f"arn:aws:s3:::{bucket}/AWSLogs/{account}/*"}]}))
    ct = server.client("cloudtrail")
    name = unique("trail-")
    arn = ct.create_trail(Name=name, S3BucketName=bucket)["TrailARN"]
    return {"name": name, "arn": arn}


def test_insight_selectors(server, trail):
    ct = server.client("cloudtrail")
    expect(ct.get_insight_selectors, "InsightNotEnabledException", TrailName=trail["name"])
    expect(ct.put_insight_selectors, "InvalidInsightSelectorsException", TrailName=trail["name"],
           InsightSelectors=[{"InsightType": "ApiCallRateInsight"}, {"InsightType": "ApiCallRateInsight"}])
    expect(ct.get_insight_selectors, "InsightNotEnabledException", TrailName=trail["name"])
    expect(ct.put_insight_selectors, "TrailNotFoundException", TrailName="no-such-trail",
           InsightSelectors=[{"InsightType": "ApiCallRateInsight"}])
    out = ct.put_insight_selectors(TrailName=trail["name"], InsightSelectors=[
        {"InsightType": "ApiCallRateInsight"}, {"InsightType": "ApiErrorRateInsight"}])
    assert out["TrailARN"] == trail["arn"]
    got = server.cli("cloudtrail", "get-insight-selectors", "--trail-name", trail["arn"])
    assert [s["InsightType"] for s in got["InsightSelectors"]] == ["ApiCallRateInsight", "ApiErrorRateInsight"]
    assert ct.get_trail(Name=trail["name"])["Trail"]["HasInsightSelectors"] is True
    ct.put_insight_selectors(TrailName=trail["name"], InsightSelectors=[])  # turns Insights off
    expect(ct.get_insight_selectors, "InsightNotEnabledException", TrailName=trail["name"])
    assert ct.get_trail(Name=trail["name"])["Trail"]["HasInsightSelectors"] is False


def test_trail_tags(server, trail):
    ct = server.client("cloudtrail")
    arn = trail["arn"]
    ct.add_tags(ResourceId=arn, TagsList=[{"Key": "team", "Value": "sec"}, {"Key": "env", "Value": "prod"}])
    server.cli("cloudtrail", "add-tags", "--resource-id", arn, "--tags-list", "Key=env,Value=dev")
    tags = ct.list_tags(ResourceIdList=[arn])["ResourceTagList"]
    assert tags[0]["ResourceId"] == arn
    assert sorted((x["Key"], x["Value"]) for x in tags[0]["TagsList"]) == [("env", "dev"), ("team", "sec")]
    ct.remove_tags(ResourceId=arn, TagsList=[{"Key": "team"}])
    assert ct.list_tags(ResourceIdList=[arn])["ResourceTagList"][0]["TagsList"] == [{"Key": "env", "Value": "dev"}]
    expect(ct.add_tags, "InvalidTagParameterException", ResourceId=arn, TagsList=[{"Key": "aws:x", "Value": "1"}])
    expect(ct.add_tags, "InvalidTagParameterException", ResourceId=arn, TagsList=[{"Key": "k" * 129, "Value": "1"}])
    expect(ct.add_tags, "TagsLimitExceededException", ResourceId=arn,
           TagsList=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert len(ct.list_tags(ResourceIdList=[arn])["ResourceTagList"][0]["TagsList"]) == 1
    missing = arn.rsplit("/", 1)[0] + "/no-such-trail"
    expect(ct.add_tags, "ResourceNotFoundException", ResourceId=missing, TagsList=[{"Key": "a", "Value": "b"}])
    expect(ct.list_tags, "ResourceNotFoundException", ResourceIdList=[missing])
    expect(ct.add_tags, "CloudTrailARNInvalidException", ResourceId="not-an-arn", TagsList=[{"Key": "a"}])


def test_cloudtrail_denials(server, trail):
    creds = user_with_key(server, {}, unique("ctreader-"), json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "cloudtrail:GetTrail", "Resource": "*"}]}))
    ct = server.client("cloudtrail", **creds)
    expect(ct.put_insight_selectors, "AccessDeniedException", TrailName=trail["name"],
           InsightSelectors=[{"InsightType": "ApiCallRateInsight"}])
    expect(ct.add_tags, "AccessDeniedException", ResourceId=trail["arn"], TagsList=[{"Key": "a", "Value": "b"}])
    expect(ct.list_tags, "AccessDeniedException", ResourceIdList=[trail["arn"]])


# --- The Account service ---------------------------------------------------------------------------

CONTACT = {"FullName": "Ada Lovelace", "AddressLine1": "1 Analytical Way", "City": "London",
           "PostalCode": "N1 9GU", "CountryCode": "GB", "PhoneNumber": "+44 20 7946 0000"}
SECURITY = {"AlternateContactType": "SECURITY", "Name": "Sec Team", "Title": "CISO",
            "EmailAddress": "security@example.com", "PhoneNumber": "+1 555 0100"}


def test_account_own_contacts(world):
    t = world["t"]
    acct = t.client("account")
    expect(acct.get_contact_information, "ResourceNotFoundException", status=404)
    acct.put_contact_information(ContactInformation=CONTACT)
    assert acct.get_contact_information()["ContactInformation"] == CONTACT
    expect(acct.get_alternate_contact, "ResourceNotFoundException", status=404, AlternateContactType="BILLING")
    expect(acct.delete_alternate_contact, "ResourceNotFoundException", AlternateContactType="BILLING")
    t.cli("account", "put-alternate-contact", "--alternate-contact-type", "SECURITY", "--name", "Sec Team",
          "--title", "CISO", "--email-address", "security@example.com", "--phone-number", "+1 555 0100")
    got = t.cli("account", "get-alternate-contact", "--alternate-contact-type", "SECURITY")["AlternateContact"]
    assert got == SECURITY
    acct.delete_alternate_contact(AlternateContactType="SECURITY")
    expect(acct.get_alternate_contact, "ResourceNotFoundException", AlternateContactType="SECURITY")


def test_account_validation_changes_nothing(world):
    acct = world["t"].client("account")
    e = expect(acct.put_alternate_contact, "ValidationException", status=400,
               **{**SECURITY, "EmailAddress": "not-an-email"})
    assert e.response["fieldList"][0]["name"] == "EmailAddress", e.response
    assert e.response["reason"] == "fieldValidationFailed"
    expect(acct.put_alternate_contact, "ValidationException", **{**SECURITY, "AlternateContactType": "SALES"})
    expect(acct.put_alternate_contact, "ValidationException", **{**SECURITY, "Name": "n" * 65})
    expect(acct.get_alternate_contact, "ResourceNotFoundException", AlternateContactType="SECURITY")
    expect(acct.put_contact_information, "ValidationException",
           ContactInformation={**CONTACT, "PhoneNumber": "12345"})
    expect(acct.put_contact_information, "ValidationException", ContactInformation={**CONTACT, "CountryCode": "GBR"})
    expect(acct.get_contact_information, "ValidationException", AccountId="12345")


def test_account_for_a_member_account(world, org):
    t, dev, prod = world["t"], world["dev"], world["prod"]
    acct = t.client("account")
    # Without trusted access for account.amazonaws.com: refused.
    expect(acct.put_alternate_contact, "AccessDeniedException", status=403, AccountId=dev, **SECURITY)
    org.enable_aws_service_access(ServicePrincipal=ACCOUNT_SP)
    try:
        acct.put_alternate_contact(AccountId=dev, **SECURITY)
        assert acct.get_alternate_contact(AccountId=dev, AlternateContactType="SECURITY")["AlternateContact"] \
            == SECURITY
        # The member sees it as its own.
        member = t.client("account", **world["accts"].admin_creds(dev))
        assert member.get_alternate_contact(AlternateContactType="SECURITY")["AlternateContact"] == SECURITY
        # A plain member account may not name another account.
        expect(member.get_alternate_contact, "AccessDeniedException", AccountId=prod, AlternateContactType="SECURITY")
        # The management account may not name itself; nor an account outside the organization.
        expect(acct.get_contact_information, "ValidationException", AccountId=world["mgmt"])
        expect(acct.get_contact_information, "AccessDeniedException", AccountId="999999999999")
        # A delegated administrator for account.amazonaws.com may.
        org.register_delegated_administrator(AccountId=prod, ServicePrincipal=ACCOUNT_SP)
        delegate = t.client("account", **world["accts"].admin_creds(prod))
        delegate.put_contact_information(AccountId=dev, ContactInformation=CONTACT)
        assert member.get_contact_information()["ContactInformation"] == CONTACT
        org.deregister_delegated_administrator(AccountId=prod, ServicePrincipal=ACCOUNT_SP)
        expect(delegate.get_contact_information, "AccessDeniedException", AccountId=dev)
        acct.delete_alternate_contact(AccountId=dev, AlternateContactType="SECURITY")
    finally:
        org.disable_aws_service_access(ServicePrincipal=ACCOUNT_SP)


def test_account_denied_without_the_action(world):
    t = world["t"]
    creds = user_with_key(t, {}, unique("acctreader-"), json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "account:GetContactInformation", "Resource": "*"}]}))
    acct = t.client("account", **creds)
    acct.get_contact_information()
    e = expect(acct.put_alternate_contact, "AccessDeniedException", status=403, **SECURITY)
    assert "account:PutAlternateContact" in e.response["Error"]["Message"]
    with pytest.raises(CliError) as ce:
        t.cli("account", "delete-alternate-contact", "--alternate-contact-type", "BILLING",
              env=t.env_for(**creds))
    assert ce.value.code == "AccessDeniedException"


def test_account_other_operations_are_not_implemented(world):
    acct = world["t"].client("account")
    e = expect(acct.list_regions, "NotImplemented")
    assert "account:ListRegions" in e.response["Error"]["Message"]
