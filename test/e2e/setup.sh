#!/usr/bin/env bash
# Provision what the e2e tier needs on a fresh Debian 12 machine (as root):
# Docker engine with BuildKit + containerd image store, a local registry,
# QEMU for arm64, and multi-platform base images made without Docker Hub.
# Idempotent: a second run reuses everything and takes seconds.
# IMAGEFLEET_FORCE_BASE=1 re-imports and re-pushes the base images (from the cached
# rootfs tarballs; delete those under $IMAGEFLEET_CACHE_DIR/rootfs to rebuild them too).
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=lib.sh
. ./lib.sh

[[ $(id -u) == 0 ]] || die "run as root (apt-get, dockerd, binfmt)"

APT_PACKAGES=(
  "docker.io=$TRIXIE_DOCKER_VERSION" docker-cli/trixie docker-buildx/trixie
  docker-registry qemu-user-static binfmt-support debootstrap busybox-static
  runc openssl jq curl
  # The boot test (test/e2e/boot.spec.ts) starts a builder host with systemd-nspawn
  # in a network namespace of its own, led to the metadata stand-in by iptables.
  systemd-container iptables
)
ARCHES=(amd64 arm64)
BASE_DEBIAN=$IMAGEFLEET_REGISTRY/base/debian:bookworm
BASE_BUSYBOX=$IMAGEFLEET_REGISTRY/base/busybox:1.36

# The mirrors this machine's apt already uses are the ones known to be reachable.
# first_uri REGEX: the first deb822 URIs (or one-line 'deb' URL) matching REGEX.
first_uri() {
  { cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true; } |
    awk -v re="$1" '(/^URIs:/ || /^deb /) && $2 ~ re { print $2; exit }'
}
MIRROR=${IMAGEFLEET_DEBIAN_MIRROR:-$(first_uri '/debian/?$')}
SECURITY_MIRROR=${IMAGEFLEET_DEBIAN_SECURITY_MIRROR:-$(first_uri '/debian-security/?$')}
[[ -n $MIRROR ]] || die "no Debian mirror in /etc/apt sources; set IMAGEFLEET_DEBIAN_MIRROR"
SECURITY_MIRROR=${SECURITY_MIRROR:-$MIRROR-security}

# debian_sources RELEASE: deb822 stanzas for RELEASE, -updates and -security.
debian_sources() {
  printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: %s\n\n' \
    "$MIRROR" "$1" "$1" /usr/share/keyrings/debian-archive-keyring.gpg
  printf 'Types: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: %s\n' \
    "$SECURITY_MIRROR" "$1" /usr/share/keyrings/debian-archive-keyring.gpg
}

