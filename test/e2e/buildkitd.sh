#!/usr/bin/env bash
# Local BuildKit builder hosts with the production shape: one buildkitd per
# platform, reached over TCP with mutual TLS, registered as buildx `remote`
# builders (the docker-build provider rejects the legacy `docker` driver).
#
#   test/e2e/buildkitd.sh start|stop|status|restart
#   test/e2e/buildkitd.sh kill HOST          SIGKILL one host (amd64, arm64, amd64-1, …),
#                                            as a crash would (fault tests; `start` or
#                                            `pool start` brings it back)
#   test/e2e/buildkitd.sh pool start N [ARCH…]
#                                            a builder pool: hosts 1..N-1 of each arch
#                                            (default both) beside the two above, with
#                                            the same certificates, registered as
#                                            imagefleet-local-<arch>-<i> (as a fleet names
#                                            its hosts); ports from $IMAGEFLEET_POOL_PORT
#                                            (default 1240) up
#   test/e2e/buildkitd.sh pool stop          stops and unregisters those hosts only
#   test/e2e/buildkitd.sh attestors start|stop
#                                            an attestor beside each host of the set
#                                            (scripts/tools/attestor): it signs BuildKit's
#                                            own provenance and an SBOM of every image the
#                                            host pushes, with the host's key; hosts started
#                                            meanwhile get theirs too
#
# Every host runs its RUN steps on a bridge of its own, fenced off from the
# host (host/isolate-builds.sh), as a fleet host does.
#
# IMAGEFLEET_HOST_SET=side: the same commands on a second set of hosts with
# ports, state and builder names of their own (1236/1237, pool hosts from
# 1250, imagefleet-side-<host>), sharing the certificates: the e2e specs that
# kill hosts run on it beside the specs that use the first set
# (test/e2e/lanes.sh). test/e2e/hosts.ts holds the same numbers.
#
# Needs buildkitd/buildctl from scripts/build-tools.sh (or on PATH), openssl,
# runc, QEMU binfmt for arm64, and docker-buildx (no Docker engine needed).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BASE="${IMAGEFLEET_STATE_DIR:-/var/lib/imagefleet-e2e}/buildkit"
TOOLS_BIN="${IMAGEFLEET_TOOLS_DIR:-$HOME/.cache/imagefleet/tools}/bin"
CERTS="$BASE/certs"
ARCHES=(amd64 arm64)
HOST_SET=${IMAGEFLEET_HOST_SET:-local}
case $HOST_SET in
  local) STATE=$BASE; declare -A PORT=([amd64]=1234 [arm64]=1235); DEFAULT_POOL_PORT=1240 ;;
  side) STATE=$BASE-side; declare -A PORT=([amd64]=1236 [arm64]=1237); DEFAULT_POOL_PORT=1250 ;;
  *) echo "[buildkitd.sh] IMAGEFLEET_HOST_SET must be local or side (got '$HOST_SET')" >&2; exit 2 ;;
esac
export PATH="$TOOLS_BIN:$PATH"

