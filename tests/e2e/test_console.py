"""The web console at <endpoint>/console (issue 9): seed 004 walked in a browser
(tests/console/seed004.test.mjs through playwright-core and Debian's chromium), and the console's
security properties over plain HTTP."""

import http.client
import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
from pathlib import Path

import pyotp
import pytest

from conftest import BIN, REPO, Accounts, unique

ROOT_PASSWORD = "Tessera-Root-Pw1!"
SANDY_PASSWORD = "Redhat-Sandy-1!"  # the seed's "redhat" does not meet AWS's default policy
CONSOLE_TESTS = REPO / "tests" / "console"


def set_root_password(t, account, password=ROOT_PASSWORD):
    proc = subprocess.run([str(BIN), "console", "set-root-password", "--data-dir", str(t.data_dir),
                           "--account", account], input=password + "\n", capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert password not in proc.stderr + proc.stdout


def account_email(t, account):
    return t.client("organizations").describe_account(AccountId=account)["Account"]["Email"]


class Browser:
    """A cookie-keeping HTTP client that does not follow redirects."""

    def __init__(self, endpoint):
        u = urllib.parse.urlsplit(endpoint)
        self.host, self.port = u.hostname, u.port
        self.cookies = {}

    def request(self, method, path, form=None, headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            h["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        r.text = r.read().decode()
        for c in r.headers.get_all("Set-Cookie") or []:
            name, _, rest = c.partition("=")
            value = rest.split(";")[0]
            if "Max-Age=0" in c:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        conn.close()
        return r

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, form, **kw):
        return self.request("POST", path, form=form, **kw)

    def csrf(self, path):
        r = self.get(path)
        assert r.status == 200, (r.status, r.text[:500])
        return re.search(r'name="csrf" value="([0-9a-f]+)"', r.text).group(1)

    def sign_in(self, account, user, password):
        token = self.csrf("/console/signin")
        return self.post("/console/signin", {"csrf": token, "kind": "iam", "account": account,
                                             "username": user, "password": password})


@pytest.fixture(scope="module")
def seed004(tessera, accounts):
    """Two accounts through Organizations, with root console passwords; a bucket in the
    trusting one."""
    trusting, trusted = accounts.create("seed004-trusting"), accounts.create("seed004-trusted")
    for acct in (trusting, trusted):
        set_root_password(tessera, acct)
    bucket = unique("seed004-bucket-")
    tessera.client("s3", **accounts.admin_creds(trusting)).create_bucket(Bucket=bucket)
    return {"trusting": trusting, "trusted": trusted, "bucket": bucket,
            "trusting_email": account_email(tessera, trusting), "trusted_email": account_email(tessera, trusted)}


def browser_tools():
    """node and chromium for the browser tests, or a SKIP saying what is missing."""
    node = shutil.which("node")
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not node:
        pytest.skip("SKIP: node is not installed: the console browser test needs node and npm")
    for package in ("playwright-core", "axe-core"):
        if not (CONSOLE_TESTS / "node_modules" / package).exists():
            pytest.skip("SKIP: tests/console/node_modules missing: run `npm ci` in tests/console (scripts/test does)")
    if not Path(chromium).exists():
        pytest.skip(f"SKIP: {chromium} missing: apt-get install chromium (scripts/test does)")
    return node, chromium


def run_browser_test(name, min_shots, **env):
    """Run tests/console/<name>.test.mjs with `env`, its screenshots into artifacts/<name>; at
    least `min_shots` of them. Returns the artifacts directory."""
    node, chromium = browser_tools()
    artifacts = CONSOLE_TESTS / "artifacts" / name
    shutil.rmtree(artifacts, ignore_errors=True)
    env = dict(os.environ, ARTIFACTS=str(artifacts), CHROMIUM=chromium, **env)
    proc = subprocess.run([node, "--test", "--test-reporter=spec", f"{name}.test.mjs"], cwd=CONSOLE_TESTS, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-3000:]
    shots = sorted(p.name for p in artifacts.glob("*.png"))
    assert len(shots) >= min_shots, shots
    return artifacts


def test_seed004_in_a_browser(tessera, seed004):
    run_browser_test("seed004", 15, TESSERA_ENDPOINT=tessera.endpoint, TRUSTING_ACCOUNT=seed004["trusting"],
                     TRUSTED_ACCOUNT=seed004["trusted"], TRUSTING_EMAIL=seed004["trusting_email"],
                     TRUSTED_EMAIL=seed004["trusted_email"], ROOT_PASSWORD=ROOT_PASSWORD,
                     SANDY_PASSWORD=SANDY_PASSWORD, BUCKET=seed004["bucket"])


# ---- security, over plain HTTP ------------------------------------------------------------

@pytest.fixture(scope="module")
def member(tessera, accounts):
    """An account with IAM users made by its admin: `plain` (password, no permissions),
    `mfa` (password and an enabled virtual MFA device) and `switcher` (may assume any role)."""
    acct = accounts.create("console-sec")
    iam = tessera.client("iam", **accounts.admin_creds(acct))
    users = {}
    for name in ("plain", "mfa", "switcher", "locked"):
        iam.create_user(UserName=name)
        iam.create_login_profile(UserName=name, Password=SANDY_PASSWORD, PasswordResetRequired=False)
        users[name] = name
    iam.put_user_policy(UserName="switcher", PolicyName="assume", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    # A role in the account that trusts only another account.
    other = accounts.create("console-sec-other")
    iam.create_role(RoleName="NotForYou", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other}:root"},
                                                "Action": "sts:AssumeRole"}]}))
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="mfa-phone")["VirtualMFADevice"]
    seed = device["Base32StringSeed"]
    seed = seed.decode() if isinstance(seed, bytes) else seed
    totp = pyotp.TOTP(seed)
    now = time.time()
    iam.enable_mfa_device(UserName="mfa", SerialNumber=device["SerialNumber"],
                          AuthenticationCode1=totp.at(now - 30), AuthenticationCode2=totp.at(now))
    return {"account": acct, "totp": totp}


def test_wrong_password_is_refused(tessera, member):
    b = Browser(tessera.endpoint)
    r = b.sign_in(member["account"], "plain", "Wrong-password-1!")
    assert r.status == 401
    assert "Your authentication information is incorrect" in r.text
    assert b.get("/console").status == 303
    # An unknown user and an unknown account answer the same.
    for account, user in ((member["account"], "nobody"), ("000000000000", "plain")):
        r = Browser(tessera.endpoint).sign_in(account, user, SANDY_PASSWORD)
        assert r.status == 401 and "Your authentication information is incorrect" in r.text


