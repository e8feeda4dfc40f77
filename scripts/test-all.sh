#!/usr/bin/env bash
# Every tier, from a fresh clone on a fresh machine: dependencies, compile,
# lint, unit tests, the consumer test, and the e2e tier (which installs and
# starts the Docker engine, registry, QEMU, buildkitd and the Pulumi engine).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export IMAGEFLEET_RESULTS
IMAGEFLEET_RESULTS=$(mktemp)
t0=$(date +%s)
say() { printf '\n[test-all +%ss] %s\n' "$(( $(date +%s) - t0 ))" "$*" >&2; }

say "npm ci"
npm ci --no-audit --no-fund
say "npm run build (tsc, strict)"
npm run build
if npm run | grep -q '^  lint$'; then
  say "npm run lint"
  npm run lint
fi
# ImageFamily runs BuildKit's Dockerfile frontend (WebAssembly, built from Go);
# the npm package ships it, a checkout builds it (~1 min cold).
say "npm run build:frontend"
npm run build:frontend
say "unit tier"
IMAGEFLEET_TIER=unit npm test
if npm run | grep -q '^  test:consumer$'; then
  say "consumer tier"
  npm run test:consumer
fi
say "e2e tier"
npm run test:e2e

say "totals"
awk '{ p += $2; f += $3; s += $4; printf "  %-10s %4d passed, %d failed, %d skipped\n", $1, $2, $3, $4 }
     END { printf "total: %d passed, %d failed, %d skipped\n", p, f, s; exit (f > 0) }' "$IMAGEFLEET_RESULTS"