LOG_TAG=buildkitd.sh
[[ $HOST_SET == local ]] || LOG_TAG="buildkitd.sh $HOST_SET"
log() { echo "[$LOG_TAG] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

POOL_PORT=${IMAGEFLEET_POOL_PORT:-$DEFAULT_POOL_PORT}

# A host is an arch (the first host of its platform) or <arch>-<i>, i >= 1.
arch_of() { echo "${1%%-*}"; }
index_of() { [[ $1 == *-* ]] && echo "${1#*-}" || echo 0; }
valid_host() { [[ -n ${PORT[$(arch_of "$1")]:-} && $(index_of "$1") =~ ^[0-9]+$ ]]; }
port_of() { # host: the first hosts keep 1234/1235; pool hosts count up from POOL_PORT, two per index
  local a i off=0
  a=$(arch_of "$1") i=$(index_of "$1")
  [[ $a == arm64 ]] && off=1
  if ((i == 0)); then echo "${PORT[$a]}"; else echo $((POOL_PORT + 2 * (i - 1) + off)); fi
}
builder_name() { echo "imagefleet-$HOST_SET-$1"; }
# Every local host's build bridge is a /24 of BUILD_SUBNET (the fleet's BUILD_NETWORK), by port.
BUILD_SUBNET=10.10.0.0/16
subnet_of() { echo "10.10.$(($(port_of "$1") - 1200)).0/24"; }
addr() { echo "tcp://127.0.0.1:$(port_of "$1")"; }
tls_args() {
  echo --tlsservername localhost --tlscacert "$CERTS/ca.pem" \
    --tlscert "$CERTS/client.pem" --tlskey "$CERTS/client-key.pem"
}

apt_updated=
apt_install() {
  if [[ -z $apt_updated ]]; then
    log "apt-get update"
    apt-get update -qq
    apt_updated=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_prereqs() {
  if ! command -v buildkitd >/dev/null || ! command -v buildctl >/dev/null; then
    die "buildkitd/buildctl not found in $TOOLS_BIN or PATH: run scripts/build-tools.sh first"
  fi
  command -v openssl >/dev/null || apt_install openssl
  # The OCI worker runs every build step (and its own probes) through runc.
  command -v runc >/dev/null || apt_install runc
  # The arm64 builder runs arm64 binaries through QEMU user emulation; the
  # kernel needs the binfmt handler registered (F flag: usable inside chroots).
  if [[ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
    if ! command -v update-binfmts >/dev/null || ! command -v qemu-aarch64-static >/dev/null; then
      apt_install qemu-user-static binfmt-support
    fi
    [[ -e /proc/sys/fs/binfmt_misc/register ]] ||
      mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    log "update-binfmts --enable qemu-aarch64"
    update-binfmts --enable qemu-aarch64 || true
  fi
  grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 ||
    die "QEMU binfmt for aarch64 is not enabled (see /proc/sys/fs/binfmt_misc)"
  # Bridge networking for build containers: BuildKit's release tarball ships
  # the CNI plugins as buildkit-cni-*, found on PATH; a buildkitd built from
  # source gets Debian's, under the same names.
  [[ -x /usr/lib/cni/bridge ]] || apt_install containernetworking-plugins
  command -v iptables >/dev/null || apt_install iptables
  local p
  for p in bridge loopback host-local firewall; do
    [[ -x $TOOLS_BIN/buildkit-cni-$p ]] || ln -sf "/usr/lib/cni/$p" "$TOOLS_BIN/buildkit-cni-$p"
  done
  bash "$ROOT/host/isolate-builds.sh" "$BUILD_SUBNET"
}

gen_certs() {
  if [[ -s $CERTS/client-key.pem ]]; then
    log "reusing certificates in $CERTS"
    return
  fi
  log "generating CA, server (127.0.0.1, localhost) and client certificates in $CERTS"
  mkdir -p "$CERTS"
  local tmp
  tmp=$(mktemp -d)
  (
    cd "$tmp"
    key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
    key ca-key.pem
    openssl req -x509 -new -key ca-key.pem -sha256 -days 3650 -subj "/CN=imagefleet-e2e-ca" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -out ca.pem
    sign() { # name cn extensions
      key "$1-key.pem"
      openssl req -new -key "$1-key.pem" -subj "/CN=$2" -out "$1.csr"
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -sha256 \
        -days 3650 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    }
    sign server localhost "$(printf '%s\n' 'basicConstraints=CA:FALSE' \
      'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' \
      'subjectAltName=IP:127.0.0.1,DNS:localhost')"
    sign client imagefleet-e2e-client "$(printf '%s\n' 'basicConstraints=CA:FALSE' \
      'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=clientAuth')"
    # Write the client key last: its presence marks a complete set.
    cp ca.pem ca-key.pem server.pem server-key.pem client.pem "$CERTS/"
    cp client-key.pem "$CERTS/"
  )
  rm -rf "$tmp"
  chmod 600 "$CERTS"/*-key.pem
}

write_config() { # host
  local h=$1 a dir="$STATE/$1"
  a=$(arch_of "$h")
  mkdir -p "$dir/root" "$dir/provenance.d"
  # What the host states in every provenance it records (a fleet host writes
  # the same file at first boot): the client cannot set it.
  printf '{"buildkitVersion": "%s"}\n' "$(buildkitd --version | awk '{print $3}')" >"$dir/provenance.d/buildkit.json"
  cat >"$dir/buildkitd.toml" <<EOF
# Generated by test/e2e/buildkitd.sh: $a builder host $h, mTLS on TCP.
root = "$dir/root"
provenanceEnvDir = "$dir/provenance.d"

[grpc]
  # The unix socket (root only) is the attestor's way in, as on a fleet host.
  address = ["$(addr "$h")", "unix://$dir/attestor.sock"]
  [grpc.tls]
    cert = "$CERTS/server.pem"
    key = "$CERTS/server-key.pem"
    # A CA here makes buildkitd require and verify client certificates.
    ca = "$CERTS/ca.pem"

# Two daemons on one machine must not share the default tracing socket.
[otel]
  socketPath = "$dir/otel-grpc.sock"

[worker.oci]
  enabled = true
  platforms = ["linux/$a"]
  # As on a fleet host: RUN steps on a bridge of their own (one per daemon
  # here), fenced off from the host by host/isolate-builds.sh.
  networkMode = "bridge"
  bridgeName = "bk$(port_of "$h")"
  bridgeSubnet = "$(subnet_of "$h")"
  cniPoolSize = 2
  gc = true
  reservedSpace = "1GB"
  maxUsedSpace = "10GB"
  minFreeSpace = "5GB"

[worker.containerd]
  enabled = false

# The e2e registry's certificate comes from a local CA (test/e2e/setup.sh).
# http = false: BuildKit assumes plain HTTP for loopback names.
[registry."registry.localhost:5000"]
  http = false
  ca = ["${IMAGEFLEET_STATE_DIR:-/var/lib/imagefleet-e2e}/registry/tls/ca.pem"]
[registry."127.0.0.1:5000"]
  http = false
  ca = ["${IMAGEFLEET_STATE_DIR:-/var/lib/imagefleet-e2e}/registry/tls/ca.pem"]
EOF
}

pid_of() { # host -> prints pid if running
  local f="$STATE/$1/buildkitd.pid" pid
  [[ -s $f ]] || return 1
  pid=$(cat "$f")
  # A stale pid file may name a recycled pid: check it is still buildkitd.
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == buildkitd ]] && echo "$pid"
}

workers() { # host
  # shellcheck disable=SC2046
  buildctl --addr "$(addr "$1")" $(tls_args) debug workers
}

start_one() {
  local a=$1 dir="$STATE/$1" pid
  if pid=$(pid_of "$a"); then
    log "buildkitd $a already running (pid $pid) on $(addr "$a")"
  else
    write_config "$a"
    log "starting buildkitd $a on $(addr "$a") (log: $dir/buildkitd.log)"
    # Close every inherited descriptor above stderr first: started under
    # `flock LOCK command`, the daemon would otherwise keep LOCK's descriptor
    # and hold the lock for as long as it runs.
    (
      for fd in /proc/$BASHPID/fd/*; do
        fd=${fd##*/}
        if ((fd > 2)); then eval "exec $fd>&-"; fi
      done
      exec nohup buildkitd --config "$dir/buildkitd.toml" >>"$dir/buildkitd.log" 2>&1 </dev/null
    ) &
    echo $! >"$dir/buildkitd.pid"
  fi
  local i
  for ((i = 0; i < 60; i++)); do
    if workers "$a" >/dev/null 2>&1; then
      log "buildkitd $a answers:"
      workers "$a" >&2
      if [[ -e $STATE/attestors-on ]]; then start_attestor "$a"; fi
      return 0
    fi
    pid_of "$a" >/dev/null || { tail -20 "$dir/buildkitd.log" >&2; die "buildkitd $a exited"; }
    sleep 0.5
  done
  tail -20 "$dir/buildkitd.log" >&2
  die "buildkitd $a did not answer within 30 s"
}

# --- The attestor beside each host ------------------------------------------
# It signs with a key of the host's own (0600, in a 0700 directory, made once
# and kept across restarts: the host's identity). Its public half is also
# published as $ATTESTORS/<builder name>.pub, where the local stack's config
# and the e2e specs read it.
ATTESTORS="${IMAGEFLEET_STATE_DIR:-/var/lib/imagefleet-e2e}/attestors"
attestor_key() { # host
  local kd="$STATE/$1/attestor"
  if [[ ! -s $kd/cosign.key ]]; then
    mkdir -p "$kd" && chmod 700 "$kd"
    (umask 077 && head -c 24 /dev/urandom | base64 >"$kd/password")
    log "generating the attestor key of $1 ($kd)"
    COSIGN_PASSWORD=$(cat "$kd/password") cosign generate-key-pair --output-key-prefix "$kd/cosign" >/dev/null 2>&1 ||
      die "cosign generate-key-pair failed for the attestor of $1"
    chmod 600 "$kd/cosign.key"
  fi
  mkdir -p "$ATTESTORS"
  cp "$kd/cosign.pub" "$ATTESTORS/$(builder_name "$1").pub"
}

attestor_pid() { # host
  local f="$STATE/$1/attestor.pid" pid
  [[ -s $f ]] || return 1
  pid=$(cat "$f")
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == imagefleet-atte* ]] && echo "$pid"
}

