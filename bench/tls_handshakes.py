#!/usr/bin/env python3
"""TLS handshakes per second, full against resumed (issue 19: HTTPS with TLS resumption on).

Usage: bench/tls_handshakes.py [--runs 5] [--seconds 8] [--bin PATH] [--tls 1.3|1.2]

Method: start a release server with --tls-self-signed; then `openssl s_time` (the OpenSSL CLI,
single-threaded, on the same machine) opens connection after connection for --seconds, each one
doing `GET /_tessera/health` and reading the answer (so a TLS 1.3 client receives its session
ticket), alternately with `-new` (a full handshake every time: certificate, signature, key
exchange) and `-reuse` (resuming the first connection's session: no certificate or signature).
Reports the median connections per real second of each and how many `-reuse` connections the
server really resumed (s_time prints `r` for each)."""

import argparse
import json
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sts_load  # noqa: E402
import variants_load  # noqa: E402


def s_time(host, ca, mode, seconds, version):
    started = time.monotonic()
    out = subprocess.run(["openssl", "s_time", "-connect", host, "-CAfile", ca, f"-{mode}", "-time", str(seconds),
                          "-www", "/_tessera/health", f"-tls1_{version.split('.')[1]}"],
                         capture_output=True, text=True).stdout
    wall = time.monotonic() - started
    m = re.search(r"(\d+) connections in [\d.]+ real seconds", out)
    if not m:
        raise SystemExit("openssl s_time printed:\n" + out)
    # s_time's "real seconds" is rounded to whole seconds; the wall time measured here is not.
    conns = int(m.group(1))
    # In -reuse mode s_time prints one character a connection after "starting": `r` resumed, `*` not.
    marks = out.split("starting", 1)[-1].strip().splitlines()[0] if mode == "reuse" else ""
    return conns / wall, marks.count("r"), marks.count("*")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--bin", default=str(sts_load.BIN))
    ap.add_argument("--tls", default="1.3", choices=["1.2", "1.3"])
    a = ap.parse_args()
    proc, endpoint, _, verify = variants_load.start(a.bin, "https")
    host = endpoint.removeprefix("https://")
    runs = {"new": [], "reuse": []}
    resumed = 0
    fresh = 0
    try:
        for _ in range(a.runs):
            for mode in ("new", "reuse"):
                rate, r, star = s_time(host, verify, mode, a.seconds, a.tls)
                runs[mode].append(rate)
                if mode == "reuse":
                    resumed += r
                    fresh += star
                print(f"{mode}: {rate:.0f} connections/s", file=sys.stderr)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
    new = statistics.median(runs["new"])
    reuse = statistics.median(runs["reuse"])
    print(json.dumps({"tls": a.tls, "full_handshakes_per_s": round(new), "resumed_handshakes_per_s": round(reuse),
                      "ratio_resumed_over_full": round(reuse / new, 2) if new else None,
                      "reuse_connections_resumed": resumed, "reuse_connections_new_session": fresh}, indent=2))


if __name__ == "__main__":
    main()
