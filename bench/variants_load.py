#!/usr/bin/env python3
"""STS throughput and p99 of Tessera in several configurations, runs interleaved (issue 19 figures).

Usage: bench/variants_load.py --variants http,https [--runs 5] [--duration 10] [--connections 32]
                              [--ops GetCallerIdentity,AssumeRole] [--bin PATH]
       bench/variants_load.py --variants log-off,log-on ...

Variants:
  http     plain HTTP, access log off (RUST_LOG=warn)
  https    HTTPS with --tls-self-signed (TLS 1.3, keep-alive: wrk keeps each connection, so a
           handshake is paid once per connection), access log off
  log-off  plain HTTP, RUST_LOG=warn: no access log line is formatted or written
  log-on   plain HTTP, RUST_LOG=info: one access log line per request, written to a file
  log-json plain HTTP, RUST_LOG=info --log-format json, written to a file
  metrics-off plain HTTP, access log off, metrics not recorded (hidden serve flag
           --no-metrics-benchmark-only); compare with `http`, where they are

Method as bench/sts_load.py: one server per
variant, all started before the first run; each op is signed once and replayed by `wrk` (2
threads); the variants take turns run by run, so the machine's load falls on all alike; medians
of --runs runs."""

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sts_load  # noqa: E402

VARIANTS = {
    "http": {"tls": False, "log": "warn", "format": "text"},
    "https": {"tls": True, "log": "warn", "format": "text"},
    "log-off": {"tls": False, "log": "warn", "format": "text"},
    "log-on": {"tls": False, "log": "info", "format": "text"},
    "log-json": {"tls": False, "log": "info", "format": "json"},
    "metrics-off": {"tls": False, "log": "warn", "format": "text", "metrics": False},
}


def spawn(args, log_level):
    """Start `tessera serve ARGS` on a fresh data dir, its log in DIR/../server.log; wait for
    DIR/endpoint. Returns (process, endpoint, root credentials, data dir)."""
    data = Path(tempfile.mkdtemp()) / "data"
    log = open(data.parent / "server.log", "w")
    p = subprocess.Popen(args[:2] + ["--data-dir", str(data)] + args[2:], env=dict(os.environ, RUST_LOG=log_level),
                         stderr=log)
    for _ in range(600):
        if (data / "endpoint").exists():
            break
        if p.poll() is not None:
            raise SystemExit(f"{args[0]} exited: see {data.parent / 'server.log'}")
        time.sleep(0.05)
    text = (data / "credentials").read_text()
    root = (re.search(r"aws_access_key_id = (\S+)", text).group(1),
            re.search(r"aws_secret_access_key = (\S+)", text).group(1))
    return p, (data / "endpoint").read_text().strip(), root, data


def start(bin_path, variant):
    v = VARIANTS[variant]
    args = [str(bin_path), "serve", "--listen", f"127.0.0.1:{sts_load.free_port()}", "--log-format", v["format"]]
    if v["tls"]:
        args.append("--tls-self-signed")
    if not v.get("metrics", True):
        args.append("--no-metrics-benchmark-only")
    p, endpoint, root, data = spawn(args, v["log"])
    verify = str(data / "tls" / "ca.pem") if v["tls"] else None
    return p, endpoint, root, verify


def setup_caller(endpoint, root, verify):
    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=root[0],
              aws_secret_access_key=root[1], verify=verify)
    iam = boto3.client("iam", **kw)
    acct = boto3.client("sts", **kw).get_caller_identity()["Account"]
    iam.create_user(UserName="loadgen")
    iam.put_user_policy(UserName="loadgen", PolicyName="assume", PolicyDocument=sts_load.ALLOW_ASSUME)
    key = iam.create_access_key(UserName="loadgen")["AccessKey"]
    role = iam.create_role(RoleName="loadrole", AssumeRolePolicyDocument=sts_load.TRUST.format(acct=acct))["Role"]["Arn"]
    return (key["AccessKeyId"], key["SecretAccessKey"]), role


def bodies(role):
    """The query body of each measured op."""
    return {
        "GetCallerIdentity": "Action=GetCallerIdentity&Version=2011-06-15",
        "AssumeRole": f"Action=AssumeRole&Version=2011-06-15&RoleArn={role}&RoleSessionName=load",
    }


def summarize(runs, first):
    """Medians of each configuration's (req/s, p99 ms, failed) runs, with the throughput ratio
    over configuration `first`."""
    out = {
        name: {
            "rps_median": round(statistics.median(r[0] for r in rs)),
            "p99_ms_median": round(statistics.median(r[1] for r in rs), 2),
            "failed_requests": sum(r[2] for r in rs),
        }
        for name, rs in runs.items()
    }
    base = out[first]["rps_median"]
    for name in out:
        if name != first and base:
            out[name][f"rps_ratio_over_{first}"] = round(out[name]["rps_median"] / base, 3)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", required=True, help="comma-separated: " + ", ".join(VARIANTS))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--ops", default="GetCallerIdentity,AssumeRole")
    ap.add_argument("--bin", default=str(sts_load.BIN))
    a = ap.parse_args()
    variants = a.variants.split(",")
    servers = {}
    try:
        for name in variants:
            proc, endpoint, root, verify = start(a.bin, name)
            servers[name] = (proc, endpoint, setup_caller(endpoint, root, verify))
        results = {}
        for op in a.ops.split(","):
            runs = {name: [] for name in variants}
            for _ in range(a.runs):
                for name in variants:
                    _, endpoint, (creds, role) = servers[name]
                    body = bodies(role)[op]
                    headers = sts_load.signed(endpoint, creds, body)
                    r = sts_load.wrk(endpoint, headers, body, a.duration, a.connections)
                    runs[name].append(r)
                    print(f"{name} {op}: {r[0]:.0f} req/s p99 {r[1]:.2f} ms failed {r[2]}", file=sys.stderr)
            results[op] = summarize(runs, variants[0])
        print(json.dumps(results, indent=2))
    finally:
        for proc, _, _ in servers.values():
            proc.send_signal(signal.SIGTERM)
            proc.wait()


if __name__ == "__main__":
    main()
