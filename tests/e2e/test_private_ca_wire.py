"""AWS Private CA's two wire protocols (docs/PRIVATE_CA.md, "Wire protocols"): its model lists
Smithy RPC v2 CBOR and JSON 1.1 (`X-Amz-Target: ACMPrivateCA.<Op>`). The pinned botocore ranks
`json` first, so boto3 and the AWS CLI send JSON 1.1; SDKs that rank CBOR first (and botocore given
a model that lists only CBOR, as here) send CBOR. Each request is answered in its own protocol,
errors included, and each call is a CloudTrail event of `acm-pca.amazonaws.com`.

The operations themselves are tested elsewhere: here a call either succeeds or fails with one of
the errors its model lists (or NotImplemented while it is not built), and the answer is parsed."""

import json
import time
import urllib.error
import urllib.request

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import botocore.exceptions
import botocore.parsers
import botocore.session
import pytest

from conftest import REGION, CliError, unique

MODEL_DIR = "acm-pca/2017-08-22"
CA_ARN_TAIL = "certificate-authority/12345678-1234-1234-1234-123456789012"
LIST_ERRORS = {"InvalidNextTokenException", "NotImplemented"}
DESCRIBE_ERRORS = {"InvalidArnException", "ResourceNotFoundException", "NotImplemented"}
NO_RETRY = botocore.config.Config(retries={"max_attempts": 1})


def ca_arn(account):
    return f"arn:aws:acm-pca:{REGION}:{account}:{CA_ARN_TAIL}"


def call(fn, allowed_errors, **kwargs):
    """Run a boto3 call: its parsed answer, or its parsed ClientError whose code is one of
    `allowed_errors`. Either way the HTTP metadata the SDK parsed is returned too."""
    try:
        out = fn(**kwargs)
        return out, None
    except botocore.exceptions.ClientError as e:
        code = e.response["Error"]["Code"]
        assert code in allowed_errors, e.response
        assert e.response["Error"]["Message"], e.response
        return e.response, code


def check_metadata(response, content_type, status_ok=True):
    meta = response["ResponseMetadata"]
    assert meta["RequestId"], meta
    headers = meta["HTTPHeaders"]
    assert headers["content-type"] == content_type, headers
    if content_type == "application/cbor":
        assert headers.get("smithy-protocol") == "rpc-v2-cbor", headers
    if status_ok:
        assert meta["HTTPStatusCode"] == 200, meta
    else:
        assert meta["HTTPStatusCode"] >= 400, meta


def check_call(response, code, content_type, expected_key):
    check_metadata(response, content_type, status_ok=code is None)
    if code is None:
        assert expected_key in response, response
    elif code == "NotImplemented":
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 501, response
    else:
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 400, response


