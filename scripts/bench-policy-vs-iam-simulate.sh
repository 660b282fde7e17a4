#!/usr/bin/env bash
# Time Tessera's policy engine and the npm package @cloud-copilot/iam-simulate on the same decisions.
# iam-simulate is AGPL: it is installed and run from a folder outside the checkout, never copied.
# Usage: scripts/bench-policy-vs-iam-simulate.sh [WORKDIR]   (default /tmp/iamsim)
# Also times `tessera policy simulate --jsonl` on a stream of the same decisions repeated
# (bench/simulate_jsonl.sh; JSONL_LINES lines, default 10000, median of 5 runs on core 0).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-/tmp/iamsim}"
case "$work" in "$repo"*) echo "WORKDIR must be outside the checkout" >&2; exit 2;; esac
mkdir -p "$work"
if [ ! -d "$work/node_modules/@cloud-copilot/iam-simulate" ]; then
  (cd "$work" && npm install --silent --no-audit --no-fund @cloud-copilot/iam-simulate >/dev/null)
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
(cd "$repo" && cargo build --release -q -p tessera-policy --example bench_compare)
bin="$CARGO_TARGET_DIR/release/examples/bench_compare"
"$bin" emit > "$work/decisions.jsonl"

cat > "$work/driver.mjs" <<'JS'
// Times runSimulation on each SimulateCustomPolicy-shaped input (one per line).
import { readFileSync } from 'node:fs';
import { runSimulation } from '@cloud-copilot/iam-simulate';
const lines = readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l.trim());
const median = (v) => { const s = [...v].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const names = { Allowed: 'allowed', ExplicitlyDenied: 'explicitDeny', ImplicitlyDenied: 'implicitDeny' };
const perDecision = []; const decisions = [];
for (const line of lines) {
  const input = JSON.parse(line);
  const ctx = {};
  for (const e of input.ContextEntries || []) ctx[e.ContextKeyName] = e.ContextKeyValues.length === 1 ? e.ContextKeyValues[0] : e.ContextKeyValues;
  const account = (input.ResourceOwner || '').split(':')[4] || input.ResourceOwner;
  const sim = {
    request: { principal: input.CallerArn, action: input.ActionNames[0], resource: { resource: input.ResourceArns[0], accountId: account }, contextVariables: ctx },
    identityPolicies: input.PolicyInputList.map((p, i) => ({ name: `PolicyInputList.${i + 1}`, policy: JSON.parse(p) })),
    permissionBoundaryPolicies: (input.PermissionsBoundaryPolicyInputList || []).map((p, i) => ({ name: `boundary${i + 1}`, policy: JSON.parse(p) })),
    serviceControlPolicies: [], resourceControlPolicies: [],
  };
  const first = await runSimulation(sim, {});
  if (first.resultType === 'error') { console.error(JSON.stringify(first.errors)); process.exit(1); }
  decisions.push(names[first.overallResult] || first.overallResult);
  for (let i = 0; i < 10; i++) await runSimulation(sim, {}); // warm-up
  const samples = [];
  for (let i = 0; i < 100; i++) { const t = process.hrtime.bigint(); await runSimulation(sim, {}); samples.push(Number(process.hrtime.bigint() - t)); }
  perDecision.push(median(samples));
}
console.log(JSON.stringify({ decisions, median_ns: median(perDecision) }));
JS

tess="$("$bin" run "$work/decisions.jsonl")"
node_out="$(cd "$work" && node driver.mjs decisions.jsonl)"
jsonl="$("$repo/bench/simulate_jsonl.sh" "${JSONL_LINES:-10000}" 5 "$work/jsonl")"
python3 - "$tess" "$node_out" "$jsonl" <<'PY'
import json, sys
t, n, j = json.loads(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3])
same = t["decisions"] == n["decisions"]
print(f"decisions: {len(t['decisions'])}, identical outcomes: {same}")
if not same:
    for i, (a, b) in enumerate(zip(t["decisions"], n["decisions"])):
        if a != b: print(f"  decision {i}: tessera {a}, iam-simulate {b}")
print(f"iam-simulate runSimulation median per decision: {n['median_ns']/1000:.1f} us")
print(f"tessera evaluate (pre-parsed policies) median:  {t['median_ns_evaluate']/1000:.3f} us  -> {n['median_ns']/t['median_ns_evaluate']:.0f}x faster")
print(f"tessera simulate (JSON in/out, parses policies): {t['median_ns_simulate_json']/1000:.1f} us  -> {n['median_ns']/t['median_ns_simulate_json']:.0f}x faster")
print(f"iam-simulate, one decision after another:        {1e9/n['median_ns']:.0f} decisions/s")
print(f"tessera policy simulate --jsonl, {j['lines']} lines on core 0: {j['sims_per_s_wall']} decisions/s by wall time "
      f"({j['us_per_sim_wall']} us each -> {n['median_ns']/1000/j['us_per_sim_wall']:.0f}x faster), {j['sims_per_s_cpu']} by CPU time")
PY
