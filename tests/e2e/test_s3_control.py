"""S3 Control's account-level calls (issue 22, item 3) through boto3 and the AWS CLI, unchanged.

AWS SDKs send S3 Control requests to `<account-id>.<endpoint host>`. The way documented in
docs/S3.md ("S3 Control"): give S3 Control an endpoint under `localhost`
(`AWS_ENDPOINT_URL_S3_CONTROL=http://localhost:PORT`); `<account-id>.localhost` resolves to the
loopback address wherever the resolver follows RFC 6761 (systemd-resolved, or Debian's
libnss-myhostname, which scripts/test installs)."""

import json
import socket

import pytest

from conftest import unique, user_with_key

ALL_OFF = {"BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
           "RestrictPublicBuckets": False}


def control_endpoint(t):
    return t.endpoint.replace("127.0.0.1", "localhost")


def control(t, **creds):
    """An s3control client whose endpoint is under `localhost`."""
    import boto3
    import botocore.config

    return boto3.session.Session(region_name="us-east-1").client(
        "s3control",
        endpoint_url=control_endpoint(t),
        config=botocore.config.Config(retries={"max_attempts": 1}),
        **(creds or t.root_creds),
    )


@pytest.fixture(scope="module")
def account(tessera):
    acct = tessera.client("sts").get_caller_identity()["Account"]
    try:
        socket.getaddrinfo(f"{acct}.localhost", 80)
    except socket.gaierror:
        pytest.fail(f"{acct}.localhost does not resolve: install libnss-myhostname (scripts/test does)")
    return acct


def test_account_public_access_block_round_trip(tessera, account):
    c = control(tessera)
    c.delete_public_access_block(AccountId=account)
    with pytest.raises(c.exceptions.NoSuchPublicAccessBlockConfiguration) as e:
        c.get_public_access_block(AccountId=account)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert e.value.response["Error"]["Message"] == "The public access block configuration was not found"

    settings = dict(ALL_OFF, BlockPublicPolicy=True, RestrictPublicBuckets=True)
    c.put_public_access_block(AccountId=account, PublicAccessBlockConfiguration=settings)
    assert c.get_public_access_block(AccountId=account)["PublicAccessBlockConfiguration"] == settings

    # The AWS CLI, unchanged, with the same endpoint setting.
    env = dict(tessera.root_env, AWS_ENDPOINT_URL_S3_CONTROL=control_endpoint(tessera))
    out = tessera.cli("s3control", "get-public-access-block", "--account-id", account, env=env)
    assert out["PublicAccessBlockConfiguration"] == settings
    tessera.cli("s3control", "delete-public-access-block", "--account-id", account, env=env)
    with pytest.raises(c.exceptions.NoSuchPublicAccessBlockConfiguration):
        c.get_public_access_block(AccountId=account)


def test_account_settings_are_the_accounts_own(tessera, account):
    c = control(tessera)
    with pytest.raises(c.exceptions.ClientError) as e:
        c.get_public_access_block(AccountId="111122223333")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(c.exceptions.ClientError) as e:
        c.put_public_access_block(AccountId="111122223333", PublicAccessBlockConfiguration=ALL_OFF)
    assert e.value.response["Error"]["Code"] == "AccessDenied"


def test_iam_decides_account_level_calls(tessera, account):
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetAccountPublicAccessBlock", "Resource": "*"}]}
    creds = user_with_key(tessera, tessera.root_creds, unique("pab-reader-"), json.dumps(policy))
    c = control(tessera, **creds)
    c_root = control(tessera)
    c_root.put_public_access_block(AccountId=account, PublicAccessBlockConfiguration=ALL_OFF)
    assert c.get_public_access_block(AccountId=account)["PublicAccessBlockConfiguration"] == ALL_OFF
    for call in (lambda: c.put_public_access_block(AccountId=account, PublicAccessBlockConfiguration=ALL_OFF),
                 lambda: c.delete_public_access_block(AccountId=account)):
        with pytest.raises(c.exceptions.ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == "AccessDenied"
        assert "s3:PutAccountPublicAccessBlock" in e.value.response["Error"]["Message"]
    # Nothing changed.
    assert c_root.get_public_access_block(AccountId=account)["PublicAccessBlockConfiguration"] == ALL_OFF
    c_root.delete_public_access_block(AccountId=account)


def test_malformed_configuration_changes_nothing(tessera, account):
    import requests
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    c = control(tessera)
    c.put_public_access_block(AccountId=account, PublicAccessBlockConfiguration=ALL_OFF)
    url = f"{tessera.endpoint}/v20180820/configuration/publicAccessBlock"
    body = b"<PublicAccessBlockConfiguration><BlockPublicAcls>maybe</BlockPublicAcls></PublicAccessBlockConfiguration>"
    req = AWSRequest(method="PUT", url=url, data=body, headers={"x-amz-account-id": account})
    creds = Credentials(tessera.root_creds["aws_access_key_id"], tessera.root_creds["aws_secret_access_key"])
    SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    r = requests.put(url, data=body, headers=dict(req.headers), timeout=10)
    assert r.status_code == 400 and "<Code>MalformedXML</Code>" in r.text, r.text
    assert c.get_public_access_block(AccountId=account)["PublicAccessBlockConfiguration"] == ALL_OFF
    c.delete_public_access_block(AccountId=account)


def test_access_point_lists_are_empty_and_other_operations_not_implemented(tessera, account):
    c = control(tessera)
    assert c.list_access_points(AccountId=account)["AccessPointList"] == []
    with pytest.raises(c.exceptions.ClientError) as e:
        c.list_jobs(AccountId=account)
    assert e.value.response["Error"]["Code"] == "NotImplemented"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_account_level_calls_are_audited(tessera, account):
    c = control(tessera)
    c.put_public_access_block(AccountId=account, PublicAccessBlockConfiguration=ALL_OFF)
    c.delete_public_access_block(AccountId=account)
    ct = tessera.client("cloudtrail")
    out = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName",
                                              "AttributeValue": "PutAccountPublicAccessBlock"}])
    events = [json.loads(e["CloudTrailEvent"]) for e in out["Events"]]
    assert events and events[0]["eventSource"] == "s3.amazonaws.com"
    assert events[0]["readOnly"] is False
    assert events[0]["requestParameters"]["Host"].startswith(f"{account}.localhost:")
