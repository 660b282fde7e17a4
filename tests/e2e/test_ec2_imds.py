"""EC2 (instances, instance profiles, regions) and IMDSv2 through the real AWS CLI and boto3,
including seed 002: an EC2 instance profile as the source of credentials for a cross-account
role.
"""

import json
import time

import botocore.exceptions
import pytest
import requests

from conftest import REGION, unique

EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def not_implemented(e):
    return isinstance(e, botocore.exceptions.ClientError) and e.response["Error"]["Code"] in (
        "NotImplemented",
        "InvalidAction",
    )


def make_user(t, name, policy=None, managed=()):
    iam = t.client("iam")
    iam.create_user(UserName=name)
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    for arn in managed:
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def make_profile(t, trust=EC2_TRUST, managed=(), creds=None, inline=None):
    """A role (trusting `trust`) in an instance profile of the same name."""
    iam = t.client("iam", **(creds or {}))
    name = unique("ec2role-")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    for arn in managed:
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    if inline:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(inline))
    profile = iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    return name, role["Arn"], profile["Arn"]


def require_sts(t):
    try:
        t.client("sts").get_session_token()
    except botocore.exceptions.ClientError as e:
        if not_implemented(e):
            pytest.skip("STS session tokens are not implemented in this build")


def imds_get(base, path, token):
    return requests.get(f"{base}{path}", headers={"X-aws-ec2-metadata-token": token}, timeout=5)


def imds_token(base, ttl=60):
    r = requests.put(f"{base}latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": str(ttl)}, timeout=5)
    assert r.status_code == 200, r.text
    return r.text


# --- EC2 -----------------------------------------------------------------------------------


def test_run_describe_stop_start_terminate(tessera):
    t = tessera
    out = t.cli(
        "ec2",
        "run-instances",
        "--image-id",
        "ami-0abcdef1234567890",
        "--count",
        "2",
        "--instance-type",
        "t3.micro",
        "--tag-specifications",
        "ResourceType=instance,Tags=[{Key=Name,Value=web}]",
    )
    ids = [i["InstanceId"] for i in out["Instances"]]
    assert len(ids) == 2 and all(i.startswith("i-") for i in ids)
    assert {i["State"]["Name"] for i in out["Instances"]} == {"pending"}
    d = t.cli("ec2", "describe-instances", "--instance-ids", *ids)
    insts = [i for r in d["Reservations"] for i in r["Instances"]]
    assert sorted(i["InstanceId"] for i in insts) == sorted(ids)
    assert all(i["State"]["Name"] == "running" and i["InstanceType"] == "t3.micro" for i in insts)
    assert all({"Key": "Name", "Value": "web"} in i["Tags"] for i in insts)
    tagged = t.cli("ec2", "describe-instances", "--filters", "Name=tag:Name,Values=web", "Name=instance-id,Values=" + ids[0])
    assert [i["InstanceId"] for r in tagged["Reservations"] for i in r["Instances"]] == [ids[0]]
    stop = t.cli("ec2", "stop-instances", "--instance-ids", ids[0])
    assert stop["StoppingInstances"][0]["CurrentState"]["Name"] == "stopping"
    assert stop["StoppingInstances"][0]["PreviousState"]["Name"] == "running"
    stopped = t.cli("ec2", "describe-instances", "--filters", "Name=instance-state-name,Values=stopped")
    assert ids[0] in [i["InstanceId"] for r in stopped["Reservations"] for i in r["Instances"]]
    start = t.cli("ec2", "start-instances", "--instance-ids", ids[0])
    assert start["StartingInstances"][0]["CurrentState"]["Name"] == "pending"
    term = t.cli("ec2", "terminate-instances", "--instance-ids", *ids)
    assert {x["CurrentState"]["Name"] for x in term["TerminatingInstances"]} == {"shutting-down"}
    gone = t.cli("ec2", "describe-instances", "--instance-ids", ids[0])
    assert gone["Reservations"][0]["Instances"][0]["State"]["Name"] == "terminated"
    ec2 = t.client("ec2")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.start_instances(InstanceIds=[ids[0]])
    assert error_code(e) == "IncorrectInstanceState"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_instances(InstanceIds=["i-0123456789abcdef0"])
    assert error_code(e) == "InvalidInstanceID.NotFound"
    assert "The instance ID 'i-0123456789abcdef0' does not exist" in e.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_instances(Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
    assert error_code(e) == "InvalidParameterValue"


def test_describe_pagination_and_dry_run(tessera):
    t = tessera
    ec2 = t.client("ec2", **t.root_creds) if False else t.client("ec2")
    token_tag = unique("page-")
    ec2.run_instances(
        ImageId="ami-12345678",
        MinCount=6,
        MaxCount=6,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "batch", "Value": token_tag}]}],
    )
    flt = [{"Name": "tag:batch", "Values": [token_tag]}]
    seen, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        r = ec2.describe_instances(Filters=flt, MaxResults=5, **kw)
        seen += [i["InstanceId"] for res in r["Reservations"] for i in res["Instances"]]
        token = r.get("NextToken")
        if not token:
            break
    assert len(seen) == 6 and len(set(seen)) == 6
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, DryRun=True)
    assert error_code(e) == "DryRunOperation"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.run_instances(ImageId="not-an-ami", MinCount=1, MaxCount=1)
    assert error_code(e) == "InvalidAMIID.Malformed"


