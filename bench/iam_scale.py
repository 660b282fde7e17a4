#!/usr/bin/env python3
"""IAM at scale (issue 5): GetUser / GetRole latency, server memory and data dir size with N users
and N roles in one account, each with two customer managed policies attached, for N = 1,000,
10,000 and 100,000.

For each N, on a fresh data dir:
  1. `tessera serve` starts once (first start: management account, root key) and stops;
  2. the `iam_fill` example of tessera-services fills N users and N roles (two shared customer
     managed policies attached to each) into the same store, server stopped, and times
     --in-process GetUser and GetRole calls in its own process (Services::handle: authorization
     and the store, without HTTP, SigV4 or the audit trail);
  3. `tessera serve` starts on the filled dir (as shipped: audited) and, on one keep-alive
     connection, answers --requests sequential GetUser and as many GetRole calls for names drawn
     at random from the N, each request SigV4-signed with botocore beforehand (signing is not
     timed; the time is send → whole response read, with Python's http.client); median, p99;
  4. optionally (--load-seconds > 0) throughput with `http_load` (closed-loop keep-alive
     connections replaying 64 pre-signed requests per operation, random names);
  5. the server's VmRSS and VmHWM (/proc/PID/status) after the measurements; `du` of the data dir
     after the fill, and of the store (tessera.db and its WAL); the median of an unsigned
     health GET on the same kind of connection, the HTTP and client share of each request;
  6. with --unaudited too, steps 3-5 again with the hidden `--unaudited-benchmark-only`, to see
     the IAM path without the audit trail's per-request fsync.
Steps 3-6 run --runs times; the table shows each figure's median over runs. Prints a table and
one JSON document (every run's figures too). Data dirs are deleted unless --keep.

Build first, then run it at low priority on a shared machine:

  cargo build --release -p tessera
  cargo build --release -p tessera-services --example iam_fill
  cargo build --release -p tessera-audit --example http_load      # only for --load-seconds
  nice -n 15 python3 bench/iam_scale.py --sizes 1000,10000,100000 --requests 5000 --runs 3 \
      --unaudited --load-seconds 5

It needs boto3 (botocore signs): `python3 -m venv .venv-bench && .venv-bench/bin/pip install boto3`.
Binaries are taken from $CARGO_TARGET_DIR (default ./target)/release.
"""

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import botocore.auth
import botocore.awsrequest
import botocore.credentials

REPO = Path(__file__).resolve().parents[1]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))


def start(bin_path, data_dir, audited=True):
    endpoint_file = Path(data_dir) / "endpoint"
    if endpoint_file.exists():
        endpoint_file.unlink()
    args = [str(bin_path), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir)]
    if not audited:
        args.append("--unaudited-benchmark-only")
    log = open(str(data_dir) + ".log", "ab")
    t0 = time.monotonic()
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    while time.monotonic() - t0 < 120:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see {data_dir}.log")
        if endpoint_file.exists():
            endpoint = endpoint_file.read_text().strip()
            urllib.request.urlopen(endpoint + "/_tessera/health").read()
            return proc, endpoint, time.monotonic() - t0
        time.sleep(0.01)
    proc.kill()
    raise RuntimeError("server did not start")


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)


def credentials(data_dir):
    text = (Path(data_dir) / "credentials").read_text()
    key = re.search(r"aws_access_key_id\s*=\s*(\S+)", text).group(1)
    secret = re.search(r"aws_secret_access_key\s*=\s*(\S+)", text).group(1)
    return key, secret


def sign(endpoint, params, key, secret):
    """(body, headers) of an IAM query request signed with SigV4 (botocore)."""
    body = "&".join(f"{k}={v}" for k, v in params.items())
    req = botocore.awsrequest.AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret), "iam", "us-east-1").add_auth(req)
    headers = {k: v for k, v in req.headers.items() if k.lower() not in ("host", "content-length")}
    return body.encode(), headers


