#!/usr/bin/env bash
# Run each tessera-policy fuzz target for a short while (default 30 s each).
# Usage: scripts/fuzz-policy.sh [SECONDS]
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -euo pipefail
secs="${1:-30}"
cd "$(dirname "$0")/../fuzz"
if ! command -v cargo-fuzz >/dev/null; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
# cargo-fuzz needs nightly flags; without a nightly toolchain, let stable accept them.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz() { cargo +nightly fuzz "$@"; }
else
  fuzz() { RUSTC_BOOTSTRAP=1 cargo fuzz "$@"; }
fi
for target in parse parse_evaluate differential; do
  echo "== fuzz $target for ${secs}s"
  fuzz run "$target" -- -max_total_time="$secs" -max_len=8192
done
