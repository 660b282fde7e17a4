#!/usr/bin/env python3
"""STS throughput and latency of Tessera and moto_server, side by side (issue 6 figures).

Usage: bench/sts_load.py [--runs 3] [--duration 10] [--connections 32] [--ops GetCallerIdentity,AssumeRole]
                         [--only tessera|moto] [--bin PATH] [--unaudited-benchmark-only]

Method: for each server, set up a caller (Tessera: an IAM user with a policy allowing
sts:AssumeRole and a role trusting it; moto: the same calls), sign one request per operation with
botocore (SigV4 allows replaying a signed request within its 15-minute window, and AssumeRole
answers each replay with fresh credentials), then drive it with `wrk` (apt) on 2 threads for
--duration seconds; repeat --runs times and report the median requests/s and p99 latency, and the
ratio Tessera/moto. Both servers run on this machine with the load generator, as the issue says."""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / "target" / "release" / "tessera"
TRUST = '{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{acct}:root"}},"Action":"sts:AssumeRole"}}}}'
ALLOW_ASSUME = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}'


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(url, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def start_tessera(bin_path=BIN, unaudited=False):
    data = Path(tempfile.mkdtemp()) / "data"
    port = free_port()
    args = [str(bin_path), "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data)]
    if unaudited:
        args.append("--unaudited-benchmark-only")
    p = subprocess.Popen(args, env=dict(os.environ, RUST_LOG="warn"), stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    wait(endpoint + "/_tessera/health")
    text = (data / "credentials").read_text()
    root = (re.search(r"aws_access_key_id = (\S+)", text).group(1), re.search(r"aws_secret_access_key = (\S+)", text).group(1))
    return p, endpoint, root


def start_moto():
    moto = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    port = free_port()
    p = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    wait(endpoint + "/moto-api/")
    return p, endpoint, ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")


def setup_caller(endpoint, root):
    """An IAM user allowed to assume a role that trusts its account; returns (user creds, role arn)."""
    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=root[0], aws_secret_access_key=root[1])
    iam = boto3.client("iam", **kw)
    acct = boto3.client("sts", **kw).get_caller_identity()["Account"]
    iam.create_user(UserName="loadgen")
    iam.put_user_policy(UserName="loadgen", PolicyName="assume", PolicyDocument=ALLOW_ASSUME)
    key = iam.create_access_key(UserName="loadgen")["AccessKey"]
    role = iam.create_role(RoleName="loadrole", AssumeRolePolicyDocument=TRUST.format(acct=acct))["Role"]["Arn"]
    return (key["AccessKeyId"], key["SecretAccessKey"]), role


def signed(endpoint, creds, body):
    req = botocore.awsrequest.AWSRequest(method="POST", url=endpoint + "/", data=body,
                                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(*creds), "sts", "us-east-1").add_auth(req)
    return dict(req.headers.items())


def wrk(endpoint, headers, body, duration, connections):
    lua = "wrk.method = 'POST'\nwrk.body = " + json.dumps(body) + "\n" + "".join(
        f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in headers.items())
    lua += "done = function(summary, latency, requests)\n  io.write(string.format('STATUS non2xx=%d errors=%d\\n', summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))\nend\n"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", f.name, endpoint + "/"],
                         capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    bad = re.search(r"STATUS non2xx=(\d+) errors=(\d+)", out)
    return rps, p99_ms, int(bad.group(1)) + int(bad.group(2))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--ops", default="GetCallerIdentity,AssumeRole")
    ap.add_argument("--only", choices=["tessera", "moto"])
    ap.add_argument("--bin", default=str(BIN), help="the tessera binary to measure (default: the release build)")
    ap.add_argument("--unaudited-benchmark-only", action="store_true",
                    help="start Tessera with auditing off, to see what the audit trail costs in latency")
    a = ap.parse_args()
    results = {}
    tessera = lambda: start_tessera(a.bin, a.unaudited_benchmark_only)  # noqa: E731
    for name, start in (("tessera", tessera), ("moto_server", start_moto)):
        if a.only and not name.startswith(a.only):
            continue
        proc, endpoint, root = start()
        try:
            creds, role = setup_caller(endpoint, root)
            bodies = {
                "GetCallerIdentity": "Action=GetCallerIdentity&Version=2011-06-15",
                "AssumeRole": f"Action=AssumeRole&Version=2011-06-15&RoleArn={role}&RoleSessionName=load",
            }
            for op in a.ops.split(","):
                runs = []
                for _ in range(a.runs):
                    headers = signed(endpoint, creds, bodies[op])
                    runs.append(wrk(endpoint, headers, bodies[op], a.duration, a.connections))
                    print(f"{name} {op}: {runs[-1][0]:.0f} req/s p99 {runs[-1][1]:.2f} ms failed {runs[-1][2]}", file=sys.stderr)
                results.setdefault(op, {})[name] = {
                    "rps_median": round(statistics.median(r[0] for r in runs)),
                    "p99_ms_median": round(statistics.median(r[1] for r in runs), 2),
                    "failed_requests": sum(r[2] for r in runs),
                }
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
    for op, r in results.items():
        if "tessera" in r and "moto_server" in r and r["moto_server"]["rps_median"]:
            r["ratio_rps_tessera_over_moto"] = round(r["tessera"]["rps_median"] / r["moto_server"]["rps_median"], 1)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
