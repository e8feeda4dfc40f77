#!/usr/bin/env bash
# Every tier, from a fresh clone on a fresh machine: dependencies, compile,
# lint, unit tests, the consumer test, and the e2e tier (which installs and
# starts the Docker engine, registry, QEMU, buildkitd and the Pulumi engine).
# Ends with the time table (scripts/test-times.js): each step and tier, each
# spec against its budget, the five slowest tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export IMAGEFLEET_RESULTS IMAGEFLEET_TIMES
IMAGEFLEET_RESULTS=$(mktemp)
IMAGEFLEET_TIMES=$(mktemp)
t0=$(date +%s)
say() { printf '\n[test-all +%ss] %s\n' "$(( $(date +%s) - t0 ))" "$*" >&2; }

# phase NAME TIER CMD...: runs CMD and records its wall time for the table.
phase() {
  local name=$1 tier=$2 start rc=0
  shift 2
  say "$name"
  start=$(date +%s)
  "$@" || rc=$?
  printf '{"kind":"phase","name":"%s","tier":"%s","seconds":%d}\n' "$name" "$tier" "$(($(date +%s) - start))" >>"$IMAGEFLEET_TIMES"
  return "$rc"
}

table() {
  node scripts/test-times.js report "$IMAGEFLEET_TIMES" "$IMAGEFLEET_RESULTS" || true
}
trap table EXIT

phase "npm ci" "" npm ci --no-audit --no-fund
phase "build (tsc, strict)" "" npm run build
# ImageFamily runs BuildKit's Dockerfile frontend (WebAssembly, built from Go);
# the npm package ships it, a checkout builds it (~1 min cold).
phase "build:frontend" "" npm run build:frontend
# Lint and the consumer tier run beside the unit tier: each is mostly one node
# process, and none reads what another writes (the consumer tier packs dist/
# and wasm/, which no unit test reads). Their output follows the unit tier's.
LOGS=$(mktemp -d)
bg_pids=() bg_names=()
background() { # NAME TIER CMD...
  local name=$1
  phase "$@" >"$LOGS/$name.log" 2>&1 &
  bg_pids+=("$!") bg_names+=("$name")
}
if npm run | grep -q '^  lint$'; then
  background lint "" npm run lint
fi
if npm run | grep -q '^  test:consumer$'; then
  background "consumer tier" consumer npm run test:consumer
fi
IMAGEFLEET_TIER=unit phase "unit tier" unit npm test || unit_rc=$?
failed=()
for i in "${!bg_pids[@]}"; do
  rc=0
  wait "${bg_pids[$i]}" || rc=$?
  say "${bg_names[$i]} (ran beside the unit tier): exit $rc"
  cat "$LOGS/${bg_names[$i]}.log"
  ((rc == 0)) || failed+=("${bg_names[$i]}")
done
((${unit_rc:-0} == 0)) || failed+=("unit tier")
if ((${#failed[@]} > 0)); then
  say "failed: ${failed[*]}"
  exit 1
fi
phase "e2e tier" e2e npm run test:e2e

say "totals"
trap - EXIT
table
awk '{ p += $2; f += $3; s += $4; printf "  %-16s %4d passed, %d failed, %d skipped\n", $1, $2, $3, $4 }
     END { printf "total: %d passed, %d failed, %d skipped\n", p, f, s; exit (f > 0) }' "$IMAGEFLEET_RESULTS"