def test_sign_in_sets_a_strict_httponly_cookie_and_signs_out(tessera, member):
    b = Browser(tessera.endpoint)
    r = b.sign_in(member["account"], "plain", SANDY_PASSWORD)
    assert r.status == 303 and r.headers["Location"] == "/console"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http on loopback
    home = b.get("/console")
    assert home.status == 200 and f"arn:aws:iam::{member['account']}:user/plain" in home.text
    assert "default-src 'none'" in home.headers["Content-Security-Policy"]
    old = dict(b.cookies)
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', home.text).group(1)
    assert b.post("/console/signout", {"csrf": token}).status == 303
    b.cookies = old  # the old cookie is dead after sign-out
    r = b.get("/console")
    assert r.status == 303 and r.headers["Location"] == "/console/signin"
    # Behind an https proxy the cookie is Secure.
    r = Browser(tessera.endpoint).get("/console/signin", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in r.headers["Set-Cookie"]


def test_denied_pages_show_aws_access_denied(tessera, member):
    b = Browser(tessera.endpoint)
    assert b.sign_in(member["account"], "plain", SANDY_PASSWORD).status == 303
    r = b.get("/console/iam/users")
    assert r.status == 403
    assert "AccessDenied" in r.text
    assert (f"User: arn:aws:iam::{member['account']}:user/plain is not authorized to perform: iam:ListUsers"
            in r.text)
    assert 'id="users"' not in r.text  # no empty list in its place
    r = b.get("/console/s3")
    assert "AccessDenied" in r.text and 'id="buckets"' not in r.text


def test_wrong_mfa_code_is_refused(tessera, member):
    b = Browser(tessera.endpoint)
    r = b.sign_in(member["account"], "mfa", SANDY_PASSWORD)
    assert r.status == 303 and r.headers["Location"] == "/console/mfa"
    assert b.get("/console").status == 303  # not signed in before the code
    token = b.csrf("/console/mfa")
    totp = member["totp"]
    good = totp.at(time.time() + 30)
    wrong = f"{(int(good) + 1) % 1000000:06d}"
    r = b.post("/console/mfa", {"csrf": token, "code": wrong})
    assert r.status == 401 and "The MFA code is not valid" in r.text
    assert b.get("/console").status == 303
    r = b.post("/console/mfa", {"csrf": token, "code": good})
    assert r.status == 303 and r.headers["Location"] == "/console"
    assert f"arn:aws:iam::{member['account']}:user/mfa" in b.get("/console").text


def test_posts_without_the_csrf_token_are_rejected(tessera, member):
    b = Browser(tessera.endpoint)
    b.get("/console/signin")
    form = {"kind": "iam", "account": member["account"], "username": "plain", "password": SANDY_PASSWORD}
    r = b.post("/console/signin", form)
    assert r.status == 403 and "CSRF" in r.text
    r = b.post("/console/signin", dict(form, csrf="0" * 64))
    assert r.status == 403
    # No session cookie at all.
    assert Browser(tessera.endpoint).post("/console/signin", form).status == 403
    # Signed in: a state-changing POST without the token does nothing.
    assert b.sign_in(member["account"], "switcher", SANDY_PASSWORD).status == 303
    r = b.post("/console/switchrole", {"account": member["account"], "role": "NotForYou"})
    assert r.status == 403
    r = b.post("/console/api/validate-policy", {"document": "{}"})
    assert r.status == 403
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', b.get("/console").text).group(1)
    r = b.post("/console/api/validate-policy", {"document": "{}"}, headers={"X-CSRF-Token": token})
    assert r.status == 200 and json.loads(r.text)["valid"] is False


def test_unknown_and_expired_sessions_go_to_sign_in(tessera, tessera_factory, member):
    b = Browser(tessera.endpoint)
    b.cookies["tessera-console"] = "f" * 64
    r = b.get("/console/iam/users")
    assert r.status == 303 and r.headers["Location"] == "/console/signin"
    # A server whose console sessions last 2 seconds.
    t = tessera_factory("short", env=dict(os.environ, TESSERA_CONSOLE_SESSION_SECONDS="2")).start()
    iam = t.client("iam")
    iam.create_user(UserName="brief")
    iam.create_login_profile(UserName="brief", Password=SANDY_PASSWORD, PasswordResetRequired=False)
    account = t.client("sts").get_caller_identity()["Account"]
    b = Browser(t.endpoint)
    assert b.sign_in(account, "brief", SANDY_PASSWORD).status == 303
    assert b.get("/console").status == 200
    time.sleep(3.1)
    r = b.get("/console")
    assert r.status == 303 and r.headers["Location"] == "/console/signin"
    t.stop()


def test_lockout_after_five_failures(tessera, member):
    for _ in range(5):
        assert Browser(tessera.endpoint).sign_in(member["account"], "locked", "Wrong-password-1!").status == 401
    r = Browser(tessera.endpoint).sign_in(member["account"], "locked", SANDY_PASSWORD)
    assert r.status == 429 and "locked" in r.text
    # Other users are not affected.
    assert Browser(tessera.endpoint).sign_in(member["account"], "plain", SANDY_PASSWORD).status == 303


def test_switching_into_a_role_that_does_not_trust_the_user(tessera, member):
    b = Browser(tessera.endpoint)
    assert b.sign_in(member["account"], "switcher", SANDY_PASSWORD).status == 303
    token = b.csrf("/console/switchrole")
    r = b.post("/console/switchrole", {"csrf": token, "account": member["account"], "role": "NotForYou",
                                       "display": "nope", "colour": "red"})
    assert r.status == 403
    assert "AccessDenied" in r.text
    assert (f"User: arn:aws:iam::{member['account']}:user/switcher is not authorized to perform: sts:AssumeRole "
            f"on resource: arn:aws:iam::{member['account']}:role/NotForYou") in r.text
    home = b.get("/console")
    assert f"switcher @ {member['account']}" in home.text and "Back to" not in home.text


def test_html_is_escaped(tessera, member):
    b = Browser(tessera.endpoint)
    r = b.get("/console/signin?account=%22%3E%3Cscript%3Ealert(1)%3C/script%3E")
    assert "<script>alert(1)" not in r.text and "&lt;script&gt;" in r.text


def test_root_password_cli_rejects_weak_passwords(tessera, accounts):
    acct = accounts.create("console-root")
    proc = subprocess.run([str(BIN), "console", "set-root-password", "--data-dir", str(tessera.data_dir),
                           "--account", acct], input="short\n", capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "password" in proc.stderr
    proc = subprocess.run([str(BIN), "console", "set-root-password", "--data-dir", str(tessera.data_dir),
                           "--account", "999999999999"], input=ROOT_PASSWORD + "\n", capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode != 0 and "no account" in proc.stderr


def test_mfa_device_setup_and_mfa_conditioned_switch_role(tessera, accounts):
    """The root user assigns a virtual MFA device to a user through the console (QR code,
    two codes); the user then signs in with a code, and a role whose trust policy (written by
    the wizard with "Require MFA") needs MFA can be switched to only by that session."""
    acct = accounts.create("console-mfa")
    set_root_password(tessera, acct)
    root = Browser(tessera.endpoint)
    token = root.csrf("/console/signin")
    r = root.post("/console/signin", {"csrf": token, "kind": "root", "email": account_email(tessera, acct),
                                      "password": ROOT_PASSWORD})
    assert r.status == 303, r.text[:300]
    token = root.csrf("/console/iam/users/create")
    for name in ("alice", "bob"):
        r = root.post("/console/iam/users/create", {"csrf": token, "user_name": name, "console_access": "1",
                                                    "password": SANDY_PASSWORD})
        assert r.status == 303
    r = root.post("/console/iam/policies/create", {"csrf": token, "policy_name": "Assume", "document": json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]})})
    assert r.status == 303
    for name in ("alice", "bob"):
        r = root.post("/console/iam/policies/attach", {"csrf": token, "policy_arn": f"arn:aws:iam::{acct}:policy/Assume",
                                                       "target_type": "user", "target": name})
        assert r.status == 303
    r = root.post("/console/iam/roles/create", {"csrf": token, "which": "this", "require_mfa": "1",
                                                "role_name": "NeedsMfa"})
    assert r.status == 303
    trust = root.get("/console/iam/roles/NeedsMfa").text
    assert "aws:MultiFactorAuthPresent" in trust and f"arn:aws:iam::{acct}:root" in trust
    # MFA setup: the QR code and the secret, then two consecutive codes.
    r = root.post("/console/iam/users/alice/mfa", {"csrf": token, "step": "create", "device": "alice-phone"})
    assert r.status == 200 and 'src="data:image/png;base64,iVBOR' in r.text
    secret = re.search(r'id="mfa-secret">([A-Z2-7]+)<', r.text).group(1)
    serial = re.search(r'name="serial" value="([^"]+)"', r.text).group(1)
    totp = pyotp.TOTP(secret)
    now = time.time()
    r = root.post("/console/iam/users/alice/mfa", {"csrf": token, "step": "enable", "serial": serial,
                                                   "code1": totp.at(now - 30), "code2": totp.at(now)})
    assert r.status == 303
    assert serial in root.get("/console/iam/users/alice").text

    def switch(b):
        t = b.csrf("/console/switchrole")
        return b.post("/console/switchrole", {"csrf": t, "account": acct, "role": "NeedsMfa", "colour": "blue"})

    bob = Browser(tessera.endpoint)
    assert bob.sign_in(acct, "bob", SANDY_PASSWORD).status == 303
    r = switch(bob)
    assert r.status == 403 and "not authorized to perform: sts:AssumeRole" in r.text

    alice = Browser(tessera.endpoint)
    r = alice.sign_in(acct, "alice", SANDY_PASSWORD)
    assert r.headers["Location"] == "/console/mfa"
    r = alice.post("/console/mfa", {"csrf": alice.csrf("/console/mfa"), "code": totp.at(time.time() + 30)})
    assert r.status == 303
    r = switch(alice)
    assert r.status == 303, r.text[-1500:]
    home = alice.get("/console").text
    assert f"arn:aws:sts::{acct}:assumed-role/NeedsMfa/alice" in home and "Back to alice" in home


def account_with_admin(tessera, accounts, account_name, user):
    """A new account and its IAM client, with `user`: AdministratorAccess and a console password."""
    acct = accounts.create(account_name)
    iam = tessera.client("iam", **accounts.admin_creds(acct))
    iam.create_user(UserName=user)
    iam.attach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    iam.create_login_profile(UserName=user, Password=SANDY_PASSWORD, PasswordResetRequired=False)
    return acct, iam


def test_escalation_graph_page(tessera, accounts, member):
    """The escalation graph of the signed-in account (issue 20): drawn as SVG with the path to
    admin in red and a table of shortest paths; refused, with AWS's AccessDenied, to a user who
    may not read the account's authorization details."""
    acct, iam = account_with_admin(tessera, accounts, "console-graph", "boss")
    iam.create_user(UserName="keymaker")
    iam.put_user_policy(UserName="keymaker", PolicyName="keys", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Sid": "MintKeys", "Effect": "Allow", "Action": "iam:CreateAccessKey",
                                                "Resource": f"arn:aws:iam::{acct}:user/boss"}]}))
    iam.create_user(UserName="idle")
    b = Browser(tessera.endpoint)
    assert b.sign_in(acct, "boss", SANDY_PASSWORD).status == 303
    assert 'href="/console/iam/graph"' in b.get("/console/iam").text
    r = b.get("/console/iam/graph")
    assert r.status == 200, r.text[:2000]
    page = r.text
    assert '<svg id="escalation-graph"' in page
    boss, keymaker, idle = (f"arn:aws:iam::{acct}:user/{n}" for n in ("boss", "keymaker", "idle"))
    assert f'<g class="node admin" data-arn="{boss}">' in page
    assert f'<g class="node reaches-admin" data-arn="{keymaker}">' in page
    assert f'<g class="node" data-arn="{idle}">' in page
    assert re.search(rf'<path class="edge admin-path" [^>]*data-from="{keymaker}" data-to="{boss}" '
                     r'data-kind="access-key">', page)
    # Only this account: the other test accounts' principals are not drawn.
    assert f'data-arn="arn:aws:iam::{member["account"]}:' not in page
    table = page[page.index('id="graph-paths"'):]
    assert "keymaker" in table and "<code>access-key</code>" in table and "&quot;MintKeys&quot;" in table
    # A user who may not read the account's authorization details is refused.
    b = Browser(tessera.endpoint)
    assert b.sign_in(member["account"], "plain", SANDY_PASSWORD).status == 303
    r = b.get("/console/iam/graph")
    assert r.status == 403 and "AccessDenied" in r.text
    assert "iam:GetAccountAuthorizationDetails" in r.text and "escalation-graph" not in r.text


