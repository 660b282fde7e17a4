"""A widely used open-source security scanner, run unchanged against a populated Tessera
(issue 22): Prowler (PyPI `prowler`, version pinned in scripts/test, installed into a venv of
its own because it pins its own boto3) scans IAM, S3, Organizations, CloudTrail and Account.

Every AWS call the scanner makes is recorded by a botocore hook (tests/e2e/scanner_hook,
loaded through PYTHONPATH, so the scanner itself is not changed). The test requires that none of
them is answered 501, fails to connect, or comes back as an error the scanner's botocore cannot
parse, and that the scanner's findings about the planted configuration are right."""

import json
import os
import subprocess
import time
from pathlib import Path

import pyotp
import pytest

PROWLER = os.environ.get("TESSERA_PROWLER", "")
HOOK = Path(__file__).parent / "scanner_hook"
SERVICES = ["iam", "s3", "organizations", "cloudtrail", "account"]

ALL_OFF = {"BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
           "RestrictPublicBuckets": False}


def populate(t):
    """An organization with two member accounts, users with and without MFA, a group, an
    over-permissive policy, a cross-account role, a multi-region trail, a public bucket and a
    private one. Returns the names the assertions need."""
    acct = t.client("sts").get_caller_identity()["Account"]
    org = t.client("organizations")
    org.create_organization(FeatureSet="ALL")
    members = []
    for name in ("scan-dev", "scan-prod"):
        status = org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
        for _ in range(100):
            status = org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
            if status["State"] == "SUCCEEDED":
                break
            time.sleep(0.05)
        members.append(status["AccountId"])

    iam = t.client("iam")
    iam.update_account_password_policy(MinimumPasswordLength=14, RequireSymbols=True, RequireNumbers=True,
                                       RequireUppercaseCharacters=True, RequireLowercaseCharacters=True,
                                       MaxPasswordAge=90, PasswordReusePrevention=24)
    for user in ("alice", "bob"):
        iam.create_user(UserName=user)
        iam.create_login_profile(UserName=user, Password="Correct-Horse-Battery-9")
        iam.create_access_key(UserName=user)
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="alice")["VirtualMFADevice"]
    totp = pyotp.TOTP(device["Base32StringSeed"].decode())
    now = time.time()
    iam.enable_mfa_device(UserName="alice", SerialNumber=device["SerialNumber"],
                          AuthenticationCode1=totp.at(now - 30), AuthenticationCode2=totp.at(now))
    iam.create_group(GroupName="admins")
    iam.attach_group_policy(GroupName="admins", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    iam.add_user_to_group(GroupName="admins", UserName="alice")
    broad = iam.create_policy(PolicyName="too-broad", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    iam.attach_user_policy(UserName="bob", PolicyArn=broad["Policy"]["Arn"])
    iam.create_role(RoleName="cross-account-audit", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                 "Principal": {"AWS": f"arn:aws:iam::{members[0]}:root"}}]}))
    iam.attach_role_policy(RoleName="cross-account-audit", PolicyArn="arn:aws:iam::aws:policy/SecurityAudit")

    s3 = t.client("s3")
    trail_bucket = f"scan-trail-{acct}"
    s3.create_bucket(Bucket=trail_bucket)
    s3.put_bucket_policy(Bucket=trail_bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AWSCloudTrailAclCheck", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "s3:GetBucketAcl", "Resource": f"arn:aws:s3:::{trail_bucket}"},
        {"Sid": "AWSCloudTrailWrite", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{trail_bucket}/AWSLogs/{acct}/*",
         "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}}]}))
    ct = t.client("cloudtrail")
    ct.create_trail(Name="org-audit", S3BucketName=trail_bucket, IsMultiRegionTrail=True,
                    EnableLogFileValidation=True)
    ct.start_logging(Name="org-audit")

    public = f"scan-public-{acct}"
    s3.create_bucket(Bucket=public)
    s3.put_public_access_block(Bucket=public, PublicAccessBlockConfiguration=ALL_OFF)
    s3.put_bucket_policy(Bucket=public, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{public}/*"}]}))
    private = f"scan-private-{acct}"
    s3.create_bucket(Bucket=private)
    return {"account": acct, "members": members, "public": public, "private": private, "trail_bucket": trail_bucket}


def run_scanner(t, out_dir, call_log):
    env = dict(t.root_env)
    env.update(
        PYTHONPATH=str(HOOK),
        TESSERA_CALL_LOG=str(call_log),
        # S3 Control's calls go to <account-id>.<host> (docs/S3.md, "S3 Control").
        AWS_ENDPOINT_URL_S3_CONTROL=t.endpoint.replace("127.0.0.1", "localhost"),
    )
    started = time.monotonic()
    proc = subprocess.run(
        [PROWLER, "aws", "--service", *SERVICES, "-f", "us-east-1", "-o", str(out_dir), "--no-banner",
         "--output-formats", "json-ocsf"],
        env=env, capture_output=True, text=True, timeout=900,
    )
    elapsed = time.monotonic() - started
    # Prowler exits 3 when some check failed (the planted findings), 0 when none did.
    assert proc.returncode in (0, 3), proc.stdout[-3000:] + proc.stderr[-3000:]
    calls = [json.loads(line) for line in call_log.read_text().splitlines()]
    findings = []
    for f in out_dir.glob("*.ocsf.json"):
        findings += json.loads(f.read_text())
    return calls, findings, elapsed


def is_bodyless(call):
    """HEAD answers carry no body, on AWS too: botocore reports their status as the code."""
    return call["operation"] in ("HeadBucket", "HeadObject")


def test_prowler_finds_no_gap_and_the_planted_findings(fresh_tessera, tmp_path):
    if not PROWLER or not Path(PROWLER).exists():
        pytest.fail("TESSERA_PROWLER does not name the prowler executable: run the suite through "
                    "scripts/test, which installs it")
    t = fresh_tessera
    planted = populate(t)
    calls, findings, elapsed = run_scanner(t, tmp_path / "out", tmp_path / "calls.jsonl")
    print(f"prowler: {len(calls)} calls, {len(findings)} findings in {elapsed:.1f} s")

    assert len(calls) > 40, calls
    gaps = [c for c in calls if c.get("status") == 501 or c.get("code") in ("NotImplemented", "InvalidAction")]
    assert not gaps, "answered NotImplemented:\n" + "\n".join(json.dumps(c) for c in gaps)
    failed_calls = [c for c in calls if "exception" in c]
    assert not failed_calls, "failed without an answer:\n" + "\n".join(json.dumps(c) for c in failed_calls)
    unparsed = [c for c in calls if "code" in c and not is_bodyless(c)
                and (not c["code"] or str(c["code"]).isdigit())]
    assert not unparsed, "errors botocore could not parse:\n" + "\n".join(json.dumps(c) for c in unparsed)
    called = {(c["service"], c["operation"]) for c in calls}
    for expected in [("s3", "GetPublicAccessBlock"), ("s3", "GetBucketEncryption"), ("s3control", "GetPublicAccessBlock"),
                     ("iam", "ListServerCertificates"), ("account", "GetAlternateContact")]:
        assert expected in called, f"{expected} not called: {sorted(called)}"

    def status(check, resource_part=""):
        found = [f["status_code"] for f in findings
                 if f.get("metadata", {}).get("event_code") == check
                 and resource_part in json.dumps(f.get("resources", []))]
        return found

    # The public bucket is reported public, the private one is not.
    assert "FAIL" in status("s3_bucket_public_access", planted["public"]), status("s3_bucket_public_access")
    assert status("s3_bucket_public_access", planted["private"]) in ([], ["PASS"])
    # Default encryption (SSE-S3) holds for every bucket.
    assert set(status("s3_bucket_default_encryption")) == {"PASS"}, status("s3_bucket_default_encryption")
    # bob has a console password and no MFA; alice has MFA.
    assert status("iam_user_mfa_enabled_console_access", "bob") == ["FAIL"]
    assert status("iam_user_mfa_enabled_console_access", "alice") == ["PASS"]
    # The over-permissive customer policy is found.
    assert "FAIL" in status("iam_customer_attached_policy_no_administrative_privileges", "too-broad")
    # The multi-region trail is seen as such.
    assert "PASS" in status("cloudtrail_multi_region_enabled"), status("cloudtrail_multi_region_enabled")