@pytest.fixture(scope="module")
def account(tessera):
    return tessera.client("sts").get_caller_identity()["Account"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Botocore data paths whose acm-pca model lists one protocol: {protocol: path}."""
    model = botocore.session.get_session().get_component("data_loader").load_service_model("acm-pca", "service-2")
    assert model["metadata"]["protocols"] == ["smithy-rpc-v2-cbor", "json"]
    paths = {}
    for protocol in ["smithy-rpc-v2-cbor", "json"]:
        model["metadata"]["protocol"] = protocol
        model["metadata"]["protocols"] = [protocol]
        root = tmp_path_factory.mktemp("models")
        (root / MODEL_DIR).mkdir(parents=True)
        (root / MODEL_DIR / "service-2.json").write_text(json.dumps(model))
        paths[protocol] = root
    return paths


def model_client(tessera, models, protocol, **creds):
    """An acm-pca client that speaks `protocol`."""
    session = botocore.session.Session()
    session.get_component("data_loader").search_paths.insert(0, str(models[protocol]))
    client = boto3.session.Session(botocore_session=session, region_name=REGION).client(
        "acm-pca", endpoint_url=tessera.endpoint, config=NO_RETRY, **(creds or tessera.root_creds)
    )
    assert client.meta.service_model.resolved_protocol == protocol
    return client


def test_cbor_requests_get_parsed_cbor_answers(tessera, models, account):
    pca = model_client(tessera, models, "smithy-rpc-v2-cbor")
    response, code = call(pca.list_certificate_authorities, LIST_ERRORS)
    check_call(response, code, "application/cbor", "CertificateAuthorities")
    response, code = call(pca.describe_certificate_authority, DESCRIBE_ERRORS, CertificateAuthorityArn=ca_arn(account))
    check_call(response, code, "application/cbor", "CertificateAuthority")


def test_json_1_1_requests_get_json_answers(tessera, models, account):
    # boto3 as pinned sends JSON 1.1 (it ranks `json` above `smithy-rpc-v2-cbor`).
    default = tessera.client("acm-pca")
    assert default.meta.service_model.resolved_protocol == "json"
    for pca in [default, model_client(tessera, models, "json")]:
        response, code = call(pca.list_certificate_authorities, LIST_ERRORS)
        check_call(response, code, "application/x-amz-json-1.1", "CertificateAuthorities")
        response, code = call(pca.describe_certificate_authority, DESCRIBE_ERRORS,
                              CertificateAuthorityArn=ca_arn(account))
        check_call(response, code, "application/x-amz-json-1.1", "CertificateAuthority")


def test_a_bad_signature_is_a_parsed_error_in_each_protocol(tessera, models):
    creds = dict(tessera.root_creds, aws_secret_access_key="not-the-secret")
    unknown_key = dict(tessera.root_creds, aws_access_key_id="AKIAIOSFODNN7EXAMPLE")
    for protocol, content_type in [("smithy-rpc-v2-cbor", "application/cbor"),
                                   ("json", "application/x-amz-json-1.1")]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            model_client(tessera, models, protocol, **creds).list_certificate_authorities()
        code = e.value.response["Error"]["Code"]
        assert code in {"SignatureDoesNotMatch", "InvalidSignatureException"}, e.value.response
        assert "signature" in e.value.response["Error"]["Message"].lower(), e.value.response
        check_metadata(e.value.response, content_type, status_ok=False)

        with pytest.raises(botocore.exceptions.ClientError) as e:
            model_client(tessera, models, protocol, **unknown_key).list_certificate_authorities()
        assert e.value.response["Error"]["Code"] == "InvalidClientTokenId", e.value.response
        check_metadata(e.value.response, content_type, status_ok=False)


def signed_request(tessera, path, body, headers, creds=None):
    """POST `body` to `path`, signed for acm-pca; (status, headers, body) of the answer."""
    creds = creds or tessera.root_creds
    request = botocore.awsrequest.AWSRequest(method="POST", url=tessera.endpoint + path, data=body, headers=headers)
    botocore.auth.SigV4Auth(
        botocore.credentials.Credentials(creds["aws_access_key_id"], creds["aws_secret_access_key"]),
        "acm-pca", REGION,
    ).add_auth(request)
    prepared = request.prepare()
    raw = urllib.request.Request(prepared.url, data=prepared.body, headers=dict(prepared.headers), method="POST")
    try:
        with urllib.request.urlopen(raw, timeout=30) as r:
            return r.status, botocore.awsrequest.HeadersDict(r.headers.items()), r.read()
    except urllib.error.HTTPError as e:
        return e.code, botocore.awsrequest.HeadersDict(e.headers.items()), e.read()


def parse_error(protocol, status, headers, body):
    parser = botocore.parsers.create_parser(protocol)
    return parser.parse({"status_code": status, "headers": headers, "body": body}, None)


def test_raw_json_1_1_request_signed_with_sigv4auth(tessera):
    status, headers, body = signed_request(
        tessera, "/", b"{}",
        {"X-Amz-Target": "ACMPrivateCA.ListCertificateAuthorities", "Content-Type": "application/x-amz-json-1.1"},
    )
    assert headers["content-type"] == "application/x-amz-json-1.1", headers
    answer = json.loads(body)
    if status == 200:
        assert isinstance(answer.get("CertificateAuthorities"), list), answer
    else:
        assert answer["__type"] in LIST_ERRORS, answer
    # Another service's target prefix is no operation of this one.
    status, headers, body = signed_request(
        tessera, "/", b"{}", {"X-Amz-Target": "Nope.ListCertificateAuthorities",
                              "Content-Type": "application/x-amz-json-1.1"})
    assert (status, json.loads(body)["__type"]) == (400, "UnknownOperationException"), body


def test_unknown_operations_and_malformed_bodies_are_cbor_errors(tessera):
    cbor = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Accept": "application/cbor"}
    cases = [
        ("/service/ACMPrivateCA/operation/NoSuchOperation", b"\xa0", "UnknownOperationException"),
        ("/service/SomethingElse/operation/ListCertificateAuthorities", b"\xa0", "UnknownOperationException"),
        ("/service/ACMPrivateCA/operation/ListCertificateAuthorities", b"\x81\x01", "SerializationException"),
        ("/service/ACMPrivateCA/operation/ListCertificateAuthorities", b"\xa1\x61", "SerializationException"),
    ]
    for path, body, code in cases:
        status, headers, raw = signed_request(tessera, path, body, cbor)
        assert (status, headers["content-type"]) == (400, "application/cbor"), (path, raw)
        assert headers["smithy-protocol"] == "rpc-v2-cbor", headers
        parsed = parse_error("smithy-rpc-v2-cbor", status, headers, raw)
        assert parsed["Error"]["Code"] == code, (path, parsed)
    # An unsigned CBOR request is refused in CBOR too.
    req = urllib.request.Request(tessera.endpoint + "/service/ACMPrivateCA/operation/ListCertificateAuthorities",
                                 data=b"\xa0", headers=cbor, method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=30)
    headers = botocore.awsrequest.HeadersDict(e.value.headers.items())
    parsed = parse_error("smithy-rpc-v2-cbor", e.value.code, headers, e.value.read())
    assert parsed["Error"]["Code"] == "MissingAuthenticationToken", parsed


def test_the_aws_cli(tessera):
    try:
        out = tessera.cli("acm-pca", "list-certificate-authorities")
        assert isinstance(out["CertificateAuthorities"], list), out
    except CliError as e:
        assert e.code in LIST_ERRORS, e.stderr


@pytest.mark.parametrize("protocol", ["smithy-rpc-v2-cbor", "json"])
def test_calls_are_cloudtrail_events(tessera, models, account, protocol):
    pca = model_client(tessera, models, protocol)
    arn = f"arn:aws:acm-pca:{REGION}:{account}:certificate-authority/{unique('ca-')}"
    call(pca.describe_certificate_authority, DESCRIBE_ERRORS, CertificateAuthorityArn=arn)
    trail = tessera.client("cloudtrail")
    found = []
    for _ in range(100):
        events = trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "DescribeCertificateAuthority"}]
        )["Events"]
        found = [json.loads(e["CloudTrailEvent"]) for e in events]
        found = [e for e in found if (e.get("requestParameters") or {}).get("certificateAuthorityArn") == arn]
        if found:
            break
        time.sleep(0.1)
    assert found, "the DescribeCertificateAuthority call is in the trail"
    event = found[0]
    assert event["eventSource"] == "acm-pca.amazonaws.com", event
    assert event["eventName"] == "DescribeCertificateAuthority", event
    assert event["readOnly"] is True, event
    assert event["awsRegion"] == REGION, event
    assert event.get("errorCode") in {None} | DESCRIBE_ERRORS, event
