#!/usr/bin/env bash
# Throughput of `tessera policy simulate --jsonl` on one core (docs/BENCHMARKS.md, "Policy engine").
#
# Usage: bench/simulate_jsonl.sh [N] [RUNS] [WORKDIR]
#   The input stream is N lines (default 10000): the 40 decisions of `bench_compare emit` (a role
#   session with 10 policies of 10 statements and a boundary; 32 allowed, 8 implicitly denied)
#   repeated in order. Each of RUNS (default 5) runs is
#     taskset -c 0 tessera policy simulate --jsonl < stream.jsonl > out.jsonl
#   timed from spawn to exit (wall) and by the child's user+sys CPU time. Prints one JSON line:
#   simulations per second, median over the runs, by wall time and by CPU time.
# TESSERA_BIN=path times another build (e.g. an older commit's binary) on the same stream.
# ROTATE=1 rotates each line's PolicyInputList by its line number: the same documents, but never at
# the place they held in the line before (the cache is then found by hashing, not by position).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-10000}"
runs="${2:-5}"
work="${3:-/tmp/tessera-jsonl}"
mkdir -p "$work"
command -v taskset >/dev/null || { echo "taskset (util-linux) is needed" >&2; exit 2; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
(cd "$repo" && cargo build --release -q -p tessera-policy --example bench_compare)
bin="${TESSERA_BIN:-}"
if [ -z "$bin" ]; then
  (cd "$repo" && cargo build --release -q -p tessera)
  bin="$CARGO_TARGET_DIR/release/tessera"
fi
"$CARGO_TARGET_DIR/release/examples/bench_compare" emit > "$work/decisions.jsonl"

python3 - "$bin" "$work" "$n" "$runs" "${ROTATE:-0}" <<'PY'
import json, os, resource, statistics, subprocess, sys, time

bin_, work, n, runs, rotate = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
decisions = [l for l in open(os.path.join(work, "decisions.jsonl")) if l.strip()]
stream = os.path.join(work, "stream.jsonl")
with open(stream, "w") as f:
    for i in range(n):
        line = decisions[i % len(decisions)]
        if rotate:
            d = json.loads(line)
            p = d["PolicyInputList"]
            d["PolicyInputList"] = p[i % len(p):] + p[: i % len(p)]
            line = json.dumps(d, separators=(",", ":")) + "\n"
        f.write(line)
out_path = os.path.join(work, "out.jsonl")
walls, cpus = [], []
for _ in range(runs):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    with open(stream, "rb") as src, open(out_path, "wb") as dst:
        code = subprocess.run(["taskset", "-c", "0", bin_, "policy", "simulate", "--jsonl"], stdin=src, stdout=dst).returncode
    walls.append(time.perf_counter() - t)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    if code != 0:
        sys.exit(f"tessera exited {code}")
# One result per line; line i decides as line i mod 40 (the same question).
outs = open(out_path).read().splitlines()
assert len(outs) == n, (len(outs), n)
verdicts = [json.loads(o)["EvaluationResults"][0]["EvalDecision"] for o in outs]
assert all(v == verdicts[i % len(decisions)] for i, v in enumerate(verdicts)), "decisions differ between repetitions"
if not rotate:
    assert all(o == outs[i % len(decisions)] for i, o in enumerate(outs)), "outputs differ between repetitions"
verdicts = verdicts[: len(decisions)]
wall, cpu = statistics.median(walls), statistics.median(cpus)
print(json.dumps({
    "lines": n, "runs": runs, "rotate": rotate, "bytes_per_line": os.path.getsize(stream) // n,
    "decisions": {v: verdicts.count(v) for v in sorted(set(verdicts))},
    "median_wall_s": round(wall, 4), "sims_per_s_wall": round(n / wall),
    "median_cpu_s": round(cpu, 4), "sims_per_s_cpu": round(n / cpu),
    "us_per_sim_wall": round(wall / n * 1e6, 2), "walls": [round(w, 4) for w in walls],
}))
PY