def test_cloudtrail_event_history_page(tessera, accounts, member):
    """CloudTrail event history (issue 21): LookupEvents filters, the list, one event's record
    with its secrets redacted; refused with AWS's AccessDenied without cloudtrail:LookupEvents."""
    acct, iam = account_with_admin(tessera, accounts, "console-events", "auditor")
    iam.create_user(UserName="traced")
    secret_password = "Traced-Secret-Pw-9!"
    iam.create_login_profile(UserName="traced", Password=secret_password, PasswordResetRequired=False)
    b = Browser(tessera.endpoint)
    assert b.sign_in(acct, "auditor", SANDY_PASSWORD).status == 303
    assert 'href="/console/cloudtrail"' in b.get("/console").text
    r = b.get("/console/cloudtrail?attribute=EventName&value=CreateLoginProfile")
    assert r.status == 200, r.text[:2000]
    rows = r.text[r.text.index('id="events"'):]
    assert rows.count("<tr>") - 1 == 2, rows[:3000]  # auditor's and traced's, no other event
    assert "CreateLoginProfile" in rows and "CreateUser" not in rows
    assert '<option value="EventName" selected>' in r.text
    ids = re.findall(r'href="/console/cloudtrail/events/([0-9a-f-]+)"', rows)
    pages = [b.get(f"/console/cloudtrail/events/{i}").text for i in ids]
    [page] = [p for p in pages if "traced" in p]
    record = page[page.index('id="event-record"'):]
    assert "&quot;eventName&quot;: &quot;CreateLoginProfile&quot;" in record
    assert secret_password not in page and "HIDDEN_DUE_TO_SECURITY_REASONS" in record
    # The unfiltered list shows the newest first, a time range narrows it.
    everything = b.get("/console/cloudtrail").text
    assert "CreateUser" in everything
    assert "No events match." in b.get("/console/cloudtrail?start=2001-01-01T00:00&end=2001-01-02T00:00").text
    assert b.get("/console/cloudtrail/events/00000000-0000-0000-0000-000000000000").status == 404
    # Without cloudtrail:LookupEvents: AWS's AccessDenied, no list.
    b = Browser(tessera.endpoint)
    assert b.sign_in(member["account"], "plain", SANDY_PASSWORD).status == 303
    r = b.get("/console/cloudtrail")
    assert r.status == 403 and "cloudtrail:LookupEvents" in r.text and 'id="events"' not in r.text


