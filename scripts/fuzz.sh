#!/usr/bin/env bash
# Fuzz Tessera's parsers: build every cargo-fuzz target of fuzz/ once, then run each (or only
# the TARGETs named) for SECONDS (default 30). Targets: the policy language (parse,
# parse_evaluate, differential), SigV4 (sigv4_header, sigv4_presigned), the wire decoders
# (query_body, json_body, cbor_body), session tokens (session_token), OIDC ID tokens (oidc_jwt), SAML
# responses (saml_response) and request routing (s3_routing). New inputs go to
# fuzz/corpus/<target>/ (not tracked), the seeds are read from fuzz/seeds/<target>/, a crash is
# written to fuzz/artifacts/<target>/ and fails the run.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
# Needs a nightly toolchain (or RUSTC_BOOTSTRAP) and cargo-fuzz (installed if missing).
set -euo pipefail
secs="${1:-30}"
shift || true
cd "$(dirname "$0")/../fuzz"
all_targets=(parse parse_evaluate differential sigv4_header sigv4_presigned query_body json_body cbor_body
  session_token oidc_jwt saml_response s3_routing)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi
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
# One build for every target. No sanitizer: the code under test forbids `unsafe`, so what the
# fuzzers look for are panics, failed assertions and overflows (debug assertions are on);
# AddressSanitizer would double the build time and halve the executions.
if [ "$#" -gt 0 ]; then
  for target in "${targets[@]}"; do fuzz build --sanitizer none --debug-assertions "$target"; done
else
  echo "== cargo fuzz build (every target)"
  fuzz build --sanitizer none --debug-assertions
fi
triple="$(rustc -vV | sed -n 's/^host: //p')"
for target in "${targets[@]}"; do
  echo "== fuzz $target for ${secs}s"
  mkdir -p "corpus/$target" "artifacts/$target" "seeds/$target"
  log="artifacts/$target/last-run.log"
  status=0
  "target/$triple/release/$target" -max_total_time="$secs" -max_len=8192 -timeout=20 \
    -artifact_prefix="artifacts/$target/" -print_final_stats=1 "corpus/$target" "seeds/$target" >"$log" 2>&1 ||
    status=$?
  grep -E '^(Done |stat::number_of_executed_units|stat::average_exec_per_sec)' "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -40 "$log" >&2
    echo "fuzz target $target failed: see fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
