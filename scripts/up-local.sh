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
  command -v pulumi >/dev/null || [[ -x "$TOOLS_DIR/bin/pulumi" ]] || bash "$ROOT/scripts/build-tools.sh"
  [[ -x "$TOOLS_DIR/bin/buildkitd" ]] || bash "$ROOT/scripts/build-tools.sh"
  # The local stack signs with cosign and makes SBOMs with syft (imagefleet:supplychain).
  [[ -x "$TOOLS_DIR/bin/cosign" && -x "$TOOLS_DIR/bin/syft" && -x "$TOOLS_DIR/bin/pulumi-resource-pulumi-nodejs" ]] ||
    bash "$ROOT/scripts/build-tools.sh" --supplychain
  bash "$ROOT/test/e2e/setup.sh"
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