def test_describe_regions(tessera):
    t = tessera
    regions = [r["RegionName"] for r in t.cli("ec2", "describe-regions")["Regions"]]
    assert "us-east-1" in regions and "eu-west-1" in regions
    one = t.cli("ec2", "describe-regions", "--region-names", "eu-west-1")["Regions"]
    assert one == [{"Endpoint": "ec2.eu-west-1.amazonaws.com", "RegionName": "eu-west-1", "OptInStatus": "opt-in-not-required"}]


def test_run_instances_with_profile_requires_pass_role(tessera):
    t = tessera
    name, role_arn, profile_arn = make_profile(t)
    out = t.cli("ec2", "run-instances", "--image-id", "ami-12345678", "--count", "1", "--iam-instance-profile", f"Name={name}")
    inst = out["Instances"][0]
    assert inst["IamInstanceProfile"]["Arn"] == profile_arn
    f = t.cli("ec2", "describe-instances", "--filters", f"Name=iam-instance-profile.arn,Values={profile_arn}")
    assert [i["InstanceId"] for r in f["Reservations"] for i in r["Instances"]] == [inst["InstanceId"]]
    # A user who may run instances but not pass the role.
    runner = make_user(
        t, unique("runner-"), {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}
    )
    ec2 = t.client("ec2", **runner)
    ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, IamInstanceProfile={"Arn": profile_arn})
    assert error_code(e) == "UnauthorizedOperation"
    msg = e.value.response["Error"]["Message"]
    assert msg.startswith("You are not authorized to perform this operation.") and "iam:PassRole" in msg and role_arn in msg
    passer = make_user(
        t,
        unique("passer-"),
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
                {
                    "Effect": "Allow",
                    "Action": "iam:PassRole",
                    "Resource": role_arn,
                    "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
                },
            ],
        },
    )
    ok = t.client("ec2", **passer).run_instances(
        ImageId="ami-12345678", MinCount=1, MaxCount=1, IamInstanceProfile={"Arn": profile_arn}
    )
    assert ok["Instances"][0]["IamInstanceProfile"]["Arn"] == profile_arn
    with pytest.raises(botocore.exceptions.ClientError) as e:
        t.client("ec2").run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, IamInstanceProfile={"Name": "nope-" + name})
    assert error_code(e) == "InvalidParameterValue"


def test_profile_associations(tessera):
    t = tessera
    ec2 = t.client("ec2")
    p1, _, arn1 = make_profile(t)
    p2, _, arn2 = make_profile(t)
    iid = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    a = ec2.associate_iam_instance_profile(IamInstanceProfile={"Name": p1}, InstanceId=iid)["IamInstanceProfileAssociation"]
    assert a["State"] == "associating" and a["IamInstanceProfile"]["Arn"] == arn1
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.associate_iam_instance_profile(IamInstanceProfile={"Name": p2}, InstanceId=iid)
    assert error_code(e) == "IncorrectState"
    d = ec2.describe_iam_instance_profile_associations(Filters=[{"Name": "instance-id", "Values": [iid]}])
    assert [(x["AssociationId"], x["State"]) for x in d["IamInstanceProfileAssociations"]] == [(a["AssociationId"], "associated")]
    r = ec2.replace_iam_instance_profile_association(IamInstanceProfile={"Arn": arn2}, AssociationId=a["AssociationId"])
    new = r["IamInstanceProfileAssociation"]
    assert new["AssociationId"] != a["AssociationId"] and new["IamInstanceProfile"]["Arn"] == arn2
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.disassociate_iam_instance_profile(AssociationId=a["AssociationId"])
    assert error_code(e) == "InvalidAssociationID.NotFound"
    ec2.disassociate_iam_instance_profile(AssociationId=new["AssociationId"])
    d = ec2.describe_iam_instance_profile_associations(Filters=[{"Name": "instance-id", "Values": [iid]}])
    assert d["IamInstanceProfileAssociations"] == []
    assert "IamInstanceProfile" not in ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]


