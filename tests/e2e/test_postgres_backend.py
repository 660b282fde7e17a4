"""The PostgreSQL backend (docs/STORAGE.md): `tessera serve --store-url postgres://...` keeps its
state in the database, survives restarts there, and lets several servers share one database.

The tests that need a server run when TESSERA_TEST_POSTGRES_URL names one (scripts/test sets it
when PostgreSQL answers); each uses a fresh schema of its own (`?schema=...`), dropped afterwards.
Without the variable they are skipped, and pytest says so."""

import concurrent.futures
import json
import os
import shutil
import subprocess
import time
import urllib.parse

import botocore.exceptions
import pytest

from conftest import BIN

PG_URL = os.environ.get("TESSERA_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    not PG_URL, reason="TESSERA_TEST_POSTGRES_URL is not set: no PostgreSQL server to test the postgres backend on"
)


def psql(url, sql):
    """Run `sql` with psql against `url` (without Tessera's own `schema` parameter)."""
    return subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-Atc", sql], capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def store_url():
    """A `--store-url` naming a fresh schema in the test database; the schema is dropped after."""
    schema = f"tessera_e2e_{os.getpid()}_{time.time_ns() % 10**12}"
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}schema={schema}"
    if shutil.which("psql"):
        psql(PG_URL, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def schema_of(url):
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["schema"][0]


def create_member_account(t, name, email):
    """CreateAccount through the AWS CLI, waiting for DescribeCreateAccountStatus to succeed."""
    status = t.cli("organizations", "create-account", "--email", email, "--account-name", name)["CreateAccountStatus"]
    deadline = time.time() + 30
    while status["State"] == "IN_PROGRESS" and time.time() < deadline:
        time.sleep(0.2)
        status = t.cli("organizations", "describe-create-account-status", "--create-account-request-id", status["Id"])[
            "CreateAccountStatus"
        ]
    assert status["State"] == "SUCCEEDED", status
    return status["AccountId"]


def create_account_boto3(org, name, email):
    """CreateAccount through boto3 (quicker than the CLI), waiting for it to succeed."""
    status = org.create_account(Email=email, AccountName=name)["CreateAccountStatus"]
    deadline = time.time() + 30
    while status["State"] == "IN_PROGRESS" and time.time() < deadline:
        time.sleep(0.1)
        status = org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
    assert status["State"] == "SUCCEEDED", status
    return status["AccountId"]


@needs_postgres
def test_state_lives_in_postgres_and_survives_restart(tessera_factory, store_url):
    t = tessera_factory("data", ["--store-url", store_url]).start()
    assert not (t.data_dir / "tessera.db").exists(), "the embedded SQLite file is not used"
    assert (t.data_dir / "master.key").exists() and (t.data_dir / "credentials").exists()
    org_id = t.cli("organizations", "create-organization", "--feature-set", "ALL")["Organization"]["Id"]
    account_id = create_member_account(t, "PgBackend", "pg-backend@example.com")
    org = t.client("organizations")
    root_id = org.list_roots()["Roots"][0]["Id"]
    ou = org.create_organizational_unit(ParentId=root_id, Name="Durable")["OrganizationalUnit"]
    org.move_account(AccountId=account_id, SourceParentId=root_id, DestinationParentId=ou["Id"])
    management = t.client("sts").get_caller_identity()["Account"]

    if shutil.which("psql"):
        rows = psql(PG_URL, f'SELECT count(*) FROM "{schema_of(store_url)}".tessera_kv')
        assert rows.returncode == 0, rows.stderr
        assert int(rows.stdout.strip()) > 0, "the state is in the database's schema"

    assert t.stop() == 0
    t.start()
    accounts = {a["Id"]: a for a in t.cli("organizations", "list-accounts")["Accounts"]}
    assert accounts[account_id]["Name"] == "PgBackend"
    assert accounts[account_id]["Email"] == "pg-backend@example.com"
    assert management in accounts
    org = t.client("organizations")
    assert t.client("sts").get_caller_identity()["Account"] == management, "the root key still works"
    assert org.describe_organization()["Organization"]["Id"] == org_id
    assert org.list_parents(ChildId=account_id)["Parents"] == [{"Id": ou["Id"], "Type": "ORGANIZATIONAL_UNIT"}]
    # And the restarted server keeps writing to the same place.
    again = create_account_boto3(org, "AfterRestart", "after-restart@example.com")
    assert {a["Id"] for a in org.list_accounts()["Accounts"]} == {management, account_id, again}
    # An acknowledged write survives SIGKILL too.
    t.kill()
    t.start()
    assert again in {a["Id"] for a in t.client("organizations").list_accounts()["Accounts"]}


@needs_postgres
def test_two_servers_share_one_database(tessera_factory, store_url):
    first = tessera_factory("one", ["--store-url", store_url]).start()
    # A second server: its own data dir with the first one's master.key and root credentials,
    # the store URL from the environment this time.
    second = tessera_factory("two", [], dict(os.environ, TESSERA_STORE_URL=store_url))
    second.data_dir.mkdir(mode=0o700)
    for name in ("master.key", "credentials"):
        shutil.copy2(first.data_dir / name, second.data_dir / name)
    second.start()
    assert not (second.data_dir / "tessera.db").exists()
    one, two = first.client("organizations"), second.client("organizations")

    assert second.client("sts").get_caller_identity()["Account"] == first.client("sts").get_caller_identity()["Account"]
    one.create_organization(FeatureSet="ALL")
    root_id = two.list_roots()["Roots"][0]["Id"]
    ou = one.create_organizational_unit(ParentId=root_id, Name="Shared")["OrganizationalUnit"]
    # Each change through one server shows through the other at once (no stale cache).
    assert two.describe_organizational_unit(OrganizationalUnitId=ou["Id"])["OrganizationalUnit"]["Name"] == "Shared"
    two.update_organizational_unit(OrganizationalUnitId=ou["Id"], Name="Renamed")
    assert one.describe_organizational_unit(OrganizationalUnitId=ou["Id"])["OrganizationalUnit"]["Name"] == "Renamed"
    one.delete_organizational_unit(OrganizationalUnitId=ou["Id"])
    with pytest.raises(two.exceptions.OrganizationalUnitNotFoundException):
        two.describe_organizational_unit(OrganizationalUnitId=ou["Id"])
    # Both write at once: every account lands, once.
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        jobs = [
            pool.submit(create_account_boto3, t.client("organizations"), f"Both{n}{i}", f"both-{n}-{i}@example.com")
            for i in range(3)
            for n, t in (("a", first), ("b", second))
        ]
        accounts = [j.result() for j in jobs]
    listed = [a["Id"] for p in two.get_paginator("list_accounts").paginate() for a in p["Accounts"]]
    assert len(set(accounts)) == 6 and set(accounts) <= set(listed) and len(listed) == len(set(listed)) == 7


@needs_postgres
def test_s3_on_postgres(tessera_factory, store_url):
    """S3 reads the store inside its async handlers: on PostgreSQL that panicked ("Cannot start a
    runtime from within a runtime") and every S3 call lost its connection."""
    t = tessera_factory("s3pg", ["--store-url", store_url]).start()
    s3 = t.client("s3")
    bucket = f"pg-s3-{time.time_ns() % 10**9}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"on postgres")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"on postgres"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": f"arn:aws:s3:::{bucket}/denied"}]}))
    s3.put_object(Bucket=bucket, Key="denied", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="denied")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_object(Bucket=bucket, Key="denied")
    s3.delete_bucket_policy(Bucket=bucket)
    s3.delete_bucket(Bucket=bucket)
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert "panicked" not in t.log.read_text()


@needs_postgres
def test_a_different_master_key_is_refused(tessera_factory, store_url):
    first = tessera_factory("one", ["--store-url", store_url]).start()
    first.stop()
    stranger = tessera_factory("stranger", ["--store-url", store_url])
    with pytest.raises(RuntimeError) as e:
        stranger.start()
    assert "master.key" in str(e.value)


def test_an_unreachable_or_foreign_store_url_fails_to_start(tmp_path):
    if not BIN.exists():
        pytest.skip(f"{BIN} not built")
    data = tmp_path / "data"
    bad = subprocess.run(
        [str(BIN), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data), "--store-url", "mysql://x@127.0.0.1/db"],
        capture_output=True, text=True, timeout=30,
    )
    assert bad.returncode == 2 and "expected a PostgreSQL URL" in bad.stderr, bad.stderr
    down = subprocess.run(
        [str(BIN), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data), "--store-url",
         "postgres://tessera:secret-pw@127.0.0.1:1/nothing?connect_timeout=3"],
        capture_output=True, text=True, timeout=60,
    )
    assert down.returncode != 0
    assert "opening the PostgreSQL store" in down.stderr, down.stderr
    assert "secret-pw" not in down.stderr, "the password is not logged"
    assert not (data / "endpoint").exists()
