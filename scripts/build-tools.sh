#!/usr/bin/env bash
# Builds the real Pulumi engine tools and BuildKit from Go modules (the npm
# `pulumi` wrapper and prebuilt downloads cannot be fetched here), then
# installs the docker-build provider as a Pulumi plugin.
#
#   scripts/build-tools.sh            build what is stale, install, verify
#   scripts/build-tools.sh --smoke    also run `pulumi up` on an empty nodejs program
#   scripts/build-tools.sh --supplychain   only cosign and syft
#   scripts/build-tools.sh --main-job      what scripts/up-local.sh needs (no e2e registry)
#   eval "$(scripts/build-tools.sh --print-env)"   or: . "$IMAGEFLEET_TOOLS_DIR/env.sh"
#
# Outputs in ${IMAGEFLEET_TOOLS_DIR:-~/.cache/imagefleet/tools}/bin:
#   pulumi (scripts/tools/pulumi), pulumi-language-nodejs (upstream's, from
#   sdk/v3 v3.68.0: scripts/tools/langhost), buildkitd, buildctl, buildkit-probe,
#   imagefleet-attestor (scripts/tools/attestor), imagefleet-sdkgen (the SDKs
#   from schema.json with Pulumi's codegen: scripts/tools/pulumi),
#   pulumi-language-yaml (Pulumi YAML's host, e2e only: scripts/tools/yamlhost);
# share/imagefleet-frontend.wasm (scripts/build-frontend.sh)
# and libexec/pulumi-resource-docker-build, installed as plugin docker-build 0.0.22;
# cosign and syft for the supply chain (see build_supplychain_tools),
# pulumi-resource-pulumi-nodejs, the engine's plugin for dynamic providers, and
# oci-registry, the e2e tier's registry with the OCI 1.1 referrers API
# (scripts/tools/oci-registry, see build_e2e_registry).
# The engine must never try to download plugins (no network for that here), so
# env.sh sets PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true and
# PULUMI_SKIP_UPDATE_CHECK=true; keep both set wherever pulumi runs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODS="$ROOT/scripts/tools"
TOOLS_DIR="${IMAGEFLEET_TOOLS_DIR:-$HOME/.cache/imagefleet/tools}"
BIN="$TOOLS_DIR/bin"
STAMPS="$TOOLS_DIR/stamps"
LOGS="$TOOLS_DIR/logs"
# The groups this run (re)built, one a line (groups may run in the background).
BUILT_LIST="$TOOLS_DIR/logs/built"
# The provider is used only as an installed plugin: on PATH the engine would
# prefer it over the plugin cache and warn on every run.
LIBEXEC="$TOOLS_DIR/libexec"
PROVIDER_VERSION=0.0.22 # must match npm @pulumi/docker-build

# Static binaries need no libc match with the host, and cgo would only add
# compile time.
export CGO_ENABLED=0
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# One compile per core; the default is the same, but CI may set GOFLAGS.
NPROC=$(nproc)
export GOFLAGS="${GOFLAGS:-} -p=$NPROC"

log() { echo "[build-tools] $*" >&2; }

print_env() {
  cat <<EOF
export PATH="$BIN:\$PATH"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
EOF
}

# step NAME CMD...: run and report the wall time in seconds.
step() {
  local name=$1 start=$SECONDS
  shift
  log "$name: $*"
  "$@"
  log "$name: done in $((SECONDS - start)) s"
}

# mod_version DIR MODULE: the version MODULE resolves to in DIR's go.mod.
mod_version() { (cd "$1" && go list -m -f '{{.Version}}' "$2"); }

# A group is rebuilt when anything that determines its output changed.
stamp_of() { # dir ldflags
  (
    cd "$1"
    find . -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) -print0 | sort -z |
      xargs -0 sha256sum
    go version
    echo "CGO_ENABLED=$CGO_ENABLED ${BUILD_FLAGS[*]} $2"
  ) | sha256sum | cut -d' ' -f1
}

BUILD_FLAGS=(-trimpath -buildvcs=false)

# build_group NAME DIR OUTDIR LDFLAGS OUTPUTS PACKAGES...
build_group() {
  local name=$1 dir=$2 out=$3 ldflags=$4 outputs=$5
  shift 5
  local want have=
  want=$(stamp_of "$dir" "$ldflags")
  [[ -s $STAMPS/$name ]] && have=$(cat "$STAMPS/$name")
  local missing=0 o
  for o in $outputs; do [[ -x $out/$o ]] || missing=1; done
  if [[ $want == "$have" && $missing == 0 ]]; then
    log "$name: up to date ($outputs)"
    return
  fi
  # Load the packages first so the log shows download time apart from compile
  # time; `go list -deps` fetches exactly the modules these mains need.
  (cd "$dir" && step "$name: download modules" go list -deps "$@" >/dev/null)
  # One `go build` for several mains shares the compile of common packages.
  (cd "$dir" && step "$name: compile" go build "${BUILD_FLAGS[@]}" -ldflags "-s -w $ldflags" -o "$out/" "$@")
  echo "$want" >"$STAMPS/$name"
  echo "$name" >>"$BUILT_LIST"
}

