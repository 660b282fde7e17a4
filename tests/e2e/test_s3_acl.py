"""S3 ACLs taking part in authorization on buckets with ACLs enabled (issue 22, item 2), as the S3
User Guide documents: how-s3-evaluates-access-control.html and acl-overview.html ("Mapping of
ACL permissions and access policy permissions"). A grant to a canonical user acts like a bucket
policy grant to that account (its IAM users still need an identity policy); AllUsers is everyone,
anonymous included; AuthenticatedUsers is every signed request; IgnorePublicAcls ignores both
groups (access-control-block-public-access.html). Object ACLs are stored: PutObjectAcl, and
x-amz-acl / x-amz-grant-* on PutObject, CopyObject and CreateMultipartUpload."""

import json

import botocore.exceptions
import pytest
import requests

from conftest import unique, user_with_key

ALL_OFF = {"BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
           "RestrictPublicBuckets": False}
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


def acl_bucket(t, prefix="tsr-acl-"):
    """A bucket with ACLs enabled (ObjectWriter) and Block Public Access off."""
    s3 = t.client("s3")
    bucket = unique(prefix)
    s3.create_bucket(Bucket=bucket, ObjectOwnership="ObjectWriter")
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=ALL_OFF)
    return s3, bucket


def anonymous_get(t, bucket, key):
    return requests.get(f"{t.endpoint}/{bucket}/{key}", timeout=10)


def canonical_id(s3):
    return s3.list_buckets()["Owner"]["ID"]


@pytest.fixture(scope="module")
def other(tessera, accounts):
    """Another account: (account id, its admin's S3 client, its canonical user id)."""
    account = accounts.create(unique("acl-other-"))
    creds = accounts.admin_creds(account)
    s3 = tessera.client("s3", **creds)
    return account, creds, s3, canonical_id(s3)


def test_public_read_object_is_readable_anonymously_and_ignore_public_acls_turns_it_off(tessera):
    t = tessera
    s3, b = acl_bucket(t)
    s3.put_object(Bucket=b, Key="public.txt", Body=b"for everyone", ACL="public-read")
    s3.put_object(Bucket=b, Key="private.txt", Body=b"secret")
    r = anonymous_get(t, b, "public.txt")
    assert r.status_code == 200 and r.content == b"for everyone"
    r = anonymous_get(t, b, "private.txt")
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text
    # READ on an object is s3:GetObject only: no listing, no writing.
    assert requests.get(f"{t.endpoint}/{b}?list-type=2", timeout=10).status_code == 403
    assert requests.put(f"{t.endpoint}/{b}/new.txt", data=b"x", timeout=10).status_code == 403

    s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration=dict(ALL_OFF, IgnorePublicAcls=True))
    assert anonymous_get(t, b, "public.txt").status_code == 403
    s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration=ALL_OFF)
    assert anonymous_get(t, b, "public.txt").status_code == 200


def test_authenticated_read_is_for_signed_requests_only(tessera, other):
    t = tessera
    _, _, other_s3, _ = other
    s3, b = acl_bucket(t)
    s3.put_object(Bucket=b, Key="members.txt", Body=b"signed only", ACL="authenticated-read")
    assert other_s3.get_object(Bucket=b, Key="members.txt")["Body"].read() == b"signed only"
    assert anonymous_get(t, b, "members.txt").status_code == 403


