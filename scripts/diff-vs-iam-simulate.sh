#!/usr/bin/env bash
# Differential run: Tessera's `policy simulate` against the npm package @cloud-copilot/iam-simulate
# on generated SimulateCustomPolicy inputs (docs/POLICY_ENGINE.md, "Differential run against
# iam-simulate"). iam-simulate is AGPL: it is installed and run from a folder outside the checkout,
# never copied; the driver below is ours and only calls its public `runSimulation`.
#
# Usage: scripts/diff-vs-iam-simulate.sh [N] [SEED] [WORKDIR]   (defaults 3000, 1, /tmp/iamsim-diff)
# Writes WORKDIR/inputs.jsonl (the generated inputs), WORKDIR/disagreements.jsonl (each
# disagreement with its input reduced to a minimal one that still disagrees the same way) and
# prints the counts and one minimal example per group.
# TESSERA_BIN=path uses that binary instead of building target/release/tessera.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-3000}"
seed="${2:-1}"
work="${3:-/tmp/iamsim-diff}"
case "$work" in "$repo"*) echo "WORKDIR must be outside the checkout" >&2; exit 2;; esac
mkdir -p "$work"
if [ ! -d "$work/node_modules/@cloud-copilot/iam-simulate" ]; then
  (cd "$work" && npm install --silent --no-audit --no-fund @cloud-copilot/iam-simulate >/dev/null)
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
(cd "$repo" && cargo build --release -q -p tessera-policy --example bench_compare)
bin="${TESSERA_BIN:-}"
if [ -z "$bin" ]; then
  (cd "$repo" && cargo build --release -q -p tessera)
  bin="$CARGO_TARGET_DIR/release/tessera"
fi
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
"$CARGO_TARGET_DIR/release/examples/bench_compare" emit-generated "$n" "$seed" > "$work/inputs.jsonl"

cat > "$work/diff.mjs" <<'JS'
// Runs each SimulateCustomPolicy input through Tessera (`tessera policy simulate --jsonl`, one
// long-lived process) and iam-simulate's runSimulation; reduces every disagreement.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { runSimulation } from '@cloud-copilot/iam-simulate';

const [bin, inputsPath, outPath] = process.argv.slice(2);
const tessera = spawn(bin, ['policy', 'simulate', '--jsonl'], { stdio: ['pipe', 'pipe', 'inherit'] });
const waiting = [];
createInterface({ input: tessera.stdout }).on('line', (l) => waiting.shift()(JSON.parse(l)));
const tess = (input) => new Promise((resolve) => { waiting.push(resolve); tessera.stdin.write(JSON.stringify(input) + '\n'); });

const names = { Allowed: 'allowed', ExplicitlyDenied: 'explicitDeny', ImplicitlyDenied: 'implicitDeny' };
// The same question in iam-simulate's shape: each SCP/RCP list entry is one level (iam-simulate adds
// RCPFullAWSAccess to each RCP level itself); a role CallerArn is the session Tessera simulates.
function toSimulation(input) {
  const contextVariables = {};
  for (const e of input.ContextEntries || []) {
    contextVariables[e.ContextKeyName] = /List$/.test(e.ContextKeyType || '') ? e.ContextKeyValues : e.ContextKeyValues[0];
  }
  const owner = input.ResourceOwner || '';
  const accountId = owner.startsWith('arn:') ? owner.split(':')[4] : owner;
  let principal = input.CallerArn;
  const role = /^arn:([^:]+):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(principal);
  if (role) principal = `arn:${role[1]}:sts::${role[2]}:assumed-role/${role[3]}/SimulatedSession`;
  const list = (k) => input[k] || [];
  const named = (k) => list(k).map((p, i) => ({ name: `${k}.${i + 1}`, policy: JSON.parse(p) }));
  const levels = (k) => named(k).map((p, i) => ({ orgIdentifier: `level${i + 1}`, policies: [p] }));
  return {
    request: { principal, action: input.ActionNames[0], resource: { resource: input.ResourceArns[0], accountId }, contextVariables },
    identityPolicies: named('PolicyInputList'),
    permissionBoundaryPolicies: list('PermissionsBoundaryPolicyInputList').length ? named('PermissionsBoundaryPolicyInputList') : undefined,
    serviceControlPolicies: levels('ServiceControlPolicyInputList'),
    resourceControlPolicies: levels('ResourceControlPolicyInputList'),
    sessionPolicy: list('SessionPolicyInputList').length ? JSON.parse(list('SessionPolicyInputList')[0]) : undefined,
    resourcePolicy: input.ResourcePolicy ? JSON.parse(input.ResourcePolicy) : undefined,
  };
}

