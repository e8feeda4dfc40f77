#!/usr/bin/env bash
# Builds BuildKit's Dockerfile frontend runner (main.go) as WebAssembly for
# WASI preview 1:   build-wasm.sh OUT.wasm
# A few files of BuildKit's dependencies do not compile for wasip1. The build
# runs in a scratch copy of this module that replaces those modules with
# copies from the module cache, each with its files swapped for its shim in
# wasip1/. The module and its go.mod stay as released.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$(realpath -m "$1")
mod=$(dirname "$here")
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
cp "$mod/go.mod" "$mod/go.sum" "$work/"
mkdir "$work/frontend"
cp "$here/main.go" "$work/frontend/"
cd "$work"
patch_module() { # module file shim
  local src
  src=$(go list -m -f '{{.Dir}}' "$1")
  cp -r "$src" "$work/patched-${1//\//_}"
  chmod -R u+w "$work/patched-${1//\//_}"
  cp "$here/wasip1/$3" "$work/patched-${1//\//_}/$2"
  go mod edit -replace "$1=./patched-${1//\//_}"
}
patch_module github.com/in-toto/in-toto-golang in_toto/util_unix.go in_toto_util_unix.go.in
patch_module github.com/containerd/continuity sysx/nodata_unix.go sysx_nodata_unix.go.in
patch_module github.com/moby/sys/signal signal.go signal.go.in
patch_module github.com/tonistiigi/fsutil stat_unix.go fsutil_stat_unix.go.in
cp "$here/wasip1/fsutil_diskwriter_unixnobsd.go.in" "$work/patched-github.com_tonistiigi_fsutil/diskwriter_unixnobsd.go"
GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -buildvcs=false -ldflags "-s -w" -o "$out" ./frontend