# The attestor is ours, so its Go tests run whenever it is rebuilt (its stamp
# covers the tests too): which record a restarted host signs first is decided
# in its queue.
build_attestor() {
  build_group attestor "$MODS/attestor" "$BIN" "" "imagefleet-attestor" .
  if grep -qx attestor "$BUILT_LIST"; then
    (cd "$MODS/attestor" && step "attestor: go test" go test "${BUILD_FLAGS[@]}" ./...)
  fi
}

# --- Two groups at a time ------------------------------------------------------
# One `go build` keeps both cores busy while it compiles, but not while it
# downloads modules or links (one core, 10-30 s per binary), so two groups
# side by side finish sooner than one after another on 2 cores; each group's
# output goes to its own log, printed when it ends.
JOBS=${IMAGEFLEET_TOOLS_JOBS:-2}
QUEUED=()

# queue NAME CMD...: run CMD in the background once fewer than JOBS run.
queue() {
  local name=$1
  shift
  while (($(jobs -rp | wc -l) >= JOBS)); do wait -n || true; done
  rm -f "$LOGS/$name.rc"
  (
    set +e
    ("$@")
    echo $? >"$LOGS/$name.rc"
  ) >"$LOGS/$name.log" 2>&1 &
  QUEUED+=("$name")
}

