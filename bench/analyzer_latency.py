#!/usr/bin/env python3
"""How soon an Access Analyzer finding follows a policy change (issue 20: under one second).

Usage: bench/analyzer_latency.py [--roles 991] [--changes 20] [--bin PATH] [--store-url URL] [--internal]

A fresh `tessera serve` (the embedded store, or PostgreSQL with --store-url: a schema of its
own); an ACCOUNT analyzer; --roles roles, one in ten trusting another account; then --changes
trust-policy changes on one role, alternating between trusting an outside account (a finding
appears) and trusting only its own account (the finding resolves). After each change the script
waits 2 s without reading findings (so the server's background analysis alone writes them), then
reads the finding and takes `updatedAt` minus the time the change was sent. Prints the median,
p90 and max in milliseconds as JSON (docs/ACCESS_ANALYZER.md, docs/BENCHMARKS.md).

With --internal, an ACCOUNT_INTERNAL_ACCESS analyzer over one bucket (that one role in ten may
read) runs beside it, and the changes are to the role's identity policy instead, alternating
between allowing s3:GetObject on the bucket (an internal access finding appears) and deleting it
(it resolves); the lag is the internal access finding's."""

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

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE = "arn:aws:iam::999999999999:root"


def trust(principal):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--roles", type=int, default=991)
    ap.add_argument("--changes", type=int, default=20)
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "tessera"))
    ap.add_argument("--store-url")
    ap.add_argument("--internal", action="store_true")
    a = ap.parse_args()
    data = Path(tempfile.mkdtemp()) / "data"
    args = [a.bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data)]
    if a.store_url:
        schema = f"tessera_aa_bench_{os.getpid()}"
        args += ["--store-url", f"{a.store_url}{'&' if '?' in a.store_url else '?'}schema={schema}"]
    p = subprocess.Popen(args, env=dict(os.environ, RUST_LOG="warn"), stderr=open(data.parent / "server.log", "w"))
    try:
        for _ in range(600):
            if (data / "endpoint").exists():
                break
            time.sleep(0.05)
        text = (data / "credentials").read_text()
        kw = dict(endpoint_url=(data / "endpoint").read_text().strip(), region_name="us-east-1",
                  aws_access_key_id=re.search(r"aws_access_key_id = (\S+)", text).group(1),
                  aws_secret_access_key=re.search(r"aws_secret_access_key = (\S+)", text).group(1))
        iam, aa = boto3.client("iam", **kw), boto3.client("accessanalyzer", **kw)
        account = boto3.client("sts", **kw).get_caller_identity()["Account"]
        own = f"arn:aws:iam::{account}:root"
        for i in range(a.roles):
            iam.create_role(RoleName=f"bench-{i}", AssumeRolePolicyDocument=trust(OUTSIDE if i % 10 == 0 else own))
        if a.internal:
            boto3.client("s3", **kw).create_bucket(Bucket="bench-internal")
            for i in range(0, a.roles, 10):
                iam.put_role_policy(RoleName=f"bench-{i}", PolicyName="read", PolicyDocument=json.dumps({
                    "Version": "2012-10-17", "Statement": [
                        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bench-internal/*"}]}))
            internal = aa.create_analyzer(analyzerName="bench-internal", type="ACCOUNT_INTERNAL_ACCESS")["arn"]
        analyzer = aa.create_analyzer(analyzerName="bench", type="ACCOUNT")["arn"]
        iam.create_role(RoleName="subject", AssumeRolePolicyDocument=trust(own))
        subject = f"arn:aws:iam::{account}:role/subject"
        lags = []
        for n in range(a.changes):
            outside = n % 2 == 0
            sent = time.time()
            if a.internal:
                if outside:
                    iam.put_role_policy(RoleName="subject", PolicyName="read", PolicyDocument=json.dumps({
                        "Version": "2012-10-17", "Statement": [
                            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bench-internal/*"}]}))
                else:
                    iam.delete_role_policy(RoleName="subject", PolicyName="read")
                time.sleep(2)
                found = aa.list_findings_v2(analyzerArn=internal, filter={"principal.AWS": {"eq": [subject]}})["findings"]
            else:
                iam.update_assume_role_policy(RoleName="subject", PolicyDocument=trust(OUTSIDE if outside else own))
                time.sleep(2)
                found = aa.list_findings(analyzerArn=analyzer, filter={"resource": {"eq": [subject]}})["findings"]
            newest = max(f["updatedAt"].timestamp() for f in found)
            lags.append((newest - sent) * 1000)
        lags.sort()
        print(json.dumps({
            "roles": a.roles + 1, "internal_analyzer": a.internal, "store": "postgresql" if a.store_url else "sqlite", "changes": a.changes,
            "median_ms": round(statistics.median(lags)), "p90_ms": round(lags[int(0.9 * (len(lags) - 1))]),
            "max_ms": round(lags[-1]),
        }, indent=1))
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait()
        if a.store_url:
            subprocess.run(["psql", a.store_url, "-c", f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
