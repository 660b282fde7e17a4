#!/usr/bin/env bash
# What a newer botocore adds to (or drops from) the services Tessera serves, against the
# operation list Tessera was generated from (crates/tessera-wire/src/operations.rs, made by
# scripts/gen-operations.py from the botocore pinned in tests/requirements.txt).
#
#   scripts/botocore-news.sh            # the newest botocore on the package index
#   scripts/botocore-news.sh 1.45.0     # a given version
#
# Prints one line per operation added or removed, per service; exits 0 either way. To take a
# newer model: pin it in tests/requirements.txt, rerun scripts/gen-operations.py with it, and
# list the new operations in tests/e2e/operations_not_implemented.txt until they are built.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
spec="botocore${1:+==$1}"
echo "fetching $spec ..." >&2
python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary :all: -d "$tmp" "$spec" >&2
python3 - "$tmp" <<'PY'
import glob, gzip, json, re, sys, zipfile

wheel = glob.glob(sys.argv[1] + "/botocore-*.whl")[0]
version = wheel.rsplit("/", 1)[1].split("-")[1]
text = open("crates/tessera-wire/src/operations.rs").read()
pinned = re.search(r"from botocore (\S+)", text).group(1)
ours = {m.group(1).lower().replace("_", "-"): set(re.findall(r'"(\w+)"', m.group(2)))
        for m in re.finditer(r"pub const (\w+)_OPERATIONS: &\[&str\] = &\[(.*?)\];", text, re.S)}
print(f"botocore {version} against the operation list from botocore {pinned}")
with zipfile.ZipFile(wheel) as z:
    names = z.namelist()
    for service in sorted(ours):
        models = sorted(n for n in names if re.match(rf"botocore/data/{service}/[^/]+/service-2\.json(\.gz)?$", n))
        if not models:
            print(f"{service}: no model in this botocore")
            continue
        raw = z.read(models[-1])
        model = json.loads(gzip.decompress(raw) if models[-1].endswith(".gz") else raw)
        theirs = set(model["operations"])
        added, removed = sorted(theirs - ours[service]), sorted(ours[service] - theirs)
        print(f"{service}: {len(theirs)} operations, {len(added)} added, {len(removed)} removed")
        for op in added:
            print(f"  + {service}:{op}")
        for op in removed:
            print(f"  - {service}:{op}")
PY
