#!/usr/bin/env python3
"""What auditing costs: GetCallerIdentity / AssumeRole throughput of `tessera serve` with the
audit trail on (every call recorded durably, group commit) and off (`--unaudited-benchmark-only`,
a hidden flag for this benchmark), measured in alternating runs on fresh data dirs.

Load comes from `http_load` (crates/tessera-audit/examples/http_load.rs): closed-loop keep-alive
connections replaying requests pre-signed here with botocore (SigV4 allows replay within its
15-minute window). Build both first:

  cargo build --release -p tessera && cargo build --release -p tessera-audit --example http_load
  python3 bench/audit.py --runs 3 --seconds 10

The LookupEvents figures at 10,000,000 events come from
`cargo run --release -p tessera-audit --example audit_fill -- DIR 10000000` (see BENCHMARKS.md).
"""

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials

REPO = Path(__file__).resolve().parents[1]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))


def start(bin_path, data_dir, audited):
    args = [str(bin_path), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir)]
    if not audited:
        args.append("--unaudited-benchmark-only")
    log = open(str(data_dir) + ".log", "ab")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    endpoint_file = Path(data_dir) / "endpoint"
    for _ in range(1000):
        if endpoint_file.exists():
            endpoint = endpoint_file.read_text().strip()
            urllib.request.urlopen(endpoint + "/_tessera/health").read()
            return proc, endpoint
        time.sleep(0.01)
    raise RuntimeError("server did not start")


def credentials(data_dir):
    text = (Path(data_dir) / "credentials").read_text()
    key = re.search(r"aws_access_key_id\s*=\s*(\S+)", text).group(1)
    secret = re.search(r"aws_secret_access_key\s*=\s*(\S+)", text).group(1)
    return key, secret


def signed_raw(endpoint, service, params, key, secret, token=None):
    body = "&".join(f"{k}={v}" for k, v in params.items())
    req = botocore.awsrequest.AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    creds = botocore.credentials.Credentials(key, secret, token)
    botocore.auth.SigV4Auth(creds, service, "us-east-1").add_auth(req)
    host = endpoint.split("//", 1)[1]
    lines = [f"POST / HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}", "User-Agent: http_load"]
    lines += [f"{k}: {v}" for k, v in req.headers.items() if k.lower() not in ("host", "content-length", "user-agent")]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def setup_assume_role(endpoint, key, secret):
    """A user allowed to assume a role of the same account; None while IAM/STS are not there."""
    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=secret)
    iam = boto3.client("iam", **kw)
    sts = boto3.client("sts", **kw)
    try:
        acct = sts.get_caller_identity()["Account"]
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:root"}, "Action": "sts:AssumeRole"}]}
        iam.create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(trust))
        iam.create_user(UserName="bench")
        allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
        iam.put_user_policy(UserName="bench", PolicyName="a", PolicyDocument=json.dumps(allow))
        k = iam.create_access_key(UserName="bench")["AccessKey"]
        role_arn = f"arn:aws:iam::{acct}:role/bench"
        boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=k["AccessKeyId"],
                     aws_secret_access_key=k["SecretAccessKey"]).assume_role(RoleArn=role_arn, RoleSessionName="probe")
        return k["AccessKeyId"], k["SecretAccessKey"], role_arn
    except Exception as e:  # NotImplemented, AccessDenied while the engine is a stub, ...
        print(f"  (AssumeRole not measured: {type(e).__name__}: {str(e)[:120]})")
        return None


def run_load(load_bin, endpoint, files, connections, seconds):
    addr = endpoint.split("//", 1)[1]
    out = subprocess.run(
        [str(load_bin), addr, *map(str, files), "--connections", str(connections), "--seconds", str(seconds)],
        capture_output=True, text=True, check=True,
    )
    r = json.loads(out.stdout)
    if r["errors"]:
        raise RuntimeError(f"{r['errors']} errors during load: {r}")
    return r["ok"] / r["seconds"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(TARGET / "release" / "tessera"))
    ap.add_argument("--load", default=str(TARGET / "release" / "examples" / "http_load"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", default="1,16,64")
    args = ap.parse_args()
    results = {}
    for run in range(args.runs):
        for audited in (True, False):
            with tempfile.TemporaryDirectory() as tmp:
                data = Path(tmp) / "data"
                proc, endpoint = start(args.bin, data, audited)
                try:
                    key, secret = credentials(data)
                    files = {}
                    gci = Path(tmp) / "gci.http"
                    gci.write_bytes(signed_raw(endpoint, "sts", {"Action": "GetCallerIdentity", "Version": "2011-06-15"}, key, secret))
                    files["GetCallerIdentity"] = [gci]
                    ar = setup_assume_role(endpoint, key, secret)
                    if ar:
                        uk, us, role_arn = ar
                        reqs = []
                        for i in range(8):
                            f = Path(tmp) / f"ar{i}.http"
                            f.write_bytes(signed_raw(endpoint, "sts", {"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": role_arn, "RoleSessionName": f"s{i}"}, uk, us))
                            reqs.append(f)
                        files["AssumeRole"] = reqs
                    for op, fs in files.items():
                        for c in map(int, args.connections.split(",")):
                            run_load(args.load, endpoint, fs, c, 1)  # warm-up
                            rps = run_load(args.load, endpoint, fs, c, args.seconds)
                            results.setdefault((op, c, audited), []).append(rps)
                            print(f"run {run + 1} {op:<18} conns {c:>3} {'audited' if audited else 'unaudited':<9} {rps:>9.0f} req/s", flush=True)
                finally:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=30)
    print("\nmedian req/s            conns   audited   unaudited   audit cost")
    for (op, c) in sorted({(k[0], k[1]) for k in results}):
        a = statistics.median(results[(op, c, True)])
        u = statistics.median(results[(op, c, False)])
        print(f"{op:<22} {c:>5} {a:>9.0f} {u:>11.0f} {100 * (1 - a / u):>10.1f}%")


if __name__ == "__main__":
    main()
