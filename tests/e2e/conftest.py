"""Fixtures for end-to-end tests: a real `tessera serve` started per shared/CONTRACT.md, driven
through the real AWS CLI (subprocess) and boto3.

Interface used by every test file:
- fixture `tessera` (one server for the whole session) and `fresh_tessera` (a new server and data
  dir per test) give a `Tessera` with `.endpoint`, `.data_dir`, `.root_env`, `.root_creds`,
  `.client(service, **creds)`, `.cli(*args, env=None)`, `.stop()`, `.kill()`, `.start()`.
- `CliError` carries `.code` (the AWS error code) and `.stderr`.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions
import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("TESSERA_BIN", REPO / "target" / "release" / "tessera"))
AWS = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
REGION = "us-east-1"


class CliError(Exception):
    """A failed `aws` command: `.code` is the AWS error code, `.stderr` the message."""

    def __init__(self, code, stderr, returncode):
        super().__init__(f"{code}: {stderr.strip()}")
        self.code = code
        self.stderr = stderr
        self.returncode = returncode


def clean_env():
    """The process environment without any AWS_* variable, so that nothing leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_PAGER"] = ""
    return env


def read_credentials_file(path):
    text = Path(path).read_text()
    key = re.search(r"aws_access_key_id\s*=\s*(\S+)", text).group(1)
    secret = re.search(r"aws_secret_access_key\s*=\s*(\S+)", text).group(1)
    return {"aws_access_key_id": key, "aws_secret_access_key": secret}