async function both(input) {
  const t = await tess(input);
  const r = await runSimulation(toSimulation(input), {});
  const tr = t.EvaluationResults ? t.EvaluationResults[0] : undefined;
  return {
    tessera: tr ? tr.EvalDecision : `error:${t.Error.Code}`,
    decidedBy: tr ? tr.DecidedBy : undefined,
    denyReason: tr ? tr.DenyReason : undefined,
    iamsim: r.resultType === 'error' ? `error:${r.errors.message}` : names[r.overallResult] || r.overallResult,
    blockedBy: r.resultType === 'single' ? r.result.analysis.blockedBy : undefined,
    ignoredContextKeys: r.resultType === 'single' ? r.result.ignoredContextKeys : undefined,
  };
}

// Smaller variants of an input: drop a policy, a context entry, a statement, a condition, an
// element, or all but one value of a list.
function* smaller(input) {
  const lists = ['PolicyInputList', 'PermissionsBoundaryPolicyInputList', 'SessionPolicyInputList',
    'ServiceControlPolicyInputList', 'ResourceControlPolicyInputList'];
  const copy = () => JSON.parse(JSON.stringify(input));
  for (const k of lists) {
    for (let i = 0; i < (input[k] || []).length; i++) { const c = copy(); c[k].splice(i, 1); if (!c[k].length) delete c[k]; yield c; }
  }
  if (input.ResourcePolicy) { const c = copy(); delete c.ResourcePolicy; yield c; }
  for (let i = 0; i < (input.ContextEntries || []).length; i++) { const c = copy(); c.ContextEntries.splice(i, 1); yield c; }
  const docs = [];
  for (const k of lists) (input[k] || []).forEach((_, i) => docs.push([k, i]));
  if (input.ResourcePolicy) docs.push(['ResourcePolicy', null]);
  for (const [k, i] of docs) {
    const get = (c) => JSON.parse(i === null ? c[k] : c[k][i]);
    const set = (c, d) => { if (i === null) c[k] = JSON.stringify(d); else c[k][i] = JSON.stringify(d); };
    const doc = get(input);
    const sts = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
    for (let s = 0; s < sts.length; s++) {
      const variant = (f) => { const c = copy(); const d = get(c); d.Statement = Array.isArray(d.Statement) ? d.Statement : [d.Statement]; if (f(d.Statement, d) === false) return null; set(c, d); return c; };
      if (sts.length > 1) yield variant((st) => { st.splice(s, 1); });
      for (const el of ['Sid', 'Condition']) if (sts[s][el] !== undefined) yield variant((st) => { delete st[s][el]; });
      const cond = sts[s].Condition || {};
      for (const op of Object.keys(cond)) {
        if (Object.keys(cond).length > 1) yield variant((st) => { delete st[s].Condition[op]; });
        for (const key of Object.keys(cond[op])) {
          if (Object.keys(cond[op]).length > 1) yield variant((st) => { delete st[s].Condition[op][key]; });
          const vals = cond[op][key];
          if (Array.isArray(vals)) for (let v = 0; v < vals.length; v++) if (vals.length > 1) yield variant((st) => { st[s].Condition[op][key] = vals[v]; });
        }
      }
      for (const el of ['Action', 'NotAction', 'Resource', 'NotResource']) {
        const vals = sts[s][el];
        if (Array.isArray(vals) && vals.length > 1) for (let v = 0; v < vals.length; v++) yield variant((st) => { st[s][el] = vals[v]; });
        // A policy variable that plays no part: the same without it.
        if (typeof vals === 'string' && vals.includes('${')) yield variant((st) => { st[s][el] = 'arn:aws:s3:::unrelated/*'; });
      }
      for (const el of ['Principal', 'NotPrincipal']) {
        const p = sts[s][el];
        if (p && typeof p === 'object' && Array.isArray(p.AWS) && p.AWS.length > 1) {
          for (let v = 0; v < p.AWS.length; v++) yield variant((st) => { st[s][el].AWS = p.AWS[v]; });
        }
      }
    }
  }
}

async function reduce(input, want) {
  let cur = input;
  for (let changed = true; changed;) {
    changed = false;
    for (const c of smaller(cur)) {
      const got = await both(c);
      if (got.tessera === want.tessera && got.iamsim === want.iamsim) { cur = c; changed = true; break; }
    }
  }
  return cur;
}

const lines = readFileSync(inputsPath, 'utf8').split('\n').filter((l) => l.trim());
const out = [];
const counts = { inputs: lines.length, agree: 0, disagree: 0, tesseraErrors: 0, iamsimErrors: 0 };
for (let i = 0; i < lines.length; i++) {
  const input = JSON.parse(lines[i]);
  const got = await both(input);
  if (got.tessera.startsWith('error:')) { counts.tesseraErrors++; continue; }
  if (got.iamsim.startsWith('error:')) { counts.iamsimErrors++; continue; }
  if (got.tessera === got.iamsim) { counts.agree++; continue; }
  counts.disagree++;
  const minimal = await reduce(input, got);
  out.push({ line: i + 1, ...got, minimal, minimalResult: await both(minimal) });
}
writeFileSync(outPath, out.map((o) => JSON.stringify(o)).join('\n') + (out.length ? '\n' : ''));
console.log(JSON.stringify(counts));
tessera.stdin.end();
JS

