#!/usr/bin/env python3
"""Start-to-healthy time and idle RSS of `tessera serve` on an existing data dir, and of
`moto_server` in the same run (issue 4 figures). Usage: bench/startup.py [--runs N]

Method: spawn the process, poll its health URL every millisecond until it answers 200; the time
from spawn to the first 200 is one sample. Idle RSS is VmRSS from /proc after the first health
answer plus one signed request and one second of idling. Medians of N runs are printed as JSON."""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / "target" / "release" / "tessera"


def wait_healthy(url, proc, timeout=30):
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.001)
    raise RuntimeError("not healthy in time")


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_tessera(runs):
    data = Path(tempfile.mkdtemp()) / "data"
    port = free_port()
    args = [str(BIN), "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data)]
    env = dict(os.environ, RUST_LOG="warn")
    # first start creates the data dir; not measured
    p = subprocess.Popen(args, env=env, stderr=subprocess.DEVNULL)
    wait_healthy(f"http://127.0.0.1:{port}/_tessera/health", p)
    p.terminate(); p.wait()
    times, rss = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.Popen(args, env=env, stderr=subprocess.DEVNULL)
        wait_healthy(f"http://127.0.0.1:{port}/_tessera/health", p)
        times.append((time.perf_counter() - t0) * 1000)
        signed_call(f"http://127.0.0.1:{port}", data / "credentials")
        time.sleep(1)
        rss.append(rss_kib(p.pid) / 1024)
        p.terminate(); p.wait()
    shutil.rmtree(data.parent, ignore_errors=True)
    return times, rss


def signed_call(endpoint, creds_file):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=endpoint, AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    if creds_file:
        env.update(AWS_SHARED_CREDENTIALS_FILE=str(creds_file), AWS_PROFILE="root")
    else:
        env.update(AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE", AWS_SECRET_ACCESS_KEY="x" * 40)
    aws = shutil.which("aws", path=str(Path(sys.executable).parent)) or "aws"
    subprocess.run([aws, "sts", "get-caller-identity"], env=env, check=True, capture_output=True)


def bench_moto(runs):
    moto = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    if not moto:
        return None, None
    times, rss = [], []
    for _ in range(runs):
        port = free_port()
        t0 = time.perf_counter()
        p = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(f"http://127.0.0.1:{port}/moto-api/", p)
        times.append((time.perf_counter() - t0) * 1000)
        signed_call(f"http://127.0.0.1:{port}", None)
        time.sleep(1)
        rss.append(rss_kib(p.pid) / 1024)
        p.terminate(); p.wait()
    return times, rss


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    a = ap.parse_args()
    out = {}
    for name, fn in (("tessera", bench_tessera), ("moto_server", bench_moto)):
        print(f"measuring {name} ({a.runs} runs)...", file=sys.stderr)
        times, rss = fn(a.runs)
        if times is None:
            print("moto_server not installed: pip install 'moto[server]'", file=sys.stderr)
            continue
        out[name] = {"start_to_healthy_ms_median": round(statistics.median(times), 1),
                     "start_to_healthy_ms_min": round(min(times), 1),
                     "idle_rss_mib_median": round(statistics.median(rss), 1)}
    if "tessera" in out and "moto_server" in out:
        out["ratio_start_moto_over_tessera"] = round(
            out["moto_server"]["start_to_healthy_ms_median"] / out["tessera"]["start_to_healthy_ms_median"], 1)
        out["ratio_rss_moto_over_tessera"] = round(
            out["moto_server"]["idle_rss_mib_median"] / out["tessera"]["idle_rss_mib_median"], 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
