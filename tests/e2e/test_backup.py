"""`tessera backup` and `tessera restore` (issue 19): a backup taken while a writer makes users,
access keys, policies, roles, groups, buckets and objects restores into a data dir whose server
holds everything acknowledged before the backup started (access keys still sign), nothing that
was never written, every listed object readable with bytes that were written for it, and every
audit event LookupEvents showed before the backup. Also: master.key only with
--include-master-key (and `serve` refuses a store without its key), a non-empty target and a
damaged archive restore nothing."""

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import threading
import time

import pytest

from conftest import BIN

TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
})


def policy_doc(i):
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::bucket-{i}/*"}],
    })


def run(*args, check=True):
    proc = subprocess.run([str(BIN), *[str(a) for a in args]], capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"tessera {args[0]} exited {proc.returncode}: {proc.stderr}")
    return proc


class Writer:
    """Makes state continuously; records what was acknowledged, in order, with the time."""

    def __init__(self, t):
        self.t = t
        self.stop = threading.Event()
        self.acked = []  # (monotonic time, kind, details)
        self.attempted_users = set()
        self.versions = {}  # (bucket, key) -> set of sha256 of every body ever sent
        self.error = None
        self.threads = [threading.Thread(target=self.loop, daemon=True), threading.Thread(target=self.churn, daemon=True)]

    def ack(self, kind, **details):
        self.acked.append((time.monotonic(), kind, details))

    def put(self, s3, bucket, key, body):
        self.versions.setdefault((bucket, key), set()).add(hashlib.sha256(body).hexdigest())
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        self.ack("object", bucket=bucket, key=key, sha=hashlib.sha256(body).hexdigest())

    def loop(self):
        iam, s3 = self.t.client("iam"), self.t.client("s3")
        bucket = None
        i = 0
        try:
            while not self.stop.is_set():
                if i % 10 == 0:
                    bucket = f"bk-{i}"
                    s3.create_bucket(Bucket=bucket)
                    self.ack("bucket", name=bucket)
                user = f"user-{i}"
                self.attempted_users.add(user)
                iam.create_user(UserName=user)
                self.ack("user", name=user)
                key = iam.create_access_key(UserName=user)["AccessKey"]
                self.ack("key", user=user, id=key["AccessKeyId"], secret=key["SecretAccessKey"])
                arn = iam.create_policy(PolicyName=f"pol-{i}", PolicyDocument=policy_doc(i))["Policy"]["Arn"]
                self.ack("policy", arn=arn, doc=policy_doc(i))
                iam.attach_user_policy(UserName=user, PolicyArn=arn)
                self.ack("attach", user=user, arn=arn)
                iam.create_role(RoleName=f"role-{i}", AssumeRolePolicyDocument=TRUST)
                self.ack("role", name=f"role-{i}")
                if i % 3 == 0:
                    iam.create_group(GroupName=f"grp-{i}")
                    iam.add_user_to_group(GroupName=f"grp-{i}", UserName=user)
                    self.ack("group", name=f"grp-{i}", member=user)
                self.put(s3, bucket, f"obj-{i}", f"object {i} ".encode() * (1 + i % 50))
                i += 1
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e

    def churn(self):
        """Overwrite and delete objects without pause, so that blobs are removed while the backup
        copies them."""
        s3 = self.t.client("s3")
        i = 0
        try:
            while not self.stop.is_set():
                self.put(s3, "churn", f"c-{i % 7}", f"version {i}".encode() * 100)
                if i % 4 == 0:
                    s3.delete_object(Bucket="churn", Key=f"c-{(i + 3) % 7}")
                i += 1
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e


def all_event_ids(t):
    ids = set()
    for page in t.client("cloudtrail").get_paginator("lookup_events").paginate():
        ids.update(e["EventId"] for e in page["Events"])
    return ids


def test_backup_under_load_and_restore(tmp_path, tessera_factory):
    t = tessera_factory("data").start()
    s3 = t.client("s3")
    s3.create_bucket(Bucket="churn")
    # Ballast, so that copying the blobs takes a while (the churn removes blobs meanwhile).
    s3.create_bucket(Bucket="ballast")
    ballast = {f"b-{i}": os.urandom(1 << 20) for i in range(40)}
    for k, body in ballast.items():
        s3.put_object(Bucket="ballast", Key=k, Body=body)
    org = t.client("organizations")
    org.create_organization(FeatureSet="ALL")
    for n in range(2):
        status = org.create_account(Email=f"member{n}@example.com", AccountName=f"member{n}")["CreateAccountStatus"]
        while status["State"] == "IN_PROGRESS":
            time.sleep(0.05)
            status = org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
        assert status["State"] == "SUCCEEDED", status
    accounts = sorted((a["Id"], a["Name"], a["Email"]) for a in org.list_accounts()["Accounts"])
    assert len(accounts) == 3
    w = Writer(t)
    for k, body in ballast.items():
        w.versions[("ballast", k)] = {hashlib.sha256(body).hexdigest()}
    for thread in w.threads:
        thread.start()
    time.sleep(3)
    events_before = all_event_ids(t)
    backup_started = time.monotonic()
    archive = tmp_path / "backup.tar.gz"
    proc = run("backup", "--data-dir", t.data_dir, "--out", archive)
    time.sleep(1)
    w.stop.set()
    for thread in w.threads:
        thread.join(timeout=60)
    assert w.error is None, f"the writer failed: {w.error!r}"
    summary = json.loads(proc.stdout)
    assert "tessera backup:" in proc.stderr
    acked_before = [(kind, d) for (at, kind, d) in w.acked if at < backup_started]
    acked_after = [a for a in w.acked if a[0] >= backup_started]
    assert len(acked_before) > 50 and acked_after, "the load ran before and during the backup"
    assert summary["files"] > 10 and summary["bytes"] > 0 and summary["events"] >= len(events_before)
    assert summary["master_key_included"] is False

    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "manifest.json" in names and "tessera.db" in names and "audit.db" in names
    assert "master.key" not in names and "endpoint" not in names
    assert (archive.stat().st_mode & 0o777) == 0o600

    new = tmp_path / "restored"
    proc = run("restore", "--from", archive, "--data-dir", new)
    assert "master.key" in proc.stderr and "Copy the master.key" in proc.stderr
    assert json.loads(proc.stdout)["files"] == summary["files"]
    assert (new.stat().st_mode & 0o777) == 0o700
    assert not (new / "master.key").exists()
    # Without its key the server refuses to start rather than make a new one.
    serve = subprocess.run([str(BIN), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(new)],
                           capture_output=True, text=True, timeout=60)
    assert serve.returncode != 0 and "master.key" in serve.stderr and "copy" in serve.stderr, serve.stderr
    assert not (new / "master.key").exists()
    shutil.copy(t.data_dir / "master.key", new / "master.key")
    (new / "master.key").chmod(0o600)

    original_users = {u["UserName"] for u in t.client("iam").list_users()["Users"]}
    t.stop()
    r = tessera_factory("restored").start()
    iam, s3 = r.client("iam"), r.client("s3")

    restored_accounts = r.client("organizations").list_accounts()["Accounts"]
    assert sorted((a["Id"], a["Name"], a["Email"]) for a in restored_accounts) == accounts
    users = {u["UserName"] for p in iam.get_paginator("list_users").paginate() for u in p["Users"]}
    assert users <= original_users | w.attempted_users, "nothing that was never written"
    for kind, d in acked_before:
        if kind == "user":
            assert d["name"] in users, d
        elif kind == "key":
            sts = r.client("sts", aws_access_key_id=d["id"], aws_secret_access_key=d["secret"])
            assert sts.get_caller_identity()["Arn"].endswith(f":user/{d['user']}"), d
        elif kind == "policy":
            p = iam.get_policy(PolicyArn=d["arn"])["Policy"]
            v = iam.get_policy_version(PolicyArn=d["arn"], VersionId=p["DefaultVersionId"])["PolicyVersion"]
            doc = v["Document"]
            assert (json.loads(doc) if isinstance(doc, str) else doc) == json.loads(d["doc"])
        elif kind == "attach":
            attached = iam.list_attached_user_policies(UserName=d["user"])["AttachedPolicies"]
            assert [a["PolicyArn"] for a in attached] == [d["arn"]]
        elif kind == "role":
            assert iam.get_role(RoleName=d["name"])["Role"]["RoleName"] == d["name"]
        elif kind == "group":
            members = [u["UserName"] for u in iam.get_group(GroupName=d["name"])["Users"]]
            assert members == [d["member"]]
        elif kind == "bucket":
            s3.head_bucket(Bucket=d["name"])
        elif kind == "object" and d["bucket"] != "churn":
            body = s3.get_object(Bucket=d["bucket"], Key=d["key"])["Body"].read()
            assert hashlib.sha256(body).hexdigest() == d["sha"], d

    # Every object the restored server lists is whole, with bytes that were written for its key
    # (the churn bucket's blobs were overwritten and deleted while the backup ran).
    listed = 0
    for b in s3.list_buckets()["Buckets"]:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=b["Name"]):
            for o in page.get("Contents", []):
                body = s3.get_object(Bucket=b["Name"], Key=o["Key"])["Body"].read()
                assert hashlib.sha256(body).hexdigest() in w.versions[(b["Name"], o["Key"])], o["Key"]
                listed += 1
    objects_before = sum(1 for kind, d in acked_before if kind == "object" and d["bucket"] != "churn")
    assert listed >= objects_before + len(ballast) + 1 >= 46, (listed, objects_before)

    missing = events_before - all_event_ids(r)
    assert not missing, f"{len(missing)} audit events lost, e.g. {sorted(missing)[:3]}"
    # The restored server writes new events after the restored ones.
    iam.create_user(UserName="after-restore")
    assert iam.get_user(UserName="after-restore")["User"]["UserName"] == "after-restore"


def test_master_key_only_when_asked_and_damaged_or_misplaced_restores_write_nothing(tmp_path, tessera_factory):
    t = tessera_factory("data").start()
    iam = t.client("iam")
    iam.create_user(UserName="alice")
    key = iam.create_access_key(UserName="alice")["AccessKey"]
    s3 = t.client("s3")
    s3.create_bucket(Bucket="bkt-one")
    s3.put_object(Bucket="bkt-one", Key="k", Body=b"hello backup" * 1000)

    keyed = tmp_path / "keyed.tar.gz"
    summary = json.loads(run("backup", "--data-dir", t.data_dir, "--out", keyed, "--include-master-key").stdout)
    assert summary["master_key_included"] is True
    with tarfile.open(keyed) as tar:
        assert tar.extractfile("master.key").read() == (t.data_dir / "master.key").read_bytes()
    again = run("backup", "--data-dir", t.data_dir, "--out", keyed, check=False)
    assert again.returncode != 0 and "exists" in again.stderr

    # A plain tar with one byte of the object changed: restore names the file and writes nothing.
    plain = tmp_path / "plain.tar"
    run("backup", "--data-dir", t.data_dir, "--out", plain, "--no-compress")
    data = bytearray(plain.read_bytes())
    at = data.find(b"hello backup")
    assert at > 0
    data[at] ^= 0x01
    bad = tmp_path / "bad.tar"
    bad.write_bytes(bytes(data))
    target = tmp_path / "from-bad"
    proc = run("restore", "--from", bad, "--data-dir", target, check=False)
    assert proc.returncode != 0 and "nothing was restored" in proc.stderr and "s3/data/" in proc.stderr, proc.stderr
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir() if "restore-" in p.name] == []
    # A truncated gzip archive likewise.
    short = tmp_path / "short.tar.gz"
    short.write_bytes(keyed.read_bytes()[: keyed.stat().st_size // 2])
    proc = run("restore", "--from", short, "--data-dir", target, check=False)
    assert proc.returncode != 0 and "nothing was restored" in proc.stderr, proc.stderr
    assert not target.exists()

    # A non-empty target is refused and left as it was.
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep").write_text("mine")
    proc = run("restore", "--from", keyed, "--data-dir", used, check=False)
    assert proc.returncode != 0 and "not empty" in proc.stderr
    assert [p.name for p in used.iterdir()] == ["keep"]

    # With the key in the archive, the restored dir starts as it is; the key still signs.
    t.stop()
    proc = run("restore", "--from", keyed, "--data-dir", tmp_path / "restored")
    assert "Copy the master.key" not in proc.stderr
    r = tessera_factory("restored").start()
    sts = r.client("sts", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    assert sts.get_caller_identity()["Arn"].endswith(":user/alice")
    assert r.client("s3").get_object(Bucket="bkt-one", Key="k")["Body"].read() == b"hello backup" * 1000
    assert gzip.open(keyed).read(2)  # the default archive is gzip


def test_backup_help_teaches():
    out = " ".join(run("backup", "--help").stdout.split())
    for needle in ("--data-dir", "--out", "--include-master-key", "VACUUM INTO", "pg_dump", "restore"):
        assert needle in out, needle
    proc = run("backup", "--data-dir", "/nonexistent-tessera-dir", "--out", "/tmp/x.tar.gz", check=False)
    assert proc.returncode != 0 and "is not a directory" in proc.stderr


PG_URL = os.environ.get("TESSERA_TEST_POSTGRES_URL")


@pytest.mark.skipif(not PG_URL or not shutil.which("pg_dump"), reason="no PostgreSQL (TESSERA_TEST_POSTGRES_URL) or pg_dump")
def test_postgresql_backup_is_the_data_dir_files_plus_pg_dump(tmp_path, tessera_factory):
    schema = f"tessera_backup_{os.getpid()}_{time.time_ns() % 10**12}"
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}"
    try:
        t = tessera_factory("data", ["--store-url", url]).start()
        iam = t.client("iam")
        iam.create_user(UserName="pg-user")
        key = iam.create_access_key(UserName="pg-user")["AccessKey"]
        # As docs/OPERATIONS.md says: pg_dump first, then the data dir's files.
        dump = tmp_path / "db.pgdump"
        subprocess.run(["pg_dump", "--format=custom", f"--schema={schema}", f"--file={dump}", PG_URL],
                       check=True, capture_output=True, timeout=120)
        archive = tmp_path / "files.tar.gz"
        proc = subprocess.run([str(BIN), "backup", "--data-dir", str(t.data_dir), "--out", str(archive),
                               "--store-url", url], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "PostgreSQL" in proc.stderr and "pg_dump" in proc.stderr
        assert json.loads(proc.stdout)["store"] == "postgresql"
        with tarfile.open(archive) as tar:
            names = tar.getnames()
        # The audit trail is in PostgreSQL (pg_dump); the archive has the node's id and journal.
        assert "tessera.db" not in names and "audit.db" not in names and "credentials" in names
        assert "node-id" in names and any(n.startswith("audit.journal/") for n in names), names
        t.stop()
        subprocess.run(["psql", PG_URL, "-v", "ON_ERROR_STOP=1", "-c", f'DROP SCHEMA "{schema}" CASCADE'],
                       check=True, capture_output=True, timeout=60)
        subprocess.run(["pg_restore", f"--dbname={PG_URL}", str(dump)], check=True, capture_output=True, timeout=120)
        new = tmp_path / "restored"
        proc = run("restore", "--from", archive, "--data-dir", new)
        assert "pg_dump" in proc.stderr
        shutil.copy(t.data_dir / "master.key", new / "master.key")
        r = tessera_factory("restored", ["--store-url", url]).start()
        sts = r.client("sts", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
        assert sts.get_caller_identity()["Arn"].endswith(":user/pg-user")
        assert r.client("iam").get_user(UserName="pg-user")["User"]["UserName"] == "pg-user"
        # The audit trail came back once: from the dump, and the restored journal adds no copy.
        events = r.client("cloudtrail").lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateUser"}])["Events"]
        assert [e["Resources"][0]["ResourceName"] for e in events if e.get("Resources")] == ["pg-user"], events
    finally:
        subprocess.run(["psql", PG_URL, "-c", f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'], capture_output=True, timeout=60)