def test_read_grant_to_another_account_needs_its_users_identity_policy(tessera, other):
    t = tessera
    account, creds, other_s3, other_id = other
    s3, b = acl_bucket(t)
    s3.put_object(Bucket=b, Key="shared.txt", Body=b"for the other account")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        other_s3.get_object(Bucket=b, Key="shared.txt")
    assert code_of(e) == "AccessDenied"

    owner_id = canonical_id(s3)
    s3.put_object_acl(Bucket=b, Key="shared.txt", GrantFullControl=f'id="{owner_id}"', GrantRead=f'id="{other_id}"')
    assert other_s3.get_object(Bucket=b, Key="shared.txt")["Body"].read() == b"for the other account"
    # READ is not READ_ACP, and the grant is on this object only.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        other_s3.get_object_acl(Bucket=b, Key="shared.txt")
    assert code_of(e) == "AccessDenied"
    # An IAM user of that account without an identity policy allowing s3:GetObject is denied.
    plain = t.client("s3", **user_with_key(t, creds, unique("acl-plain-")))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        plain.get_object(Bucket=b, Key="shared.txt")
    assert code_of(e) == "AccessDenied"
    allowed = t.client("s3", **user_with_key(t, creds, unique("acl-reader-"), json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})))
    assert allowed.get_object(Bucket=b, Key="shared.txt")["Body"].read() == b"for the other account"
    # An explicit deny in the bucket policy still wins over the grant.
    s3.put_bucket_policy(Bucket=b, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{b}/*"}]}))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        other_s3.get_object(Bucket=b, Key="shared.txt")
    assert code_of(e) == "AccessDenied"


def test_write_on_the_bucket_acl_lets_another_account_put_objects(tessera, other):
    t = tessera
    _, _, other_s3, other_id = other
    s3, b = acl_bucket(t)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        other_s3.put_object(Bucket=b, Key="dropped.txt", Body=b"x")
    assert code_of(e) == "AccessDenied"
    owner_id = canonical_id(s3)
    s3.put_bucket_acl(Bucket=b, GrantFullControl=f'id="{owner_id}"', GrantWrite=f'id="{other_id}"')
    other_s3.put_object(Bucket=b, Key="dropped.txt", Body=b"from the other account")
    # ObjectWriter: the writer owns the object, and its default ACL is its own FULL_CONTROL.
    acl = other_s3.get_object_acl(Bucket=b, Key="dropped.txt")
    assert acl["Owner"]["ID"] == other_id
    assert acl["Grants"] == [{"Grantee": {"Type": "CanonicalUser", "ID": other_id}, "Permission": "FULL_CONTROL"}]
    assert other_s3.get_object(Bucket=b, Key="dropped.txt")["Body"].read() == b"from the other account"
    # WRITE is not READ: listing the bucket stays denied.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        other_s3.list_objects_v2(Bucket=b)
    assert code_of(e) == "AccessDenied"


def test_get_object_acl_round_trip(tessera, other):
    t = tessera
    _, _, other_s3, other_id = other
    s3, b = acl_bucket(t)
    s3.put_object(Bucket=b, Key="k", Body=b"x")
    owner_id = canonical_id(s3)
    default = s3.get_object_acl(Bucket=b, Key="k")
    assert default["Owner"]["ID"] == owner_id
    assert default["Grants"] == [{"Grantee": {"Type": "CanonicalUser", "ID": owner_id}, "Permission": "FULL_CONTROL"}]
    grants = [
        {"Grantee": {"Type": "CanonicalUser", "ID": owner_id}, "Permission": "FULL_CONTROL"},
        {"Grantee": {"Type": "CanonicalUser", "ID": other_id}, "Permission": "READ_ACP"},
        {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"},
    ]
    s3.put_object_acl(Bucket=b, Key="k", AccessControlPolicy={"Grants": grants, "Owner": {"ID": owner_id}})
    assert s3.get_object_acl(Bucket=b, Key="k")["Grants"] == grants
    # READ_ACP lets the other account read the ACL.
    assert other_s3.get_object_acl(Bucket=b, Key="k")["Grants"] == grants
    assert anonymous_get(t, b, "k").status_code == 200
    # The AWS CLI, and a canned ACL replacing the whole ACL.
    t.cli("s3api", "put-object-acl", "--bucket", b, "--key", "k", "--acl", "private")
    assert s3.get_object_acl(Bucket=b, Key="k")["Grants"] == grants[:1]
    assert anonymous_get(t, b, "k").status_code == 403
    t.cli("s3api", "put-object-acl", "--bucket", b, "--key", "k", "--grant-read", f"uri={ALL_USERS}")
    assert s3.get_object_acl(Bucket=b, Key="k")["Grants"] == [grants[2]]
    assert anonymous_get(t, b, "k").status_code == 200
    # Bad input changes nothing.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object_acl(Bucket=b, Key="k", ACL="private", GrantRead=f'id="{other_id}"')
    assert code_of(e) == "InvalidRequest"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object_acl(Bucket=b, Key="k", GrantRead="nonsense")
    assert code_of(e) == "InvalidArgument"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object_acl(Bucket=b, Key="missing", ACL="private")
    assert code_of(e) == "NoSuchKey"
    assert s3.get_object_acl(Bucket=b, Key="k")["Grants"] == [grants[2]]


def test_put_object_acl_with_a_public_grant_under_block_public_acls_changes_nothing(tessera):
    t = tessera
    s3, b = acl_bucket(t)
    s3.put_object(Bucket=b, Key="k", Body=b"x")
    before = s3.get_object_acl(Bucket=b, Key="k")["Grants"]
    s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration=dict(ALL_OFF, BlockPublicAcls=True))
    for kwargs in ({"ACL": "public-read"}, {"GrantRead": f'uri="{ALL_USERS}"'}):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_object_acl(Bucket=b, Key="k", **kwargs)
        assert code_of(e) == "AccessDenied", kwargs
    assert s3.get_object_acl(Bucket=b, Key="k")["Grants"] == before
    assert anonymous_get(t, b, "k").status_code == 403


def test_copy_object_and_multipart_upload_keep_their_acl(tessera):
    t = tessera
    s3, b = acl_bucket(t)
    s3.put_object(Bucket=b, Key="src", Body=b"source")
    s3.copy_object(Bucket=b, Key="copy-public", CopySource={"Bucket": b, "Key": "src"}, ACL="public-read")
    assert anonymous_get(t, b, "copy-public").content == b"source"
    # A copy without an ACL is private, whatever the source's ACL.
    s3.copy_object(Bucket=b, Key="copy-private", CopySource={"Bucket": b, "Key": "copy-public"})
    assert anonymous_get(t, b, "copy-private").status_code == 403
    upload = s3.create_multipart_upload(Bucket=b, Key="mpu", ACL="public-read")["UploadId"]
    part = s3.upload_part(Bucket=b, Key="mpu", UploadId=upload, PartNumber=1, Body=b"multipart")
    # Until completed there is no object to read.
    assert anonymous_get(t, b, "mpu").status_code == 403
    s3.complete_multipart_upload(Bucket=b, Key="mpu", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert anonymous_get(t, b, "mpu").content == b"multipart"
    assert {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"} in \
        s3.get_object_acl(Bucket=b, Key="mpu")["Grants"]


def test_public_read_bucket_acl_lets_anyone_list(tessera):
    t = tessera
    s3, b = acl_bucket(t)
    s3.put_object(Bucket=b, Key="listed.txt", Body=b"x")
    assert requests.get(f"{t.endpoint}/{b}?list-type=2", timeout=10).status_code == 403
    s3.put_bucket_acl(Bucket=b, ACL="public-read")
    r = requests.get(f"{t.endpoint}/{b}?list-type=2", timeout=10)
    assert r.status_code == 200 and "listed.txt" in r.text
    # The bucket's READ does not read its objects.
    assert anonymous_get(t, b, "listed.txt").status_code == 403


def test_bucket_owner_enforced_keeps_acls_out_of_the_decision(tessera, other):
    t = tessera
    _, _, other_s3, other_id = other
    s3 = t.client("s3")
    b = unique("tsr-acl-enforced-")
    s3.create_bucket(Bucket=b)
    s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration=ALL_OFF)
    s3.put_object(Bucket=b, Key="k", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object_acl(Bucket=b, Key="k", GrantRead=f'id="{other_id}"')
    assert code_of(e) == "AccessControlListNotSupported"
    s3.put_object_acl(Bucket=b, Key="k", ACL="bucket-owner-full-control")
    assert [g["Permission"] for g in s3.get_object_acl(Bucket=b, Key="k")["Grants"]] == ["FULL_CONTROL"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        other_s3.get_object(Bucket=b, Key="k")
    assert code_of(e) == "AccessDenied"
    assert anonymous_get(t, b, "k").status_code == 403
