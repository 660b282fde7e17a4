#!/usr/bin/env python3
"""Issue 6: are STS throughput and latency flat after 1,000,000 sessions issued?

Sessions are stateless (self-contained encrypted tokens, no store write per session), so nothing
should grow with their number but the audit trail, which records every AssumeRole. Method, on one
`tessera serve` (as shipped, audited) with a fresh data dir:

  1. before: `wrk` (2 threads, --connections, --duration s) replaying one signed AssumeRole, and
     one signed GetCallerIdentity made with the credentials of a session issued at the start
     (so the session-token path is measured); the server's VmRSS;
  2. issue sessions: AssumeRole replayed by `wrk` in 60-second rounds until --sessions have been
     answered (every answer is a new session: new access key, secret and token);
  3. after: the same two measurements, the same session's credentials, and VmRSS again.

Run in a venv with boto3 (e.g. `.venv-bench`), `wrk` from apt, the release binary built:

  cargo build --release -p tessera
  .venv-bench/bin/python bench/sessions_1m.py --sessions 1000000
"""

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sts_load  # noqa: E402  (same machinery: start_tessera, setup_caller, signed, wrk)


def rss_mib(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024


def wrk_count(endpoint, headers, body, duration, connections):
    """Requests answered 2xx by a wrk run (total minus non-2xx and socket errors)."""
    lua = "wrk.method = 'POST'\nwrk.body = " + json.dumps(body) + "\n" + "".join(
        f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in headers.items())
    lua += "done = function(s, l, r)\n  io.write(string.format('COUNT %d %d\\n', s.requests, s.errors.status))\nend\n"
    script = Path("/tmp/sessions_1m.lua")
    script.write_text(lua)
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "-s", str(script), endpoint + "/"],
                         capture_output=True, text=True).stdout
    total, bad = map(int, re.search(r"COUNT (\d+) (\d+)", out).groups())
    return total - bad, bad


def measure(endpoint, ar, gci, a):
    ar_rps, ar_p99, ar_bad = sts_load.wrk(endpoint, ar[0], ar[1], a.duration, a.connections)
    g_rps, g_p99, g_bad = sts_load.wrk(endpoint, gci[0], gci[1], a.duration, a.connections)
    return {"AssumeRole": {"rps": round(ar_rps), "p99_ms": ar_p99, "failed": ar_bad},
            "GetCallerIdentity (session credentials)": {"rps": round(g_rps), "p99_ms": g_p99, "failed": g_bad}}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=1_000_000)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    a = ap.parse_args()
    proc, endpoint, root = sts_load.start_tessera()
    try:
        user, role = sts_load.setup_caller(endpoint, root)
        ar_body = f"Action=AssumeRole&Version=2011-06-15&RoleArn={role}&RoleSessionName=load"
        ar = (sts_load.signed(endpoint, user, ar_body), ar_body)
        c = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=user[0],
                         aws_secret_access_key=user[1]).assume_role(RoleArn=role, RoleSessionName="probe")["Credentials"]
        session = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
        gci_body = "Action=GetCallerIdentity&Version=2011-06-15"
        gci = (sts_load.signed(endpoint, session, gci_body), gci_body)
        before = measure(endpoint, ar, gci, a)
        before["rss_mib"] = round(rss_mib(proc.pid), 1)
        print("before:", json.dumps(before), flush=True)
        issued = 2 + before["AssumeRole"]["rps"] * a.duration  # approximate: the warm-up runs issue sessions too
        started = time.time()
        while issued < a.sessions:
            # Re-sign each round: SigV4 allows a replay for 15 minutes.
            ar = (sts_load.signed(endpoint, user, ar_body), ar_body)
            ok, bad = wrk_count(endpoint, ar[0], ar[1], 60, a.connections)
            if bad:
                raise RuntimeError(f"{bad} failed AssumeRole calls while issuing sessions")
            issued += ok
            print(f"  {issued:,} sessions issued ({time.time() - started:.0f} s), RSS {rss_mib(proc.pid):.1f} MiB",
                  flush=True)
        ar = (sts_load.signed(endpoint, user, ar_body), ar_body)
        gci = (sts_load.signed(endpoint, session, gci_body), gci_body)
        after = measure(endpoint, ar, gci, a)
        after["rss_mib"] = round(rss_mib(proc.pid), 1)
        after["sessions_issued"] = issued
        print("after:", json.dumps(after), flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=60)


if __name__ == "__main__":
    main()