# --- IMDSv2 --------------------------------------------------------------------------------


def test_imds_tokens_and_metadata(tessera):
    t = tessera
    name, role_arn, profile_arn = make_profile(t)
    inst = t.client("ec2").run_instances(
        ImageId="ami-12345678", MinCount=1, MaxCount=1, IamInstanceProfile={"Name": name}
    )["Instances"][0]
    iid = inst["InstanceId"]
    base = f"{t.endpoint}/imds/{iid}/"
    # IMDSv1 (no token) is refused.
    assert requests.get(f"{base}latest/meta-data/instance-id", timeout=5).status_code == 401
    for bad in ("0", "21601", "x"):
        r = requests.put(f"{base}latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": bad}, timeout=5)
        assert r.status_code == 400
    assert requests.put(f"{base}latest/api/token", timeout=5).status_code == 400
    tok = imds_token(base)
    assert imds_get(base, "latest/meta-data/instance-id", tok).text == iid
    assert imds_get(base, "latest/meta-data/placement/region", tok).text == REGION
    assert imds_get(base, "latest/meta-data/placement/availability-zone", tok).text == inst["Placement"]["AvailabilityZone"]
    assert imds_get(base, "latest/meta-data/iam/security-credentials/", tok).text == name
    info = imds_get(base, "latest/meta-data/iam/info", tok).json()
    assert info["Code"] == "Success" and info["InstanceProfileArn"] == profile_arn
    assert imds_get(base, "latest/meta-data/nope", tok).status_code == 404
    assert imds_get(base, "latest/meta-data/instance-id", "garbage").status_code == 401
    # A token is bound to its instance.
    other = t.client("ec2").run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    assert imds_get(f"{t.endpoint}/imds/{other}/", "latest/meta-data/instance-id", tok).status_code == 401
    assert requests.put(
        f"{t.endpoint}/imds/i-00000000000000000/latest/api/token",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
        timeout=5,
    ).status_code == 404
    # Expired tokens are refused.
    short = imds_token(base, ttl=1)
    time.sleep(1.2)
    assert imds_get(base, "latest/meta-data/instance-id", short).status_code == 401


def test_imds_credentials_are_the_instance_role(tessera):
    t = tessera
    require_sts(t)
    name, role_arn, _ = make_profile(t, managed=("arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess",))
    iid = t.client("ec2").run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, IamInstanceProfile={"Name": name})[
        "Instances"
    ][0]["InstanceId"]
    base = f"{t.endpoint}/imds/{iid}/"
    tok = imds_token(base)
    creds = imds_get(base, f"latest/meta-data/iam/security-credentials/{name}", tok).json()
    assert creds["Code"] == "Success" and creds["Type"] == "AWS-HMAC"
    assert creds["AccessKeyId"].startswith("ASIA") and creds["Token"] and creds["Expiration"].endswith("Z")
    again = imds_get(base, f"latest/meta-data/iam/security-credentials/{name}", tok).json()
    assert again["AccessKeyId"] == creds["AccessKeyId"]
    account = t.client("sts").get_caller_identity()["Account"]
    # The AWS CLI with nothing but the IMDS endpoint.
    env = t.env_for("x", "y")
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(k, None)
    env.pop("AWS_EC2_METADATA_DISABLED", None)
    env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = base
    who = t.cli("sts", "get-caller-identity", env=env)
    assert who["Arn"] == f"arn:aws:sts::{account}:assumed-role/{name}/{iid}"
    d = t.cli("ec2", "describe-instances", "--instance-ids", iid, env=env)
    assert d["Reservations"][0]["Instances"][0]["InstanceId"] == iid


def test_imds_refuses_roles_that_do_not_trust_ec2(tessera):
    t = tessera
    require_sts(t)
    account = t.client("sts").get_caller_identity()["Account"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}],
    }
    name, _, _ = make_profile(t, trust=trust)
    iid = t.client("ec2").run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, IamInstanceProfile={"Name": name})[
        "Instances"
    ][0]["InstanceId"]
    base = f"{t.endpoint}/imds/{iid}/"
    doc = imds_get(base, f"latest/meta-data/iam/security-credentials/{name}", imds_token(base)).json()
    assert doc["Code"] == "AssumeRoleUnauthorizedAccess"
    assert "AccessKeyId" not in doc