(cd "$work" && node diff.mjs "$bin" inputs.jsonl disagreements.jsonl)
version="$(node -p "require('$work/node_modules/@cloud-copilot/iam-simulate/package.json').version")"
echo "iam-simulate $version, $n inputs (seed $seed)"
python3 - "$work/disagreements.jsonl" <<'PY'
import collections, json, sys

def statements(doc):
    st = json.loads(doc).get("Statement", [])
    return st if isinstance(st, list) else [st]

def docs(m):
    out = [d for k in ["PolicyInputList", "PermissionsBoundaryPolicyInputList", "SessionPolicyInputList",
                       "ServiceControlPolicyInputList", "ResourceControlPolicyInputList"] for d in m.get(k, [])]
    return out + ([m["ResourcePolicy"]] if m.get("ResourcePolicy") else [])

def all_statements(m):
    return [(json.loads(d).get("Version"), s) for d in docs(m) for s in statements(d)]

def has_var(v):
    return "${" in json.dumps(v)

# The classes of docs/POLICY_ENGINE.md, "Differential run against iam-simulate", recognised on the
# minimal input (first match wins); "other" is anything new.
def klass(r):
    m, t, n = r["minimal"], r["tessera"], r["iamsim"]
    caller, action = m.get("CallerArn", ""), m["ActionNames"][0]
    rp = statements(m["ResourcePolicy"]) if m.get("ResourcePolicy") else []
    sts = all_statements(m)
    ops = [op for _, s in sts for op in (s.get("Condition") or {})]
    if caller.endswith(":root") and m.get("PermissionsBoundaryPolicyInputList"):
        return "root user with a permissions boundary"
    if action.startswith("kms:") and not m.get("ResourcePolicy") and (t, n) == ("allowed", "implicitDeny"):
        return "KMS key without a key policy in the input"
    if caller.endswith(":root") and action.lower().startswith("sts:assumerole"):
        return "root user calling sts:AssumeRole"
    if caller.endswith(":root") and t == "allowed" and n == "implicitDeny":
        return "root user without identity policies"
    if ":federated-user/" in caller and not m.get("SessionPolicyInputList") and (t, n) == ("implicitDeny", "allowed"):
        return "federated user without a session policy"
    if m["ResourceArns"][0].split(":")[4:5] == ["aws"] and t == "explicitDeny" and n == "implicitDeny":
        return "explicit deny on an AWS-owned resource"
    if ":federated-user/" in caller and any("aws:username" in json.dumps(s.get("Condition")).lower() for _, s in sts):
        return "aws:username derived for a federated user"
    if any(v != "2012-10-17" and has_var(s) for v, s in sts):
        return "policy variable in a document without Version 2012-10-17"
    if any(v == "2012-10-17" and has_var(s.get("NotResource")) for v, s in sts):
        return "policy variable with no value in NotResource"
    if any("IfExists" in o and o.split(":")[0] in ("ForAnyValue", "ForAllValues") for o in ops):
        return "set operator with IfExists, key absent"
    if any(e.get("ContextKeyValues") == [] for e in m.get("ContextEntries", [])):
        return "multivalued key present with no values"
    if any(o.split(":")[-1].startswith(("Numeric", "Date", "IpAddress", "NotIpAddress")) for o in ops):
        return "value of another type than the operator (iam-simulate reads a number prefix)"
    if any(":" not in o and "aws:tagkeys" in (k.lower() for k in s["Condition"][o])
           for _, s in sts for o in (s.get("Condition") or {})):
        return "multivalued key without a set operator"
    account = caller.split(":")[4] if caller.count(":") >= 5 else ""
    for s in rp:
        if "NotPrincipal" in s and s["Effect"] == "Deny":
            listed = json.dumps(s["NotPrincipal"])
            if f'"{account}"' in listed or f"{account}:root" in listed:
                return "Deny with NotPrincipal listing the caller's account but not the caller"
            return "Deny with NotPrincipal listing the caller but not its account"
    if any("NotPrincipal" in s and s["Effect"] == "Allow" for s in rp):
        return "Allow with NotPrincipal"
    if m.get("SessionPolicyInputList") and any(s["Effect"] == "Allow" for s in rp):
        if any(caller in json.dumps(s.get("Principal")) for s in rp if s["Effect"] == "Allow"):
            return "resource-policy grant to the session ARN beside a session policy"
        return "resource-policy grant to * beside a session policy"
    return "other"

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
classes = collections.defaultdict(list)
for r in rows:
    classes[klass(r)].append(r)
for name, rs in sorted(classes.items(), key=lambda kv: -len(kv[1])):
    pairs = collections.Counter(f"{r['tessera']}/{r['iamsim']}" for r in rs)
    print(f"{len(rs):4d}  {name}  (tessera/iam-simulate: {', '.join(f'{k} {v}' for k, v in pairs.items())})")
    ex = min(rs, key=lambda r: len(json.dumps(r["minimal"])))
    print(f"      e.g. line {ex['line']}: {json.dumps(ex['minimal'])}")
PY