# drain: wait for every queued group; print each log; fail if one failed.
drain() {
  wait
  local name failed=()
  for name in "${QUEUED[@]}"; do
    sed "s/^/[$name] /" "$LOGS/$name.log" >&2
    [[ $(cat "$LOGS/$name.rc" 2>/dev/null) == 0 ]] || failed+=("$name")
  done
  QUEUED=()
  ((${#failed[@]} == 0)) || { log "failed: ${failed[*]} (logs in $LOGS)"; exit 1; }
}

# No `grep -q` after a pipe here: it exits at the first match, `pulumi plugin ls`
# then dies of SIGPIPE, and pipefail turns a found plugin into a failure.
install_plugin() {
  if ! grep -qx provider "$BUILT_LIST" &&
    pulumi plugin ls 2>/dev/null | grep -E "^docker-build +resource +$PROVIDER_VERSION " >/dev/null; then
    log "plugin resource docker-build $PROVIDER_VERSION: already installed"
    return
  fi
  step "install plugin" pulumi plugin install resource docker-build "$PROVIDER_VERSION" \
    --file "$LIBEXEC/pulumi-resource-docker-build" --reinstall
  pulumi plugin ls | grep -E "^docker-build +resource +$PROVIDER_VERSION " >/dev/null ||
    { pulumi plugin ls >&2; log "docker-build $PROVIDER_VERSION missing from 'pulumi plugin ls'"; exit 1; }
}

verify() {
  log "versions:"
  echo "  pulumi                       $(pulumi version)"
  # Upstream's host has no -version flag; its build info names the module
  # (the main package lives in sdk/v3, so sdk/v3 is the "mod" line).
  echo "  pulumi-language-nodejs       $(go version -m "$BIN/pulumi-language-nodejs" |
    awk '($1 == "mod" || $1 == "dep") && $2 == "github.com/pulumi/pulumi/sdk/v3" { print $3 }')"
  # The provider has no --version: ask the engine for its schema instead.
  echo "  pulumi-resource-docker-build $(pulumi package get-schema "docker-build@$PROVIDER_VERSION" |
    node -e 'const s=JSON.parse(require("fs").readFileSync(0));console.log(s.name, s.version, Object.keys(s.resources).join(" "))')"
  echo "  buildkitd                    $(buildkitd --version)"
  echo "  buildctl                     $(buildctl --version)"
  pulumi plugin ls | sed 's/^/  /'
  # The engine, its language host and the plugin cache together (no project
  # needed); a host that does not answer GetPluginInfo shows up here.
  pulumi about --json >"$TOOLS_DIR/about.json" ||
    { log "pulumi about failed"; exit 1; }
  node -e 'const a=JSON.parse(require("fs").readFileSync(process.argv[1]));
    console.log("  pulumi about: CLI", a.cliAbout.version, "| plugins:",
      (a.plugins||[]).map((p) => p.name + " " + p.version).join(", "))' "$TOOLS_DIR/about.json"
}

# An empty nodejs program through the real engine: proves the CLI, the
# language host and the project's @pulumi/pulumi work together.
smoke() (
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/state" "$tmp/proj"
  cat >"$tmp/proj/Pulumi.yaml" <<'EOF'
name: smoke
runtime:
  name: nodejs
  options:
    typescript: false
EOF
  printf '%s\n' 'const pulumi = require("@pulumi/pulumi");' \
    'exports.answer = pulumi.output(42);' >"$tmp/proj/index.js"
  echo '{"name":"smoke","main":"index.js"}' >"$tmp/proj/package.json"
  if [[ -d $ROOT/node_modules/@pulumi/pulumi ]]; then
    ln -s "$ROOT/node_modules" "$tmp/proj/node_modules"
  else
    step "smoke: npm install" npm install --prefix "$tmp/proj" --no-audit --no-fund @pulumi/pulumi@3.270.0
  fi
  (
    cd "$tmp/proj"
    export PULUMI_CONFIG_PASSPHRASE=smoke PULUMI_HOME="${PULUMI_HOME:-$HOME/.pulumi}"
    export PULUMI_BACKEND_URL="file://$tmp/state"
    pulumi stack init smoke --non-interactive >/dev/null
    step "smoke: pulumi up" pulumi up --yes --non-interactive --skip-preview
    # In a project, `about` also asks the language host for the program's
    # dependencies (GetProgramDependencies).
    pulumi about >/dev/null || { log "smoke: pulumi about failed"; exit 1; }
    [[ $(pulumi stack output answer) == 42 ]] || { log "smoke: unexpected stack output"; exit 1; }
    pulumi destroy --yes --non-interactive >/dev/null
    pulumi stack rm --yes smoke >/dev/null
  )
  log "smoke: OK (pulumi up ran an empty nodejs program, output answer=42)"
)

# --- Supply chain tools (issue 12) -------------------------------------------
# cosign signs indexes and attaches attestations; syft makes the SPDX SBOMs.
# Each is a wrapper module of its own (scripts/tools/cosign, scripts/tools/syft)
# so it keeps the dependency versions it was released with. The wrapper is the
# main module, so the version is stamped with -X (build info says "(devel)").
build_supplychain_tools() {
  local cosign_v syft_v
  cosign_v=$(mod_version "$MODS/cosign" github.com/sigstore/cosign/v3)
  syft_v=$(mod_version "$MODS/syft" github.com/anchore/syft)
  log "cosign $cosign_v, syft $syft_v -> $BIN"
  queue cosign build_group cosign "$MODS/cosign" "$BIN" \
    "-X sigs.k8s.io/release-utils/version.gitVersion=$cosign_v" \
    "cosign" \
    github.com/sigstore/cosign/v3/cmd/cosign
  queue syft build_group syft "$MODS/syft" "$BIN" \
    "-X main.version=$syft_v" \
    "syft" \
    github.com/anchore/syft/cmd/syft
  install_dynamic_provider_plugin
}

# The engine runs dynamic providers (the supply chain's cosign/syft resources,
# the fleet's buildx registration) through the plugin `pulumi-resource-pulumi-nodejs`,
# which the CLI's release archive ships next to `pulumi` and a CLI built from
# source lacks ("no resource plugin 'pulumi-resource-pulumi-nodejs' found").
# It is the SDK's own 4-line script: run the project's @pulumi/pulumi dynamic provider.
install_dynamic_provider_plugin() {
  cat >"$BIN/pulumi-resource-pulumi-nodejs.tmp" <<'SCRIPT'
#!/bin/sh
# From the Pulumi SDK (sdk/nodejs/dist/pulumi-resource-pulumi-nodejs).
PULUMI_DYNAMIC_PROVIDER_SCRIPT_PATH=$(node -e "console.log(require.resolve('@pulumi/pulumi/cmd/dynamic-provider'))")
if [ ! -z "$PULUMI_DYNAMIC_PROVIDER_SCRIPT_PATH" ]; then
    node "$PULUMI_DYNAMIC_PROVIDER_SCRIPT_PATH" $@
fi
SCRIPT
  chmod 755 "$BIN/pulumi-resource-pulumi-nodejs.tmp"
  mv "$BIN/pulumi-resource-pulumi-nodejs.tmp" "$BIN/pulumi-resource-pulumi-nodejs"
}

verify_supplychain_tools() {
  echo "  cosign                       $(cosign version --json 2>/dev/null |
    node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).gitVersion)')"
  echo "  syft                         $(syft version -o json |
    node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).version)')"
}
# -----------------------------------------------------------------------------

