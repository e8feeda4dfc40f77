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
    IMAGEFLEET_HOST_SET=side bash test/e2e/buildkitd.sh stop || true
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
say "starting the local buildkitd hosts (mTLS) and registering them with buildx: the local stack's set, and the side lane's"
bash test/e2e/buildkitd.sh start
IMAGEFLEET_HOST_SET=side bash test/e2e/buildkitd.sh start
# Attestors are off unless a spec turns them on for its own run (attestation.spec,
# on the side set): one left on by `bench:commits --attestors` or a killed spec
# would sign the main lane's pushes beside its deployer-side chain, and two
# writers of a digest's referrers lose one.
bash test/e2e/buildkitd.sh attestors stop
IMAGEFLEET_HOST_SET=side bash test/e2e/buildkitd.sh attestors stop
say "starting the registry with the OCI 1.1 referrers API (oci-registry, built with the tools)"
bash test/e2e/oci-registry.sh start

# The budget check and the table read what the reporter records.
if [[ -z ${IMAGEFLEET_TIMES:-} ]]; then
  export IMAGEFLEET_TIMES="$LOG_DIR/e2e-times.jsonl"
  : >"$IMAGEFLEET_TIMES"
  own_times=1
fi
MOCHA=(npx mocha --no-config -r ts-node/register/transpile-only --extension ts --timeout 1800000 --slow 60000
  --reporter test/reporter.js --forbid-only --forbid-pending)

if [[ $# -gt 0 ]]; then
  # Named spec files only, one after another.
  say "running the e2e tests: $*"
  rc=0
  IMAGEFLEET_TIER=e2e "${MOCHA[@]}" "$@" || rc=$?
else
  # Three lanes (test/e2e/lanes.sh says which spec runs where and why): the
  # main and side lanes side by side, each on builders of its own; the solo
  # lane, which stops the registry both push to, last and alone.
  # shellcheck source=lanes.sh
  . test/e2e/lanes.sh
  lanes_assign
  say "side lane in the background (hosts 1236/1237; log: $LOG_DIR/e2e-side.log): ${SIDE_LANE[*]}"
  IMAGEFLEET_TIER=e2e IMAGEFLEET_LANE=side IMAGEFLEET_HOST_SET=side \
    "${MOCHA[@]}" --grep "$SIDE_INVERT_GREP" --invert "${SIDE_LANE[@]}" >"$LOG_DIR/e2e-side.log" 2>&1 &
  side_pid=$!
  say "main lane: ${MAIN_LANE[*]}"
  main_rc=0 side_rc=0 solo_rc=0
  IMAGEFLEET_TIER=e2e IMAGEFLEET_LANE=main "${MOCHA[@]}" "${MAIN_LANE[@]}" || main_rc=$?
  say "main lane done (exit $main_rc); waiting for the side lane"
  wait "$side_pid" || side_rc=$?
  say "side lane done (exit $side_rc); its output:"
  cat "$LOG_DIR/e2e-side.log"
  say "solo lane: ${SOLO_LANE[*]} (only: $SOLO_GREP)"
  IMAGEFLEET_TIER=e2e IMAGEFLEET_LANE=solo IMAGEFLEET_HOST_SET=side \
    "${MOCHA[@]}" --grep "$SOLO_GREP" "${SOLO_LANE[@]}" || solo_rc=$?
  rc=$((main_rc || side_rc || solo_rc))
fi
say "e2e tier done (exit $rc)"
if [[ -n ${own_times:-} ]]; then
  node scripts/test-times.js report "$IMAGEFLEET_TIMES"
fi
budget_rc=0
node scripts/test-times.js budgets "$IMAGEFLEET_TIMES" || budget_rc=$?
((rc == 0)) || exit "$rc"
exit "$budget_rc"
