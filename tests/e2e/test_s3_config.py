"""S3 bucket configurations through boto3 and the AWS CLI: every configuration round-trips, the
"not found" error of each, the defaults of a new bucket (SSE-S3, BucketOwnerEnforced, all four
Block Public Access settings), validation that changes nothing, one IAM action per operation,
and enforcement of Block Public Access (BlockPublicPolicy, RestrictPublicBuckets) and Object
Ownership (S3 User Guide, access-control-block-public-access.html, about-object-ownership.html).
"""

import json

import boto3
import botocore.config
import botocore.exceptions
import pytest
import requests

from conftest import REGION, CliError, unique, user_with_key


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


def status_of(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def new_bucket(t, creds=None, **kwargs):
    s3 = t.client("s3", **(creds or {}))
    name = unique("tsr-cfg-")
    s3.create_bucket(Bucket=name, **kwargs)
    return s3, name


def public_policy(bucket, **extra):
    statement = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    statement.update(extra)
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


ALL_ON = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
ALL_OFF = {k: False for k in ALL_ON}


def test_new_bucket_defaults(tessera):
    s3, b = new_bucket(tessera)
    assert s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"] == ALL_ON
    rules = s3.get_bucket_ownership_controls(Bucket=b)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    enc = s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"]
    assert enc[0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert enc[0]["BucketKeyEnabled"] is False
    v = s3.get_bucket_versioning(Bucket=b)
    assert "Status" not in v
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=b)
    n = s3.get_bucket_notification_configuration(Bucket=b)
    assert not any(k in n for k in ("TopicConfigurations", "QueueConfigurations", "LambdaFunctionConfigurations"))
    acl = s3.get_bucket_acl(Bucket=b)
    assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]
    assert acl["Grants"][0]["Grantee"]["ID"] == acl["Owner"]["ID"]


@pytest.mark.parametrize(
    "call,code",
    [
        ("get_bucket_tagging", "NoSuchTagSet"),
        ("get_bucket_lifecycle_configuration", "NoSuchLifecycleConfiguration"),
        ("get_bucket_replication", "ReplicationConfigurationNotFoundError"),
        ("get_object_lock_configuration", "ObjectLockConfigurationNotFoundError"),
        ("get_bucket_website", "NoSuchWebsiteConfiguration"),
        ("get_bucket_cors", "NoSuchCORSConfiguration"),
        ("get_bucket_policy_status", "NoSuchBucketPolicy"),
    ],
)
def test_unset_configuration_errors(tessera, call, code):
    s3, b = new_bucket(tessera)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        getattr(s3, call)(Bucket=b)
    assert code_of(e) == code and status_of(e) == 404


def test_deleted_settings_answer_not_found(tessera):
    s3, b = new_bucket(tessera)
    s3.delete_public_access_block(Bucket=b)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_public_access_block(Bucket=b)
    assert code_of(e) == "NoSuchPublicAccessBlockConfiguration" and status_of(e) == 404
    s3.delete_bucket_ownership_controls(Bucket=b)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_ownership_controls(Bucket=b)
    assert code_of(e) == "OwnershipControlsNotFoundError" and status_of(e) == 404


