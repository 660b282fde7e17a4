#!/usr/bin/env python3
"""Start-to-healthy time and idle RSS of `tessera serve` on an existing data dir, and of
`moto_server` in the same run (issue 4 figures).
Usage: bench/startup.py [--runs N] [--bin PATH]... [--no-moto] [--catalogue]

Method: spawn the process, poll its health URL every millisecond until it answers 200; the time
from spawn to the first 200 is one sample. Idle RSS is VmRSS from /proc after the first health
answer plus one signed request and one second of idling. Medians of N runs are printed as JSON.

--catalogue (needs boto3) also times, in each Tessera run after the idle RSS, the first and the
second `iam:GetPolicy` of an AWS managed policy (the first one decompresses the embedded
catalogue of AWS managed policies), and VmRSS one second after them."""

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
CATALOGUE_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"  # shipped by every version


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


class TesseraRuns:
    """Start-up samples of one tessera binary on a data dir of its own (made by a first start
    that is not measured)."""

    def __init__(self, binary, catalogue):
        self.data = Path(tempfile.mkdtemp()) / "data"
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.args = [str(binary), "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data)]
        self.env = dict(os.environ, RUST_LOG="warn")
        p = subprocess.Popen(self.args, env=self.env, stderr=subprocess.DEVNULL)
        wait_healthy(f"{self.endpoint}/_tessera/health", p)
        p.terminate(); p.wait()
        self.iam = catalogue_client(self.endpoint, self.data / "credentials") if catalogue else None
        self.times, self.rss = [], []
        self.extra = {"first_get_policy_ms": [], "second_get_policy_ms": [], "rss_after_mib": []}

    def run_once(self):
        t0 = time.perf_counter()
        p = subprocess.Popen(self.args, env=self.env, stderr=subprocess.DEVNULL)
        wait_healthy(f"{self.endpoint}/_tessera/health", p)
        self.times.append((time.perf_counter() - t0) * 1000)
        signed_call(self.endpoint, self.data / "credentials")
        time.sleep(1)
        self.rss.append(rss_kib(p.pid) / 1024)
        if self.iam:
            for key in ("first_get_policy_ms", "second_get_policy_ms"):
                t0 = time.perf_counter()
                self.iam.get_policy(PolicyArn=CATALOGUE_POLICY)
                self.extra[key].append((time.perf_counter() - t0) * 1000)
            time.sleep(1)
            self.extra["rss_after_mib"].append(rss_kib(p.pid) / 1024)
        p.terminate(); p.wait()

    def close(self):
        shutil.rmtree(self.data.parent, ignore_errors=True)


def bench_tessera(runs, binaries, catalogue=False):
    """Samples of each binary, interleaved run by run (so that load on the machine falls on all
    of them alike): {binary: (times, rss, extra)}."""
    benches = {b: TesseraRuns(b, catalogue) for b in binaries}
    for _ in range(runs):
        for bench in benches.values():
            bench.run_once()
    for bench in benches.values():
        bench.close()
    return {b: (x.times, x.rss, x.extra) for b, x in benches.items()}


def catalogue_client(endpoint, creds_file):
    """A boto3 IAM client made before the timed calls (its creation is not what is measured)."""
    import boto3
    import botocore.config
    text = Path(creds_file).read_text()
    field = lambda k: next(l.split("=", 1)[1].strip() for l in text.splitlines() if l.startswith(k))
    return boto3.session.Session(region_name="us-east-1").client(
        "iam", endpoint_url=endpoint, config=botocore.config.Config(retries={"max_attempts": 1}),
        aws_access_key_id=field("aws_access_key_id"), aws_secret_access_key=field("aws_secret_access_key"))


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
        return None, None, {}
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
    return times, rss, {}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--bin", action="append",
                    help="a tessera binary to measure (default: the release build); given more than once, "
                         "the binaries' runs are interleaved")
    ap.add_argument("--no-moto", action="store_true", help="measure Tessera only")
    ap.add_argument("--catalogue", action="store_true",
                    help="also time the first and second GetPolicy of an AWS managed policy (needs boto3)")
    a = ap.parse_args()
    binaries = a.bin or [str(BIN)]
    out = {}

    def summary(times, rss, extra):
        s = {"start_to_healthy_ms_median": round(statistics.median(times), 1),
             "start_to_healthy_ms_min": round(min(times), 1),
             "idle_rss_mib_median": round(statistics.median(rss), 1)}
        for key, values in extra.items():
            if values:
                s[f"{key}_median"] = round(statistics.median(values), 1)
        return s

    print(f"measuring tessera ({a.runs} runs of {len(binaries)} binaries)...", file=sys.stderr)
    for binary, result in bench_tessera(a.runs, binaries, a.catalogue).items():
        name = "tessera" if len(binaries) == 1 else f"tessera {binary}"
        out[name] = summary(*result)
        out[name]["binary_bytes"] = Path(binary).stat().st_size
    if not a.no_moto:
        print(f"measuring moto_server ({a.runs} runs)...", file=sys.stderr)
        times, rss, extra = bench_moto(a.runs)
        if times is None:
            print("moto_server not installed: pip install 'moto[server]'", file=sys.stderr)
        else:
            out["moto_server"] = summary(times, rss, extra)
    if "tessera" in out and "moto_server" in out:
        out["ratio_start_moto_over_tessera"] = round(
            out["moto_server"]["start_to_healthy_ms_median"] / out["tessera"]["start_to_healthy_ms_median"], 1)
        out["ratio_rss_moto_over_tessera"] = round(
            out["moto_server"]["idle_rss_mib_median"] / out["tessera"]["idle_rss_mib_median"], 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
