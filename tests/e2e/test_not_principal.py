"""NotPrincipal and RCPs, decided as AWS documents them, through boto3 against a real server.

IAM User Guide, "AWS JSON policy elements: NotPrincipal"
(reference_policies_elements_notprincipal.html): NotPrincipal must be used with Deny (Allow is not
supported); it cannot be used in a role trust policy, an SCP or an RCP; a Deny with NotPrincipal
always denies an IAM user or role that has a permissions boundary; AWS checks the account, then the
user (or the role, then the session), so the account must be listed too.
AWS Organizations, "RCP syntax" and "Resource control policies": RCPs only deny.
"""
import json
import subprocess

import botocore.exceptions
import pytest

from conftest import BIN, unique, user_with_key

ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
ASSUME_ANY = json.dumps({"Version": "2012-10-17",
                         "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]})


def code_of(e):
    return e.response["Error"]["Code"]


def denied(fn, **kwargs):
    """Call `fn`, expect AccessDenied, and return its message."""
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        fn(**kwargs)
    assert code_of(ei.value) == "AccessDenied", ei.value.response
    return ei.value.response["Error"]["Message"]


def deny_not_principal(bucket, listed):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "OnlyListed", "Effect": "Deny", "NotPrincipal": {"AWS": listed},
        "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})


@pytest.fixture
def world(fresh_tessera):
    """A bucket with an object in the management account, and its account id."""
    t = fresh_tessera
    s3 = t.client("s3")
    bucket = unique("np-")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret")
    account = t.client("sts").get_caller_identity()["Account"]
    return t, bucket, account


def test_put_bucket_policy_refuses_allow_with_not_principal_and_keeps_the_old_policy(world):
    t, bucket, account = world
    s3 = t.client("s3")
    before = deny_not_principal(bucket, [f"arn:aws:iam::{account}:root"])
    s3.put_bucket_policy(Bucket=bucket, Policy=before)
    leak = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{account}:user/u1"},
        "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        s3.put_bucket_policy(Bucket=bucket, Policy=leak)
    assert code_of(ei.value) == "MalformedPolicy"
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(before)


def test_allow_with_not_principal_never_grants_the_excluded_user_directly(world):
    """Where such a statement is still evaluated (SimulateCustomPolicy over the wire, and
    `tessera policy simulate`), the user it excludes gets at most an account grant."""
    t, bucket, account = world
    u1, u2 = f"arn:aws:iam::{account}:user/u1", f"arn:aws:iam::{account}:user/u2"
    leak = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "NotPrincipal": {"AWS": u1},
        "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    iam = t.client("iam")
    get_object = {"ActionNames": ["s3:GetObject"], "ResourceArns": [f"arn:aws:s3:::{bucket}/k"],
                  "ResourcePolicy": leak, "ResourceOwner": f"arn:aws:iam::{account}:root"}
    identity = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}]})
    # The excluded user, with no identity policy granting the read: denied.
    r = iam.simulate_custom_policy(PolicyInputList=[identity], CallerArn=u1, **get_object)["EvaluationResults"][0]
    assert r["EvalDecision"] == "implicitDeny", r
    # Any other user of the account: granted by the statement itself.
    r = iam.simulate_custom_policy(PolicyInputList=[identity], CallerArn=u2, **get_object)["EvaluationResults"][0]
    assert r["EvalDecision"] == "allowed", r
    # The excluded user's own identity policy still counts (the account layer was not listed).
    r = iam.simulate_custom_policy(PolicyInputList=[ALLOW_ALL], CallerArn=u1, **get_object)["EvaluationResults"][0]
    assert r["EvalDecision"] == "allowed", r
    # The offline simulator answers the same.
    offline = dict(get_object, PolicyInputList=[identity], CallerArn=u1)
    out = subprocess.run([str(BIN), "policy", "simulate"], input=json.dumps(offline), capture_output=True, text=True,
                         timeout=60)
    assert json.loads(out.stdout)["EvaluationResults"][0]["EvalDecision"] == "implicitDeny", out.stdout


def test_deny_with_not_principal_for_users(world):
    t, bucket, account = world
    s3 = t.client("s3")
    read = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    names = {n: unique(n) for n in ("listed", "other", "bounded")}
    creds = {n: user_with_key(t, t.root_creds, name, read) for n, name in names.items()}
    arn = {n: f"arn:aws:iam::{account}:user/{name}" for n, name in names.items()}
    t.client("iam").put_user_permissions_boundary(UserName=names["bounded"],
                                                  PermissionsBoundary="arn:aws:iam::aws:policy/AmazonS3FullAccess")
    listed = [arn["listed"], arn["bounded"], f"arn:aws:iam::{account}:root"]
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_not_principal(bucket, listed))

    listed_s3 = t.client("s3", **creds["listed"])
    assert listed_s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"secret"
    msg = denied(t.client("s3", **creds["other"]).get_object, Bucket=bucket, Key="k")
    assert "with an explicit deny in a resource-based policy" in msg, msg
    # Listed with its account, but it has a permissions boundary: always denied.
    msg = denied(t.client("s3", **creds["bounded"]).get_object, Bucket=bucket, Key="k")
    assert "with an explicit deny in a resource-based policy" in msg, msg
    # Without its account listed, the listed user is denied at the account layer.
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_not_principal(bucket, [arn["listed"]]))
    denied(listed_s3.get_object, Bucket=bucket, Key="k")


