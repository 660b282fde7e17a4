"""Several Tessera servers on one PostgreSQL database, as one service (issue 18, docs/CLUSTER.md):
keys, sessions, denies, S3 objects (bytes included) and console sign-ins made through one node
hold through every other; a node killed while it takes writes loses none it acknowledged; a
PostgreSQL restart under load costs failed requests while it is down, and nothing acknowledged.

Each test uses a database of its own (`CREATE DATABASE`, dropped afterwards) on the server
TESSERA_TEST_POSTGRES_URL names; without the variable they are skipped, and pytest says so. The
PostgreSQL restart test runs a private PostgreSQL server of its own (initdb into a temporary
directory, as the `postgres` user), so that other users of the machine's server are untouched."""

import concurrent.futures
import hashlib
import os
import pwd
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import botocore.exceptions
import pytest

from conftest import unique
from test_console import SANDY_PASSWORD, Browser

PG_URL = os.environ.get("TESSERA_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    not PG_URL, reason="TESSERA_TEST_POSTGRES_URL is not set: no PostgreSQL server to run a cluster on"
)
PG_BIN = Path("/usr/lib/postgresql/15/bin")
MIB = 1024 * 1024


def psql(url, sql):
    return subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-Atc", sql], capture_output=True, text=True,
                          timeout=60)


def with_database(url, name):
    """`url` naming database `name` instead of its own."""
    u = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name, u.query, u.fragment))


@pytest.fixture
def database():
    """The URL of a new, empty database on the test server; dropped after the test."""
    if not shutil.which("psql"):
        pytest.skip("psql is not installed: the cluster tests make a database of their own with it")
    name = f"tessera_cluster_{os.getpid()}_{time.time_ns() % 10**12}"
    made = psql(PG_URL, f'CREATE DATABASE "{name}"')
    assert made.returncode == 0, made.stderr
    yield with_database(PG_URL, name)
    gone = psql(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert gone.returncode == 0, gone.stderr


def start_cluster(tessera_factory, store_url, n=2):
    """`n` nodes on `store_url`: the first makes the store; the others get its master.key and
    credentials and data dirs of their own."""
    first = tessera_factory("node0", ["--store-url", store_url]).start()
    nodes = [first]
    for i in range(1, n):
        t = tessera_factory(f"node{i}", ["--store-url", store_url])
        t.data_dir.mkdir(mode=0o700)
        for name in ("master.key", "credentials"):
            shutil.copy2(first.data_dir / name, t.data_dir / name)
        nodes.append(t.start())
    return nodes


def body(n, seed):
    """`n` bytes no other call makes."""
    out = bytearray()
    block = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}/{block}".encode()).digest()
        block += 1
    return bytes(out[:n])


def wait_for_key(client, deadline=10):
    """New IAM keys take a moment to work on AWS; on Tessera at once, but allow the same."""
    end = time.time() + deadline
    while True:
        try:
            return client.get_caller_identity()
        except botocore.exceptions.ClientError:
            if time.time() > end:
                raise
            time.sleep(0.1)


