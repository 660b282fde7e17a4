"""The access log (one line per request, `--log-format json|text`, no colours in a file, no
secret ever) and the Prometheus metrics at /_tessera/metrics (shared/CONTRACT.md, "Operating
it"; docs/OPERATIONS.md)."""

import base64
import json
import os
import re
import time
import urllib.parse
import urllib.request
from collections import Counter

import pyotp
import pytest

from conftest import Accounts, unique, user_with_key
from test_iam_scanner_reads import make_certificate

ACCESS_FIELDS = {"request_id", "service", "operation", "principal", "account", "access_key_id", "source_ip",
                 "user_agent", "status", "error_code", "decision", "policy_type", "latency_us"}

DENY_LIST_USERS_SCP = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "*", "Resource": "*"},
    {"Effect": "Deny", "Action": "iam:ListUsers", "Resource": "*"}]})


def access_lines(t):
    """The JSON access-log lines the server wrote so far."""
    out = []
    for raw in t.log.read_text().splitlines():
        if '"tessera::access"' in raw:
            out.append(json.loads(raw))
    return out


def wait_for_line(t, pred, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = [line for line in access_lines(t) if pred(line)]
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("no access line matched")


def the_line(t, request_id):
    """The one access line of `request_id` (the server writes it right after the response)."""
    lines = wait_for_line(t, lambda line: line["request_id"] == request_id)
    assert len(lines) == 1, lines
    assert set(lines[0]) >= ACCESS_FIELDS, lines[0]
    return lines[0]


def rid(resp):
    return resp["ResponseMetadata"]["RequestId"]


def err_rid(e):
    return e.response["ResponseMetadata"]["RequestId"]


def unsigned_call(t, agent):
    req = urllib.request.Request(t.endpoint + "/", data=b"Action=ListUsers&Version=2010-05-08",
                                 headers={"Content-Type": "application/x-www-form-urlencoded",
                                          "User-Agent": agent})
    try:
        urllib.request.urlopen(req, timeout=10)
    except urllib.error.HTTPError as e:
        return e.code
    return 200


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? '
                    r'(-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$')


