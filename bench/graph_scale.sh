#!/usr/bin/env bash
# `tessera graph` at the scale of issue 20: an organization of 10 accounts, 1,000 users, 1,000
# roles and 2,000 customer managed policies (crates/tessera-graph/examples/plant_org.rs plants
# it), timed over three runs of `tessera graph --data-dir DIR > /dev/null`, then the two queries
# on the same store: `--who-can iam:CreateUser --resource arn:aws:iam::<first member>:user/x` and
# `--from <a user that reaches admin> --to admin`.
#
#   bench/graph_scale.sh [ACCOUNTS USERS ROLES POLICIES]
#
# PROFILE=release (default) or PROFILE=debug picks the build; the planter always builds with it.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-release}
flag=$([ "$profile" = release ] && echo --release || true)
cargo build --locked $flag -p tessera >&2
cargo build --locked $flag -p tessera-graph --example plant_org >&2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"target/$profile/examples/plant_org" "$dir/data" "$@" >&2
for run in 1 2 3; do
  start=$(date +%s.%N)
  "target/$profile/tessera" graph --data-dir "$dir/data" > "$dir/graph.json"
  end=$(date +%s.%N)
  python3 - "$dir/graph.json" "$start" "$end" "$run" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
kinds = {}
for e in g["edges"]:
    kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
admins = sum(n["admin"] for n in g["principals"])
reach = sum(n["reaches_admin"] for n in g["principals"])
print(f"run {sys.argv[4]}: {float(sys.argv[3]) - float(sys.argv[2]):.2f} s, {len(g['principals'])} principals "
      f"({admins} admin, {reach} reach admin), {len(g['edges'])} edges {dict(sorted(kinds.items()))}")
PY
done
user=$(python3 -c 'import json,sys; g=json.load(open(sys.argv[1])); print(next(n["arn"] for n in g["principals"] if n["reaches_admin"] and not n["admin"] and ":user/" in n["arn"]))' "$dir/graph.json")
account=$(echo "$user" | cut -d: -f5)
for run in 1 2 3; do
  start=$(date +%s.%N)
  "target/$profile/tessera" graph --data-dir "$dir/data" --who-can iam:CreateUser --resource "arn:aws:iam::$account:user/x" > "$dir/who.json"
  mid=$(date +%s.%N)
  "target/$profile/tessera" graph --data-dir "$dir/data" --from "$user" --to admin > "$dir/path.json"
  end=$(date +%s.%N)
  python3 - "$dir/who.json" "$dir/path.json" "$start" "$mid" "$end" "$run" <<'PY'
import json, sys
who, path = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
direct = sum(p["direct"] for p in who["principals"])
print(f"query run {sys.argv[6]}: --who-can {float(sys.argv[4]) - float(sys.argv[3]):.2f} s "
      f"({len(who['principals'])} principals, {direct} direct); --from/--to admin {float(sys.argv[5]) - float(sys.argv[4]):.2f} s "
      f"({path.get('moves')} moves, {len(path['paths'])} paths)")
PY
done
