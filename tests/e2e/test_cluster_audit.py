"""The audit trail of several Tessera servers on one PostgreSQL database (issue 18; docs/AUDIT.md,
"Several nodes on PostgreSQL"): an event recorded through one node is found by LookupEvents on
every other at once, a trail delivered while two nodes take traffic verifies, and the events a
node acknowledged before `kill -9` reach the cluster's trail exactly once, by its restart or by
`tessera audit import`.

The tests run when TESSERA_TEST_POSTGRES_URL names a database; each uses a fresh schema of its
own (`?schema=...`), dropped afterwards. Without the variable they are skipped."""

import gzip
import json
import shutil
import subprocess
import threading
import time

import pytest

from conftest import BIN, unique
from test_postgres_backend import PG_URL, store_url  # noqa: F401 (the fixture: a fresh schema per test)

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="TESSERA_TEST_POSTGRES_URL is not set: no PostgreSQL server for a cluster"
)

FAST = ["--audit-delivery-seconds", "1", "--audit-digest-seconds", "2"]


def cluster(tessera_factory, store_url, n, extra=()):
    """`n` servers on one database: each with its own data dir and the first one's master.key
    and root credentials."""
    first = tessera_factory("node0", ["--store-url", store_url, *extra]).start()
    nodes = [first]
    for i in range(1, n):
        t = tessera_factory(f"node{i}", ["--store-url", store_url, *extra])
        t.data_dir.mkdir(mode=0o700)
        for name in ("master.key", "credentials"):
            shutil.copy2(first.data_dir / name, t.data_dir / name)
        nodes.append(t.start())
    return nodes


def lookup_all(t, **kwargs):
    """Every event LookupEvents returns through node `t` (boto3, paging through)."""
    ct = t.client("cloudtrail")
    out = []
    for page in ct.get_paginator("lookup_events").paginate(**kwargs):
        out.extend(page["Events"])
    return out


def created_users(t):
    """userName of every CreateUser event, as LookupEvents through `t` returns them."""
    events = lookup_all(t, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateUser"}])
    return [json.loads(e["CloudTrailEvent"])["requestParameters"]["userName"] for e in events]


def tessera_cmd(*args):
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=120)