# --- A registry with the referrers API (issue 21) ----------------------------
# distribution's registry (the e2e tier's first) has no OCI 1.1 referrers API,
# so cosign keeps referrers under the `sha256-<hex>` fallback tag there; ECR
# serves the API. go-containerregistry's pkg/registry with
# WithReferrersSupport(true), behind a main of ours, lets the e2e tier test
# both storage paths (test/e2e/oci-registry.sh starts it).
build_e2e_registry() {
  local ggcr_v
  ggcr_v=$(mod_version "$MODS/oci-registry" github.com/google/go-containerregistry)
  log "oci-registry (go-containerregistry $ggcr_v) -> $BIN"
  queue oci-registry build_group oci-registry "$MODS/oci-registry" "$BIN" \
    "-X main.version=$ggcr_v" \
    "oci-registry" \
    imagefleet.local/tools/oci-registry
}
# -----------------------------------------------------------------------------

main() {
  if [[ ${1:-} == --print-env ]]; then print_env; return; fi
  mkdir -p "$BIN" "$LIBEXEC" "$STAMPS" "$LOGS"
  export PATH="$BIN:$PATH"
  : >"$BUILT_LIST"
  # Only cosign and syft, leaving the other groups as they are.
  if [[ ${1:-} == --supplychain ]]; then
    build_supplychain_tools
    drain
    verify_supplychain_tools
    return
  fi
  # --main-job: what `scripts/up-local.sh` needs (the e2e tier's own registry is left out).
  local main_job=
  [[ ${1:-} == --main-job ]] && main_job=1
  local total=$SECONDS
  command -v go >/dev/null || { log "go is required"; exit 1; }
  local pulumi_v langhost_v buildkit_v
  pulumi_v=$(mod_version "$MODS/pulumi" github.com/pulumi/pulumi/pkg/v3)
  langhost_v=$(mod_version "$MODS/langhost" github.com/pulumi/pulumi/sdk/v3)
  buildkit_v=$(mod_version "$MODS/buildkit" github.com/moby/buildkit)
  log "Pulumi CLI $pulumi_v, nodejs language host $langhost_v, docker-build provider v$PROVIDER_VERSION, BuildKit $buildkit_v -> $BIN ($JOBS groups at a time)"

  # Longest first (measured on 2 cores: CLI ~320 s, cosign ~180, provider ~160,
  # syft ~155, BuildKit ~110, language host ~50, frontend ~50), so the two
  # queues end close together.
  queue pulumi build_group pulumi "$MODS/pulumi" "$BIN" \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$pulumi_v" \
    "pulumi imagefleet-sdkgen" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi ./imagefleet-sdkgen
  build_supplychain_tools
  queue provider build_group provider "$MODS/provider" "$LIBEXEC" \
    "-X github.com/pulumi/pulumi-docker-build/provider.Version=$PROVIDER_VERSION" \
    "pulumi-resource-docker-build" \
    github.com/pulumi/pulumi-docker-build/provider/cmd/pulumi-resource-docker-build
  # buildkit-probe (ours, for the e2e tier's differential tests) asks a live
  # buildkitd what its Dockerfile frontend decides.
  queue buildkit build_group buildkit "$MODS/buildkit" "$BIN" \
    "-X github.com/moby/buildkit/version.Version=$buildkit_v" \
    "buildkitd buildctl buildkit-probe" \
    github.com/moby/buildkit/cmd/buildkitd github.com/moby/buildkit/cmd/buildctl ./buildkit-probe
  # The attestor (ours) runs beside every buildkitd: it reads BuildKit's build
  # history and signs with cosign and syft (scripts/tools/attestor).
  queue attestor build_attestor
  queue langhost build_group langhost "$MODS/langhost" "$BIN" \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$langhost_v" \
    "pulumi-language-nodejs" \
    github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs
  # The same BuildKit's Dockerfile frontend as WebAssembly, which ImageFamily runs.
  queue frontend step "frontend" bash "$ROOT/scripts/build-frontend.sh"
  [[ -n $main_job ]] || build_e2e_registry
  # Pulumi YAML's language host: the e2e tier's YAML program (not the main job).
  [[ -n $main_job ]] || queue yamlhost build_group yamlhost "$MODS/yamlhost" "$BIN" "" \
    "pulumi-language-yaml" \
    github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml
  drain

  install_plugin
  verify
  verify_supplychain_tools
  [[ -n $main_job ]] || echo "  oci-registry                 go-containerregistry $(oci-registry -version)"
  print_env >"$TOOLS_DIR/env.sh"
  [[ ${1:-} == --smoke ]] && smoke
  log "total $((SECONDS - total)) s. To use the tools:"
  echo ". $TOOLS_DIR/env.sh"
}

main "$@"
