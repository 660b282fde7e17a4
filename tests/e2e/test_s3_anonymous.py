"""Anonymous (unsigned) S3 requests (issue 22, item 2): only a bucket policy granting to
`"Principal": "*"` allows them (IAM User Guide, reference_policies_elements_principal.html,
"Anonymous (public) principals"), and Block Public Access limits that as S3 documents
(access-control-block-public-access.html): a new bucket refuses public policies; with
RestrictPublicBuckets a public policy grants nothing outside the owner's account."""

import json

import requests

from conftest import unique

ALL_OFF = {"BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
           "RestrictPublicBuckets": False}


def public_read_policy(bucket):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})


def make_bucket(t, prefix):
    bucket = unique(prefix)
    s3 = t.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="index.html", Body=b"<h1>hello</h1>")
    return s3, bucket


def get(t, path):
    return requests.get(f"{t.endpoint}/{path}", timeout=10)


def test_no_policy_no_anonymous_access(tessera):
    s3, bucket = make_bucket(tessera, "anon-none-")
    r = get(tessera, f"{bucket}/index.html")
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text
    assert "<Message>Access Denied</Message>" in r.text
    assert get(tessera, "").status_code in (403, 404)  # ListBuckets is never anonymous


def test_public_policy_allows_anonymous_reads_once_block_public_access_is_off(tessera):
    s3, bucket = make_bucket(tessera, "anon-public-")
    # A new bucket refuses the public policy (BlockPublicPolicy on by default).
    try:
        s3.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket))
        raise AssertionError("a public policy was accepted under BlockPublicPolicy")
    except s3.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "AccessDenied"
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=ALL_OFF)
    s3.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket))
    r = get(tessera, f"{bucket}/index.html")
    assert r.status_code == 200 and r.content == b"<h1>hello</h1>"
    # The policy grants s3:GetObject only: no listing, no writing.
    assert get(tessera, f"{bucket}?list-type=2").status_code == 403
    r = requests.put(f"{tessera.endpoint}/{bucket}/new.txt", data=b"x", timeout=10)
    assert r.status_code == 403
    # A missing key reads as AccessDenied to a caller that may not list the bucket.
    r = get(tessera, f"{bucket}/missing.html")
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text

    # RestrictPublicBuckets: the public policy no longer grants anything outside the account.
    s3.put_public_access_block(Bucket=bucket,
                               PublicAccessBlockConfiguration=dict(ALL_OFF, RestrictPublicBuckets=True))
    assert get(tessera, f"{bucket}/index.html").status_code == 403
    assert s3.get_object(Bucket=bucket, Key="index.html")["Body"].read() == b"<h1>hello</h1>"
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=ALL_OFF)
    assert get(tessera, f"{bucket}/index.html").status_code == 200


def test_non_public_policy_conditions_bind_anonymous_callers(tessera):
    s3, bucket = make_bucket(tessera, "anon-ip-")
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=ALL_OFF)
    # Granting to everyone from a fixed address range is not public
    # (access-control-block-public-access.html, "The meaning of public").
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
         "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    assert get(tessera, f"{bucket}/index.html").status_code == 403  # the test calls from 127.0.0.1
    policy["Statement"][0]["Condition"]["IpAddress"]["aws:SourceIp"] = "127.0.0.0/8"
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert get(tessera, f"{bucket}/index.html").status_code == 200


def test_explicit_deny_beats_the_public_grant(tessera):
    s3, bucket = make_bucket(tessera, "anon-deny-")
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=ALL_OFF)
    policy = json.loads(public_read_policy(bucket))
    policy["Statement"].append({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                                "Resource": f"arn:aws:s3:::{bucket}/index.html"})
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    s3.put_object(Bucket=bucket, Key="other.html", Body=b"other")
    assert get(tessera, f"{bucket}/index.html").status_code == 403
    assert get(tessera, f"{bucket}/other.html").status_code == 200