def test_an_iam_call_through_one_node_is_found_on_every_other_at_once(tessera_factory, store_url):
    a, b, c = cluster(tessera_factory, store_url, 3)
    ids = {(t.data_dir / "node-id").read_text().strip() for t in (a, b, c)}
    assert len(ids) == 3, "each data dir has a node id of its own"
    assert not (a.data_dir / "audit.db").exists(), "events are not indexed into a local audit.db"
    assert f"node_id={(a.data_dir / 'node-id').read_text().strip()}" in a.log.read_text(), "printed at start"

    user = unique("clusteraudit")
    iam = a.client("iam")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    # At once, with no sleep: B's lookup sees what A acknowledged before it.
    found = lookup_all(b, LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "root"}])
    names = {(e["EventName"], json.loads(e["CloudTrailEvent"]).get("requestParameters", {}).get("userName"))
             for e in found}
    assert ("CreateUser", user) in names and ("CreateAccessKey", user) in names, names
    by_name = lookup_all(c, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": user}])
    assert {e["EventName"] for e in by_name} >= {"CreateUser", "CreateAccessKey"}
    # Secrets stay out of the events, whichever node reads them.
    for e in found:
        assert key["SecretAccessKey"] not in e["CloudTrailEvent"]
    # And the other way: a call through C is found through A, exactly once.
    ident = c.client("sts").get_caller_identity()
    request_id = ident["ResponseMetadata"]["RequestId"]
    events = lookup_all(a, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetCallerIdentity"}])
    mine = [e for e in events if json.loads(e["CloudTrailEvent"])["requestID"] == request_id]
    assert len(mine) == 1, [json.loads(e["CloudTrailEvent"])["requestID"] for e in events]


def test_a_trail_delivered_while_two_nodes_take_traffic_verifies(tessera_factory, store_url):
    a, b = cluster(tessera_factory, store_url, 2, FAST)
    bucket = unique("cluster-trail-")
    s3 = a.client("s3")
    s3.create_bucket(Bucket=bucket)
    acct = a.client("sts").get_caller_identity()["Account"]
    source = {"aws:SourceArn": f"arn:aws:cloudtrail:us-east-1:{acct}:trail/cluster"}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl",
             "Resource": f"arn:aws:s3:::{bucket}", "Condition": {"StringEquals": source}},
            {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
             "Resource": f"arn:aws:s3:::{bucket}/AWSLogs/{acct}/*",
             "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **source}}},
        ],
    }))
    ct = b.client("cloudtrail")
    ct.create_trail(Name="cluster", S3BucketName=bucket, EnableLogFileValidation=True)
    ct.start_logging(Name="cluster")
    want = []

    def traffic(nodes, rounds):
        for _ in range(rounds):
            for t in nodes:
                want.append(t.client("sts").get_caller_identity()["ResponseMetadata"]["RequestId"])
            time.sleep(0.25)

    def delivered_after(t, since, key="LatestDigestDeliveryTime"):
        """Wait until the trail's `key` (GetTrailStatus through `t`) is later than `since`."""
        deadline = time.time() + 20
        while time.time() < deadline:
            status = t.client("cloudtrail").get_trail_status(Name="cluster")
            if status.get(key) and (since is None or status[key] > since):
                return status[key]
            time.sleep(0.3)
        raise AssertionError(f"no {key} after {since} through {t.endpoint}")

    traffic((a, b), 8)
    first = delivered_after(b, None)
    # Hand over: with A stopped (it gives up the lease if it held it), B delivers and digests;
    # then B stopped and A back, A goes on with the same chains.
    assert a.stop() == 0
    traffic((b,), 8)
    second = delivered_after(b, first)
    a.start()
    assert b.stop() == 0
    traffic((a,), 8)
    delivered_after(a, second)
    b.start()
    traffic((a, b), 4)
    a.client("cloudtrail").stop_logging(Name="cluster")
    time.sleep(3)  # the final delivery and the closing digest of whichever node holds the lease
    for t in (a, b):
        assert t.stop() == 0
    for t in (a, b):
        t.start()

    # Every call of both nodes is in the log files, once.
    delivered = []
    digests = 0
    s3 = b.client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for o in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            doc = json.loads(gzip.decompress(body))
            if "/CloudTrail-Digest/" in o["Key"]:
                digests += 1
            else:
                delivered.extend(r["requestID"] for r in doc["Records"])
    for rid in want:
        assert delivered.count(rid) == 1, rid
    assert digests >= 4
    for t in (a, b):
        ok = tessera_cmd("audit", "verify", "--data-dir", str(t.data_dir), "--store-url", store_url)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "INVALID" not in ok.stdout and "digest files valid" in ok.stdout, ok.stdout


def test_every_acknowledged_call_of_a_killed_node_reaches_the_cluster_once(tessera_factory, store_url):
    a, b = cluster(tessera_factory, store_url, 2)
    iam = a.client("iam")
    acknowledged = []
    stop = threading.Event()

    def load():
        n = 0
        while not stop.is_set():
            name = f"killed-{n}-{time.time_ns() % 10**9}"
            n += 1
            try:
                iam.create_user(UserName=name)
            except Exception:  # the node died under the call: not acknowledged
                return
            acknowledged.append(name)

    worker = threading.Thread(target=load)
    worker.start()
    time.sleep(3)
    a.kill()
    stop.set()
    worker.join(timeout=30)
    assert len(acknowledged) >= 5, acknowledged

    # The dead node's journal, handed to the cluster.
    imported = tessera_cmd("audit", "import", "--journal", str(a.data_dir), "--store-url", store_url)
    assert imported.returncode == 0, imported.stderr
    assert "new." in imported.stdout
    seen = created_users(b)
    for name in acknowledged:
        assert seen.count(name) == 1, (name, seen.count(name))
    # Importing again adds nothing.
    again = tessera_cmd("audit", "import", "--journal", str(a.data_dir), "--store-url", store_url)
    assert again.returncode == 0 and ", 0 new." in again.stdout, again.stdout
    # And the node coming back on its disk after all ships nothing twice.
    a.start()
    a.client("sts").get_caller_identity()
    seen = created_users(a)
    for name in acknowledged:
        assert seen.count(name) == 1, (name, seen.count(name))
    assert len(seen) == len(set(seen))


def test_a_killed_node_restarted_ships_its_journal_itself(tessera_factory, store_url):
    a, b = cluster(tessera_factory, store_url, 2)
    iam = a.client("iam")
    names = [unique(f"restart{i}-") for i in range(20)]
    for name in names:
        iam.create_user(UserName=name)
    a.kill()
    a.start()
    seen = created_users(b)
    for name in names:
        assert seen.count(name) == 1, name