def list_users_denied(t, iam, user):
    """An iam:ListUsers by `user` (with a new access key) that is denied: an AccessDenied in the
    event history."""
    key = iam.create_access_key(UserName=user)["AccessKey"]
    client = t.client("iam", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    for _ in range(50):  # a new key may take a moment, as on AWS
        try:
            client.list_users()
            pytest.fail(f"{user} may not list users")
        except client.exceptions.ClientError as e:
            if e.response["Error"]["Code"] == "AccessDenied":
                return
            time.sleep(0.1)
    pytest.fail("the new key never worked")


def test_policy_simulator_page_and_the_link_from_a_denial(tessera, accounts, member):
    """The policy simulator page (issue 21): decisions of SimulatePrincipalPolicy with the reason
    in the words of AccessDenied messages; an AccessDenied event links to it, pre-filled."""
    acct, iam = account_with_admin(tessera, accounts, "console-sim", "chief")
    boundary = iam.create_policy(PolicyName="s3-only", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.create_user(UserName="bounded")
    iam.put_user_policy(UserName="bounded", PolicyName="wide", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["iam:*", "s3:*"], "Resource": "*"},
            {"Sid": "NoDeletes", "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}]}))
    iam.put_user_permissions_boundary(UserName="bounded", PermissionsBoundary=boundary)
    bounded = f"arn:aws:iam::{acct}:user/bounded"
    b = Browser(tessera.endpoint)
    assert b.sign_in(acct, "chief", SANDY_PASSWORD).status == 303
    form = b.get("/console/simulator")
    assert form.status == 200 and 'id="sim-principal"' in form.text and 'id="simulation"' not in form.text
    q = urllib.parse.urlencode({"principal": bounded, "actions": "s3:GetObject\niam:ListUsers\ns3:DeleteBucket",
                                "resources": "*", "run": "1"})
    r = b.get(f"/console/simulator?{q}")
    assert r.status == 200, r.text[:2000]
    rows = {m[0]: m[1:] for m in re.findall(
        r"<tr><td>([^<]+)</td><td>[^<]*</td><td><span class=\"decision \w+\">(\w+)</span></td><td>([^<]*)</td>", r.text)}
    assert rows["s3:GetObject"] == ("allowed", "allowed")
    assert rows["iam:ListUsers"] == ("implicitDeny", "because no permissions boundary allows the iam:ListUsers action")
    assert rows["s3:DeleteBucket"] == ("explicitDeny", "with an explicit deny in an identity-based policy")
    # A denial in the event history links to the simulator with its principal and action.
    list_users_denied(tessera, iam, "bounded")
    events = b.get("/console/cloudtrail?attribute=EventName&value=ListUsers").text
    link = re.search(r'<a class="simulate" href="([^"]+)">Simulate</a>', events)
    assert link, events[-3000:]
    href = link.group(1).replace("&amp;", "&")
    assert urllib.parse.quote(bounded, safe="") in href and "iam%3AListUsers" in href
    r = b.get(href)
    assert "because no permissions boundary allows the iam:ListUsers action" in r.text
    # Without iam:SimulatePrincipalPolicy: AWS's AccessDenied, no results.
    b = Browser(tessera.endpoint)
    assert b.sign_in(member["account"], "plain", SANDY_PASSWORD).status == 303
    r = b.get(f"/console/simulator?{q}")
    assert r.status == 403 and "iam:SimulatePrincipalPolicy" in r.text and 'id="simulation"' not in r.text


def form_of(page, action):
    """The CSRF token of a page (every form of a page carries the session's one)."""
    assert f'action="{action}"' in page, (action, page[-3000:])
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)


def test_organizations_pages(fresh_tessera):
    """Organizations in the console (issue 21), on a server of its own (it changes the
    organization): create it, create/rename/delete an OU, move an account, create an account and
    follow its status, create an SCP, attach it to the OU, see it on the account's effective
    path, detach it; Organizations' own errors shown as AWS words them."""
    t = fresh_tessera
    iam = t.client("iam")
    iam.create_user(UserName="orgadmin")
    iam.attach_user_policy(UserName="orgadmin", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    iam.create_login_profile(UserName="orgadmin", Password=SANDY_PASSWORD, PasswordResetRequired=False)
    mgmt = t.client("sts").get_caller_identity()["Account"]
    b = Browser(t.endpoint)
    assert b.sign_in(mgmt, "orgadmin", SANDY_PASSWORD).status == 303
    page = b.get("/console/organizations").text
    token = form_of(page, "/console/organizations/create")
    assert b.post("/console/organizations/create", {"csrf": token}).status == 303
    page = b.get("/console/organizations").text
    org = t.client("organizations")
    root = org.list_roots()["Roots"][0]["Id"]
    assert f'data-id="{root}"' in page and f'data-id="{mgmt}"' in page
    # Create an OU under the root, then rename it.
    assert b.post("/console/organizations/ous/create", {"csrf": token, "parent": root, "name": "Sandbox"}).status == 303
    [ou] = org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]
    assert ou["Name"] == "Sandbox"
    assert b.post(f"/console/organizations/ous/{ou['Id']}/rename", {"csrf": token, "name": "Playground"}).status == 303
    assert org.describe_organizational_unit(OrganizationalUnitId=ou["Id"])["OrganizationalUnit"]["Name"] == "Playground"
    # Create an account through the form and follow its status.
    r = b.post("/console/organizations/accounts/create", {"csrf": token, "name": "console-made", "email": "made@example.com"})
    assert r.status == 303 and r.headers["Location"].startswith("/console/organizations/create-status/")
    for _ in range(100):
        status = b.get(r.headers["Location"]).text
        if "SUCCEEDED" in status:
            break
        time.sleep(0.1)
    assert 'id="create-state">SUCCEEDED' in status
    made = [a for a in org.list_accounts()["Accounts"] if a["Name"] == "console-made"][0]["Id"]
    # Move it into the OU; the OU cannot be deleted while it holds it.
    assert b.post(f"/console/organizations/accounts/{made}/move",
                  {"csrf": token, "from": root, "to": ou["Id"]}).status == 303
    assert org.list_parents(ChildId=made)["Parents"][0]["Id"] == ou["Id"]
    r = b.post(f"/console/organizations/ous/{ou['Id']}/delete", {"csrf": token})
    assert r.status == 400 and "OrganizationalUnitNotEmptyException" in r.text
    # Enable SCPs, create one with the editor's form, attach it to the OU.
    assert b.post("/console/organizations/policy-types",
                  {"csrf": token, "root": root, "type": "SERVICE_CONTROL_POLICY", "enable": "1"}).status == 303
    scp = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"}]})
    r = b.post("/console/organizations/policies/create", {"csrf": token, "type": "SERVICE_CONTROL_POLICY",
                                                          "name": "no-new-users", "description": "", "document": scp})
    assert r.status == 303, r.text[:2000]
    policy_page = r.headers["Location"]
    policy_id = policy_page.rsplit("/", 1)[1]
    assert b.post(f"{policy_page}/attach", {"csrf": token, "target": ou["Id"]}).status == 303
    assert "no-new-users" in b.get("/console/organizations/policies?type=SERVICE_CONTROL_POLICY").text
    account_page = b.get(f"/console/organizations/accounts/{made}").text
    effective = account_page[account_page.index('id="effective-service_control_policy"'):]
    assert f"<td>{ou['Id']}</td>" in effective and "no-new-users" in effective and "FullAWSAccess" in effective
    assert b.post(f"{policy_page}/detach", {"csrf": token, "target": ou["Id"]}).status == 303
    assert org.list_targets_for_policy(PolicyId=policy_id)["Targets"] == []
    # Move the account back; now the OU can go.
    assert b.post(f"/console/organizations/accounts/{made}/move",
                  {"csrf": token, "from": ou["Id"], "to": root}).status == 303
    assert b.post(f"/console/organizations/ous/{ou['Id']}/delete", {"csrf": token}).status == 303
    assert org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"] == []
    # Without the CSRF token nothing changes.
    r = b.post("/console/organizations/ous/create", {"parent": root, "name": "Forged"})
    assert r.status == 403
    assert org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"] == []


def test_iam_editing_keys_passwords_deletes_and_session_revocation(tessera, accounts, member):
    """IAM editing (issue 21): access keys (secret shown once, deactivate, activate, last used),
    console password with a required reset, deleting a user with what AWS's console removes
    first, deleting a group, a role's "Revoke active sessions"; a denied change changes nothing."""
    acct, iam = account_with_admin(tessera, accounts, "console-edit", "editor")
    iam.create_user(UserName="target")
    iam.create_group(GroupName="crew")
    iam.add_user_to_group(GroupName="crew", UserName="target")
    iam.put_user_policy(UserName="target", PolicyName="inline", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]}))
    iam.attach_user_policy(UserName="target", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    b = Browser(tessera.endpoint)
    assert b.sign_in(acct, "editor", SANDY_PASSWORD).status == 303
    page = b.get("/console/iam/users/target").text
    token = form_of(page, "/console/iam/users/target/keys/create")
    # A new key: its secret once, and it signs.
    r = b.post("/console/iam/users/target/keys/create", {"csrf": token})
    assert r.status == 200
    key_id = re.search(r'id="new-key-id"><code>(AKIA[A-Z0-9]+)</code>', r.text).group(1)
    secret = re.search(r'id="new-key-secret"><code>([^<]+)</code>', r.text).group(1)
    assert urllib.parse.quote(f"{key_id},{secret}", safe="") in r.text.replace("%2C", "%2C")
    client = tessera.client("sts", aws_access_key_id=key_id, aws_secret_access_key=secret)
    for _ in range(50):  # a new key may take a moment, as on AWS
        try:
            assert client.get_caller_identity()["Arn"] == f"arn:aws:iam::{acct}:user/target"
            break
        except Exception:
            time.sleep(0.1)
    page = b.get("/console/iam/users/target").text
    assert secret not in page and key_id in page and "(sts in us-east-1)" in page
    # Deactivate: the key stops working; activate: it works again.
    assert b.post(f"/console/iam/users/target/keys/{key_id}/status", {"csrf": token, "status": "Inactive"}).status == 303
    with pytest.raises(Exception):
        client.get_caller_identity()
    assert b.post(f"/console/iam/users/target/keys/{key_id}/status", {"csrf": token, "status": "Active"}).status == 303
    assert client.get_caller_identity()["Account"] == acct
    # A console password the user must change at next sign-in.
    assert b.post("/console/iam/users/target/password",
                  {"csrf": token, "password": "Target-Pw-123!", "reset_required": "1"}).status == 303
    assert iam.get_login_profile(UserName="target")["LoginProfile"]["PasswordResetRequired"] is True
    # As AWS's console, the required reset comes with IAMUserChangePassword.
    attached = {p["PolicyName"] for p in iam.list_attached_user_policies(UserName="target")["AttachedPolicies"]}
    assert attached == {"ReadOnlyAccess", "IAMUserChangePassword"}
    # Deleting lists what goes first, needs the name typed, then removes it all.
    page = b.get("/console/iam/users/target/delete").text
    removes = page[page.index('id="delete-removes"'):]
    for what in ("1 access key(s)", "1 console password", "1 inline policy(ies)", "2 attached policy(ies)",
                 "1 group membership(s)"):
        assert what in removes, what
    assert b.post("/console/iam/users/target/delete", {"csrf": token, "confirm": "wrong"}).status == 200
    assert iam.get_user(UserName="target")
    assert b.post("/console/iam/users/target/delete", {"csrf": token, "confirm": "target"}).status == 303
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user(UserName="target")
    # Deleting a group removes its members and policies first.
    iam.create_user(UserName="member1")
    iam.add_user_to_group(GroupName="crew", UserName="member1")
    iam.attach_group_policy(GroupName="crew", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert b.post("/console/iam/groups/crew/delete", {"csrf": token, "confirm": "crew"}).status == 303
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_group(GroupName="crew")
    # Revoke active sessions: an older session is denied, a newer one is not.
    iam.create_role(RoleName="ops", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:root"},
                                                "Action": "sts:AssumeRole"}]}))
    iam.attach_role_policy(RoleName="ops", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    editor_key = iam.create_access_key(UserName="editor")["AccessKey"]
    sts = tessera.client("sts", aws_access_key_id=editor_key["AccessKeyId"],
                         aws_secret_access_key=editor_key["SecretAccessKey"])

    def session():
        for _ in range(50):
            try:
                c = sts.assume_role(RoleArn=f"arn:aws:iam::{acct}:role/ops", RoleSessionName="ops-session")["Credentials"]
                return tessera.client("iam", aws_access_key_id=c["AccessKeyId"],
                                      aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
            except Exception as e:
                if "InvalidClientTokenId" not in str(e):
                    raise
                time.sleep(0.1)
    old = session()
    assert old.list_roles()["Roles"]
    time.sleep(1.1)  # aws:TokenIssueTime has one-second precision
    assert b.post("/console/iam/roles/ops/revoke", {"csrf": token}).status == 303
    with pytest.raises(old.exceptions.ClientError) as denied:
        old.list_roles()
    assert "explicit deny" in str(denied.value)
    time.sleep(1.1)
    assert session().list_roles()["Roles"]
    # The role's delete removes its policies first.
    assert b.post("/console/iam/roles/ops/delete", {"csrf": token, "confirm": "ops"}).status == 303
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="ops")
    # A user without permissions is refused, and nothing changes.
    iam.create_user(UserName="keep")
    b = Browser(tessera.endpoint)
    assert b.sign_in(member["account"], "plain", SANDY_PASSWORD).status == 303
    token = form_of(b.get("/console").text, "/console/signout")
    r = b.post("/console/iam/users/plain/keys/create", {"csrf": token})
    assert r.status == 403 and "iam:CreateAccessKey" in r.text
    other = tessera.client("iam", **accounts.admin_creds(member["account"]))
    assert other.list_access_keys(UserName="plain")["AccessKeyMetadata"] == []


# ---- issue 21: sign-in rules, own credentials, the rest of IAM editing, the simulator's statements

def signed_in(tessera, account, user, password=SANDY_PASSWORD):
    b = Browser(tessera.endpoint)
    r = b.sign_in(account, user, password)
    assert r.status == 303, r.text[:500]
    return b


def token_of(b):
    return form_of(b.get("/console").text, "/console/signout")


def test_password_reset_required_forces_a_change_first(tessera, accounts):
    """AWS's sign-in with PasswordResetRequired: the user must choose a new password, meeting the
    account's password policy, before any other page (IAM User Guide, "Managing passwords for
    IAM users"); the change is iam:ChangePassword, so a user without it is refused with AWS's
    AccessDenied and stays on the page. The console's "require reset" attaches
    IAMUserChangePassword, as AWS's console does."""
    acct, iam = account_with_admin(tessera, accounts, "console-reset", "admin")
    admin = signed_in(tessera, acct, "admin")
    token = token_of(admin)
    r = admin.post("/console/iam/users/create", {"csrf": token, "user_name": "fresh", "console_access": "1",
                                                 "password": SANDY_PASSWORD, "reset_required": "1"})
    assert r.status == 303
    assert iam.get_login_profile(UserName="fresh")["LoginProfile"]["PasswordResetRequired"] is True
    attached = [p["PolicyName"] for p in iam.list_attached_user_policies(UserName="fresh")["AttachedPolicies"]]
    assert attached == ["IAMUserChangePassword"]
    b = signed_in(tessera, acct, "fresh")
    for path in ("/console", "/console/iam/users", "/console/security-credentials"):
        r = b.get(path)
        assert r.status == 303 and r.headers["Location"] == "/console/password", path
    page = b.get("/console/password")
    assert page.status == 200 and 'id="reset-required"' in page.text and "At least 8 characters" in page.text
    token = form_of(page.text, "/console/password")
    new = "Brand-New-Pw-42!"
    form = {"old_password": SANDY_PASSWORD, "new_password": new, "confirm_password": new}
    assert b.post("/console/password", form).status == 403  # no CSRF token
    r = b.post("/console/password", dict(form, csrf=token, confirm_password="Other-Pw-42!"))
    assert r.status == 400 and "do not match" in r.text
    r = b.post("/console/password", dict(form, csrf=token, new_password="weak", confirm_password="weak"))
    assert r.status == 400 and "PasswordPolicyViolation" in r.text
    assert "Password does not conform to the account password policy." in r.text
    r = b.post("/console/password", dict(form, csrf=token, old_password="Not-The-Old-1!"))
    assert r.status == 403 and "The old password is incorrect." in r.text
    assert b.get("/console").status == 303  # still held at the password page
    r = b.post("/console/password", dict(form, csrf=token))
    assert r.status == 303 and r.headers["Location"] == "/console"
    assert b.get("/console").status == 200
    assert iam.get_login_profile(UserName="fresh")["LoginProfile"]["PasswordResetRequired"] is False
    assert Browser(tessera.endpoint).sign_in(acct, "fresh", SANDY_PASSWORD).status == 401
    assert signed_in(tessera, acct, "fresh", new).get("/console").status == 200
    # The trail records the changes, never the passwords.
    trail = tessera.client("cloudtrail", **accounts.admin_creds(acct))
    events = trail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName",
                                                    "AttributeValue": "ChangePassword"}])["Events"]
    assert len(events) == 3  # two refusals (a weak password, a wrong old one) and the change
    for e in events:
        assert new not in e["CloudTrailEvent"] and SANDY_PASSWORD not in e["CloudTrailEvent"]
        assert "weak" not in e["CloudTrailEvent"] and "Not-The-Old-1!" not in e["CloudTrailEvent"]
    # Without iam:ChangePassword the change is refused with AWS's message, and nothing changes.
    iam.create_user(UserName="stuck")
    iam.create_login_profile(UserName="stuck", Password=SANDY_PASSWORD, PasswordResetRequired=True)
    b = signed_in(tessera, acct, "stuck")
    token = form_of(b.get("/console/password").text, "/console/password")
    r = b.post("/console/password", {"csrf": token, "old_password": SANDY_PASSWORD, "new_password": new,
                                     "confirm_password": new})
    assert r.status == 403
    assert f"User: arn:aws:iam::{acct}:user/stuck is not authorized to perform: iam:ChangePassword" in r.text
    assert b.get("/console/iam/users").headers["Location"] == "/console/password"
    assert signed_in(tessera, acct, "stuck").get("/console").status == 303  # the old password still works