def scrape(t):
    """Parse the exposition text strictly: every line is a comment or `name{labels} value`."""
    with urllib.request.urlopen(t.endpoint + "/_tessera/metrics", timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    samples = {}
    types = {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# TYPE "):
            _, _, name, ty = line.split(" ", 3)
            assert ty in ("counter", "gauge", "histogram", "summary", "untyped"), line
            types[name] = ty
            continue
        if line.startswith("#"):
            assert line.startswith("# HELP "), line
            continue
        m = SAMPLE.match(line)
        assert m, f"not exposition format: {line!r}"
        labels = tuple(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples, types


def series(samples, name):
    return {dict(labels).__repr__(): v for (n, labels), v in samples.items() if n == name}


def counter_by(samples, name, *keys):
    out = Counter()
    for (n, labels), v in samples.items():
        if n == name:
            d = dict(labels)
            out[tuple(d.get(k, "") for k in keys)] += v
    return out


@pytest.fixture(scope="module")
def observed(tmp_path_factory):
    """A JSON-logging server, with an organization whose member account denies iam:ListUsers
    by an SCP, and the load the tests check."""
    from conftest import Tessera
    t = Tessera(tmp_path_factory.mktemp("observe") / "data", ["--log-format", "json"])
    t.start()
    try:
        yield load(t)
    finally:
        t.stop()


def load(t):
    accounts = Accounts(t)
    org = t.client("organizations")
    root_id = org.list_roots()["Roots"][0]["Id"]
    org.enable_policy_type(RootId=root_id, PolicyType="SERVICE_CONTROL_POLICY")
    member = accounts.create("observed")
    pid = org.create_policy(Content=DENY_LIST_USERS_SCP, Description="", Name="NoListUsers",
                            Type="SERVICE_CONTROL_POLICY")["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=pid, TargetId=member)

    calls = {}
    iam = t.client("iam")
    calls["allowed"] = rid(iam.list_users())
    nobody = user_with_key(t, t.root_creds, unique("nobody-"))
    denier = user_with_key(t, t.root_creds, unique("denier-"), json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:ListUsers", "Resource": "*"}]}))
    time.sleep(0.3)
    for name, creds in (("implicit", nobody), ("explicit", denier), ("scp", accounts.admin_creds(member))):
        try:
            t.client("iam", **creds).list_users()
            raise AssertionError(f"{name}: ListUsers was allowed")
        except t.client("iam").exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == "AccessDenied", e.response
            calls[name] = err_rid(e)
    calls["scp_creds"] = accounts.admin_creds(member)
    s3 = t.client("s3")
    bucket = unique("obs-")
    calls["s3"] = rid(s3.create_bucket(Bucket=bucket))
    agent = unique("unsigned-probe/")
    calls["unsigned_status"] = unsigned_call(t, agent)
    calls["unsigned_agent"] = agent
    calls["member"] = member
    calls["mgmt"] = accounts.mgmt
    return t, calls


def test_each_request_has_one_json_line_with_its_fields(observed):
    t, calls = observed
    mgmt = calls["mgmt"]
    ok = the_line(t, calls["allowed"])
    assert (ok["service"], ok["operation"], ok["status"], ok["error_code"], ok["decision"], ok["policy_type"]) == (
        "iam", "ListUsers", 200, "-", "allow", "-")
    assert ok["principal"] == f"arn:aws:iam::{mgmt}:root" and ok["account"] == mgmt
    assert ok["source_ip"] == "127.0.0.1" and ok["user_agent"].startswith("Boto3/")
    assert isinstance(ok["latency_us"], int) and ok["latency_us"] > 0
    assert ok["access_key_id"].startswith("AKIA")

    implicit = the_line(t, calls["implicit"])
    assert (implicit["status"], implicit["error_code"], implicit["decision"], implicit["policy_type"]) == (
        403, "AccessDenied", "implicit-deny", "identity")
    assert re.fullmatch(rf"arn:aws:iam::{mgmt}:user/nobody-\d+", implicit["principal"])

    explicit = the_line(t, calls["explicit"])
    assert (explicit["decision"], explicit["policy_type"]) == ("explicit-deny", "identity")

    scp = the_line(t, calls["scp"])
    assert (scp["status"], scp["error_code"], scp["decision"], scp["policy_type"]) == (
        403, "AccessDenied", "explicit-deny", "scp")
    assert scp["account"] == calls["member"]
    assert scp["principal"].startswith(f"arn:aws:sts::{calls['member']}:assumed-role/OrganizationAccountAccessRole/")

    s3 = the_line(t, calls["s3"])
    assert (s3["service"], s3["operation"], s3["status"], s3["decision"]) == ("s3", "CreateBucket", 200, "allow")

    assert calls["unsigned_status"] == 403
    [unsigned] = wait_for_line(t, lambda line: line["user_agent"] == calls["unsigned_agent"])
    assert (unsigned["principal"], unsigned["status"], unsigned["error_code"], unsigned["decision"]) == (
        "anonymous", 403, "MissingAuthenticationToken", "none")

    # Every request of the load has exactly one line (boto3 gets one request id per call).
    ids = Counter(line["request_id"] for line in access_lines(t) if line["request_id"] != "-")
    assert all(n == 1 for n in ids.values()), [i for i, n in ids.items() if n > 1]


def test_the_log_file_has_no_terminal_colours(observed):
    t, _ = observed
    assert "\x1b[" not in t.log.read_text()


def test_metrics_parse_and_count_what_the_log_shows(observed):
    t, calls = observed
    time.sleep(0.3)
    before = access_lines(t)
    samples, types = scrape(t)
    # The scrape's own line is written after its answer: it is counted from the next scrape on.
    lines = before
    for name, ty in (("tessera_requests_total", "counter"), ("tessera_request_duration_seconds", "histogram"),
                     ("tessera_authz_decisions_total", "counter"), ("tessera_sts_sessions_issued_total", "counter"),
                     ("tessera_audit_queue_depth", "gauge"), ("tessera_audit_batch_events", "histogram"),
                     ("tessera_audit_sync_seconds", "histogram"), ("tessera_audit_indexer_lag_events", "gauge"),
                     ("tessera_store_transaction_seconds", "histogram"),
                     ("process_resident_memory_bytes", "gauge"), ("process_open_fds", "gauge")):
        assert types.get(name) == ty, (name, types.get(name))

    total = sum(v for (n, _), v in samples.items() if n == "tessera_requests_total")
    assert total == len(lines), (total, len(lines))
    by_status = counter_by(samples, "tessera_requests_total", "service", "status_class", "error_code")
    expected = Counter((line["service"], f"{line['status'] // 100}xx",
                        "" if line["error_code"] == "-" else line["error_code"]) for line in lines)
    assert +by_status == expected
    # The load's denials: three AccessDenied ListUsers calls, and one unsigned call.
    ops = counter_by(samples, "tessera_requests_total", "service", "operation", "error_code")
    assert ops[("iam", "ListUsers", "AccessDenied")] == 3
    assert ops[("iam", "ListUsers", "")] == 1
    assert ops[("s3", "CreateBucket", "")] == 1

    decisions = counter_by(samples, "tessera_authz_decisions_total", "decision", "policy_type")
    expected = Counter((line["decision"], "" if line["policy_type"] == "-" else line["policy_type"])
                       for line in lines if line["decision"] != "none")
    assert +decisions == expected
    assert decisions[("explicit-deny", "scp")] == 1
    assert decisions[("explicit-deny", "identity")] == 1
    assert decisions[("implicit-deny", "identity")] == 1

    sessions = sum(v for (n, _), v in samples.items() if n == "tessera_sts_sessions_issued_total")
    assert sessions == sum(1 for line in lines if line["service"] == "sts" and line["operation"] == "AssumeRole"
                           and line["status"] == 200)
    assert sessions >= 2  # the fixture's two AssumeRole calls

    count = sum(v for (n, labels), v in samples.items() if n == "tessera_request_duration_seconds_count")
    assert count == len(lines)
    assert samples[("process_resident_memory_bytes", ())] > 1_000_000
    assert samples[("process_open_fds", ())] > 3
    assert samples[("tessera_audit_batch_events_count", ())] >= 1
    assert samples[("tessera_audit_queue_depth", ())] >= 0


def test_text_format_is_the_default_and_has_no_colours(tessera_factory):
    t = tessera_factory("text").start()
    r = t.client("sts").get_caller_identity()
    request_id = rid(r)
    deadline = time.time() + 5
    while time.time() < deadline and request_id not in t.log.read_text():
        time.sleep(0.05)
    text = t.log.read_text()
    [line] = [line for line in text.splitlines() if request_id in line]
    assert " INFO tessera::access: request " in line, line
    for field in ('service="sts"', 'operation="GetCallerIdentity"', "status=200", 'decision="none"', "latency_us=",
                  f'account="{r["Account"]}"', f'principal="{r["Arn"]}"'):
        assert field in line, (field, line)
    assert "\x1b[" not in text


def test_no_secret_is_ever_logged(tessera_factory):
    """Calls that make or use secrets, then a scan of the whole log (at debug) for each."""
    env = dict(os.environ, RUST_LOG="debug")
    t = tessera_factory("secrets", ["--log-format", "json"], env=env).start()
    secrets = [t.root_creds["aws_secret_access_key"]]
    iam = t.client("iam")
    name = unique("secret-")
    iam.create_user(UserName=name)
    iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    key = iam.create_access_key(UserName=name)["AccessKey"]
    secrets.append(key["SecretAccessKey"])
    password = "Obs-" + base64.b32encode(os.urandom(10)).decode()
    iam.create_login_profile(UserName=name, Password=password)
    secrets.append(password)
    password2 = "Obs2-" + base64.b32encode(os.urandom(10)).decode()
    iam.update_login_profile(UserName=name, Password=password2)
    secrets.append(password2)
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]
    seed = device["Base32StringSeed"]
    seed = seed.decode() if isinstance(seed, bytes) else seed
    secrets.append(seed)
    totp = pyotp.TOTP(seed)
    now = time.time()
    codes = (totp.at(now - 30), totp.at(now))
    iam.enable_mfa_device(UserName=name, SerialNumber=device["SerialNumber"],
                          AuthenticationCode1=codes[0], AuthenticationCode2=codes[1])
    ssc = iam.create_service_specific_credential(UserName=name, ServiceName="codecommit.amazonaws.com")
    secrets.append(ssc["ServiceSpecificCredential"]["ServicePassword"])
    body, private_key, _ = make_certificate("observe.example.com")
    iam.upload_server_certificate(ServerCertificateName=name, CertificateBody=body, PrivateKey=private_key)
    # A private key's PEM lines (each long enough to be unique).
    secrets.extend(line for line in private_key.splitlines() if len(line) >= 40)
    role = unique("obsrole-")
    mgmt = t.client("sts").get_caller_identity()["Account"]
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{mgmt}:root"}, "Action": "sts:AssumeRole"}]}))
    time.sleep(0.3)
    user = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    creds = t.client("sts", **user).assume_role(RoleArn=f"arn:aws:iam::{mgmt}:role/{role}",
                                                 RoleSessionName="obs")["Credentials"]
    secrets += [creds["SecretAccessKey"], creds["SessionToken"]]
    session = {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
               "aws_session_token": creds["SessionToken"]}
    t.client("sts", **session).get_caller_identity()
    token = t.client("sts", **user).get_session_token()["Credentials"]
    secrets += [token["SecretAccessKey"], token["SessionToken"]]
    t.client("s3", **user).list_buckets()
    # A presigned URL carries its signature in the query string.
    url = t.client("s3").generate_presigned_url("list_buckets", ExpiresIn=60)
    signature = re.search(r"[?&](?:X-Amz-Signature|Signature)=([^&]+)", url).group(1)
    secrets.append(urllib.parse.unquote(signature))
    urllib.request.urlopen(url, timeout=10).read()
    time.sleep(0.5)
    t.stop()
    log = t.log.read_text()
    assert '"tessera::access"' in log
    for s in secrets:
        assert s not in log, f"a secret is in the log: {s[:6]}..."
    for code in codes:
        assert f'"{code}"' not in log and f"={code}" not in log
    for marker in ("AWS4-HMAC-SHA256", "Signature=", "X-Amz-Signature", "PRIVATE KEY", "Authorization"):
        assert marker not in log, marker
