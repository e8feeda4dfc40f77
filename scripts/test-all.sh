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
if npm run | grep -q '^  lint$'; then
  phase "lint" "" npm run lint
fi
# ImageFamily runs BuildKit's Dockerfile frontend (WebAssembly, built from Go);
# the npm package ships it, a checkout builds it (~1 min cold).
phase "build:frontend" "" npm run build:frontend
IMAGEFLEET_TIER=unit phase "unit tier" unit npm test
if npm run | grep -q '^  test:consumer$'; then
  phase "consumer tier" consumer npm run test:consumer
fi
phase "e2e tier" e2e npm run test:e2e

say "totals"
trap - EXIT
table
awk '{ p += $2; f += $3; s += $4; printf "  %-16s %4d passed, %d failed, %d skipped\n", $1, $2, $3, $4 }
     END { printf "total: %d passed, %d failed, %d skipped\n", p, f, s; exit (f > 0) }' "$IMAGEFLEET_RESULTS"
