"""S3 bucket-level calls in the audit trail (issue 22, item 8): CloudTrail management events with
eventSource s3.amazonaws.com, in the shape S3 documents (S3 User Guide,
cloudtrail-logging-s3-info.html and cloudtrail-logging-understanding-s3-entries.html), found by
LookupEvents through the AWS CLI and boto3; object-level calls (data events) are not recorded."""

import json
import time

import boto3
import botocore.config
import pytest
import requests

from conftest import unique, user_with_key


def s3_events(t, bucket, creds=None, attempts=50):
    """Parsed CloudTrail events of `bucket` (LookupEvents ResourceName) in the caller's account."""
    ct = t.client("cloudtrail", **(creds or {}))
    out = ct.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": bucket}])
    return [json.loads(e["CloudTrailEvent"]) for e in out["Events"]], out["Events"]


def by_name(events, name):
    found = [e for e in events if e["eventName"] == name]
    assert found, f"no {name} event among {[e['eventName'] for e in events]}"
    return found


def test_bucket_level_calls_are_management_events_with_s3_shape(tessera):
    bucket = unique("audit-s3-")
    t = tessera
    t.cli("s3api", "create-bucket", "--bucket", bucket)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket",
                       "Resource": f"arn:aws:s3:::{bucket}"}],
    }
    t.cli("s3api", "put-bucket-policy", "--bucket", bucket, "--policy", json.dumps(policy))
    t.cli("s3api", "get-bucket-policy", "--bucket", bucket)
    t.cli("s3api", "delete-bucket-policy", "--bucket", bucket)
    proc = t.cli("s3api", "get-bucket-policy", "--bucket", bucket, check=False)
    assert "NoSuchBucketPolicy" in proc.stderr
    t.cli("s3api", "list-buckets")
    acct = t.cli("sts", "get-caller-identity")["Account"]

    events, raw = s3_events(t, bucket)
    for name in ["CreateBucket", "PutBucketPolicy", "GetBucketPolicy", "DeleteBucketPolicy"]:
        e = by_name(events, name)[0]
        assert e["eventSource"] == "s3.amazonaws.com"
        assert e["eventCategory"] == "Management" and e["managementEvent"] is True
        assert e["requestParameters"]["bucketName"] == bucket
        assert e["requestParameters"]["Host"] == t.endpoint.split("//", 1)[1]
        assert e["resources"] == [{"ARN": f"arn:aws:s3:::{bucket}", "accountId": acct, "type": "AWS::S3::Bucket"}]
        assert e["additionalEventData"]["SignatureVersion"] == "SigV4"
        assert e["additionalEventData"]["AuthenticationMethod"] == "AuthHeader"
        assert e["userIdentity"]["type"] == "Root" and e["recipientAccountId"] == acct
        assert e["readOnly"] is name.startswith("Get"), name
    # The subresource of the request is a request parameter, as S3 records it.
    assert by_name(events, "PutBucketPolicy")[0]["requestParameters"]["policy"] == ""
    failed = [e for e in by_name(events, "GetBucketPolicy") if e.get("errorCode")]
    assert failed and failed[0]["errorCode"] == "NoSuchBucketPolicy"
    assert failed[0]["errorMessage"] == "The bucket policy does not exist"
    # LookupEvents lists the bucket as a resource, and EventSource finds the events too.
    assert all(r["Resources"] == [{"ResourceType": "AWS::S3::Bucket", "ResourceName": bucket}] for r in raw)
    out = t.cli("cloudtrail", "lookup-events", "--lookup-attributes",
                "AttributeKey=EventSource,AttributeValue=s3.amazonaws.com", "--max-results", "50")
    names = {json.loads(e["CloudTrailEvent"])["eventName"] for e in out["Events"]}
    assert {"ListBuckets", "CreateBucket", "PutBucketPolicy"} <= names


def test_object_level_calls_are_data_events_and_not_recorded(tessera):
    bucket = unique("audit-data-")
    s3 = tessera.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    s3.get_object(Bucket=bucket, Key="k")["Body"].read()
    s3.list_objects_v2(Bucket=bucket)
    s3.head_bucket(Bucket=bucket)
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)
    events, _ = s3_events(tessera, bucket)
    assert sorted(e["eventName"] for e in events) == ["CreateBucket", "DeleteBucket"]