# Debian 12's docker.io (20.10) has no buildx; trixie's engine runs on bookworm's libc.
# Priority 100 keeps trixie from upgrading anything we did not ask for by name.
apt_packages() {
  local missing=() p name
  for p in "${APT_PACKAGES[@]}"; do
    name=${p%%[=/]*}
    if [[ $p == *=* ]]; then
      [[ $(dpkg-query -W -f='${Status} ${Version}' "$name" 2>/dev/null) == "install ok installed ${p#*=}" ]] || missing+=("$p")
    else
      [[ $(dpkg-query -W -f='${Status}' "$name" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
    fi
  done
  if ((${#missing[@]} == 0)); then
    log "all packages installed; skipping apt"
    return 0
  fi
  log "installing: ${missing[*]}"
  debian_sources trixie >/etc/apt/sources.list.d/imagefleet-trixie.sources
  # Glob: trixie, trixie-updates and trixie-security alike.
  printf 'Package: *\nPin: release n=trixie*\nPin-Priority: 100\n' >/etc/apt/preferences.d/imagefleet-trixie
  apt-get update -q
  # Packages must not start daemons behind our back (no systemd here; we start our own).
  local guard=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$guard" && chmod +x "$guard"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  [[ -z $guard ]] || rm -f "$guard"
}

# Must happen before dockerd starts: BuildKit probes emulators once, at worker start.
binfmt_qemu() {
  if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  fi
  if [[ $(head -1 /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null) != enabled ]]; then
    update-binfmts --enable qemu-aarch64
  fi
  grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 ||
    die "qemu-aarch64 binfmt lacks the F flag; emulation inside containers will fail"
}

# registry_tls: the registry's name in /etc/hosts, a local CA and a server
# certificate for it, trusted system-wide (Go clients: the provider, buildx)
# and by the engine.
registry_tls() {
  local name=${IMAGEFLEET_REGISTRY%:*}
  if ! grep -Eq "^127\.0\.0\.1[[:space:]].*[[:space:]]$name([[:space:]]|\$)" /etc/hosts; then
    echo "127.0.0.1 $name" >>/etc/hosts
    log "mapped $name to 127.0.0.1 in /etc/hosts"
  fi
  mkdir -p "$REGISTRY_TLS"
  if [[ ! -s $REGISTRY_TLS/ca-key.pem ]]; then
    log "creating the registry's CA in $REGISTRY_TLS"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=imagefleet e2e registry CA" \
      -keyout "$REGISTRY_TLS/ca-key.pem" -out "$REGISTRY_CA" 2>/dev/null
    rm -f "$REGISTRY_TLS/server.pem"
  fi
  if ! openssl x509 -in "$REGISTRY_TLS/server.pem" -noout -checkhost "$name" 2>/dev/null | grep -q "does match"; then
    log "creating the registry's certificate for $name"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$name" \
      -keyout "$REGISTRY_TLS/server-key.pem" -out "$REGISTRY_TLS/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' "$name" >"$REGISTRY_TLS/ext.cnf"
    openssl x509 -req -in "$REGISTRY_TLS/server.csr" -CA "$REGISTRY_CA" -CAkey "$REGISTRY_TLS/ca-key.pem" \
      -CAcreateserial -days 3650 -extfile "$REGISTRY_TLS/ext.cnf" -out "$REGISTRY_TLS/server.pem" 2>/dev/null
    chmod 600 "$REGISTRY_TLS"/*-key.pem
  fi
  local trusted=/usr/local/share/ca-certificates/imagefleet-e2e-registry.crt
  if ! cmp -s "$REGISTRY_CA" "$trusted"; then
    cp "$REGISTRY_CA" "$trusted"
    update-ca-certificates >/dev/null
    log "trusted the registry CA system-wide"
  fi
  local host
  for host in "$IMAGEFLEET_REGISTRY" "$REGISTRY_ADDR" "$IMAGEFLEET_REFERRERS_REGISTRY" "$OCIREG_ADDR"; do
    mkdir -p "/etc/docker/certs.d/$host"
    cp "$REGISTRY_CA" "/etc/docker/certs.d/$host/ca.crt"
  done
}

engine_up() { docker info >/dev/null 2>&1; }

daemon_json() {
  # containerd-snapshotter: lets the default 'docker' driver build multi-platform and
  # export registry caches. Default bridge + iptables stay on: RUN needs the bridge.
  cat <<EOF
{
  "features": { "containerd-snapshotter": true },
  "data-root": "$DOCKERD_DIR/data",
  "exec-root": "$DOCKERD_EXEC",
  "pidfile": "$DOCKERD_PID",
  "hosts": ["$DOCKER_HOST"]
}
EOF
}

start_dockerd() {
  if pid_alive "$DOCKERD_PID"; then
    if [[ "$(daemon_json)" == "$(cat "$DOCKERD_DIR/daemon.json" 2>/dev/null)" ]]; then
      wait_for 60 "the running dockerd to answer" engine_up
      log "dockerd already running (pid $(cat "$DOCKERD_PID"))"
      return 0
    fi
    log "dockerd runs with another configuration; restarting it"
    stop_pidfile "$DOCKERD_PID" dockerd
  fi
  if engine_up; then
    # Someone else's engine on this socket: usable only with the containerd store.
    docker info -f '{{.DriverStatus}}' | grep -q io.containerd.snapshotter ||
      die "an engine already answers on $DOCKER_HOST without the containerd image store"
    log "reusing the engine already answering on $DOCKER_HOST"
    return 0
  fi
  mkdir -p "$DOCKERD_DIR/data" "$DOCKERD_EXEC"
  daemon_json >"$DOCKERD_DIR/daemon.json"
  log "starting dockerd (log: $DOCKERD_DIR/dockerd.log)"
  # setsid: the engine must outlive the shell that ran setup.
  setsid dockerd --config-file "$DOCKERD_DIR/daemon.json" >>"$DOCKERD_DIR/dockerd.log" 2>&1 </dev/null &
  wait_for 60 "dockerd to answer (see $DOCKERD_DIR/dockerd.log)" engine_up
  docker info -f '{{.DriverStatus}}' | grep -q io.containerd.snapshotter ||
    die "dockerd is up without the containerd image store"
  log "dockerd up: server $(docker version -f '{{.Server.Version}}'), client $(docker version -f '{{.Client.Version}}')"
}

registry_up() { curl -sf --cacert "$REGISTRY_CA" "https://$REGISTRY_ADDR/v2/" >/dev/null; }

registry_config() {
  # The certificate's fingerprint is part of the config, so a new certificate
  # restarts the registry.
  cat <<EOF
# certificate $(openssl x509 -in "$REGISTRY_TLS/server.pem" -noout -fingerprint -sha256)
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $REGISTRY_DIR/data
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
  tls:
    certificate: $REGISTRY_TLS/server.pem
    key: $REGISTRY_TLS/server-key.pem
EOF
}

start_registry() {
  if pid_alive "$REGISTRY_PID" && [[ "$(registry_config)" != "$(cat "$REGISTRY_DIR/config.yml" 2>/dev/null)" ]]; then
    log "the registry runs with another configuration; restarting it"
    stop_pidfile "$REGISTRY_PID" registry
  fi
  if pid_alive "$REGISTRY_PID"; then
    wait_for 30 "the running registry to answer" registry_up
    log "registry already running (pid $(cat "$REGISTRY_PID"))"
  elif registry_up; then
    log "reusing the registry already answering on $REGISTRY_ADDR"
  else
    mkdir -p "$REGISTRY_DIR/data"
    registry_config >"$REGISTRY_DIR/config.yml"
    log "starting docker-registry (log: $REGISTRY_DIR/registry.log)"
    setsid docker-registry serve "$REGISTRY_DIR/config.yml" >>"$REGISTRY_DIR/registry.log" 2>&1 </dev/null &
    echo $! >"$REGISTRY_PID"
    wait_for 30 "the registry (see $REGISTRY_DIR/registry.log)" registry_up
  fi
  # Clients use the registry's name; it must reach the IPv4 listener.
  curl -sf --cacert "$REGISTRY_CA" "https://$IMAGEFLEET_REGISTRY/v2/" >/dev/null ||
    die "https://$IMAGEFLEET_REGISTRY/v2/ does not answer; map ${IMAGEFLEET_REGISTRY%:*} to 127.0.0.1 in /etc/hosts"
}

default_builder_has_arm64() { docker buildx inspect default | grep -q '^Platforms:.*linux/arm64'; }

check_buildx() {
  # /usr/local/bin/docker (a newer client) may shadow Debian's; both find Debian's
  # buildx plugin in /usr/libexec/docker/cli-plugins and negotiate the engine's API.
  local v
  v=$(docker buildx version) || die "'$(command -v docker) buildx' not found; is docker-buildx installed?"
  log "$(command -v docker) $(docker version -f '{{.Client.Version}}'), buildx $v"
  # Right after start the engine's BuildKit worker may not have probed emulators yet.
  wait_for 30 "the default builder to list linux/arm64 (binfmt qemu-aarch64 enabled before dockerd started?)" \
    default_builder_has_arm64
  log "default builder: $(docker buildx inspect default | grep '^Platforms:')"
}

# manifest_list_ok REPO TAG: the registry holds an index with amd64 and arm64 entries.
manifest_list_ok() {
  curl -sf --cacert "$REGISTRY_CA" -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json' \
    "https://$REGISTRY_ADDR/v2/$1/manifests/$2" |
    jq -e '[.manifests[]?.platform.architecture] | (index("amd64") != null) and (index("arm64") != null)' >/dev/null
}

debian_rootfs_tar() {
  local arch=$1 tar=$IMAGEFLEET_CACHE_DIR/rootfs/debian-bookworm-$1.tar dir
  if [[ -s $tar ]]; then
    log "cached: $tar"
    return 0
  fi
  mkdir -p "$IMAGEFLEET_CACHE_DIR/rootfs"
  dir=$(mktemp -d "$IMAGEFLEET_CACHE_DIR/rootfs/debootstrap-$arch.XXXX")
  log "debootstrap minbase bookworm $arch (arm64 runs under QEMU: slow)"
  debootstrap --variant=minbase --arch="$arch" bookworm "$dir" "$MIRROR" >"$dir.log" 2>&1 ||
    { tail -20 "$dir.log" >&2; die "debootstrap $arch failed (log: $dir.log)"; }
  # deb822 sources like the host's, so 'apt-get update' in a RUN step uses the same mirror.
  rm -f "$dir/etc/apt/sources.list"
  debian_sources bookworm >"$dir/etc/apt/sources.list.d/debian.sources"
  # Like the official slim image: later package installs skip docs too (licences stay).
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
    >"$dir/etc/dpkg/dpkg.cfg.d/imagefleet-slim"
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin "$dir"/var/lib/apt/lists/* \
    "$dir"/var/log/*.log "$dir"/debootstrap "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/locale/*
  find "$dir/usr/share/doc" -type f ! -name copyright -delete
  tar --numeric-owner -C "$dir" -cf "$tar.tmp" .
  mv "$tar.tmp" "$tar"
  rm -rf "$dir" "$dir.log"
}

# Debian's busybox-static for both arches without adding arm64 to the host's dpkg:
# a throwaway apt state that only knows bookworm for amd64+arm64.
busybox_debs() {
  local dir=$IMAGEFLEET_CACHE_DIR/busybox tmp a
  if ls "$dir"/busybox-static_*_amd64.deb "$dir"/busybox-static_*_arm64.deb >/dev/null 2>&1; then
    log "cached: $dir/*.deb"
    return 0
  fi
  mkdir -p "$dir"
  tmp=$(mktemp -d)
  mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/empty"
  echo "deb [arch=amd64,arm64] $MIRROR bookworm main" >"$tmp/sources.list"
  local opts=(-q -o "APT::Architectures=amd64,arm64" -o "Dir::State::Lists=$tmp/lists"
    -o "Dir::Cache=$tmp/cache" -o "Dir::Etc::SourceList=$tmp/sources.list"
    -o "Dir::Etc::SourceParts=$tmp/empty" -o "Dir::Etc::PreferencesParts=$tmp/empty"
    -o "APT::Sandbox::User=root" -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false")
  apt-get "${opts[@]}" update
  for a in "${ARCHES[@]}"; do
    (cd "$dir" && apt-get "${opts[@]}" download "busybox-static:$a")
  done
  rm -rf "$tmp"
}

busybox_rootfs_tar() {
  local arch=$1 tar=$IMAGEFLEET_CACHE_DIR/rootfs/busybox-$1.tar dir debs
  [[ -s $tar ]] && { log "cached: $tar"; return 0; }
  debs=("$IMAGEFLEET_CACHE_DIR"/busybox/busybox-static_*_"$arch".deb)
  dir=$(mktemp -d)
  dpkg-deb -x "${debs[0]}" "$dir/pkg"
  mkdir -p "$dir/root/bin" "$dir/root/tmp" "$dir/root/etc"
  cp "$dir/pkg/bin/busybox" "$dir/root/bin/busybox"
  # The applet links the official image has, so 'sh', 'ls', 'cp' etc. resolve in RUN.
  local applet
  for applet in $("$dir/pkg/bin/busybox" --list 2>/dev/null || qemu-aarch64-static "$dir/pkg/bin/busybox" --list); do
    [[ $applet == busybox ]] || ln -sf busybox "$dir/root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$dir/root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/root/etc/group"
  chmod 1777 "$dir/root/tmp"
  mkdir -p "$IMAGEFLEET_CACHE_DIR/rootfs"
  tar --numeric-owner -C "$dir/root" -cf "$tar.tmp" .
  mv "$tar.tmp" "$tar"
  rm -rf "$dir"
}

# import_push NAME TAG CMD TARPREFIX: docker import each arch's tarball, push, join into an index.
import_push() {
  local name=$1 tag=$2 cmd=$3 tarprefix=$4 ref=$IMAGEFLEET_REGISTRY/base/$1 a refs=()
  for a in "${ARCHES[@]}"; do
    docker import --platform "linux/$a" \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change "CMD [\"$cmd\"]" \
      "$IMAGEFLEET_CACHE_DIR/rootfs/$tarprefix-$a.tar" "$ref:$tag-$a" >/dev/null
    docker push -q "$ref:$tag-$a"
    refs+=("$ref:$tag-$a")
  done
  docker buildx imagetools create -t "$ref:$tag" "${refs[@]}"
}

base_debian() {
  if [[ -z ${IMAGEFLEET_FORCE_BASE:-} ]] && manifest_list_ok base/debian bookworm; then
    log "registry has $BASE_DEBIAN (amd64+arm64); skipping"
    return 0
  fi
  local a
  for a in "${ARCHES[@]}"; do debian_rootfs_tar "$a"; done
  import_push debian bookworm /bin/bash debian-bookworm
}

base_busybox() {
  if [[ -z ${IMAGEFLEET_FORCE_BASE:-} ]] && manifest_list_ok base/busybox 1.36; then
    log "registry has $BASE_BUSYBOX (amd64+arm64); skipping"
    return 0
  fi
  local a
  busybox_debs
  for a in "${ARCHES[@]}"; do busybox_rootfs_tar "$a"; done
  import_push busybox 1.36 /bin/sh busybox
}

# The boot test's root filesystem: the amd64 minbase tarball above plus
# systemd, cloud-init and what the fleet's user data runs (test/e2e/boot/image.sh).
boot_host_image() {
  debian_rootfs_tar amd64
  bash boot/image.sh "$IMAGEFLEET_CACHE_DIR/rootfs/debian-bookworm-amd64.tar" "$IMAGEFLEET_CACHE_DIR/rootfs" >/dev/null
}

write_env() {
  cat >"$IMAGEFLEET_STATE_DIR/env.sh" <<EOF
# Written by test/e2e/setup.sh; source it before running e2e tests.
export DOCKER_HOST=$DOCKER_HOST
export IMAGEFLEET_STATE_DIR=$IMAGEFLEET_STATE_DIR
export IMAGEFLEET_CACHE_DIR=$IMAGEFLEET_CACHE_DIR
export IMAGEFLEET_REGISTRY=$IMAGEFLEET_REGISTRY
export IMAGEFLEET_BASE_IMAGE=$BASE_DEBIAN
export IMAGEFLEET_BUSYBOX_IMAGE=$BASE_BUSYBOX
export IMAGEFLEET_PLATFORMS=linux/amd64,linux/arm64
export IMAGEFLEET_REGISTRY_CA=$REGISTRY_CA
export IMAGEFLEET_REGISTRY_HTTP=https://$IMAGEFLEET_REGISTRY
# The registry with the OCI 1.1 referrers API (test/e2e/oci-registry.sh starts it once oci-registry is built).
export IMAGEFLEET_REFERRERS_REGISTRY=$IMAGEFLEET_REFERRERS_REGISTRY
# Node's fetch does not read the system store; the tests read the registry with it.
export NODE_EXTRA_CA_CERTS=$REGISTRY_CA
EOF
  log "wrote $IMAGEFLEET_STATE_DIR/env.sh"
}

T0=$(date +%s)
mkdir -p "$IMAGEFLEET_STATE_DIR" "$IMAGEFLEET_CACHE_DIR"
step "apt packages" apt_packages
step "binfmt qemu-aarch64" binfmt_qemu
step "registry TLS" registry_tls
step "dockerd" start_dockerd
step "registry" start_registry
step "buildx platforms" check_buildx
step "base image debian" base_debian
step "base image busybox" base_busybox
# --main-job (scripts/up-local.sh): what the local stack needs, not the boot test's host.
[[ ${1:-} == --main-job ]] || step "boot test host image" boot_host_image
step "env file" write_env
print_step_times
log "setup done in $(($(date +%s) - T0))s; source $IMAGEFLEET_STATE_DIR/env.sh"
