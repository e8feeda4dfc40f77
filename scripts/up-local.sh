#!/usr/bin/env bash
# The main job on the embedded default: the `local` stack, no cloud account.
# Provisions what the stack needs (idempotent: skipped when already there),
# then runs Pulumi against a file backend with a passphrase secrets provider.
#
#   bash scripts/up-local.sh                 # pulumi up --yes --stack local
#   bash scripts/up-local.sh preview --diff  # any pulumi command, on the local stack
#
# IMAGEFLEET_SKIP_PROVISION=1 skips provisioning (the engine, registry and
# builders are already running). PULUMI_BACKEND_URL and PULUMI_CONFIG_PASSPHRASE
# are respected when set.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE_DIR="${IMAGEFLEET_STATE_DIR:-/var/lib/imagefleet-e2e}"
TOOLS_DIR="${IMAGEFLEET_TOOLS_DIR:-$HOME/.cache/imagefleet/tools}"
log() { echo "[up-local] $*" >&2; }

if [[ "${IMAGEFLEET_SKIP_PROVISION:-}" != 1 ]]; then
  # Only what the main job runs: the engine, its language host, the
  # docker-build provider, BuildKit, the frontend, and cosign and syft (the
  # local stack signs and makes SBOMs). The e2e tier's extras (its second
  # registry, the boot test's host image) come with `npm run test:e2e`.
  need_tools=
  for f in bin/pulumi bin/pulumi-language-nodejs bin/buildkitd bin/buildctl bin/cosign bin/syft \
    bin/pulumi-resource-pulumi-nodejs libexec/pulumi-resource-docker-build share/imagefleet-frontend.wasm env.sh; do
    [[ -s "$TOOLS_DIR/$f" ]] || need_tools=1
  done
  # The Go builds are CPU-bound and the engine's setup waits on apt and
  # debootstrap, so they overlap (as in test/e2e/run.sh).
  tools_pid=
  if [[ -n $need_tools ]]; then
    log "building the tools from Go modules (log: /tmp/imagefleet-build-tools.log)"
    bash "$ROOT/scripts/build-tools.sh" --main-job >/tmp/imagefleet-build-tools.log 2>&1 &
    tools_pid=$!
  fi
  bash "$ROOT/test/e2e/setup.sh" --main-job
  if [[ -n $tools_pid ]] && ! wait "$tools_pid"; then
    tail -50 /tmp/imagefleet-build-tools.log >&2
    log "building the tools failed (log: /tmp/imagefleet-build-tools.log)"
    exit 1
  fi
  bash "$ROOT/test/e2e/buildkitd.sh" start
fi
if [[ -f "$TOOLS_DIR/env.sh" ]]; then
  # shellcheck disable=SC1091
  . "$TOOLS_DIR/env.sh"
fi
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# The program runs transpile-only: type-checking it under ts-node costs ~9.5 s
# of every `pulumi up` on 2 cores (6.6 s instead of 16 s for an up with nothing
# to do). `npm run build` and CI's check job type-check it; set
# PULUMI_NODEJS_TRANSPILE_ONLY=false to have every run check it too.
export PULUMI_NODEJS_TRANSPILE_ONLY="${PULUMI_NODEJS_TRANSPILE_ONLY:-true}"
# The local stack's state and secrets never leave this machine.
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$STATE_DIR/pulumi}"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-imagefleet-local}"
mkdir -p "${PULUMI_BACKEND_URL#file://}"

cd "$ROOT"
[[ -d node_modules/@pulumi/pulumi ]] || npm ci --no-audit --no-fund
pulumi stack select local >/dev/null 2>&1 || pulumi stack init local --secrets-provider passphrase
if [[ $# -eq 0 ]]; then
  set -- up --yes
fi
log "pulumi $* --stack local (backend $PULUMI_BACKEND_URL)"
exec pulumi "$@" --stack local
