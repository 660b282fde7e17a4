#!/usr/bin/env python3
"""One-hour soak of Tessera at half its measured peak load (issue 19): nothing may grow without bound.

Usage: bench/soak.py [--minutes 60] [--fraction 0.5 | --rps N] [--connections 64] [--bin PATH]
                     [--audit-max-events N] [--json OUT]

Method:
- Start a release server on a fresh data dir (RUST_LOG=warn: the access log goes to the operator's
  log system, not to Tessera's state; its cost is measured in bench/variants_load.py).
- Set up an IAM user allowed to assume a role, tag itself and use one bucket.
- The load is a mix replayed by `wrk` (apt): GetCallerIdentity 40%, AssumeRole 20%, IAM GetUser 15%,
  IAM TagUser 5% (a store write each time), S3 PutObject of one 1 KiB key 10% (overwrites: the old
  object's bytes must be freed) and S3 GetObject of it 10%. Each request is signed with botocore;
  SigV4 accepts a replay for 15 minutes, so every minute's run is signed afresh.
- Peak: 20 s of the mix with no pacing. The soak then paces each connection with wrk's `delay()`
  (milliseconds, dithered between floor and ceiling so the mean is fractional) to reach
  --fraction of that peak, corrected minute by minute from the rate measured.
- Each minute: one `wrk --latency` run of 55 s (requests/s, p99, failures), then a sample of the
  server process (VmRSS, open file descriptors, threads) and of the data dir (tessera.db, audit.db with
  their WAL files, the audit journal, the S3 object directory).
- Prints a Markdown table (a row a minute) and a verdict per column: the slope of the last half
  against the first half, so that a quantity that keeps growing stands out.

The audit trail grows with every call by design (it is the record); it is bounded by
--audit-retention-days and --audit-max-events (default 50,000,000). --audit-max-events is passed
through so that a soak can show the bound holding within the hour."""

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
import botocore.auth
import botocore.awsrequest
import botocore.credentials

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sts_load  # noqa: E402
import variants_load  # noqa: E402

REGION = "us-east-1"
POLICY = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","iam:GetUser",'
          '"iam:TagUser","s3:PutObject","s3:GetObject"],"Resource":"*"}]}')
BODY_1K = b"x" * 1024
MIX = [("GetCallerIdentity", 8), ("AssumeRole", 4), ("GetUser", 3), ("TagUser", 1), ("PutObject", 2), ("GetObject", 2)]


def start(bin_path, max_events):
    args = [str(bin_path), "serve", "--listen", f"127.0.0.1:{sts_load.free_port()}"]
    if max_events:
        args += ["--audit-max-events", str(max_events)]
    return variants_load.spawn(args, os.environ.get("RUST_LOG", "warn"))


def setup(endpoint, root):
    kw = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id=root[0], aws_secret_access_key=root[1])
    iam = boto3.client("iam", **kw)
    acct = boto3.client("sts", **kw).get_caller_identity()["Account"]
    iam.create_user(UserName="soak")
    iam.put_user_policy(UserName="soak", PolicyName="soak", PolicyDocument=POLICY)
    key = iam.create_access_key(UserName="soak")["AccessKey"]
    role = iam.create_role(RoleName="soakrole", AssumeRolePolicyDocument=sts_load.TRUST.format(acct=acct))["Role"]["Arn"]
    s3 = boto3.client("s3", **kw)
    s3.create_bucket(Bucket=f"soak-{acct}")
    # Before the first GetObject: a missing key is 403 for a caller without s3:ListBucket, as on AWS.
    s3.put_object(Bucket=f"soak-{acct}", Key="object", Body=BODY_1K)
    return (key["AccessKeyId"], key["SecretAccessKey"]), role, f"soak-{acct}"


def sign(endpoint, creds, method, path, body, headers, service):
    req = botocore.awsrequest.AWSRequest(method=method, url=endpoint + path, data=body, headers=headers)
    cred = botocore.credentials.Credentials(*creds)
    auth = botocore.auth.S3SigV4Auth(cred, "s3", REGION) if service == "s3" else botocore.auth.SigV4Auth(cred, service, REGION)
    auth.add_auth(req)
    return dict(req.headers.items())


def signed_mix(endpoint, creds, role, bucket):
    """(method, path, headers, body) for each operation of the mix, signed now."""
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    ops = {
        "GetCallerIdentity": ("POST", "/", "Action=GetCallerIdentity&Version=2011-06-15", "sts"),
        "AssumeRole": ("POST", "/", f"Action=AssumeRole&Version=2011-06-15&RoleArn={role}&RoleSessionName=soak", "sts"),
        "GetUser": ("POST", "/", "Action=GetUser&Version=2010-05-08", "iam"),
        "TagUser": ("POST", "/", "Action=TagUser&Version=2010-05-08&UserName=soak&Tags.member.1.Key=soak"
                    "&Tags.member.1.Value=on", "iam"),
        "PutObject": ("PUT", f"/{bucket}/object", BODY_1K, "s3"),
        "GetObject": ("GET", f"/{bucket}/object", b"", "s3"),
    }
    out = {}
    for name, (method, path, body, service) in ops.items():
        headers = dict(form) if service != "s3" else {}
        raw = body.encode() if isinstance(body, str) else body
        h = sign(endpoint, creds, method, path, raw, headers, service)
        out[name] = (method, path, h, raw.decode())
    return out