@needs_postgres
def test_identities_sessions_and_denies_hold_on_every_node(tessera_factory, database):
    a, b, c = start_cluster(tessera_factory, database, 3)
    account = a.client("sts").get_caller_identity()["Account"]
    iam_a = a.client("iam")
    user = unique("cluster-user-")
    iam_a.create_user(UserName=user)
    key = iam_a.create_access_key(UserName=user)["AccessKey"]
    creds = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    # A key made on A signs on B and C.
    for node in (b, c):
        ident = wait_for_key(node.client("sts", **creds))
        assert ident["Arn"] == f"arn:aws:iam::{account}:user/{user}"

    # A role session from A works on B.
    role = unique("cluster-role-")
    trust = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},'
             '"Action":"sts:AssumeRole"}]}' % account)
    iam_a.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
    iam_a.put_role_policy(RoleName=role, PolicyName="list", PolicyDocument=(
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*"}]}'))
    # (A root user may not assume roles: the user does.)
    iam_a.put_user_policy(UserName=user, PolicyName="assume", PolicyDocument=(
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}'))
    session = a.client("sts", **creds).assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}",
                                                   RoleSessionName="across")["Credentials"]
    session_creds = {"aws_access_key_id": session["AccessKeyId"], "aws_secret_access_key": session["SecretAccessKey"],
                     "aws_session_token": session["SessionToken"]}
    assumed = b.client("sts", **session_creds).get_caller_identity()
    assert assumed["Arn"] == f"arn:aws:sts::{account}:assumed-role/{role}/across"
    assert b.client("iam", **session_creds).list_roles()["Roles"], "the role's policy allows it on B"

    # A deny written on A binds on B and C on the very next call.
    iam_a.put_user_policy(UserName=user, PolicyName="allow", PolicyDocument=(
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*"}]}'))
    iam_b, iam_c = b.client("iam", **creds), c.client("iam", **creds)
    for _ in range(3):  # warm every cache of B and C
        iam_b.list_roles()
        iam_c.list_roles()
    iam_a.put_user_policy(UserName=user, PolicyName="deny", PolicyDocument=(
        '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:ListRoles","Resource":"*"}]}'))
    for iam in (iam_b, iam_c):
        with pytest.raises(botocore.exceptions.ClientError) as denied:
            iam.list_roles()
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
    # And lifting it on C frees B at once.
    c.client("iam").delete_user_policy(UserName=user, PolicyName="deny")
    assert iam_b.list_roles()["Roles"]
    # A key deleted on B stops signing on A at once.
    b.client("iam").delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    with pytest.raises(botocore.exceptions.ClientError) as gone:
        a.client("sts", **creds).get_caller_identity()
    assert gone.value.response["Error"]["Code"] == "InvalidClientTokenId"


@needs_postgres
def test_objects_put_through_one_node_are_served_by_every_other(tessera_factory, database):
    a, b = start_cluster(tessera_factory, database)
    s3a, s3b = a.client("s3"), b.client("s3")
    bucket = unique("cluster-bucket-")
    s3a.create_bucket(Bucket=bucket)

    small = body(1000, "small")
    s3a.put_object(Bucket=bucket, Key="small", Body=small, ContentType="text/plain")
    got = s3b.get_object(Bucket=bucket, Key="small")
    assert got["Body"].read() == small and got["ContentType"] == "text/plain"
    assert s3b.get_object(Bucket=bucket, Key="small", Range="bytes=10-19")["Body"].read() == small[10:20]
    empty = s3a.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert s3b.get_object(Bucket=bucket, Key="empty")["Body"].read() == b""
    assert empty["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'

    # Multipart through A, 5 MiB + 5 MiB + 1.5 MiB (parts span 1 MiB chunks unevenly).
    parts_data = [body(5 * MIB, "p1"), body(5 * MIB + 17, "p2"), body(MIB + MIB // 2, "p3")]
    up = s3a.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    parts = []
    for n, data in enumerate(parts_data, 1):
        etag = s3a.upload_part(Bucket=bucket, Key="big", UploadId=up, PartNumber=n, Body=data)["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
    # A part listed through B: the upload is cluster-wide too.
    assert [p["PartNumber"] for p in s3b.list_parts(Bucket=bucket, Key="big", UploadId=up)["Parts"]] == [1, 2, 3]
    s3b.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=up, MultipartUpload={"Parts": parts})
    whole = b"".join(parts_data)
    assert hashlib.sha256(s3b.get_object(Bucket=bucket, Key="big")["Body"].read()).digest() == \
        hashlib.sha256(whole).digest()
    for first, last in [(0, 0), (MIB - 5, MIB + 5), (5 * MIB - 3, 5 * MIB + 3), (len(whole) - 100, len(whole) - 1),
                        (3 * MIB, 9 * MIB)]:
        r = s3b.get_object(Bucket=bucket, Key="big", Range=f"bytes={first}-{last}")
        assert r["Body"].read() == whole[first:last + 1], (first, last)
        assert r["ContentRange"] == f"bytes {first}-{last}/{len(whole)}"
    # CopyObject on B of an object A wrote.
    s3b.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "big"})
    assert s3a.get_object(Bucket=bucket, Key="copy", Range="bytes=6000000-6000099")["Body"].read() == \
        whole[6000000:6000100]

    # The bytes are in the database, not on either node's disk.
    rows = psql(database, "SELECT count(*), coalesce(sum(length(data)), 0) FROM tessera_blob_chunks")
    assert rows.returncode == 0, rows.stderr
    count, total = map(int, rows.stdout.strip().split("|"))
    assert total == 2 * len(whole) + len(small), (count, total)
    for node in (a, b):
        assert not any(p.is_file() for p in (node.data_dir / "s3" / "data").rglob("*")), "no blob file on disk"

    # Overwrite and delete through B are seen through A, and free the old bytes.
    s3b.put_object(Bucket=bucket, Key="big", Body=b"now small")
    assert s3a.get_object(Bucket=bucket, Key="big")["Body"].read() == b"now small"
    s3b.delete_object(Bucket=bucket, Key="small")
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        s3a.get_object(Bucket=bucket, Key="small")
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"
    rows = psql(database, "SELECT coalesce(sum(length(data)), 0) FROM tessera_blob_chunks")
    assert int(rows.stdout.strip()) == len(whole) + len(b"now small"), "only the copy and the new object remain"

    # An aborted upload leaves no bytes.
    up = s3a.create_multipart_upload(Bucket=bucket, Key="aborted")["UploadId"]
    s3a.upload_part(Bucket=bucket, Key="aborted", UploadId=up, PartNumber=1, Body=body(MIB, "ab"))
    s3b.abort_multipart_upload(Bucket=bucket, Key="aborted", UploadId=up)
    rows = psql(database, "SELECT coalesce(sum(length(data)), 0) FROM tessera_blob_chunks")
    assert int(rows.stdout.strip()) == len(whole) + len(b"now small")


@needs_postgres
def test_blob_files_of_an_earlier_version_move_into_the_database(tessera_factory, database):
    """A server on PostgreSQL that kept object bytes on its disk (before they moved into the
    database) finds them moved in at its next start, readable through every node."""
    a, b = start_cluster(tessera_factory, database)
    bucket = unique("cluster-upgrade-")
    a.client("s3").create_bucket(Bucket=bucket)
    data = body(2 * MIB + 5, "upgrade")
    a.client("s3").put_object(Bucket=bucket, Key="old", Body=data)
    assert a.client("s3").get_object(Bucket=bucket, Key="old")["Body"].read() == data
    assert a.stop() == 0, "a clean stop, its blob connections closed"
    # Make it look like an earlier version's: the bytes in a file of A's data dir, not in the database.
    blob = psql(database, "SELECT DISTINCT blob FROM tessera_blob_chunks").stdout.split()
    assert len(blob) == 1, blob
    blob = blob[0]
    chunks = psql(database, f"SELECT encode(data, 'hex') FROM tessera_blob_chunks WHERE blob = '{blob}' ORDER BY n")
    path = a.data_dir / "s3" / "data" / blob[:2] / blob
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(bytes.fromhex(line) for line in chunks.stdout.split()))
    assert psql(database, "DELETE FROM tessera_blob_chunks").returncode == 0
    with pytest.raises(botocore.exceptions.ClientError):
        b.client("s3").get_object(Bucket=bucket, Key="old")
    a.start()
    assert not path.exists(), "the file moved into the database"
    assert b.client("s3").get_object(Bucket=bucket, Key="old")["Body"].read() == data
    assert b.client("s3").get_object(Bucket=bucket, Key="old", Range=f"bytes={MIB}-{MIB + 9}")["Body"].read() == \
        data[MIB:MIB + 10]


@needs_postgres
def test_a_console_sign_in_holds_on_every_node(tessera_factory, database):
    a, b = start_cluster(tessera_factory, database)
    account = a.client("sts").get_caller_identity()["Account"]
    iam = a.client("iam")
    for name in ("walker", "locked"):
        iam.create_user(UserName=name)
        iam.create_login_profile(UserName=name, Password=SANDY_PASSWORD, PasswordResetRequired=False)
        iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")

    on_a = Browser(a.endpoint)
    assert on_a.sign_in(account, "walker", SANDY_PASSWORD).status == 303
    on_b = Browser(b.endpoint)
    on_b.cookies = dict(on_a.cookies)
    page = on_b.get("/console/iam/users")
    assert page.status == 200 and "walker" in page.text, (page.status, page.text[:300])
    # Signing out through B ends the session on A too.
    token = on_b.csrf("/console")
    assert on_b.post("/console/signout", {"csrf": token}).status == 303
    assert on_a.get("/console/iam/users").status == 303, "signed out everywhere"

    # Failed sign-ins count across nodes: 3 through A and 2 through B lock the user on both.
    for node in (a, a, a, b, b):
        assert Browser(node.endpoint).sign_in(account, "locked", "Wrong-password-1!").status == 401
    for node in (a, b):
        r = Browser(node.endpoint).sign_in(account, "locked", SANDY_PASSWORD)
        assert r.status == 429 and "locked" in r.text


def write_load(node, bucket, prefix, acked, stop):
    """IAM creates and S3 puts through `node` until it fails; `acked` gets each one answered."""
    iam, s3 = node.client("iam"), node.client("s3")
    i = 0
    while not stop.is_set():
        try:
            if i % 2 == 0:
                name = f"{prefix}-{i}"
                iam.create_user(UserName=name, Tags=[{"Key": "n", "Value": str(i)}])
                acked.append(("user", name, None))
            else:
                data = body(100_000 + i, f"{prefix}/{i}")
                s3.put_object(Bucket=bucket, Key=f"{prefix}/{i}", Body=data)
                acked.append(("object", f"{prefix}/{i}", hashlib.sha256(data).hexdigest()))
        except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError,
                botocore.exceptions.ReadTimeoutError):
            return
        except botocore.exceptions.ClientError as e:
            if e.response["Error"]["Code"] in ("NotImplemented", "AccessDenied"):
                raise
            return
        i += 1


def check_acked(node, bucket, acked):
    iam, s3 = node.client("iam"), node.client("s3")
    for kind, name, digest in acked:
        if kind == "user":
            tags = iam.list_user_tags(UserName=name)["Tags"]
            assert tags and tags[0]["Key"] == "n", name
        else:
            data = s3.get_object(Bucket=bucket, Key=name)["Body"].read()
            assert hashlib.sha256(data).hexdigest() == digest, name


@needs_postgres
def test_kill_9_of_a_node_loses_no_acknowledged_write(tessera_factory, database):
    a, b = start_cluster(tessera_factory, database)
    bucket = unique("cluster-kill-")
    a.client("s3").create_bucket(Bucket=bucket)
    rng = random.Random(18)
    acked = []
    for cycle in range(3):
        stop = threading.Event()
        mine = []
        writer = threading.Thread(target=write_load, args=(a, bucket, f"k{cycle}", mine, stop))
        writer.start()
        time.sleep(rng.uniform(1.0, 2.5))
        a.kill()
        writer.join(timeout=60)
        stop.set()
        assert not writer.is_alive()
        assert len(mine) >= 2, f"the load made progress before the kill (cycle {cycle})"
        acked += mine
        # Everything acknowledged by the dead node is served by the other.
        check_acked(b, bucket, acked)
        a.start()
    # No partial object bytes stayed behind: every chunk belongs to an object.
    rows = psql(database, "SELECT count(DISTINCT blob) FROM tessera_blob_chunks")
    objects = sum(1 for k, _, _ in acked if k == "object")
    listed = sum(1 for p in b.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket)
                 for _ in p.get("Contents", []))
    assert listed >= objects
    # A put answered or not, its rows committed or rolled back as one; a blob no record names can
    # stay only if the node died between the blob's commit and the record's (at most one per kill).
    assert listed <= int(rows.stdout.strip()) <= listed + 3, rows.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivatePostgres:
    """A PostgreSQL server of the test's own (initdb as the `postgres` user), to restart at will."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="tessera-pg-"))
        self.port = free_port()
        pw = pwd.getpwnam("postgres")
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.data = self.dir / "data"
        self.run(PG_BIN / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.dir}'\n"
                       "fsync = on\nmax_connections = 200\n")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, *args):
        proc = subprocess.run(["runuser", "-u", "postgres", "--", *map(str, args)], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    def start(self):
        self.run(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.dir / "log", "-w", "start")

    def stop(self):
        self.run(PG_BIN / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def close(self):
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m",
                        "immediate", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_postgres():
    if os.geteuid() != 0 or not (PG_BIN / "initdb").exists() or not shutil.which("runuser"):
        pytest.skip("a private PostgreSQL server needs root (runuser -u postgres) and "
                    f"{PG_BIN}/initdb: the restart test does not restart the machine's shared server")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user to run a private PostgreSQL server as")
    pg = PrivatePostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.close()


def test_postgres_restart_under_load_loses_nothing_and_recovers(tessera_factory, private_postgres):
    pg = private_postgres
    a, b = start_cluster(tessera_factory, pg.url)
    bucket = unique("cluster-pgrestart-")
    a.client("s3").create_bucket(Bucket=bucket)

    acked, failed = [], []
    stop = threading.Event()

    def load(node, prefix):
        """Writes that keep going through failures (each failure counted)."""
        iam, s3 = node.client("iam"), node.client("s3")
        i = 0
        while not stop.is_set():
            try:
                if i % 2 == 0:
                    iam.create_user(UserName=f"{prefix}-{i}", Tags=[{"Key": "n", "Value": str(i)}])
                    acked.append(("user", f"{prefix}-{i}", None))
                else:
                    data = body(50_000, f"{prefix}/{i}")
                    s3.put_object(Bucket=bucket, Key=f"{prefix}/{i}", Body=data)
                    acked.append(("object", f"{prefix}/{i}", hashlib.sha256(data).hexdigest()))
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
                failed.append(str(e)[:200])
                time.sleep(0.05)
            i += 1

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(load, node, f"r{n}") for n, node in enumerate((a, b))]
        time.sleep(1.5)
        before = len(acked)
        pg.stop()
        time.sleep(2)
        down_failures = len(failed)
        pg.start()
        # Both nodes come back by themselves.
        deadline = time.time() + 30
        while time.time() < deadline and len(acked) < before + 10:
            time.sleep(0.2)
        stop.set()
        for j in jobs:
            j.result(timeout=60)
    assert before >= 2, "the load made progress before the restart"
    assert down_failures > 0, "requests fail while PostgreSQL is down"
    assert len(acked) >= before + 10, f"writes resumed after the restart ({len(acked) - before} since)"
    for node in (a, b):
        assert node.client("sts").get_caller_identity()["Account"]
        check_acked(node, bucket, acked)


@needs_postgres
def test_an_mfa_code_is_spent_on_every_node(tessera_factory, database):
    """A TOTP code accepted by one node is refused by the other (the device's last used step is
    in the shared store), as one AWS endpoint refuses a code used twice."""
    import pyotp
    a, b = start_cluster(tessera_factory, database, 2)
    iam = a.client("iam")
    user = unique("mfa-user-")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    creds = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=user)["VirtualMFADevice"]
    seed = device["Base32StringSeed"]
    totp = pyotp.TOTP(seed.decode() if isinstance(seed, bytes) else seed)
    now = time.time()
    iam.enable_mfa_device(UserName=user, SerialNumber=device["SerialNumber"],
                          AuthenticationCode1=totp.at(now - 30), AuthenticationCode2=totp.at(now))
    # The codes that enabled it are spent; wait for the next step's code.
    time.sleep(30 - time.time() % 30 + 0.5)
    code = totp.now()
    sts_a, sts_b = a.client("sts", **creds), b.client("sts", **creds)
    wait_for_key(sts_a)
    assert sts_a.get_session_token(SerialNumber=device["SerialNumber"], TokenCode=code)["Credentials"]
    with pytest.raises(botocore.exceptions.ClientError) as replay:
        sts_b.get_session_token(SerialNumber=device["SerialNumber"], TokenCode=code)
    assert replay.value.response["Error"]["Code"] == "AccessDenied"
    assert "MultiFactorAuthentication failed" in replay.value.response["Error"]["Message"]
