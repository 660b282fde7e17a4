#!/usr/bin/env python3
"""S3 figures of issue 7, Tessera and moto_server side by side.

Usage: bench/s3_load.py [--runs 3] [--duration 10] [--connections 32] [--big-mib 1024]

Method:
- GetObject of a 4 KiB object with SigV4: a presigned GET URL (query-string SigV4, valid 15
  minutes) made with botocore, replayed by `wrk` (2 threads, keep-alive) for --duration seconds;
  median requests/s and p99 over --runs runs.
- PutObject of a --big-mib object: `aws s3 cp` of a file of that size (the CLI's multipart upload,
  8 MiB parts) while the server's VmRSS is sampled every 50 ms; peak RSS and the time are reported.
Both servers run on this machine with the load generator; run in a venv with `moto[server]`,
`boto3` and `awscli` (e.g. `.venv-bench`)."""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sts_load import start_moto, start_tessera  # noqa: E402


def rss_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def wrk_get(url, duration, connections):
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url],
                         capture_output=True, text=True).stdout
    import re
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, p99_ms, int(non2xx.group(1)) if non2xx else 0


def big_put(endpoint, creds, pid, path):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=creds[0], AWS_SECRET_ACCESS_KEY=creds[1], AWS_DEFAULT_REGION="us-east-1",
               AWS_ENDPOINT_URL=endpoint)
    env.pop("AWS_PROFILE", None)
    peak = [rss_kib(pid)]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.05)

    th = threading.Thread(target=sample)
    th.start()
    t = time.monotonic()
    aws = shutil.which("aws", path=str(Path(sys.executable).parent)) or "aws"
    r = subprocess.run([aws, "s3", "cp", str(path), "s3://bench/big", "--only-show-errors"], env=env,
                       capture_output=True, text=True)
    secs = time.monotonic() - t
    stop.set()
    th.join()
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return secs, peak[0] / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--big-mib", type=int, default=1024)
    a = ap.parse_args()
    big = Path(tempfile.mkdtemp()) / "big.bin"
    with open(big, "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(a.big_mib):
            f.write(chunk)
    results = {}
    try:
        for name, start in (("tessera", start_tessera), ("moto_server", start_moto)):
            p, endpoint, creds = start()
            try:
                s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                  aws_access_key_id=creds[0], aws_secret_access_key=creds[1])
                s3.create_bucket(Bucket="bench")
                s3.put_object(Bucket="bench", Key="small", Body=os.urandom(4096))
                url = s3.generate_presigned_url("get_object", Params={"Bucket": "bench", "Key": "small"},
                                                ExpiresIn=900)
                runs = [wrk_get(url, a.duration, a.connections) for _ in range(a.runs)]
                for rps, p99, bad in runs:
                    print(f"{name} GetObject 4 KiB: {rps:.0f} req/s p99 {p99:.2f} ms non-2xx {bad}", file=sys.stderr)
                secs, peak = big_put(endpoint, creds, p.pid, big)
                print(f"{name} PUT {a.big_mib} MiB: {secs:.1f} s, peak RSS {peak:.1f} MiB", file=sys.stderr)
                results[name] = {
                    "get_4k_rps_median": round(statistics.median(r[0] for r in runs)),
                    "get_4k_p99_ms_median": round(statistics.median(r[1] for r in runs), 2),
                    "get_4k_non2xx": sum(r[2] for r in runs),
                    "put_big_seconds": round(secs, 1),
                    "put_big_peak_rss_mib": round(peak, 1),
                }
            finally:
                p.terminate()
                p.wait(timeout=30)
    finally:
        shutil.rmtree(big.parent, ignore_errors=True)
    if "tessera" in results and "moto_server" in results and results["moto_server"]["get_4k_rps_median"]:
        results["ratio_get_rps_tessera_over_moto"] = round(
            results["tessera"]["get_4k_rps_median"] / results["moto_server"]["get_4k_rps_median"], 1)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