def raw_request(endpoint, body, headers):
    """The same request as raw HTTP/1.1 bytes, for http_load."""
    host = endpoint.split("//", 1)[1]
    lines = ["POST / HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def op_params(op, name):
    field = "UserName" if op == "GetUser" else "RoleName"
    return {"Action": op, "Version": "2010-05-08", field: name}


def entity(op, i):
    return f"{'user' if op == 'GetUser' else 'role'}-{i:06d}"


def percentile(xs, p):
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
    return xs[k]


def measure_latency(endpoint, key, secret, op, n, requests, warmup, rng):
    """Sequential requests on one keep-alive connection: latencies in ms."""
    names = [entity(op, rng.randrange(n)) for _ in range(warmup + requests)]
    signed = [sign(endpoint, op_params(op, name), key, secret) for name in names]
    host, port = endpoint.split("//", 1)[1].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    lat = []
    tag = "UserName" if op == "GetUser" else "RoleName"
    for i, (body, headers) in enumerate(signed):
        t0 = time.perf_counter_ns()
        conn.request("POST", "/", body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        t1 = time.perf_counter_ns()
        if resp.status != 200:
            raise RuntimeError(f"{op} {names[i]}: HTTP {resp.status}: {data[:300]!r}")
        if i % 97 == 0 and f"<{tag}>{names[i]}</{tag}>".encode() not in data:
            raise RuntimeError(f"{op} {names[i]}: unexpected answer {data[:300]!r}")
        if i >= warmup:
            lat.append((t1 - t0) / 1e6)
    conn.close()
    return lat


def run_load(load_bin, endpoint, key, secret, op, n, workdir, connections, seconds, rng):
    files = []
    for j in range(64):
        body, headers = sign(endpoint, op_params(op, entity(op, rng.randrange(n))), key, secret)
        f = Path(workdir) / f"{op}-{j}.http"
        f.write_bytes(raw_request(endpoint, body, headers))
        files.append(str(f))
    addr = endpoint.split("//", 1)[1]
    base = [str(load_bin), addr, *files, "--connections", str(connections)]
    subprocess.run(base + ["--seconds", "1"], capture_output=True, check=True)  # warm-up
    out = subprocess.run(base + ["--seconds", str(seconds)], capture_output=True, text=True, check=True)
    r = json.loads(out.stdout)
    if r["errors"]:
        raise RuntimeError(f"{r['errors']} errors during load: {r}")
    return r["ok"] / r["seconds"]


def proc_status(pid):
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM"):
            out[k] = int(v.split()[0]) / 1024  # kB → MiB
    return out


def du_bytes(path):
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


def store_bytes(data_dir):
    """tessera.db with its WAL and shared-memory files."""
    return sum(f.stat().st_size for f in Path(data_dir).glob("tessera.db*"))


def http_floor(endpoint, requests):
    """Median ms of an unsigned GET /_tessera/health on one keep-alive connection: the client's
    and HTTP's share of every timed request."""
    host, port = endpoint.split("//", 1)[1].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    lat = []
    for _ in range(requests):
        t0 = time.perf_counter_ns()
        conn.request("GET", "/_tessera/health")
        conn.getresponse().read()
        lat.append((time.perf_counter_ns() - t0) / 1e6)
    conn.close()
    return round(statistics.median(lat), 3)


def cli_check(endpoint, data_dir, name):
    """`aws iam get-user` against the filled server, as a user would run it."""
    if not shutil.which("aws"):
        return None
    env = dict(os.environ, AWS_SHARED_CREDENTIALS_FILE=str(Path(data_dir) / "credentials"), AWS_PROFILE="root",
               AWS_ENDPOINT_URL=endpoint, AWS_DEFAULT_REGION="us-east-1")
    out = subprocess.run(["aws", "iam", "get-user", "--user-name", name, "--output", "json"], env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"aws iam get-user failed: {out.stderr}")
    return json.loads(out.stdout)["User"]["Arn"]


def serve_and_measure(args, data, n, key_secret, audited, rng, workdir):
    proc, endpoint, start_s = start(args.bin, data, audited)
    res = {"start_seconds": round(start_s, 3)}
    try:
        key, secret = key_secret
        res["rss_after_start_mib"] = round(proc_status(proc.pid)["VmRSS"], 1)
        if audited:
            res["cli_get_user_arn"] = cli_check(endpoint, data, entity("GetUser", n - 1))
        res["http_floor_median_ms"] = http_floor(endpoint, 1000)
        for op in ("GetUser", "GetRole"):
            lat = measure_latency(endpoint, key, secret, op, n, args.requests, args.warmup, rng)
            res[op] = {"median_ms": round(statistics.median(lat), 3), "p99_ms": round(percentile(lat, 99), 3),
                       "mean_ms": round(statistics.fmean(lat), 3), "requests": len(lat)}
        if args.load_seconds > 0 and Path(args.load).exists():
            for op in ("GetUser", "GetRole"):
                rps = run_load(args.load, endpoint, key, secret, op, n, workdir, args.connections,
                               args.load_seconds, rng)
                res[op]["req_per_s"] = round(rps)
        st = proc_status(proc.pid)
        res["rss_mib"] = round(st["VmRSS"], 1)
        res["hwm_mib"] = round(st["VmHWM"], 1)
    finally:
        stop(proc)
    return res


def summarize(runs):
    """Each figure's median over runs."""
    out = {}
    for k, v in runs[0].items():
        if isinstance(v, dict):
            out[k] = summarize([r[k] for r in runs])
        elif isinstance(v, (int, float)):
            out[k] = round(statistics.median(r[k] for r in runs), 3)
        else:
            out[k] = v
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=str(TARGET / "release" / "tessera"))
    ap.add_argument("--fill", default=str(TARGET / "release" / "examples" / "iam_fill"))
    ap.add_argument("--load", default=str(TARGET / "release" / "examples" / "http_load"))
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--requests", type=int, default=5000, help="timed requests per operation")
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--runs", type=int, default=1, help="server runs per N and mode (figures: median over runs)")
    ap.add_argument("--in-process", type=int, default=20000, help="GetUser/GetRole timed in the fill's process")
    ap.add_argument("--load-seconds", type=int, default=0, help="http_load throughput run per operation (0: none)")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--unaudited", action="store_true", help="also measure with --unaudited-benchmark-only")
    ap.add_argument("--workdir", default=None, help="where data dirs go (default: a temporary dir)")
    ap.add_argument("--keep", action="store_true", help="keep the data dirs")
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="iam-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results = []
    modes = ["audited"] + (["unaudited"] if args.unaudited else [])
    try:
        for n in map(int, args.sizes.split(",")):
            data = workdir / f"iam-{n}"
            if data.exists():
                shutil.rmtree(data)
            proc, _, _ = start(args.bin, data)  # first start: account and root key
            stop(proc)
            t0 = time.monotonic()
            fill = subprocess.run([args.fill, str(data), str(n), "--time-lookups", str(args.in_process)],
                                  capture_output=True, text=True)
            if fill.returncode != 0:
                raise RuntimeError(f"iam_fill failed: {fill.stderr}")
            fill_s = time.monotonic() - t0
            row = {"n": n, "fill_seconds": round(fill_s, 1), "fill": json.loads(fill.stdout.strip().splitlines()[-1]),
                   "data_dir_bytes": du_bytes(data), "store_bytes": store_bytes(data)}
            print(f"N={n}: filled in {fill_s:.1f} s; data dir {row['data_dir_bytes'] / 2**20:.1f} MiB "
                  f"(store {row['store_bytes'] / 2**20:.1f} MiB)", flush=True)
            creds = credentials(data)
            for run in range(args.runs):
                for mode in modes:
                    x = serve_and_measure(args, data, n, creds, mode == "audited", rng, workdir)
                    row.setdefault("runs", {}).setdefault(mode, []).append(x)
                    print(f"  run {run + 1} {mode}: {json.dumps(x)}", flush=True)
            row.update({mode: summarize(row["runs"][mode]) for mode in modes})
            row["data_dir_bytes_after"] = du_bytes(data)
            row["audit_db_bytes_after"] = (data / "audit.db").stat().st_size
            results.append(row)
            if not args.keep:
                shutil.rmtree(data)
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    print(f"\nmedians over {args.runs} run(s) of {args.requests} sequential requests per operation")
    hdr = f"{'N':>8} {'mode':<10} {'GetUser p50/p99 ms':>19} {'GetRole p50/p99 ms':>19} {'RSS/HWM MiB':>13} {'data dir MiB':>12} {'fill s':>7}"
    print(hdr)
    for r in results:
        for m in modes:
            x = r[m]
            gu, gr = x["GetUser"], x["GetRole"]
            print(f"{r['n']:>8} {m:<10} {gu['median_ms']:>9.3f}/{gu['p99_ms']:<9.3f} {gr['median_ms']:>9.3f}/{gr['p99_ms']:<9.3f}"
                  f" {x['rss_mib']:>6.1f}/{x['hwm_mib']:<6.1f} {r['data_dir_bytes'] / 2**20:>12.1f} {r['fill_seconds']:>7.1f}")
            if m == "audited" and "GetUser_in_process_us" in r["fill"]:
                f = r["fill"]
                print(f"{'':>8} {'':<10} in process (no HTTP/SigV4/audit): GetUser p50 {f['GetUser_in_process_us']['median']} µs,"
                      f" GetRole p50 {f['GetRole_in_process_us']['median']} µs")
            for op in ("GetUser", "GetRole"):
                if "req_per_s" in x[op]:
                    print(f"{'':>8} {'':<10} {op} {x[op]['req_per_s']} req/s at {args.connections} connections")
    print(json.dumps({"sizes": results, "requests": args.requests, "runs": args.runs, "loadavg": os.getloadavg()},
                     indent=1))


if __name__ == "__main__":
    main()
