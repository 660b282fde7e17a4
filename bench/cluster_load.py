#!/usr/bin/env python3
"""STS throughput and p99 with one and with two Tessera nodes on one PostgreSQL database, beside
the embedded store (issue 18 figures; docs/BENCHMARKS.md).

Usage: bench/cluster_load.py --store-url postgres://postgres@127.0.0.1:5432/test
                             [--runs 3] [--duration 10] [--connections 32] [--bin PATH]

Configurations, all started before the first run and taking turns run by run (so the machine's
load falls on all alike):
  embedded  one node, the embedded SQLite store
  pg-1      one node on PostgreSQL (a database of its own, dropped afterwards)
  pg-2      two nodes on one PostgreSQL database (the second with the first's master.key and
            credentials, docs/CLUSTER.md); the load is split between them: two `wrk` at once,
            each with half the connections; throughput is their sum, p99 the higher of the two
Each op is signed once and replayed (bench/sts_load.py); medians of --runs runs. On this 2-core
machine the two nodes, PostgreSQL and wrk share the same cores: the two-node figure shows what
a second node costs on one machine, not what it adds on its own hardware."""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sts_load  # noqa: E402
import variants_load  # noqa: E402


def database(url, name):
    """`url` with its database replaced by `name`, made empty."""
    subprocess.run(["psql", url, "-c", f'DROP DATABASE IF EXISTS "{name}"'], capture_output=True, check=True)
    subprocess.run(["psql", url, "-c", f'CREATE DATABASE "{name}"'], capture_output=True, check=True)
    u = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name, u.query, u.fragment))


def node(bin_path, store_url=None, like=None):
    """One `tessera serve`; `like`: the data dir of a node whose master.key and credentials it
    shares."""
    args = [str(bin_path), "serve", "--listen", f"127.0.0.1:{sts_load.free_port()}"]
    if store_url:
        args += ["--store-url", store_url]
    if like is None:
        return variants_load.spawn(args, "warn")
    # A data dir made beforehand with the first node's keys (spawn makes a fresh one otherwise).
    import tempfile
    data = Path(tempfile.mkdtemp()) / "data"
    data.mkdir(mode=0o700)
    for name in ("master.key", "credentials"):
        shutil.copy2(like / name, data / name)
    log = open(data.parent / "server.log", "w")
    p = subprocess.Popen(args[:2] + ["--data-dir", str(data)] + args[2:], env=dict(os.environ, RUST_LOG="warn"),
                         stderr=log)
    for _ in range(600):
        if (data / "endpoint").exists():
            break
        if p.poll() is not None:
            raise SystemExit(f"second node exited: see {data.parent / 'server.log'}")
        time.sleep(0.05)
    return p, (data / "endpoint").read_text().strip(), None, data


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store-url", required=True, help="a PostgreSQL URL whose user may create databases")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--ops", default="GetCallerIdentity,AssumeRole")
    ap.add_argument("--bin", default=str(sts_load.BIN))
    a = ap.parse_args()
    procs, dbs = [], []
    try:
        configs = {}
        p, endpoint, root, _ = node(a.bin)
        procs.append(p)
        configs["embedded"] = ([endpoint], variants_load.setup_caller(endpoint, root, None))
        url1 = database(a.store_url, f"tessera_bench_{os.getpid()}_1")
        dbs.append(url1)
        p, endpoint, root, _ = node(a.bin, url1)
        procs.append(p)
        configs["pg-1"] = ([endpoint], variants_load.setup_caller(endpoint, root, None))
        url2 = database(a.store_url, f"tessera_bench_{os.getpid()}_2")
        dbs.append(url2)
        p, first, root, data = node(a.bin, url2)
        procs.append(p)
        caller = variants_load.setup_caller(first, root, None)
        p, second, _, _ = node(a.bin, url2, like=data)
        procs.append(p)
        configs["pg-2"] = ([first, second], caller)
        results = {}
        for op in a.ops.split(","):
            runs = {name: [] for name in configs}
            for _ in range(a.runs):
                for name, (endpoints, (creds, role)) in configs.items():
                    body = variants_load.bodies(role)[op]
                    per = max(2, a.connections // len(endpoints))
                    out = [None] * len(endpoints)

                    def one(i, ep):
                        out[i] = sts_load.wrk(ep, sts_load.signed(ep, creds, body), body, a.duration, per)

                    threads = [threading.Thread(target=one, args=(i, ep)) for i, ep in enumerate(endpoints)]
                    for t in threads:
                        t.start()
                    for t in threads:
                        t.join()
                    r = (sum(x[0] for x in out), max(x[1] for x in out), sum(x[2] for x in out))
                    runs[name].append(r)
                    print(f"{name} {op}: {r[0]:.0f} req/s p99 {r[1]:.2f} ms failed {r[2]}", file=sys.stderr)
            results[op] = variants_load.summarize(runs, "embedded")
        print(json.dumps(results, indent=2))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait()
        for url in dbs:
            name = urllib.parse.urlsplit(url).path.lstrip("/")
            subprocess.run(["psql", a.store_url, "-c", f'DROP DATABASE IF EXISTS "{name}"'], capture_output=True)


if __name__ == "__main__":
    main()