def test_round_trips(tessera):
    s3, b = new_bucket(tessera)
    s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration={"BlockPublicPolicy": True})
    assert s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"] == dict(ALL_OFF, BlockPublicPolicy=True)

    s3.put_bucket_ownership_controls(Bucket=b, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    assert s3.get_bucket_ownership_controls(Bucket=b)["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "ObjectWriter"}]

    kms = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "arn:aws:kms:us-east-1:111122223333:key/k"}
    s3.put_bucket_encryption(
        Bucket=b,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": kms, "BucketKeyEnabled": True}]},
    )
    rule = s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == kms and rule["BucketKeyEnabled"] is True
    s3.delete_bucket_encryption(Bucket=b)
    rule = s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}

    tags = [{"Key": "team", "Value": "blue"}, {"Key": "env", "Value": ""}]
    s3.put_bucket_tagging(Bucket=b, Tagging={"TagSet": tags})
    assert sorted(s3.get_bucket_tagging(Bucket=b)["TagSet"], key=lambda x: x["Key"]) == sorted(tags, key=lambda x: x["Key"])
    s3.delete_bucket_tagging(Bucket=b)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_tagging(Bucket=b)
    assert code_of(e) == "NoSuchTagSet"

    lifecycle = {"Rules": [{"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 7}}]}
    s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration=lifecycle)
    got = s3.get_bucket_lifecycle_configuration(Bucket=b)
    assert got["Rules"][0]["ID"] == "expire" and got["Rules"][0]["Expiration"] == {"Days": 7}
    assert got["Rules"][0]["Filter"] == {"Prefix": "tmp/"}
    s3.delete_bucket_lifecycle(Bucket=b)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket=b)
    assert code_of(e) == "NoSuchLifecycleConfiguration"

    website = {"IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "error.html"}}
    s3.put_bucket_website(Bucket=b, WebsiteConfiguration=website)
    got = s3.get_bucket_website(Bucket=b)
    assert got["IndexDocument"] == {"Suffix": "index.html"} and got["ErrorDocument"] == {"Key": "error.html"}
    s3.delete_bucket_website(Bucket=b)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_website(Bucket=b)
    assert code_of(e) == "NoSuchWebsiteConfiguration"

    cors = {"CORSRules": [{"AllowedMethods": ["GET", "PUT"], "AllowedOrigins": ["https://example.com"], "MaxAgeSeconds": 300}]}
    s3.put_bucket_cors(Bucket=b, CORSConfiguration=cors)
    got = s3.get_bucket_cors(Bucket=b)["CORSRules"][0]
    assert got["AllowedMethods"] == ["GET", "PUT"] and got["AllowedOrigins"] == ["https://example.com"]
    assert got["MaxAgeSeconds"] == 300
    s3.delete_bucket_cors(Bucket=b)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_cors(Bucket=b)
    assert code_of(e) == "NoSuchCORSConfiguration"

    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"

    replication = {
        "Role": "arn:aws:iam::111122223333:role/replication",
        "Rules": [{"ID": "r1", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": ""},
                   "DeleteMarkerReplication": {"Status": "Disabled"},
                   "Destination": {"Bucket": "arn:aws:s3:::elsewhere"}}],
    }
    s3.put_bucket_replication(Bucket=b, ReplicationConfiguration=replication)
    got = s3.get_bucket_replication(Bucket=b)["ReplicationConfiguration"]
    assert got["Role"] == replication["Role"] and got["Rules"][0]["Destination"]["Bucket"] == "arn:aws:s3:::elsewhere"
    s3.delete_bucket_replication(Bucket=b)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_replication(Bucket=b)
    assert code_of(e) == "ReplicationConfigurationNotFoundError"

    lock = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}
    s3.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration=lock)
    assert s3.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"] == lock
    # Object Lock keeps versioning on.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    assert code_of(e) == "InvalidBucketState"

    _, target = new_bucket(tessera)
    s3.put_bucket_logging(Bucket=b, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "logs/"}})
    assert s3.get_bucket_logging(Bucket=b)["LoggingEnabled"] == {"TargetBucket": target, "TargetPrefix": "logs/"}
    s3.put_bucket_logging(Bucket=b, BucketLoggingStatus={})
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=b)

    notification = {"EventBridgeConfiguration": {}}
    s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration=notification)
    assert "EventBridgeConfiguration" in s3.get_bucket_notification_configuration(Bucket=b)


