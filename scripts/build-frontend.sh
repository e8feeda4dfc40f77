#!/usr/bin/env bash
# Builds BuildKit's Dockerfile frontend as WebAssembly (imagefleet-frontend.wasm,
# from scripts/tools/buildkit/frontend: the BuildKit release the builders run),
# which ImageFamily runs offline to learn which files each build reads and what
# BuildKit's Dockerfile checks say. Rebuilt only when its sources change.
#
#   scripts/build-frontend.sh              into $IMAGEFLEET_TOOLS_DIR/share (where a checkout looks)
#   scripts/build-frontend.sh --into DIR   and copy it into DIR (the npm package's wasm/)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MOD="$ROOT/scripts/tools/buildkit"
TOOLS_DIR="${IMAGEFLEET_TOOLS_DIR:-$HOME/.cache/imagefleet/tools}"
OUT="$TOOLS_DIR/share/imagefleet-frontend.wasm"
log() { echo "[build-frontend] $*" >&2; }
command -v go >/dev/null || { log "go is required to build the frontend (the npm package ships it built)"; exit 1; }

stamp=$(
  cd "$MOD"
  cat go.mod go.sum frontend/main.go frontend/build-wasm.sh frontend/wasip1/* | sha256sum
  go version
)
stamp=$(echo "$stamp" | sha256sum | cut -d' ' -f1)
if [[ -s $OUT && -s $OUT.stamp && $(cat "$OUT.stamp") == "$stamp" ]]; then
  log "up to date: $OUT"
else
  mkdir -p "$(dirname "$OUT")"
  start=$SECONDS
  bash "$MOD/frontend/build-wasm.sh" "$OUT.tmp"
  mv "$OUT.tmp" "$OUT"
  echo "$stamp" >"$OUT.stamp"
  log "built $OUT ($(du -h "$OUT" | cut -f1)) in $((SECONDS - start)) s"
fi
if [[ ${1:-} == --into ]]; then
  mkdir -p "$2"
  cp "$OUT" "$2/imagefleet-frontend.wasm"
fi
