"""Durability (issue 4): a write load (CreateUser with tags) against the server, SIGKILL at random
moments 20 times, restart on the same data dir each time; every acknowledged write is there, and
no half-written user exists (each listed user is whole: its tags and unique id are intact)."""

import random
import threading
import time

import botocore.exceptions

from conftest import Tessera

CYCLES = 20


def write_load(t, prefix, acked, stop):
    iam = t.client("iam")
    i = 0
    while not stop.is_set():
        name = f"{prefix}-{i}"
        try:
            iam.create_user(UserName=name, Tags=[{"Key": "n", "Value": str(i)}, {"Key": "p", "Value": prefix}])
            acked.append(name)
        except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError,
                botocore.exceptions.ReadTimeoutError):
            return
        except botocore.exceptions.ClientError as e:
            if e.response["Error"]["Code"] == "NotImplemented":
                raise
            return
        i += 1


def test_kill_9_loses_no_acknowledged_write(tmp_path):
    rng = random.Random(7)
    t = Tessera(tmp_path / "data").start()
    acked = []
    try:
        for cycle in range(CYCLES):
            stop = threading.Event()
            workers = [threading.Thread(target=write_load, args=(t, f"c{cycle}w{w}", acked, stop)) for w in range(2)]
            before = len(acked)
            for w in workers:
                w.start()
            # The kill lands at a random moment after the load has begun writing (a slow,
            # shared machine must not turn a cycle into one with nothing to lose).
            deadline = time.monotonic() + 30
            while len(acked) == before and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.05, 0.6))
            t.kill()
            stop.set()
            for w in workers:
                w.join(timeout=30)
            t.start()
        iam = t.client("iam")
        users = {}
        for page in iam.get_paginator("list_users").paginate():
            for u in page["Users"]:
                users[u["UserName"]] = u
        missing = [n for n in acked if n not in users]
        assert not missing, f"{len(missing)} acknowledged users lost, e.g. {missing[:5]}"
        assert len(acked) > CYCLES, "the load made too few writes to show anything"
        for name, u in users.items():
            got = iam.get_user(UserName=name)["User"]
            assert got["UserId"] == u["UserId"] and got["UserId"].startswith("AIDA")
            tags = {x["Key"]: x["Value"] for x in iam.list_user_tags(UserName=name)["Tags"]}
            prefix, n = name.rsplit("-", 1)
            assert tags == {"n": n, "p": prefix}, f"half-written user {name}: {tags}"
    finally:
        t.kill()