def test_cli_round_trips(tessera):
    t = tessera
    _, b = new_bucket(t)
    assert t.cli("s3api", "get-public-access-block", "--bucket", b)["PublicAccessBlockConfiguration"] == ALL_ON
    t.cli("s3api", "put-bucket-tagging", "--bucket", b, "--tagging", "TagSet=[{Key=cost,Value=42}]")
    assert t.cli("s3api", "get-bucket-tagging", "--bucket", b)["TagSet"] == [{"Key": "cost", "Value": "42"}]
    t.cli("s3api", "put-bucket-versioning", "--bucket", b, "--versioning-configuration", "Status=Suspended")
    assert t.cli("s3api", "get-bucket-versioning", "--bucket", b)["Status"] == "Suspended"
    enc = t.cli("s3api", "get-bucket-encryption", "--bucket", b)
    assert enc["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    with pytest.raises(CliError) as e:
        t.cli("s3api", "get-bucket-cors", "--bucket", b)
    assert e.value.code == "NoSuchCORSConfiguration"
    t.cli("s3api", "delete-public-access-block", "--bucket", b)
    t.cli("s3api", "put-bucket-policy", "--bucket", b, "--policy", public_policy(b))
    assert t.cli("s3api", "get-bucket-policy-status", "--bucket", b)["PolicyStatus"]["IsPublic"] is True


def test_validation_errors_change_nothing(tessera):
    s3, b = new_bucket(tessera)
    s3.put_bucket_tagging(Bucket=b, Tagging={"TagSet": [{"Key": "keep", "Value": "me"}]})
    for bad in (
        [{"Key": f"k{i}", "Value": "v"} for i in range(51)],
        [{"Key": "k" * 129, "Value": "v"}],
        [{"Key": "k", "Value": "v" * 257}],
        [{"Key": "aws:reserved", "Value": "v"}],
        [{"Key": "dup", "Value": "1"}, {"Key": "dup", "Value": "2"}],
    ):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_bucket_tagging(Bucket=b, Tagging={"TagSet": bad})
        assert code_of(e) == "InvalidTag" and status_of(e) == 400
    assert s3.get_bucket_tagging(Bucket=b)["TagSet"] == [{"Key": "keep", "Value": "me"}]

    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Disabled"})
    assert code_of(e) == "MalformedXML"
    assert "Status" not in s3.get_bucket_versioning(Bucket=b)

    # Object Lock needs a bucket created with it or versioning enabled (PutObjectLockConfiguration).
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert code_of(e) == "InvalidBucketState" and status_of(e) == 409
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object_lock_configuration(Bucket=b)
    assert code_of(e) == "ObjectLockConfigurationNotFoundError"

    rules = [{"ID": f"r{i}", "Status": "Enabled", "Filter": {"Prefix": f"p{i}"}, "Expiration": {"Days": 1}} for i in range(1001)]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": rules})
    assert code_of(e) == "InvalidRequest"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket=b)
    assert code_of(e) == "NoSuchLifecycleConfiguration"

    cors = {"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}] * 101}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_cors(Bucket=b, CORSConfiguration=cors)
    assert code_of(e) == "InvalidRequest"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_cors(Bucket=b, CORSConfiguration={"CORSRules": [{"AllowedMethods": ["PATCH"], "AllowedOrigins": ["*"]}]})
    assert code_of(e) == "InvalidRequest"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_cors(Bucket=b)
    assert code_of(e) == "NoSuchCORSConfiguration"

    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_replication(Bucket=b, ReplicationConfiguration={
            "Role": "arn:aws:iam::111122223333:role/r",
            "Rules": [{"Status": "Enabled", "Prefix": "", "Destination": {"Bucket": "arn:aws:s3:::x"}}]})
    assert code_of(e) == "InvalidRequest"  # versioning is not enabled
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256", "KMSMasterKeyID": "k"}}]})
    assert code_of(e) == "InvalidArgument"
    enc = s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert enc["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


def test_object_lock_at_creation_enables_versioning(tessera):
    s3, b = new_bucket(tessera, ObjectLockEnabledForBucket=True)
    assert s3.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"] == {"ObjectLockEnabled": "Enabled"}
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"


# One IAM action per operation (Service Authorization Reference, list_amazons3.html).
OPERATIONS = [
    ("get_public_access_block", "s3:GetBucketPublicAccessBlock", {}),
    ("put_public_access_block", "s3:PutBucketPublicAccessBlock", {"PublicAccessBlockConfiguration": ALL_ON}),
    ("delete_public_access_block", "s3:PutBucketPublicAccessBlock", {}),
    ("get_bucket_ownership_controls", "s3:GetBucketOwnershipControls", {}),
    ("put_bucket_ownership_controls", "s3:PutBucketOwnershipControls",
     {"OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}}),
    ("delete_bucket_ownership_controls", "s3:PutBucketOwnershipControls", {}),
    ("get_bucket_encryption", "s3:GetEncryptionConfiguration", {}),
    ("put_bucket_encryption", "s3:PutEncryptionConfiguration",
     {"ServerSideEncryptionConfiguration": {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}}),
    ("delete_bucket_encryption", "s3:PutEncryptionConfiguration", {}),
    ("get_bucket_tagging", "s3:GetBucketTagging", {}),
    ("put_bucket_tagging", "s3:PutBucketTagging", {"Tagging": {"TagSet": [{"Key": "a", "Value": "b"}]}}),
    ("delete_bucket_tagging", "s3:PutBucketTagging", {}),
    ("get_bucket_lifecycle_configuration", "s3:GetLifecycleConfiguration", {}),
    ("put_bucket_lifecycle_configuration", "s3:PutLifecycleConfiguration",
     {"LifecycleConfiguration": {"Rules": [{"ID": "x", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}}]}}),
    ("delete_bucket_lifecycle", "s3:PutLifecycleConfiguration", {}),
    ("get_bucket_replication", "s3:GetReplicationConfiguration", {}),
    ("delete_bucket_replication", "s3:PutReplicationConfiguration", {}),
    ("get_bucket_website", "s3:GetBucketWebsite", {}),
    ("put_bucket_website", "s3:PutBucketWebsite", {"WebsiteConfiguration": {"IndexDocument": {"Suffix": "i.html"}}}),
    ("delete_bucket_website", "s3:DeleteBucketWebsite", {}),
    ("get_bucket_cors", "s3:GetBucketCORS", {}),
    ("put_bucket_cors", "s3:PutBucketCORS", {"CORSConfiguration": {"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]}}),
    ("delete_bucket_cors", "s3:PutBucketCORS", {}),
    ("get_bucket_acl", "s3:GetBucketAcl", {}),
    ("put_bucket_acl", "s3:PutBucketAcl", {"ACL": "private"}),
    ("get_bucket_versioning", "s3:GetBucketVersioning", {}),
    ("put_bucket_versioning", "s3:PutBucketVersioning", {"VersioningConfiguration": {"Status": "Enabled"}}),
    ("get_bucket_logging", "s3:GetBucketLogging", {}),
    ("put_bucket_logging", "s3:PutBucketLogging", {"BucketLoggingStatus": {}}),
    ("get_object_lock_configuration", "s3:GetBucketObjectLockConfiguration", {}),
    ("put_object_lock_configuration", "s3:PutBucketObjectLockConfiguration",
     {"ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled"}}),
    ("get_bucket_notification_configuration", "s3:GetBucketNotification", {}),
    ("put_bucket_notification_configuration", "s3:PutBucketNotification", {"NotificationConfiguration": {}}),
    ("get_bucket_policy_status", "s3:GetBucketPolicyStatus", {}),
]


def test_each_operation_needs_its_own_action(tessera):
    t = tessera
    _, b = new_bucket(t)
    everything_else = lambda action: json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": action, "Resource": "*"}]})
    for method, action, kwargs in OPERATIONS:
        creds = user_with_key(t, t.root_creds, unique("cfg-denied-"), everything_else(action))
        with pytest.raises(botocore.exceptions.ClientError) as e:
            getattr(t.client("s3", **creds), method)(Bucket=b, **kwargs)
        assert code_of(e) == "AccessDenied" and status_of(e) == 403, (method, action)
    # The same user without the Deny gets past authorization (with root, to keep it short).
    s3 = t.client("s3")
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"


def test_block_public_policy(tessera):
    s3, b = new_bucket(tessera)
    private = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                                                                  "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/*"}]})
    s3.put_bucket_policy(Bucket=b, Policy=private)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_policy(Bucket=b, Policy=public_policy(b))
    assert code_of(e) == "AccessDenied" and status_of(e) == 403
    assert "BlockPublicPolicy" in e.value.response["Error"]["Message"]
    assert s3.get_bucket_policy(Bucket=b)["Policy"] == private
    assert s3.get_bucket_policy_status(Bucket=b)["PolicyStatus"]["IsPublic"] is False
    s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration=dict(ALL_ON, BlockPublicPolicy=False))
    s3.put_bucket_policy(Bucket=b, Policy=public_policy(b))
    assert s3.get_bucket_policy_status(Bucket=b)["PolicyStatus"]["IsPublic"] is True