class Tessera:
    """A `tessera serve` process on a data dir of its own."""

    def __init__(self, data_dir, extra_args=(), env=None):
        self.data_dir = Path(data_dir)
        self.extra_args = list(extra_args)
        self.proc_env = env
        self.proc = None
        self.endpoint = None
        self.log = self.data_dir.parent / (self.data_dir.name + ".log")

    def start(self, timeout=20):
        if self.proc and self.proc.poll() is None:
            raise RuntimeError("this server is already running: stop it before starting it again")
        endpoint_file = self.data_dir / "endpoint"
        if endpoint_file.exists():
            endpoint_file.unlink()
        args = [str(BIN), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir), *self.extra_args]
        log = open(self.log, "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=self.proc_env)
        try:
            deadline = time.time() + timeout
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"tessera exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
                if endpoint_file.exists():
                    self.endpoint = endpoint_file.read_text().strip()
                    with urllib.request.urlopen(self.endpoint + "/_tessera/health", timeout=5) as r:
                        assert r.status == 200
                    self.root_creds = read_credentials_file(self.data_dir / "credentials")
                    return self
                time.sleep(0.02)
            raise RuntimeError("tessera did not write its endpoint file in time")
        except BaseException:
            self.kill()  # never leave a server behind that no test will stop
            raise

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()  # the test fails, but leaves no server behind
                raise
        return self.proc.returncode if self.proc else None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=20)

    @property
    def root_env(self):
        """Environment variables for the AWS CLI acting as the management account's root."""
        env = clean_env()
        env.update(
            AWS_SHARED_CREDENTIALS_FILE=str(self.data_dir / "credentials"),
            AWS_PROFILE="root",
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_DEFAULT_REGION=REGION,
        )
        return env

    def env_for(self, aws_access_key_id, aws_secret_access_key, aws_session_token=None):
        """Environment variables for the AWS CLI with the given credentials."""
        env = clean_env()
        env.update(
            AWS_ACCESS_KEY_ID=aws_access_key_id,
            AWS_SECRET_ACCESS_KEY=aws_secret_access_key,
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_DEFAULT_REGION=REGION,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        if aws_session_token:
            env["AWS_SESSION_TOKEN"] = aws_session_token
        return env

    def client(self, service, **creds):
        """A boto3 client; root credentials unless `aws_access_key_id` etc. are given."""
        creds = creds or self.root_creds
        return boto3.session.Session(region_name=REGION).client(
            service,
            endpoint_url=self.endpoint,
            config=botocore.config.Config(retries={"max_attempts": 1}),
            **creds,
        )

    def cli(self, *args, env=None, check=True):
        """Run `aws ARGS --output json` and return the parsed JSON (None for empty output).

        On failure raise `CliError` with the AWS error code, unless `check` is false, in which
        case the CompletedProcess is returned."""
        proc = subprocess.run(
            [AWS, *[str(a) for a in args], "--output", "json"],
            env=env or self.root_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if not check:
            return proc
        if proc.returncode != 0:
            m = re.search(r"An error occurred \(([^)]+)\)", proc.stderr)
            raise CliError(m.group(1) if m else None, proc.stderr, proc.returncode)
        return json.loads(proc.stdout) if proc.stdout.strip() else None


def _require_binary():
    if not BIN.exists():
        pytest.exit(f"{BIN} not found: build it with `cargo build --release` (scripts/test does)", 2)


@pytest.fixture(scope="session")
def tessera(tmp_path_factory):
    """One server for the whole test session."""
    _require_binary()
    t = Tessera(tmp_path_factory.mktemp("tessera") / "data").start()
    yield t
    t.stop()


@pytest.fixture(scope="module")
def module_tessera(tmp_path_factory):
    """A server of the test module's own, for tests that switch account- or organization-wide
    settings other tests would see."""
    _require_binary()
    t = Tessera(tmp_path_factory.mktemp("module") / "data").start()
    yield t
    t.stop()


def unvalidated_client(t, service, **creds):
    """A boto3 client (root credentials unless given) that skips botocore's own parameter
    checks, to see the server's."""
    return boto3.session.Session(region_name=REGION).client(
        service,
        endpoint_url=t.endpoint,
        config=botocore.config.Config(parameter_validation=False, retries={"max_attempts": 1}),
        **(creds or t.root_creds),
    )


def expect_error(fn, error_code, **kwargs):
    """Call a boto3 operation that must fail with `error_code`; return the ClientError."""
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(**kwargs)
    assert e.value.response["Error"]["Code"] == error_code, e.value.response
    return e.value


def policy_document(*statements):
    """A policy document (JSON text) of `statements`."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def fresh_tessera(tmp_path):
    """A new server on a new data dir, for tests that need a clean slate."""
    _require_binary()
    t = Tessera(tmp_path / "data").start()
    yield t
    t.stop()


@pytest.fixture
def tessera_factory(tmp_path):
    """Start servers on data dirs of the test's choosing: `tessera_factory(name, extra_args)`."""
    _require_binary()
    started = []

    def make(name="data", extra_args=(), env=None):
        t = Tessera(tmp_path / name, extra_args, env)
        started.append(t)
        return t

    yield make
    for t in started:
        t.kill()


def unique(prefix):
    """A name no other test uses (tests share the session server)."""
    return f"{prefix}{time.time_ns() % 10**12}"


ADMIN_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"


class Accounts:
    """Member accounts made through Organizations, as shared/CONTRACT.md describes, and
    credentials in them through their OrganizationAccountAccessRole."""

    def __init__(self, t):
        self.t = t
        self.mgmt = t.client("sts").get_caller_identity()["Account"]
        org = t.client("organizations")
        try:
            org.create_organization(FeatureSet="ALL")
        except org.exceptions.AlreadyInOrganizationException:
            pass
        iam = t.client("iam")
        name = unique("org-admin-")
        iam.create_user(UserName=name)
        iam.attach_user_policy(UserName=name, PolicyArn=ADMIN_POLICY_ARN)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        self.admin = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}

    def create(self, name):
        """A new member account; returns its id."""
        org = self.t.client("organizations")
        status = org.create_account(Email=f"{unique(name)}@example.com", AccountName=name)["CreateAccountStatus"]
        for _ in range(100):
            status = org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
            if status["State"] == "SUCCEEDED":
                return status["AccountId"]
            assert status["State"] == "IN_PROGRESS", status
            time.sleep(0.05)
        raise AssertionError("CreateAccount did not succeed")

    def admin_creds(self, account):
        """Temporary credentials of OrganizationAccountAccessRole in `account` (boto3 kwargs)."""
        sts = self.t.client("sts", **self.admin)
        c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                            RoleSessionName="test-admin")["Credentials"]
        return {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
                "aws_session_token": c["SessionToken"]}


@pytest.fixture(scope="session")
def accounts(tessera):
    """Organizations on the session server: `accounts.create(name)`, `accounts.admin_creds(id)`."""
    return Accounts(tessera)


def user_with_key(t, creds, name, policy_document=None, **create_args):
    """Create IAM user `name` with an inline policy and an access key; returns boto3 kwargs."""
    iam = t.client("iam", **creds)
    iam.create_user(UserName=name, **create_args)
    if policy_document:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=policy_document)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