def test_lockout_says_when_it_ends(tessera, member):
    for _ in range(5):
        Browser(tessera.endpoint).sign_in(member["account"], "lockend", "Wrong-password-1!")
    r = Browser(tessera.endpoint).sign_in(member["account"], "lockend", "Wrong-password-1!")
    assert r.status == 429
    until = re.search(r"locked for 15 minutes, until (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", r.text)
    assert until, r.text[-1500:]
    ends = time.mktime(time.strptime(until.group(1), "%Y-%m-%d %H:%M:%S")) - time.timezone
    assert 14 * 60 < ends - time.time() <= 15 * 60 + 5


def test_an_mfa_code_is_accepted_once(tessera, accounts, member):
    """A code spent at sign-in cannot sign in again (the store records spent steps)."""
    iam = tessera.client("iam", **accounts.admin_creds(member["account"]))
    iam.create_user(UserName="once")
    iam.create_login_profile(UserName="once", Password=SANDY_PASSWORD, PasswordResetRequired=False)
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="once-phone")["VirtualMFADevice"]
    seed = device["Base32StringSeed"]
    totp = pyotp.TOTP(seed.decode() if isinstance(seed, bytes) else seed)
    now = time.time()
    iam.enable_mfa_device(UserName="once", SerialNumber=device["SerialNumber"],
                          AuthenticationCode1=totp.at(now - 60), AuthenticationCode2=totp.at(now - 30))
    code = totp.at(time.time() + 30)
    first = Browser(tessera.endpoint)
    assert first.sign_in(member["account"], "once", SANDY_PASSWORD).headers["Location"] == "/console/mfa"
    assert first.post("/console/mfa", {"csrf": first.csrf("/console/mfa"), "code": code}).status == 303
    again = Browser(tessera.endpoint)
    assert again.sign_in(member["account"], "once", SANDY_PASSWORD).headers["Location"] == "/console/mfa"
    r = again.post("/console/mfa", {"csrf": again.csrf("/console/mfa"), "code": code})
    assert r.status == 401 and "The MFA code is not valid" in r.text
    assert again.get("/console").status == 303


def test_own_security_credentials(tessera, accounts):
    """A user's own "Security credentials" page: change password (iam:ChangePassword with the
    old one) and own access keys; root is told where its password is set."""
    acct, iam = account_with_admin(tessera, accounts, "console-self", "admin")
    iam.create_user(UserName="self")
    iam.create_login_profile(UserName="self", Password=SANDY_PASSWORD, PasswordResetRequired=False)
    iam.put_user_policy(UserName="self", PolicyName="self-service", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [
            "iam:ChangePassword", "iam:*AccessKey*", "iam:GetAccountPasswordPolicy"],
            "Resource": f"arn:aws:iam::{acct}:user/${{aws:username}}"}]}))
    b = signed_in(tessera, acct, "self")
    page = b.get("/console/security-credentials")
    assert page.status == 200 and f"arn:aws:iam::{acct}:user/self" in page.text
    token = form_of(page.text, "/console/security-credentials/keys/create")
    assert b.post("/console/security-credentials/keys/create", {}).status == 403
    assert iam.list_access_keys(UserName="self")["AccessKeyMetadata"] == []
    r = b.post("/console/security-credentials/keys/create", {"csrf": token})
    assert r.status == 200
    key_id = re.search(r'id="new-key-id"><code>(AKIA[A-Z0-9]+)</code>', r.text).group(1)
    assert 'href="/console/security-credentials" id="new-key-done"' in r.text
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName="self")["AccessKeyMetadata"]] == [key_id]
    r = b.post(f"/console/security-credentials/keys/{key_id}/status", {"csrf": token, "status": "Inactive"})
    assert r.status == 303 and r.headers["Location"] == "/console/security-credentials"
    assert iam.list_access_keys(UserName="self")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    assert b.post(f"/console/security-credentials/keys/{key_id}/delete", {"csrf": token}).status == 303
    assert iam.list_access_keys(UserName="self")["AccessKeyMetadata"] == []
    new = "Self-Service-Pw-7!"
    r = b.post("/console/password", {"csrf": token, "old_password": SANDY_PASSWORD, "new_password": new,
                                     "confirm_password": new})
    assert r.status == 303 and r.headers["Location"] == "/console/security-credentials"
    assert signed_in(tessera, acct, "self", new).get("/console").status == 200
    # The admin's own keys are the admin's: a user's page cannot reach another account.
    other_acct, other = account_with_admin(tessera, accounts, "console-self-other", "intruder")
    other.create_user(UserName="self")
    intruder = signed_in(tessera, other_acct, "intruder")
    r = intruder.post("/console/iam/users/self/keys/create", {"csrf": token_of(intruder)})
    assert r.status == 200  # it made a key for its own account's "self" ...
    assert iam.list_access_keys(UserName="self")["AccessKeyMetadata"] == []  # ... never this one
    # Root has no IAM password to change here.
    set_root_password(tessera, acct)
    root = Browser(tessera.endpoint)
    t = root.csrf("/console/signin")
    assert root.post("/console/signin", {"csrf": t, "kind": "root", "email": account_email(tessera, acct),
                                         "password": ROOT_PASSWORD}).status == 303
    r = root.get("/console/security-credentials")
    assert r.status == 200 and 'id="root-password"' in r.text and "set-root-password" in r.text
    assert 'id="root-assign-mfa"' in r.text and 'id="change-password-form"' not in r.text