def test_denied_and_failed_calls_are_recorded(tessera):
    bucket = unique("audit-deny-")
    tessera.client("s3").create_bucket(Bucket=bucket)
    creds = user_with_key(tessera, tessera.root_creds, unique("s3-nobody-"))
    time.sleep(0.5)  # a new key may take a moment to be usable, as on AWS
    s3 = tessera.client("s3", **creds)
    with pytest.raises(s3.exceptions.ClientError) as e:
        s3.get_bucket_policy(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    events, _ = s3_events(tessera, bucket)
    denied = [e for e in events if e.get("errorCode") == "AccessDenied"]
    assert len(denied) == 1
    assert denied[0]["userIdentity"]["type"] == "IAMUser"
    assert denied[0]["userIdentity"]["accessKeyId"] == creds["aws_access_key_id"]


def test_cross_account_and_anonymous_calls_reach_the_bucket_owner(tessera, accounts):
    member = accounts.create("s3-audit-member")
    member_creds = accounts.admin_creds(member)
    owner = tessera.client("sts").get_caller_identity()["Account"]
    bucket = unique("audit-xacct-")
    s3 = tessera.client("s3")
    s3.create_bucket(Bucket=bucket)
    # New buckets block public policies (S3's default since April 2023): this one may have one.
    try_pab(
        s3,
        Bucket=bucket,
    )
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{member}:root"},
             "Action": "s3:GetBucketLocation", "Resource": f"arn:aws:s3:::{bucket}"},
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetBucketLocation",
             "Resource": f"arn:aws:s3:::{bucket}"},
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    tessera.client("s3", **member_creds).get_bucket_location(Bucket=bucket)

    theirs, _ = s3_events(tessera, bucket, creds=member_creds)
    mine, _ = s3_events(tessera, bucket)
    caller_copy = by_name(theirs, "GetBucketLocation")[0]
    owner_copy = [e for e in by_name(mine, "GetBucketLocation") if e["userIdentity"]["type"] == "AWSAccount"]
    assert caller_copy["recipientAccountId"] == member
    assert caller_copy["userIdentity"]["type"] == "AssumedRole"
    assert caller_copy["resources"][0]["accountId"] == owner
    assert owner_copy and owner_copy[0]["recipientAccountId"] == owner
    assert owner_copy[0]["userIdentity"]["accountId"] == member
    assert owner_copy[0]["sharedEventID"] == caller_copy["sharedEventID"]

    # An anonymous call is recorded in the bucket owner's account only.
    r = requests.get(f"{tessera.endpoint}/{bucket}?location", timeout=10)
    assert r.status_code == 200, r.text
    mine, _ = s3_events(tessera, bucket)
    anon = [e for e in by_name(mine, "GetBucketLocation") if e["userIdentity"].get("accountId") == "anonymous"]
    assert len(anon) == 1
    assert anon[0]["recipientAccountId"] == owner
    assert "AuthenticationMethod" not in anon[0]["additionalEventData"]


def try_pab(s3, Bucket):
    try:
        s3.put_public_access_block(Bucket=Bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False})
    except s3.exceptions.ClientError as e:
        if e.response["Error"]["Code"] != "NotImplemented":
            raise


def test_presigned_signature_is_never_recorded(tessera):
    bucket = unique("audit-presign-")
    s3 = tessera.client("s3")
    s3.create_bucket(Bucket=bucket)
    signer = boto3.session.Session(region_name="us-east-1").client(
        "s3", endpoint_url=tessera.endpoint, config=botocore.config.Config(signature_version="s3v4"),
        **tessera.root_creds)
    url = signer.generate_presigned_url("get_bucket_location", Params={"Bucket": bucket}, ExpiresIn=60)
    assert requests.get(url, timeout=10).status_code == 200
    events, _ = s3_events(tessera, bucket)
    e = by_name(events, "GetBucketLocation")[0]
    assert e["additionalEventData"]["AuthenticationMethod"] == "QueryString"
    text = json.dumps(e)
    assert "X-Amz-Signature" not in text and "X-Amz-Credential" not in text
    signature = url.split("X-Amz-Signature=")[1].split("&")[0]
    assert signature not in text