@pytest.mark.parametrize(
    "name,condition,public",
    [
        ("principal_star_alone", None, True),
        ("limits_access_to_a_set_of_cidrs_using_aws_source_ip", {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}, False),
        ("source_ip_all_addresses", {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}, True),
        ("a_fixed_aws_source_arn", {"ArnEquals": {"aws:SourceArn": "arn:aws:cloudtrail:us-east-1:111122223333:trail/t"}}, False),
        ("a_fixed_aws_source_vpc", {"StringEquals": {"aws:SourceVpc": "vpc-1a2b3c4d"}}, False),
        ("a_fixed_aws_source_vpce", {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}, False),
        ("a_fixed_aws_source_account", {"StringEquals": {"aws:SourceAccount": "111122223333"}}, False),
        ("a_fixed_aws_principal_org_id", {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}, False),
        ("a_wildcard_aws_source_account", {"StringLike": {"aws:SourceAccount": "*"}}, True),
        ("aws_userid_in_the_aroleid_pattern", {"StringLike": {"aws:userid": "AROAEXAMPLE:*"}}, True),
        ("an_unrelated_condition_key", {"StringEquals": {"aws:UserAgent": "curl"}}, True),
    ],
)
def test_policy_status_follows_the_meaning_of_public(tessera, name, condition, public):
    s3, b = new_bucket(tessera)
    s3.delete_public_access_block(Bucket=b)
    extra = {"Condition": condition} if condition else {}
    s3.put_bucket_policy(Bucket=b, Policy=public_policy(b, **extra))
    assert s3.get_bucket_policy_status(Bucket=b)["PolicyStatus"]["IsPublic"] is public, name