start_attestor() { # host
  local h=$1 dir="$STATE/$1" pid
  command -v imagefleet-attestor >/dev/null || die "imagefleet-attestor not found in $TOOLS_BIN: run scripts/build-tools.sh"
  attestor_key "$h"
  if pid=$(attestor_pid "$h"); then
    return
  fi
  log "starting the attestor of $h (log: $dir/attestor.log)"
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if ((fd > 2)); then eval "exec $fd>&-"; fi
    done
    # As on a fleet host (Nice=10 in its unit): builds first, signatures after.
    exec nohup nice -n 10 imagefleet-attestor --addr "unix://$dir/attestor.sock" \
      --key "$dir/attestor/cosign.key" --password-file "$dir/attestor/password" \
      --builder-id "https://imagefleet.dev/attestor/v1/$(hostname)/$(builder_name "$h")" \
      --state "$dir/attestor/state" >>"$dir/attestor.log" 2>&1 </dev/null
  ) &
  echo $! >"$dir/attestor.pid"
}

stop_attestor() { # host
  local pid
  if pid=$(attestor_pid "$1"); then
    kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$STATE/$1/attestor.pid"
}

cmd_attestors() { # start|stop
  local h
  case "${1:-}" in
    start)
      mkdir -p "$STATE" && touch "$STATE/attestors-on"
      # shellcheck disable=SC2046
      for h in "${ARCHES[@]}" $(pool_hosts); do pid_of "$h" >/dev/null && start_attestor "$h"; done
      log "attestors on: each host signs what it pushes (public keys in $ATTESTORS)" ;;
    stop)
      rm -f "$STATE/attestors-on"
      # shellcheck disable=SC2046
      for h in "${ARCHES[@]}" $(pool_hosts); do stop_attestor "$h"; done ;;
    *) die "attestors: start or stop" ;;
  esac
}

