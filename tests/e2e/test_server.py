"""The server foundation per shared/CONTRACT.md: start, first credentials, health, restart,
SigV4 error codes from deliberately broken requests, presigned URLs, unknown operations."""

import datetime
import os
import re
import stat
import urllib.error
import urllib.parse
import urllib.request

import botocore.auth
import botocore.exceptions
import botocore.awsrequest
import botocore.credentials
import pytest

from conftest import REGION

STS_BODY = "Action=GetCallerIdentity&Version=2011-06-15"


def signed_request(t, body=STS_BODY, service="sts", creds=None, when=None, headers=None):
    """A botocore-signed POST to the endpoint, as a prepared (method, url, headers, body)."""
    creds = creds or t.root_creds
    req = botocore.awsrequest.AWSRequest(
        method="POST",
        url=t.endpoint + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", **(headers or {})},
    )
    signer = botocore.auth.SigV4Auth(
        botocore.credentials.Credentials(creds["aws_access_key_id"], creds["aws_secret_access_key"]), service, REGION
    )
    if when is not None:
        # botocore reads the time from datetime.datetime.utcnow via its own helper
        orig = botocore.auth.get_current_datetime
        botocore.auth.get_current_datetime = lambda: when
        try:
            signer.add_auth(req)
        finally:
            botocore.auth.get_current_datetime = orig
    else:
        signer.add_auth(req)
    return req


def send(url, method="POST", headers=None, body=None):
    """Send and return (status, headers, body text), never raising on HTTP errors."""
    data = body.encode() if isinstance(body, str) else body
    r = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def send_prepared(req):
    return send(req.url, req.method, dict(req.headers.items()), req.body)


def error_code(text):
    m = re.search(r"<Code>([^<]+)</Code>", text)
    return m.group(1) if m else None


def test_contract_first_start_files(tessera):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", (tessera.data_dir / "endpoint").read_text().rstrip("\n"))
    creds = tessera.data_dir / "credentials"
    assert stat.S_IMODE(os.stat(creds).st_mode) == 0o600
    text = creds.read_text()
    assert text.startswith("[root]\n")
    assert re.search(r"^aws_access_key_id = AKIA[A-Z2-7]{16}$", text, re.M)
    assert re.search(r"^aws_secret_access_key = \S{40}$", text, re.M)


def test_health(tessera):
    status, _, _ = send(tessera.endpoint + "/_tessera/health", method="GET")
    assert status == 200


def test_get_caller_identity_cli_contract_command(tessera):
    out = tessera.cli("sts", "get-caller-identity")
    assert re.fullmatch(r"\d{12}", out["Account"])
    assert out["Arn"] == f"arn:aws:iam::{out['Account']}:root"
    assert out["UserId"] == out["Account"]


def test_get_caller_identity_boto3(tessera):
    resp = tessera.client("sts").get_caller_identity()
    assert resp["Arn"].endswith(":root")
    assert re.fullmatch(r"[0-9a-f-]{36}", resp["ResponseMetadata"]["RequestId"])
    assert resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"] == resp["ResponseMetadata"]["RequestId"]


def test_missing_authentication_token(tessera):
    status, _, body = send(tessera.endpoint + "/", body=STS_BODY,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403
    assert error_code(body) == "MissingAuthenticationToken"


def test_invalid_client_token_id(tessera):
    req = signed_request(tessera, creds={"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
                                         "aws_secret_access_key": "x" * 40})
    status, _, body = send_prepared(req)
    assert (status, error_code(body)) == (403, "InvalidClientTokenId")


def test_signature_does_not_match_with_canonical_request_hint(tessera):
    creds = dict(tessera.root_creds, aws_secret_access_key="y" * 40)
    status, _, body = send_prepared(signed_request(tessera, creds=creds))
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")
    assert "The request signature we calculated does not match the signature you provided" in body


def test_body_changed_after_signing_is_rejected(tessera):
    req = signed_request(tessera)
    status, _, body = send(req.url, "POST", dict(req.headers.items()), STS_BODY + "&X=1")
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")


def test_incomplete_signature(tessera):
    req = signed_request(tessera)
    headers = dict(req.headers.items())
    headers["Authorization"] = re.sub(r", Signature=[0-9a-f]+", "", headers["Authorization"])
    status, _, body = send(req.url, "POST", headers, req.body)
    assert (status, error_code(body)) == (400, "IncompleteSignature")


def test_header_signature_older_than_fifteen_minutes_is_expired(tessera):
    # STS and IAM answer SignatureDoesNotMatch "Signature expired: ..." for header auth (docs/SIGV4.md).
    old = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=16)
    status, _, body = send_prepared(signed_request(tessera, when=old))
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")
    assert "Signature expired: " in body and "- 15 min.)" in body


def test_presigned_url_past_its_expiry_is_request_expired(tessera):
    old = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=5)
    orig = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda: old
    try:
        url = tessera.client("sts").generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
    finally:
        botocore.auth.get_current_datetime = orig
    status, _, body = send(url, method="GET")
    assert (status, error_code(body)) == (400, "RequestExpired")


def test_request_within_skew_is_accepted(tessera):
    near = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=10)
    status, _, body = send_prepared(signed_request(tessera, when=near))
    assert status == 200, body


def test_presigned_url(tessera):
    url = tessera.client("sts").generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
    assert "X-Amz-Signature=" in url
    status, _, body = send(url, method="GET")
    assert status == 200, body
    assert "<GetCallerIdentityResult>" in body
    tampered = url.replace("X-Amz-Expires=60", "X-Amz-Expires=61")
    status, _, body = send(tampered, method="GET")
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")


def test_unknown_query_action_is_invalid_action(tessera):
    status, _, body = send_prepared(signed_request(tessera, body="Action=FlyToTheMoon&Version=2011-06-15"))
    assert (status, error_code(body)) == (400, "InvalidAction")


def test_unknown_json_operation(tessera):
    req = signed_request(tessera, body="{}", service="organizations",
                         headers={"Content-Type": "application/x-amz-json-1.1",
                                  "X-Amz-Target": "AWSOrganizationsV20161128.FlyToTheMoon"})
    status, _, body = send_prepared(req)
    assert status == 400
    assert "UnknownOperationException" in body


def test_unimplemented_operation_says_so(tessera):
    # CloudTrail Lake (event data stores) is not built (docs/AUDIT.md): a served service's
    # operation Tessera does not implement answers NotImplemented (501), which boto3 parses as
    # an ordinary ClientError. The IAM, STS and Organizations operations that answer so are
    # listed in tests/e2e/operations_not_implemented.txt and are being built, so the example is
    # taken outside those three.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        tessera.client("cloudtrail").list_event_data_stores()
    assert e.value.response["Error"]["Code"] == "NotImplemented"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_restart_keeps_account_and_key(fresh_tessera):
    before = fresh_tessera.cli("sts", "get-caller-identity")
    creds_before = (fresh_tessera.data_dir / "credentials").read_text()
    assert fresh_tessera.stop() == 0
    fresh_tessera.start()
    assert (fresh_tessera.data_dir / "credentials").read_text() == creds_before
    assert fresh_tessera.cli("sts", "get-caller-identity") == before


def test_sigint_stops_cleanly(fresh_tessera):
    import signal
    fresh_tessera.proc.send_signal(signal.SIGINT)
    assert fresh_tessera.proc.wait(timeout=20) == 0