def lua_script(mix, delay_ms):
    """A wrk script that cycles through the weighted mix and paces each connection by delay_ms."""
    lines = ["local reqs = {}", "init = function(args)"]
    for name, weight in MIX:
        method, path, headers, body = mix[name]
        h = "{" + ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()) + "}"
        call = f"wrk.format({json.dumps(method)}, {json.dumps(path)}, {h}, {json.dumps(body) if body else 'nil'})"
        lines.append(f"  local r = {call}")
        lines += ["  table.insert(reqs, r)"] * weight
    lines += ["  i = math.random(#reqs)", "end",
              "request = function()", "  i = i % #reqs + 1", "  return reqs[i]", "end"]
    if delay_ms is not None:
        lo = int(delay_ms)
        frac = delay_ms - lo
        lines += ["delay = function()", f"  if math.random() < {frac:.4f} then return {lo + 1} end",
                  f"  return {lo}", "end"]
    lines += ["done = function(summary, latency, requests)",
              "  io.write(string.format('STATUS non2xx=%d errors=%d\\n', summary.errors.status,",
              "    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))",
              "end"]
    return "\n".join(lines) + "\n"


def run_wrk(endpoint, script, seconds, connections):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", f.name, endpoint + "/"],
                         capture_output=True, text=True).stdout
    os.unlink(f.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for q in ("50", "99"):
        m = re.search(q + r"%\s+([\d.]+)(us|ms|s)\b", out)
        lat[q] = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
    bad = re.search(r"STATUS non2xx=(\d+) errors=(\d+)", out)
    return rps, lat["50"], lat["99"], int(bad.group(1)) + int(bad.group(2))


def size(path):
    p = Path(path)
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.exists() else 0


def sample(pid, data):
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024
    threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    files = {f.name: f for f in data.iterdir()}
    db = sum(size(files[n]) for n in files if n.startswith("tessera.db"))
    audit_db = sum(size(files[n]) for n in files if n.startswith("audit.db"))
    journal = sum(size(f) for n, f in files.items() if "journal" in n)
    s3 = size(data / "s3")
    return {"rss": rss, "fds": fds, "threads": threads, "db": db, "audit_db": audit_db, "journal": journal, "s3": s3}


def mib(n):
    return f"{n / 1048576:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=int, default=60)
    ap.add_argument("--fraction", type=float, default=0.5, help="share of the measured peak to run at")
    ap.add_argument("--rps", type=float, help="run at this rate instead of --fraction of the measured peak")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--bin", default=str(sts_load.BIN))
    ap.add_argument("--audit-max-events", type=int, default=0, help="passed to serve (0: its default)")
    ap.add_argument("--json", help="write every row as JSON here too")
    a = ap.parse_args()
    # Stop cleanly on SIGTERM or SIGINT (a background job ignores SIGINT otherwise): the server
    # is stopped and the rows so far are written.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.default_int_handler)
    proc, endpoint, root, data = start(a.bin, a.audit_max_events)
    rows = []
    try:
        creds, role, bucket = setup(endpoint, root)
        peak, _, peak_p99, bad = run_wrk(endpoint, lua_script(signed_mix(endpoint, creds, role, bucket), None), 20, 32)
        target = a.rps or peak * a.fraction
        print(f"peak {peak:.0f} req/s (p99 {peak_p99:.2f} ms, failed {bad}); soak target {target:.0f} req/s",
              file=sys.stderr)
        delay = max(0.0, a.connections / target * 1000 - 1.0)
        base = sample(proc.pid, data)
        print("| minute | req/s | p50 ms | p99 ms | failed | RSS MiB | open files | threads | tessera.db MiB | "
              "audit.db MiB | journal MiB | S3 dir MiB |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        print(f"| 0 | — | — | — | — | {mib(base['rss'])} | {base['fds']} | {base['threads']} | {mib(base['db'])} | "
              f"{mib(base['audit_db'])} | {mib(base['journal'])} | {mib(base['s3'])} |", flush=True)
        for minute in range(1, a.minutes + 1):
            start_t = time.time()
            mix = signed_mix(endpoint, creds, role, bucket)
            rps, p50, p99, bad = run_wrk(endpoint, lua_script(mix, delay), 55, a.connections)
            s = sample(proc.pid, data)
            row = dict(minute=minute, rps=round(rps), p50_ms=p50, p99_ms=p99, failed=bad, delay_ms=round(delay, 3), **s)
            rows.append(row)
            print(f"| {minute} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {bad} | {mib(s['rss'])} | {s['fds']} | "
                  f"{s['threads']} | {mib(s['db'])} | {mib(s['audit_db'])} | {mib(s['journal'])} | {mib(s['s3'])} |",
                  flush=True)
            if rps > 0:
                # Per-connection cycle = delay + service time; keep the service time, scale the rest.
                cycle = a.connections / rps * 1000
                delay = max(0.0, delay + (a.connections / target * 1000 - cycle))
            time.sleep(max(0.0, 60 - (time.time() - start_t)))
            if proc.poll() is not None:
                raise SystemExit(f"the server exited: see {data.parent / 'server.log'}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        if a.json:
            Path(a.json).write_text(json.dumps({"rows": rows}, indent=1))
    if len(rows) >= 4:
        half = len(rows) // 2
        print("\nlast half against first half (median):", file=sys.stderr)
        for k in ("rss", "fds", "threads", "db", "audit_db", "journal", "s3", "p99_ms", "rps"):
            first = statistics.median(r[k] for r in rows[:half])
            last = statistics.median(r[k] for r in rows[half:])
            print(f"  {k}: {first:,.2f} -> {last:,.2f}", file=sys.stderr)


if __name__ == "__main__":
    main()