register_builder() {
  local a=$1 name
  name=$(builder_name "$a")
  if ! docker buildx version >/dev/null 2>&1; then
    log "WARNING: docker buildx is not available; skipping builder $name (test/e2e/setup.sh installs it)"
    return
  fi
  # Recreate so that a changed port or certificate path is picked up.
  docker buildx rm "$name" >/dev/null 2>&1 || true
  log "registering buildx remote builder $name -> $(addr "$a")"
  docker buildx create --name "$name" --driver remote \
    --driver-opt "cacert=$CERTS/ca.pem,cert=$CERTS/client.pem,key=$CERTS/client-key.pem,servername=localhost" \
    --platform "linux/$(arch_of "$a")" "$(addr "$a")" >/dev/null
}

# The pool hosts this state directory has (started now or before): <arch>-<i> with a config.
pool_hosts() {
  local d h
  for d in "$STATE"/*-*/; do
    [[ -d $d ]] || continue
    h=$(basename "$d")
    valid_host "$h" && (($(index_of "$h") > 0)) && [[ -f $d/buildkitd.toml ]] && echo "$h"
  done
}

stop_one() { # host
  local a=$1 pid i
  stop_attestor "$a"
  if pid=$(pid_of "$a"); then
    log "stopping buildkitd $a (pid $pid)"
    kill "$pid"
    for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && { log "buildkitd $a still alive, SIGKILL"; kill -9 "$pid"; }
  else
    log "buildkitd $a not running"
  fi
  rm -f "$STATE/$a/buildkitd.pid"
}