def test_inline_policies_tags_boundaries_trust_and_mfa_devices(tessera, accounts, member):
    """Inline policies of users, groups and roles (add, edit, delete), tags and permissions
    boundaries of users and roles, a role's trust policy editor (UpdateAssumeRolePolicy,
    validated), a user's MFA device resync and removal; without the CSRF token, from another
    account, or without permission nothing changes and AWS's message is shown."""
    acct, iam = account_with_admin(tessera, accounts, "console-more", "admin")
    iam.create_user(UserName="u1")
    iam.create_group(GroupName="g1")
    iam.create_role(RoleName="r1", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:root"},
                                                "Action": "sts:AssumeRole"}]}))
    b = signed_in(tessera, acct, "admin")
    token = token_of(b)
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}
    for kind, name, get in (("users", "u1", iam.get_user_policy), ("groups", "g1", iam.get_group_policy),
                            ("roles", "r1", iam.get_role_policy)):
        page = b.get(f"/console/iam/{kind}/{name}").text
        assert 'id="inline-policies"' in page and f'href="/console/iam/{kind}/{name}/inline"' in page
        editor = b.get(f"/console/iam/{kind}/{name}/inline")
        assert editor.status == 200 and 'data-validate="/console/api/validate-policy"' in editor.text
        r = b.post(f"/console/iam/{kind}/{name}/inline", {"csrf": token, "policy_name": "lists",
                                                          "document": json.dumps(doc)})
        assert r.status == 303 and r.headers["Location"] == f"/console/iam/{kind}/{name}"
        key = {"users": "UserName", "groups": "GroupName", "roles": "RoleName"}[kind]
        assert get(**{key: name}, PolicyName="lists")["PolicyDocument"] == doc
        # Edit: the editor shows it; a malformed document is refused with IAM's message.
        assert "s3:ListAllMyBuckets" in b.get(f"/console/iam/{kind}/{name}/inline?policy=lists").text
        r = b.post(f"/console/iam/{kind}/{name}/inline", {"csrf": token, "policy_name": "lists", "document": "{"})
        assert r.status == 400 and "MalformedPolicyDocument" in r.text and "{" in r.text
        assert b.post(f"/console/iam/{kind}/{name}/inline/delete", {"policy_name": "lists"}).status == 403
        assert get(**{key: name}, PolicyName="lists")
        assert b.post(f"/console/iam/{kind}/{name}/inline/delete", {"csrf": token, "policy_name": "lists"}).status == 303
        with pytest.raises(iam.exceptions.NoSuchEntityException):
            get(**{key: name}, PolicyName="lists")
    # Tags and boundaries of users and roles.
    boundary = iam.create_policy(PolicyName="edge", PolicyDocument=json.dumps(doc))["Policy"]["Arn"]
    for kind, name, tags, get in (("users", "u1", iam.list_user_tags, iam.get_user),
                                  ("roles", "r1", iam.list_role_tags, iam.get_role)):
        key = {"users": "UserName", "roles": "RoleName"}[kind]
        assert b.post(f"/console/iam/{kind}/{name}/tags", {"csrf": token, "key": "team", "value": "blue"}).status == 303
        assert b.post(f"/console/iam/{kind}/{name}/tags", {"csrf": token, "key": "team", "value": "red"}).status == 303
        assert tags(**{key: name})["Tags"] == [{"Key": "team", "Value": "red"}]
        assert "red" in b.get(f"/console/iam/{kind}/{name}").text
        assert b.post(f"/console/iam/{kind}/{name}/tags/delete", {"csrf": token, "key": "team"}).status == 303
        assert tags(**{key: name})["Tags"] == []
        assert b.post(f"/console/iam/{kind}/{name}/boundary", {"csrf": token, "policy_arn": boundary}).status == 303
        entity = get(**{key: name})["User" if kind == "users" else "Role"]
        assert entity["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
        assert f'id="boundary-arn"><a href="/console/iam/policies/view?arn=' in b.get(f"/console/iam/{kind}/{name}").text
        assert b.post(f"/console/iam/{kind}/{name}/boundary/delete", {"csrf": token}).status == 303
        assert "PermissionsBoundary" not in get(**{key: name})["User" if kind == "users" else "Role"]
    # The trust policy editor validates as a trust policy and updates through IAM.
    editor = b.get("/console/iam/roles/r1/trust")
    assert 'data-validate="/console/api/validate-policy?type=trust"' in editor.text and "sts:AssumeRole" in editor.text
    r = b.post("/console/api/validate-policy?type=trust", {"document": json.dumps(doc)}, headers={"X-CSRF-Token": token})
    assert json.loads(r.text)["valid"] is False  # a trust policy needs a principal
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    r = b.post("/console/iam/roles/r1/trust", {"csrf": token, "document": json.dumps(doc)})
    assert r.status == 400 and "MalformedPolicyDocument" in r.text
    assert b.post("/console/iam/roles/r1/trust", {"csrf": token, "document": json.dumps(trust)}).status == 303
    assert iam.get_role(RoleName="r1")["Role"]["AssumeRolePolicyDocument"] == trust
    # MFA: a device assigned through boto3, resynchronized and removed through the console.
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="u1-phone")["VirtualMFADevice"]
    seed = device["Base32StringSeed"]
    totp = pyotp.TOTP(seed.decode() if isinstance(seed, bytes) else seed)
    now = time.time()
    serial = device["SerialNumber"]
    iam.enable_mfa_device(UserName="u1", SerialNumber=serial, AuthenticationCode1=totp.at(now - 30),
                          AuthenticationCode2=totp.at(now))
    assert 'id="mfa-devices"' in b.get("/console/iam/users/u1").text
    r = b.post("/console/iam/users/u1/mfa/resync", {"csrf": token, "serial": serial, "code1": "000000", "code2": "000000"})
    assert r.status == 403 and "InvalidAuthenticationCode" in r.text
    later = time.time() + 120
    r = b.post("/console/iam/users/u1/mfa/resync", {"csrf": token, "serial": serial,
                                                    "code1": totp.at(later - 30), "code2": totp.at(later)})
    assert r.status == 303
    assert b.post("/console/iam/users/u1/mfa/remove", {"serial": serial}).status == 403
    assert iam.list_mfa_devices(UserName="u1")["MFADevices"]
    assert b.post("/console/iam/users/u1/mfa/remove", {"csrf": token, "serial": serial}).status == 303
    assert iam.list_mfa_devices(UserName="u1")["MFADevices"] == []
    assert not [d for d in iam.list_virtual_mfa_devices()["VirtualMFADevices"] if d["SerialNumber"] == serial]
    # Another account's session acts in its own account: this one's u1 is untouched.
    other_acct, other = account_with_admin(tessera, accounts, "console-more-other", "outsider")
    outsider = signed_in(tessera, other_acct, "outsider")
    r = outsider.post("/console/iam/users/u1/tags", {"csrf": token_of(outsider), "key": "x", "value": "y"})
    assert r.status == 404 and "NoSuchEntity" in r.text
    assert iam.list_user_tags(UserName="u1")["Tags"] == []
    # Without permission: AWS's AccessDenied, and nothing changes.
    plain = signed_in(tessera, member["account"], "plain")
    t = token_of(plain)
    r = plain.post("/console/iam/users/plain/inline", {"csrf": t, "policy_name": "mine", "document": json.dumps(doc)})
    assert r.status == 403
    assert (f"User: arn:aws:iam::{member['account']}:user/plain is not authorized to perform: iam:PutUserPolicy"
            in r.text)
    r = plain.post("/console/iam/users/plain/tags", {"csrf": t, "key": "k", "value": "v"})
    assert r.status == 403 and "iam:TagUser" in r.text
    admin = tessera.client("iam", **accounts.admin_creds(member["account"]))
    assert admin.list_user_policies(UserName="plain")["PolicyNames"] == []
    assert admin.list_user_tags(UserName="plain")["Tags"] == []