def test_a_fixed_principal_is_not_public(tessera):
    s3, b = new_bucket(tessera)
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{b}/*"}]})
    s3.put_bucket_policy(Bucket=b, Policy=policy)
    assert s3.get_bucket_policy_status(Bucket=b)["PolicyStatus"]["IsPublic"] is False


def test_restrict_public_buckets(tessera, accounts):
    t = tessera
    s3, b = new_bucket(t)
    s3.put_object(Bucket=b, Key="doc.txt", Body=b"hello")
    s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration=dict(ALL_OFF))
    s3.put_bucket_policy(Bucket=b, Policy=public_policy(b))
    other = accounts.create(unique("rpb-"))
    other_s3 = t.client("s3", **accounts.admin_creds(other))
    same = user_with_key(t, t.root_creds, unique("rpb-same-"))  # no identity policy: the bucket policy grants
    same_s3 = t.client("s3", **same)

    # Off: the public policy grants the other account and the same-account user.
    assert other_s3.get_object(Bucket=b, Key="doc.txt")["Body"].read() == b"hello"
    assert same_s3.get_object(Bucket=b, Key="doc.txt")["Body"].read() == b"hello"

    s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration=dict(ALL_OFF, RestrictPublicBuckets=True))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        other_s3.get_object(Bucket=b, Key="doc.txt")
    assert code_of(e) == "AccessDenied"
    anonymous = requests.get(f"{t.endpoint}/{b}/doc.txt", timeout=10)
    assert anonymous.status_code == 403 and b"AccessDenied" in anonymous.content
    unsigned = boto3.session.Session(region_name=REGION).client(
        "s3", endpoint_url=t.endpoint, config=botocore.config.Config(signature_version=botocore.UNSIGNED))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unsigned.get_object(Bucket=b, Key="doc.txt")
    assert code_of(e) == "AccessDenied"
    assert same_s3.get_object(Bucket=b, Key="doc.txt")["Body"].read() == b"hello"


def test_object_ownership_enforced_refuses_acls(tessera):
    s3, b = new_bucket(tessera)
    s3.put_object(Bucket=b, Key="ok", Body=b"x", ACL="bucket-owner-full-control")
    for kwargs in ({"ACL": "public-read"}, {"ACL": "private"}, {"GrantRead": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'}):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_object(Bucket=b, Key="refused", Body=b"x", **kwargs)
        assert code_of(e) == "AccessControlListNotSupported" and status_of(e) == 400, kwargs
        assert e.value.response["Error"]["Message"] == "The bucket does not allow ACLs"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_acl(Bucket=b, ACL="public-read")
    assert code_of(e) == "AccessControlListNotSupported"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object_acl(Bucket=b, Key="ok", ACL="public-read")
    assert code_of(e) == "AccessControlListNotSupported"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "ok"}, ACL="public-read")
    assert code_of(e) == "AccessControlListNotSupported"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_multipart_upload(Bucket=b, Key="mpu", ACL="public-read")
    assert code_of(e) == "AccessControlListNotSupported"
    acl = s3.get_object_acl(Bucket=b, Key="ok")
    assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_bucket(Bucket=unique("tsr-cfg-"), ACL="public-read")
    assert code_of(e) == "InvalidBucketAclWithObjectOwnership"


def test_acls_enabled_block_public_acls(tessera):
    s3, b = new_bucket(tessera, ObjectOwnership="ObjectWriter")
    assert s3.get_bucket_ownership_controls(Bucket=b)["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "ObjectWriter"}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_acl(Bucket=b, ACL="public-read")
    assert code_of(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=b, Key="k", Body=b"x", ACL="public-read")
    assert code_of(e) == "AccessDenied"
    s3.put_bucket_acl(Bucket=b, ACL="log-delivery-write")
    uris = {g["Grantee"].get("URI") for g in s3.get_bucket_acl(Bucket=b)["Grants"]}
    assert "http://acs.amazonaws.com/groups/s3/LogDelivery" in uris
    s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration=dict(ALL_OFF))
    s3.put_bucket_acl(Bucket=b, ACL="public-read")
    grants = s3.get_bucket_acl(Bucket=b)["Grants"]
    assert {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}, "Permission": "READ"} in grants
    # ACLs cannot be disabled while the bucket ACL grants beyond the owner.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_ownership_controls(Bucket=b, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert code_of(e) == "InvalidBucketAclWithObjectOwnership"
    s3.put_bucket_acl(Bucket=b, ACL="private")
    s3.put_bucket_ownership_controls(Bucket=b, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})


def test_deleting_a_bucket_deletes_its_configurations(tessera):
    s3, b = new_bucket(tessera)
    s3.put_bucket_tagging(Bucket=b, Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    s3.put_bucket_cors(Bucket=b, CORSConfiguration={"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]})
    s3.delete_bucket(Bucket=b)
    s3.create_bucket(Bucket=b)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_tagging(Bucket=b)
    assert code_of(e) == "NoSuchTagSet"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_cors(Bucket=b)
    assert code_of(e) == "NoSuchCORSConfiguration"
