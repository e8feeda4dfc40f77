#!/usr/bin/env bash
# The e2e tier: provisions everything it needs (idempotent), runs the real
# tests, then stops what it started. IMAGEFLEET_KEEP=1 leaves the engine,
# registry and builders running for the next run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export IMAGEFLEET_E2E=1
TOOLS_DIR="${IMAGEFLEET_TOOLS_DIR:-$HOME/.cache/imagefleet/tools}"
LOG_DIR="${IMAGEFLEET_LOG_DIR:-/tmp/imagefleet-logs}"
mkdir -p "$LOG_DIR"
t0=$(date +%s)
say() { printf '[e2e %s +%ss] %s\n' "$(date +%H:%M:%S)" "$(( $(date +%s) - t0 ))" "$*" >&2; }

cleanup() {
  if [[ "${IMAGEFLEET_KEEP:-}" != 1 ]]; then
    say "teardown (IMAGEFLEET_KEEP=1 skips it)"
    bash test/e2e/buildkitd.sh stop || true
    bash test/e2e/teardown.sh || true
  fi
}
trap cleanup EXIT

# The Go builds are CPU-bound and the engine setup mostly waits on apt and
# debootstrap, so they overlap.
say "building the Pulumi CLI, docker-build provider and BuildKit from Go modules (log: $LOG_DIR/build-tools.log)"
bash scripts/build-tools.sh >"$LOG_DIR/build-tools.log" 2>&1 &
tools_pid=$!
say "provisioning the Docker engine, registry, QEMU and base images"
bash test/e2e/setup.sh
if ! wait "$tools_pid"; then
  tail -50 "$LOG_DIR/build-tools.log" >&2
  say "building the tools failed"
  exit 1
fi
tail -15 "$LOG_DIR/build-tools.log" >&2
# shellcheck disable=SC1091
. "$TOOLS_DIR/env.sh"
# shellcheck disable=SC1091
. "${IMAGEFLEET_STATE_DIR:-/var/lib/imagefleet-e2e}/env.sh"
say "starting the local buildkitd hosts (mTLS) and registering them with buildx"
bash test/e2e/buildkitd.sh start
say "starting the registry with the OCI 1.1 referrers API (oci-registry, built with the tools)"
bash test/e2e/oci-registry.sh start

say "running the e2e tests"
if [[ $# -gt 0 ]]; then
  # Named spec files only (mocha would add them to the config's spec list).
  IMAGEFLEET_TIER=e2e npx mocha --no-config -r ts-node/register/transpile-only --extension ts \
    --timeout 1800000 --reporter test/reporter.js "$@"
else
  IMAGEFLEET_TIER=e2e npx mocha --config test/e2e/mocharc.json
fi
say "e2e tier done"
