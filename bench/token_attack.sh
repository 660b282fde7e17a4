#!/usr/bin/env bash
# Session tokens under attack (docs/BENCHMARKS.md, "Session tokens under attack"): runs the
# ignored test `a_million_attacked_tokens_are_all_refused` of tessera-sts (release build)
# with N attacked tokens (default 1,000,000): forged, truncated, bit-flipped, edited, sealed
# under another key id or the same key id with other key bytes, bound to another access key id,
# expired, and authorization messages presented as tokens. Each goes through
# `sts::session_credentials`, the path every `ASIA...` request takes; the test fails on the
# first one accepted, and checks that the untouched tokens stay accepted.
# Prints the test's count line and the wall time of the run (the build is not timed).
# Usage: bench/token_attack.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000000}"
test=a_million_attacked_tokens_are_all_refused
cargo test --release --locked -p tessera-sts --lib --no-run 2>/dev/null ||
  cargo test --release --locked -p tessera-sts --lib --no-run
start=$(date +%s.%N)
TESSERA_TOKEN_ATTACKS="$n" cargo test --release --locked -p tessera-sts --lib "$test" -- --ignored --nocapture \
  --test-threads 1 2>&1 | grep -E "token attacks refused|test result|panicked"
end=$(date +%s.%N)
echo "wall seconds (test binary, startup included): $(echo "$end - $start" | bc)"