cmd_pool_start() { # N [ARCH...]
  local n=${1:-} a i
  [[ $n =~ ^[0-9]+$ ]] && ((n >= 1)) || die "pool start: N must be a whole number of hosts per platform, at least 1 (got '${n}')"
  shift
  local arches=("${@:-${ARCHES[@]}}")
  for a in "${arches[@]}"; do [[ -n ${PORT[$a]:-} ]] || die "pool start: unknown arch '$a' (${ARCHES[*]})"; done
  ensure_prereqs
  gen_certs
  # The first host of each platform is the one `start` runs (others use it too).
  for a in "${arches[@]}"; do start_one "$a"; done
  for a in "${arches[@]}"; do for ((i = 1; i < n; i++)); do start_one "$a-$i"; done; done
  for a in "${arches[@]}"; do for ((i = 1; i < n; i++)); do register_builder "$a-$i"; done; done
  log "ready: a pool of $n per platform (${arches[*]}): $(for a in "${arches[@]}"; do
    printf '%s ' "$(builder_name "$a")"; for ((i = 1; i < n; i++)); do printf '%s ' "$(builder_name "$a-$i")"; done; done)"
}

cmd_pool_stop() {
  local h
  for h in $(pool_hosts); do
    stop_one "$h"
    docker buildx rm "$(builder_name "$h")" >/dev/null 2>&1 || true
    rm -rf "${STATE:?}/$h"
  done
}

cmd_start() {
  ensure_prereqs
  gen_certs
  local a
  for a in "${ARCHES[@]}"; do start_one "$a"; done
  for a in "${ARCHES[@]}"; do register_builder "$a"; done
  log "ready: builders $(builder_name amd64) and $(builder_name arm64); client certs in $CERTS"
}

cmd_stop() {
  local a
  # Pool hosts too: what the e2e tier started, it stops.
  cmd_pool_stop
  for a in "${ARCHES[@]}"; do stop_one "$a"; done
}

cmd_kill() { # host
  local a=$1 pid
  valid_host "$a" || die "kill: unknown host '$a' (${ARCHES[*]}, or <arch>-<i> of a pool)"
  if pid=$(pid_of "$a"); then
    log "killing buildkitd $a (pid $pid) with SIGKILL"
    kill -9 "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  else
    log "buildkitd $a not running"
  fi
  rm -f "$STATE/$a/buildkitd.pid"
}

cmd_status() {
  local a pid rc=0
  # shellcheck disable=SC2046
  for a in "${ARCHES[@]}" $(pool_hosts); do
    if pid=$(pid_of "$a"); then
      log "buildkitd $a: running, pid $pid, $(addr "$a")"
      workers "$a" >&2 || { log "buildkitd $a: not answering"; rc=1; }
    else
      log "buildkitd $a: stopped"
      rc=1
    fi
    if docker buildx inspect "$(builder_name "$a")" >/dev/null 2>&1; then
      log "buildx builder $(builder_name "$a"): registered"
    else
      log "buildx builder $(builder_name "$a"): not registered"
    fi
  done
  return $rc
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  kill) cmd_kill "${2:-}" ;;
  attestors) cmd_attestors "${2:-}" ;;
  pool)
    case "${2:-}" in
      start) shift 2; cmd_pool_start "$@" ;;
      stop) cmd_pool_stop ;;
      *) echo "usage: $0 pool start N [ARCH...] | pool stop" >&2; exit 2 ;;
    esac ;;
  *) echo "usage: $0 start|stop|restart|status|kill HOST|pool start N [ARCH...]|pool stop" >&2; exit 2 ;;
esac