def test_policy_versions_and_deleting_a_policy(tessera, accounts, member):
    """A managed policy's versions (view, create with the editor, set default, delete), tags,
    and deletion as AWS requires it: the console lists the attachments and non-default
    versions, removes them, then DeletePolicy."""
    acct, iam = account_with_admin(tessera, accounts, "console-versions", "admin")
    v1 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}
    v2 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    arn = iam.create_policy(PolicyName="versioned", PolicyDocument=json.dumps(v1))["Policy"]["Arn"]
    iam.create_user(UserName="holder")
    iam.create_group(GroupName="holders")
    iam.attach_user_policy(UserName="holder", PolicyArn=arn)
    iam.attach_group_policy(GroupName="holders", PolicyArn=arn)
    b = signed_in(tessera, acct, "admin")
    view = f"/console/iam/policies/view?arn={urllib.parse.quote(arn, safe='')}"
    page = b.get(view).text
    token = form_of(page, "/console/iam/policies/edit/version-create")
    assert 'id="policy-versions"' in page and 'data-validate="/console/api/validate-policy"' in page
    form = {"policy_arn": arn, "document": json.dumps(v2), "set_default": "1"}
    assert b.post("/console/iam/policies/edit/version-create", form).status == 403
    assert len(iam.list_policy_versions(PolicyArn=arn)["Versions"]) == 1
    assert b.post("/console/iam/policies/edit/version-create", dict(form, csrf=token)).status == 303
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    page = b.get(f"{view}&version=v1").text
    assert 'id="policy-version">v1<' in page and "s3:ListAllMyBuckets" in page
    assert b.post("/console/iam/policies/edit/version-default", {"csrf": token, "policy_arn": arn,
                                                                 "version": "v1"}).status == 303
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v1"
    # The default version cannot be deleted: IAM's own error, shown as AWS words it.
    r = b.post("/console/iam/policies/edit/version-delete", {"csrf": token, "policy_arn": arn, "version": "v1"})
    assert r.status == 409 and "DeleteConflict" in r.text
    assert b.post("/console/iam/policies/edit/tags", {"csrf": token, "policy_arn": arn, "key": "k",
                                                      "value": "v"}).status == 303
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    assert b.post("/console/iam/policies/edit/tags/delete", {"csrf": token, "policy_arn": arn, "key": "k"}).status == 303
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == []
    # At IAM's five versions, the editor asks which older version to delete first, as AWS's does.
    for d in (v2, v1, v2):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(d))
    page = b.get(view).text
    assert 'id="delete-version"' in page and '<option value="v3">' in page
    assert '<option value="v1">' not in page  # the default version (v1) is not offered
    form = {"csrf": token, "policy_arn": arn, "document": json.dumps(v2), "set_default": "1"}
    r = b.post("/console/iam/policies/edit/version-create", form)
    assert r.status == 409 and "LimitExceeded" in r.text
    assert b.post("/console/iam/policies/edit/version-create", dict(form, delete_version="v3")).status == 303
    versions = sorted(v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"])
    assert versions == ["v1", "v2", "v4", "v5", "v6"]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v6"
    # Deleting: first what AWS requires, listed; the name typed to confirm.
    page = b.get(f"/console/iam/policies/delete?arn={urllib.parse.quote(arn, safe='')}").text
    removes = page[page.index('id="delete-removes"'):]
    for what in ("Detach from user holder", "Detach from group holders", "Delete version v1", "Delete version v5"):
        assert what in removes, what
    # Someone without permission is refused and nothing goes.
    plain = signed_in(tessera, member["account"], "plain")
    r = plain.post("/console/iam/policies/edit/delete", {"csrf": token_of(plain), "policy_arn": arn,
                                                         "confirm": "versioned"})
    assert r.status == 403 and "AccessDenied" in r.text
    assert b.post("/console/iam/policies/edit/delete", {"csrf": token, "policy_arn": arn,
                                                        "confirm": "wrong"}).status == 400
    assert iam.get_policy(PolicyArn=arn)
    r = b.post("/console/iam/policies/edit/delete", {"csrf": token, "policy_arn": arn, "confirm": "versioned"})
    assert r.status == 303 and r.headers["Location"] == "/console/iam/policies"
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_policy(PolicyArn=arn)
    assert iam.list_attached_user_policies(UserName="holder")["AttachedPolicies"] == []


def test_simulator_marks_the_deciding_statements(tessera, accounts):
    """The simulator shows each policy that decided a result with the deciding statement marked
    (the engine's own match, with its position), for a principal's policies and a pasted one."""
    acct, iam = account_with_admin(tessera, accounts, "console-marks", "chief")
    iam.create_user(UserName="marked")
    iam.put_user_policy(UserName="marked", PolicyName="mixed", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Sid": "ReadAll", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Sid": "NoDeletes", "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}]}))
    b = signed_in(tessera, acct, "chief")
    q = urllib.parse.urlencode({"principal": f"arn:aws:iam::{acct}:user/marked", "actions": "s3:DeleteBucket",
                                "run": "1"})
    r = b.get(f"/console/simulator?{q}")
    assert r.status == 200
    marks = re.findall(r'<mark class="deciding deny"><span class="why">Deciding statement \(([^)]*)\):</span>(.*?)</mark>',
                       r.text, re.S)
    assert len(marks) == 1, r.text[-3000:]
    assert marks[0][0] == "explicitDeny of s3:DeleteBucket"
    assert "NoDeletes" in marks[0][1] and "ReadAll" not in marks[0][1]
    q = urllib.parse.urlencode({"principal": f"arn:aws:iam::{acct}:user/marked", "actions": "s3:GetObject", "run": "1"})
    marks = re.findall(r'<mark class="deciding allow">.*?</mark>', b.get(f"/console/simulator?{q}").text, re.S)
    assert len(marks) == 1 and "ReadAll" in marks[0] and "NoDeletes" not in marks[0]
    # Under a permissions boundary, the boundary's allowing statement is marked in its text too.
    edge = iam.create_policy(PolicyName="edge", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "GetsOnly", "Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.put_user_permissions_boundary(UserName="marked", PermissionsBoundary=edge)
    page = b.get(f"/console/simulator?{q}").text
    assert "edge <small>(PermissionsBoundaryPolicy)</small>" in page, page[-3000:]
    marks = re.findall(r'<mark class="deciding allow">.*?</mark>', page, re.S)
    assert len(marks) == 2 and "ReadAll" in marks[0] and "GetsOnly" in marks[1]
    # A pasted policy: SimulateCustomPolicy.
    pasted = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "OnlyList", "Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"}]})
    q = urllib.parse.urlencode({"policy": pasted, "actions": "iam:ListUsers\niam:DeleteUser", "run": "1"})
    r = b.get(f"/console/simulator?{q}")
    assert r.status == 200
    rows = dict(re.findall(r"<tr><td>([^<]+)</td><td>[^<]*</td><td><span class=\"decision \w+\">(\w+)</span>", r.text))
    assert rows == {"iam:ListUsers": "allowed", "iam:DeleteUser": "implicitDeny"}
    marks = re.findall(r'<mark class="deciding allow">.*?</mark>', r.text, re.S)
    assert len(marks) == 1 and "OnlyList" in marks[0]


def test_console_walks_in_a_browser(fresh_tessera):
    """tests/console/walks.test.mjs on a server of its own (it creates the organization):
    Organizations, CloudTrail with a denial followed to the simulator, the simulator's deciding
    statements, IAM editing with a key download, a required password reset and MFA sign-in, the
    root user's MFA device and MFA sign-in; an
    axe-core check of every page (no serious or critical violation) and the layout at 400 px."""
    browser_tools()
    t = fresh_tessera
    iam = t.client("iam")
    for name in ("walker", "mfauser"):
        iam.create_user(UserName=name)
        iam.create_login_profile(UserName=name, Password=SANDY_PASSWORD, PasswordResetRequired=False)
    iam.attach_user_policy(UserName="walker", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    s3 = t.client("s3")
    s3.create_bucket(Bucket="walk-bucket")
    s3.put_object(Bucket="walk-bucket", Key="reports/2026.csv", Body=b"a,b\n")
    iam.create_group(GroupName="walk-group")
    iam.create_role(RoleName="walk-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))
    iam.create_user(UserName="marked")
    iam.put_user_policy(UserName="marked", PolicyName="mixed", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Sid": "ReadAll", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Sid": "NoDeletes", "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}]}))
    # A denial in the event history, for the walk to follow to the simulator.
    iam.create_user(UserName="nobody")
    list_users_denied(t, iam, "nobody")
    mgmt = t.client("sts").get_caller_identity()["Account"]
    set_root_password(t, mgmt)
    artifacts = run_browser_test("walks", 50, TESSERA_ENDPOINT=t.endpoint, ADMIN_USER="walker",
                                 ACCOUNT=mgmt, PASSWORD=SANDY_PASSWORD, MARKED_USER="marked",
                                 ROOT_EMAIL=f"root@{mgmt}.tessera.invalid", ROOT_PASSWORD=ROOT_PASSWORD)
    assert json.loads((artifacts / "axe-violations.json").read_text()) == []


def test_every_new_form_needs_the_token_and_permission(tessera, accounts, member):
    """Each form added for issue 21: without the CSRF token, 403 and nothing done; with it but
    without the permission, AWS's AccessDenied naming the action, and nothing changed."""
    acct = member["account"]
    admin = tessera.client("iam", **accounts.admin_creds(acct))
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets",
                                                               "Resource": "*"}]})
    try:
        arn = admin.create_policy(PolicyName="guarded", PolicyDocument=doc)["Policy"]["Arn"]
    except admin.exceptions.EntityAlreadyExistsException:
        arn = f"arn:aws:iam::{acct}:policy/guarded"
    trust_before = admin.get_role(RoleName="NotForYou")["Role"]["AssumeRolePolicyDocument"]
    serial = f"arn:aws:iam::{acct}:mfa/none"
    forms = [
        ("/console/iam/users/plain/inline", {"policy_name": "p", "document": doc}, "iam:PutUserPolicy"),
        ("/console/iam/users/plain/inline/delete", {"policy_name": "p"}, "iam:DeleteUserPolicy"),
        ("/console/iam/users/plain/tags", {"key": "k", "value": "v"}, "iam:TagUser"),
        ("/console/iam/users/plain/tags/delete", {"key": "k"}, "iam:UntagUser"),
        ("/console/iam/users/plain/boundary", {"policy_arn": arn}, "iam:PutUserPermissionsBoundary"),
        ("/console/iam/users/plain/boundary/delete", {}, "iam:DeleteUserPermissionsBoundary"),
        ("/console/iam/users/plain/mfa/resync", {"serial": serial, "code1": "123456", "code2": "654321"},
         "iam:ResyncMFADevice"),
        ("/console/iam/users/plain/mfa/remove", {"serial": serial}, "iam:DeactivateMFADevice"),
        ("/console/iam/roles/NotForYou/inline", {"policy_name": "p", "document": doc}, "iam:PutRolePolicy"),
        ("/console/iam/roles/NotForYou/tags", {"key": "k", "value": "v"}, "iam:TagRole"),
        ("/console/iam/roles/NotForYou/boundary", {"policy_arn": arn}, "iam:PutRolePermissionsBoundary"),
        ("/console/iam/roles/NotForYou/trust", {"document": doc}, "iam:UpdateAssumeRolePolicy"),
        ("/console/iam/policies/edit/version-create", {"policy_arn": arn, "document": doc, "set_default": "1"},
         "iam:CreatePolicyVersion"),
        ("/console/iam/policies/edit/version-default", {"policy_arn": arn, "version": "v1"},
         "iam:SetDefaultPolicyVersion"),
        ("/console/iam/policies/edit/version-delete", {"policy_arn": arn, "version": "v1"}, "iam:DeletePolicyVersion"),
        ("/console/iam/policies/edit/tags", {"policy_arn": arn, "key": "k", "value": "v"}, "iam:TagPolicy"),
        ("/console/iam/policies/edit/tags/delete", {"policy_arn": arn, "key": "k"}, "iam:UntagPolicy"),
        ("/console/iam/policies/edit/delete", {"policy_arn": arn, "confirm": "guarded"}, "iam:ListEntitiesForPolicy"),
        ("/console/security-credentials/keys/create", {}, "iam:CreateAccessKey"),
        ("/console/password", {"old_password": SANDY_PASSWORD, "new_password": "Another-Pw-99!",
                               "confirm_password": "Another-Pw-99!"}, "iam:ChangePassword"),
    ]
    b = signed_in(tessera, acct, "plain")
    token = token_of(b)
    for path, form, action in forms:
        r = b.post(path, form)
        assert r.status == 403 and "CSRF" in r.text, path
        r = b.post(path, dict(form, csrf=token))
        assert r.status == 403, (path, r.status, r.text[-800:])
        assert f"User: arn:aws:iam::{acct}:user/plain is not authorized to perform: {action}" in r.text, path
    assert admin.list_user_policies(UserName="plain")["PolicyNames"] == []
    assert admin.list_user_tags(UserName="plain")["Tags"] == []
    assert "PermissionsBoundary" not in admin.get_user(UserName="plain")["User"]
    role = admin.get_role(RoleName="NotForYou")["Role"]
    assert role["AssumeRolePolicyDocument"] == trust_before and "PermissionsBoundary" not in role
    assert admin.list_role_policies(RoleName="NotForYou")["PolicyNames"] == []
    assert admin.list_role_tags(RoleName="NotForYou")["Tags"] == []
    assert [v["VersionId"] for v in admin.list_policy_versions(PolicyArn=arn)["Versions"]] == ["v1"]
    assert admin.list_policy_tags(PolicyArn=arn)["Tags"] == []
    assert admin.list_access_keys(UserName="plain")["AccessKeyMetadata"] == []
    assert signed_in(tessera, acct, "plain").get("/console").status == 200  # the password is unchanged


