#!/usr/bin/env bash
# `tend run -- true` as a whole process vs `timeout 10 true` (GNU coreutils), same run.
#   bench/run_bench.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
tend="$build/src/cli/tend"
command -v hyperfine >/dev/null || { echo "run_bench: needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
hyperfine -N --warmup 50 --runs 1000 --export-json /tmp/tend-run-bench.json \
  "$tend run -t 10 -- /bin/true" "timeout 10 /bin/true" >/dev/null
python3 - <<'PY'
import json
r = {x["command"]: x for x in json.load(open("/tmp/tend-run-bench.json"))["results"]}
t, g = [v for k, v in r.items() if "tend" in k][0], r["timeout 10 /bin/true"]
print("| case | tend µs (median) | timeout µs (median) | ratio | target |")
print("|---|---|---|---|---|")
print(f"| `tend run -t 10 -- /bin/true` vs `timeout 10 /bin/true` | {t['median']*1e6:.0f} | {g['median']*1e6:.0f} | {t['median']/g['median']:.2f}x | <= 1.3x |")
PY