# --- Seed 002: instance profile in B, role in A ---------------------------------------------


def test_seed_002_instance_profile_to_cross_account_role(tessera, tmp_path):
    t = tessera
    require_sts(t)
    orgs = t.client("organizations")
    try:
        try:
            orgs.create_organization(FeatureSet="ALL")
        except botocore.exceptions.ClientError as e:
            if e.response["Error"]["Code"] != "AlreadyInOrganizationException":
                raise
        req = orgs.create_account(Email=f"{unique('b')}@example.com", AccountName=unique("seed2-b"))
    except botocore.exceptions.ClientError as e:
        if not_implemented(e):
            pytest.skip("Organizations is not implemented in this build")
        raise
    rid = req["CreateAccountStatus"]["Id"]
    for _ in range(100):
        st = orgs.describe_create_account_status(CreateAccountRequestId=rid)["CreateAccountStatus"]
        if st["State"] == "SUCCEEDED":
            break
        time.sleep(0.05)
    b_id = st["AccountId"]
    a_id = t.client("sts").get_caller_identity()["Account"]
    admin = make_user(
        t, unique("seed2-admin-"), {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
    )
    time.sleep(0.1)
    c = t.client("sts", **admin).assume_role(
        RoleArn=f"arn:aws:iam::{b_id}:role/OrganizationAccountAccessRole", RoleSessionName="setup"
    )["Credentials"]
    b_creds = {
        "aws_access_key_id": c["AccessKeyId"],
        "aws_secret_access_key": c["SecretAccessKey"],
        "aws_session_token": c["SessionToken"],
    }
    # Account A: RoleForB trusts account B and can read.
    iam_a = t.client("iam")
    iam_a.create_role(
        RoleName="RoleForB",
        AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{b_id}:root"}, "Action": "sts:AssumeRole"}}
        ),
    )
    iam_a.attach_role_policy(RoleName="RoleForB", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    # Account B: AssumeRoleInA trusts EC2 and may assume RoleForB; an instance profile holds it.
    name, _, _ = make_profile(
        t,
        creds=b_creds,
        inline={
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": [f"arn:aws:iam::{a_id}:role/RoleForB"]}],
        },
    )
    iid = t.client("ec2", **b_creds).run_instances(
        ImageId="ami-12345678", MinCount=1, MaxCount=1, IamInstanceProfile={"Name": name}
    )["Instances"][0]["InstanceId"]
    # On the instance: a profile with credential_source = Ec2InstanceMetadata.
    config = tmp_path / "config"
    config.write_text(
        f"[profile crossaccount]\nrole_arn = arn:aws:iam::{a_id}:role/RoleForB\ncredential_source = Ec2InstanceMetadata\nregion = {REGION}\n"
    )
    env = t.env_for("x", "y")
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(k, None)
    env.pop("AWS_EC2_METADATA_DISABLED", None)
    env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = f"{t.endpoint}/imds/{iid}/"
    env["AWS_CONFIG_FILE"] = str(config)
    who_b = t.cli("sts", "get-caller-identity", env=env)
    assert who_b["Arn"] == f"arn:aws:sts::{b_id}:assumed-role/{name}/{iid}"
    env["AWS_PROFILE"] = "crossaccount"
    who_a = t.cli("sts", "get-caller-identity", env=env)
    assert who_a["Account"] == a_id and who_a["Arn"].startswith(f"arn:aws:sts::{a_id}:assumed-role/RoleForB/")
    t.cli("ec2", "describe-instances", env=env)
    # The step-by-step form of the seed: assume-role by hand, then use the keys.
    del env["AWS_PROFILE"]
    out = t.cli("sts", "assume-role", "--role-arn", f"arn:aws:iam::{a_id}:role/RoleForB", "--role-session-name", "EC2FromB", env=env)
    k = out["Credentials"]
    env2 = t.env_for(k["AccessKeyId"], k["SecretAccessKey"], k["SessionToken"])
    assert t.cli("sts", "get-caller-identity", env=env2)["Arn"] == f"arn:aws:sts::{a_id}:assumed-role/RoleForB/EC2FromB"
    t.cli("ec2", "describe-instances", "--region", "us-east-1", env=env2)