def root_sign_in(t, email, password=ROOT_PASSWORD):
    b = Browser(t.endpoint)
    r = b.post("/console/signin", {"csrf": b.csrf("/console/signin"), "kind": "root", "email": email,
                                   "password": password})
    return b, r


def test_root_user_mfa_console_sign_in(fresh_tessera):
    """MFA for the root user's console sign-in (IAM User Guide, "Enable a virtual MFA device for
    the root user (console)"): root assigns a virtual device on "My security credentials" (QR
    code, two consecutive codes); its sign-in then asks for a code after the password (a wrong
    one and a spent one refused); IAM's reads show the device as AWS's do (GetAccountSummary's
    AccountMFAEnabled, the credential report's <root_account> row, ListVirtualMFADevices' User
    with the root ARN, ListMFADevices and GetMFADevice by root without a user name); the forms
    need the CSRF token, another account's root cannot act on the device; removal needs a
    current code. On a server of its own: it changes the management account's root."""
    t = fresh_tessera
    accounts = Accounts(t)
    mgmt = accounts.mgmt
    iam = t.client("iam")
    set_root_password(t, mgmt)
    email = account_email(t, mgmt)
    # Start early in a 30-second step, so that the codes below stay in the accepted window.
    if time.time() % 30 > 20:
        time.sleep(31 - time.time() % 30)
    root, r = root_sign_in(t, email)
    assert r.status == 303 and r.headers["Location"] == "/console"
    page = root.get("/console/security-credentials").text
    token = form_of(page, "/console/security-credentials/mfa")
    assert 'id="root-mfa-devices"' in page
    # CSRF required: nothing is made.
    r = root.post("/console/security-credentials/mfa", {"step": "create", "device": "root-phone"})
    assert r.status == 403
    assert iam.list_virtual_mfa_devices()["VirtualMFADevices"] == []
    r = root.post("/console/security-credentials/mfa", {"csrf": token, "step": "create", "device": "root-phone"})
    assert r.status == 200 and 'src="data:image/png;base64,iVBOR' in r.text, r.text[-1500:]
    secret = re.search(r'id="mfa-secret">([A-Z2-7]+)<', r.text).group(1)
    serial = re.search(r'name="serial" value="([^"]+)"', r.text).group(1)
    assert serial == f"arn:aws:iam::{mgmt}:mfa/root-phone"
    totp = pyotp.TOTP(secret)
    step = int(time.time()) // 30 * 30
    enable = {"step": "enable", "serial": serial, "code1": totp.at(step - 60), "code2": totp.at(step - 30)}
    assert root.post("/console/security-credentials/mfa", enable).status == 403
    r = root.post("/console/security-credentials/mfa", {**enable, "csrf": token, "code2": totp.at(step - 90)})
    assert r.status == 403 and "InvalidAuthenticationCode" in r.text
    assert iam.get_account_summary()["SummaryMap"]["AccountMFAEnabled"] == 0
    r = root.post("/console/security-credentials/mfa", {**enable, "csrf": token})
    assert r.status == 303 and r.headers["Location"] == "/console/security-credentials", r.text[-1500:]
    assert serial in root.get("/console/security-credentials").text

    # IAM's reads, with the root user's credentials.
    assert iam.get_account_summary()["SummaryMap"]["AccountMFAEnabled"] == 1
    virtual = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    assert [(d["SerialNumber"], d["User"]["Arn"]) for d in virtual] == [(serial, f"arn:aws:iam::{mgmt}:root")]
    assert iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"] == []
    assert [d["SerialNumber"] for d in iam.list_mfa_devices()["MFADevices"]] == [serial]
    assert iam.get_mfa_device(SerialNumber=serial)["SerialNumber"] == serial
    iam.generate_credential_report()
    for _ in range(50):
        try:
            report = iam.get_credential_report()["Content"].decode()
            break
        except iam.exceptions.CredentialReportNotReadyException:
            time.sleep(0.1)
    header, root_row = report.splitlines()[:2]
    assert root_row.startswith("<root_account>,")
    assert dict(zip(header.split(","), root_row.split(",")))["mfa_active"] == "true"

    # Sign-in: the password, then the code.
    b, r = root_sign_in(t, email)
    assert r.status == 303 and r.headers["Location"] == "/console/mfa"
    assert b.get("/console").status == 303, "not signed in before the code"
    r = b.post("/console/mfa", {"csrf": b.csrf("/console/mfa"), "code": totp.at(step + 600)})
    assert r.status == 401 and "The MFA code is not valid" in r.text
    code = totp.at(step)
    r = b.post("/console/mfa", {"csrf": b.csrf("/console/mfa"), "code": code})
    assert r.status == 303 and r.headers["Location"] == "/console"
    home = b.get("/console")
    assert home.status == 200 and f"arn:aws:iam::{mgmt}:root" in home.text
    # The session's calls carry aws:MultiFactorAuthPresent: CloudTrail's mfaAuthenticated.
    assert b.get("/console/security-credentials").status == 200
    ct = t.client("cloudtrail")

    def console_events(name):
        events = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}])["Events"]
        return [json.loads(e["CloudTrailEvent"]) for e in events if "tessera-console" in e["CloudTrailEvent"]]

    mfa_flags = {e["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"]
                 for e in console_events("ListMFADevices")}
    assert mfa_flags == {"true", "false"}, mfa_flags
    enabled = console_events("EnableMFADevice")
    assert [e["userIdentity"]["type"] for e in enabled] == ["Root", "Root"]  # refused, then enabled
    assert all(enable["code2"] not in json.dumps(e) for e in enabled), "codes are not recorded"
    again, r = root_sign_in(t, email)
    assert r.headers["Location"] == "/console/mfa"
    r = again.post("/console/mfa", {"csrf": again.csrf("/console/mfa"), "code": code})
    assert r.status == 401 and "The MFA code is not valid" in r.text, "a spent code"
    assert again.get("/console").status == 303

    # Another account's root: its session cannot remove this device (nor spend its code).
    other = accounts.create("root-mfa-other")
    set_root_password(t, other)
    intruder, r = root_sign_in(t, account_email(t, other))
    assert r.status == 303 and r.headers["Location"] == "/console"
    itoken = token_of(intruder)
    r = intruder.post("/console/security-credentials/mfa/remove",
                      {"csrf": itoken, "serial": serial, "code": totp.at(step + 30)})
    assert r.status == 403 and "InvalidAuthenticationCode" in r.text
    r = intruder.post("/console/security-credentials/mfa", {**enable, "csrf": itoken})
    assert r.status == 404 and "NoSuchEntity" in r.text
    assert [d["SerialNumber"] for d in iam.list_mfa_devices()["MFADevices"]] == [serial]

    # Remove: the CSRF token and a current code required.
    token = token_of(b)
    remove = {"serial": serial, "code": totp.at(step + 30)}
    assert b.post("/console/security-credentials/mfa/remove", remove).status == 403
    r = b.post("/console/security-credentials/mfa/remove", {**remove, "csrf": token, "code": code})
    assert r.status == 403 and "InvalidAuthenticationCode" in r.text
    assert iam.get_account_summary()["SummaryMap"]["AccountMFAEnabled"] == 1
    r = b.post("/console/security-credentials/mfa/remove", {**remove, "csrf": token})
    assert r.status == 303, r.text[-1500:]
    assert iam.get_account_summary()["SummaryMap"]["AccountMFAEnabled"] == 0
    assert iam.list_virtual_mfa_devices()["VirtualMFADevices"] == []
    # Without a device, the password alone signs in again.
    _, r = root_sign_in(t, email)
    assert r.status == 303 and r.headers["Location"] == "/console"