def test_deny_with_not_principal_for_role_sessions(world):
    t, bucket, account = world
    iam, s3 = t.client("iam"), t.client("s3")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]})
    roles = {n: unique(n) for n in ("reader", "stranger")}
    for name in roles.values():
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
        iam.put_role_policy(RoleName=name, PolicyName="read", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    caller = user_with_key(t, t.root_creds, unique("assumer"), ASSUME_ANY)
    sts = t.client("sts", **caller)

    def session(role):
        c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="np-session")["Credentials"]
        return t.client("s3", aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                        aws_session_token=c["SessionToken"])

    reader_arn = f"arn:aws:iam::{account}:role/{roles['reader']}"
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_not_principal(bucket, [reader_arn, f"arn:aws:iam::{account}:root"]))
    assert session(roles["reader"]).get_object(Bucket=bucket, Key="k")["Body"].read() == b"secret"
    denied(session(roles["stranger"]).get_object, Bucket=bucket, Key="k")
    # The same role with a permissions boundary: its sessions are always denied.
    iam.put_role_permissions_boundary(RoleName=roles["reader"],
                                      PermissionsBoundary="arn:aws:iam::aws:policy/AmazonS3FullAccess")
    msg = denied(session(roles["reader"]).get_object, Bucket=bucket, Key="k")
    assert "with an explicit deny in a resource-based policy" in msg, msg


def test_trust_policies_and_rcps_refuse_not_principal(fresh_tessera):
    t = fresh_tessera
    iam = t.client("iam")
    account = t.client("sts").get_caller_identity()["Account"]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "NotPrincipal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]})
    name = unique("np")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
    assert code_of(ei.value) == "MalformedPolicyDocument"
    assert ei.value.response["Error"]["Message"] == "Has prohibited field NotPrincipal"
    assert name not in [r["RoleName"] for r in iam.list_roles()["Roles"]]

    org = t.client("organizations")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    org.enable_policy_type(RootId=root, PolicyType="RESOURCE_CONTROL_POLICY")
    for content in (
        {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "NotPrincipal": {"AWS": account},
                                                 "Action": "s3:*", "Resource": "*"}]},
        # "The effect of Allow is only supported for the RCPFullAWSAccess policy."
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*",
                                                 "Resource": "*"}]},
        {"Version": "2012-10-17", "Statement": []},
    ):
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            org.create_policy(Content=json.dumps(content), Description="", Name=unique("rcp"),
                              Type="RESOURCE_CONTROL_POLICY")
        assert code_of(ei.value) == "MalformedPolicyDocumentException", content
    listed = org.list_policies(Filter="RESOURCE_CONTROL_POLICY")["Policies"]
    assert [p["Id"] for p in listed] == ["p-RCPFullAWSAccess"]


def test_rcp_denies_get_object_to_principals_outside_the_organization(fresh_tessera):
    t = fresh_tessera
    org = t.client("organizations")
    org_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = org.list_roots()["Roots"][0]["Id"]
    admin = user_with_key(t, t.root_creds, unique("admin"), ALLOW_ALL)

    def new_account(name):
        s = org.create_account(Email=f"{unique(name)}@example.com", AccountName=name)["CreateAccountStatus"]
        for _ in range(200):
            s = org.describe_create_account_status(CreateAccountRequestId=s["Id"])["CreateAccountStatus"]
            if s["State"] == "SUCCEEDED":
                return s["AccountId"]
        raise AssertionError(s)

    def admin_of(account):
        c = t.client("sts", **admin).assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="org-admin")["Credentials"]
        return {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
                "aws_session_token": c["SessionToken"]}

    owner, outsider = new_account("owner"), new_account("outsider")
    org.remove_account_from_organization(AccountId=outsider)
    owner_creds = admin_of(owner)
    reader = unique("reader")
    reader_creds = user_with_key(t, admin_of(outsider), reader, json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))
    insider = user_with_key(t, t.root_creds, unique("insider"), json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))
    insider_arn = t.client("sts", **insider).get_caller_identity()["Arn"]

    s3 = t.client("s3", **owner_creds)
    bucket = unique("rcp-")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": [f"arn:aws:iam::{outsider}:user/{reader}", insider_arn]},
        "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    outside_s3, inside_s3 = t.client("s3", **reader_creds), t.client("s3", **insider)
    assert outside_s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"

    org.enable_policy_type(RootId=root, PolicyType="RESOURCE_CONTROL_POLICY")
    rcp = org.create_policy(Name=unique("perimeter"), Description="", Type="RESOURCE_CONTROL_POLICY",
                            Content=json.dumps({"Version": "2012-10-17", "Statement": [{
                                "Sid": "EnforceOrgIdentities", "Effect": "Deny", "Principal": "*",
                                "Action": "s3:GetObject", "Resource": "*",
                                "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": org_id},
                                              "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}}]}))
    org.attach_policy(PolicyId=rcp["Policy"]["PolicySummary"]["Id"], TargetId=owner)
    msg = denied(outside_s3.get_object, Bucket=bucket, Key="k")
    assert "with an explicit deny in a resource control policy" in msg, msg
    # A principal inside the organization still reads (the management account's user).
    assert inside_s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"
