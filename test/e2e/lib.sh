# Shared settings and helpers for the e2e setup/teardown scripts. Source, don't run.
# shellcheck shell=bash disable=SC2034  # variables are used by the scripts that source this

IMAGEFLEET_STATE_DIR=${IMAGEFLEET_STATE_DIR:-/var/lib/imagefleet-e2e}
IMAGEFLEET_CACHE_DIR=${IMAGEFLEET_CACHE_DIR:-/var/cache/imagefleet}
# A name, not 'localhost' or 127.0.0.1: BuildKit and buildx treat loopback
# names as plain HTTP, while the docker-build provider reads indexes over
# HTTPS only, so a loopback name can never serve both. setup.sh maps this one
# to 127.0.0.1 in /etc/hosts. It is the address the local stack config uses.
IMAGEFLEET_REGISTRY=${IMAGEFLEET_REGISTRY:-registry.localhost:5000}
# The registry listens on IPv4 loopback only, on the port of IMAGEFLEET_REGISTRY.
REGISTRY_ADDR=127.0.0.1:${IMAGEFLEET_REGISTRY##*:}
# The default socket, so every client (docker CLI, buildx, the docker-build provider)
# finds the engine without extra settings.
IMAGEFLEET_DOCKER_HOST=${IMAGEFLEET_DOCKER_HOST:-unix:///var/run/docker.sock}
# The Debian release the pinned engine packages come from.
TRIXIE_DOCKER_VERSION=${TRIXIE_DOCKER_VERSION:-26.1.5+dfsg1-9+deb13u1}

DOCKERD_DIR=$IMAGEFLEET_STATE_DIR/dockerd
# Short and separate: containerd's unix sockets live here (108-byte path limit).
DOCKERD_EXEC=/run/imagefleet-e2e/docker
REGISTRY_DIR=$IMAGEFLEET_STATE_DIR/registry
DOCKERD_PID=$DOCKERD_DIR/dockerd.pid
REGISTRY_PID=$REGISTRY_DIR/registry.pid
# The registry speaks TLS with a local CA: the docker-build provider's registry
# client (used by every Index) has no plain-HTTP mode, and neither do real ones.
REGISTRY_TLS=$REGISTRY_DIR/tls
REGISTRY_CA=$REGISTRY_TLS/ca.pem
# A second registry, with the OCI 1.1 referrers API (test/e2e/oci-registry.sh):
# same name and certificate, another port. The first one has no referrers API.
IMAGEFLEET_REFERRERS_REGISTRY=${IMAGEFLEET_REFERRERS_REGISTRY:-${IMAGEFLEET_REGISTRY%:*}:5001}
OCIREG_ADDR=127.0.0.1:${IMAGEFLEET_REFERRERS_REGISTRY##*:}
OCIREG_DIR=$IMAGEFLEET_STATE_DIR/oci-registry
OCIREG_PID=$OCIREG_DIR/oci-registry.pid

export DOCKER_HOST=$IMAGEFLEET_DOCKER_HOST

log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# step NAME CMD...: announce, run, and report the wall time of one setup step.
STEP_TIMES=()
step() {
  local name=$1; shift
  local t0 t1 secs
  log "--> $name"
  t0=$(date +%s.%N)
  "$@"
  t1=$(date +%s.%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  log "<-- $name: ${secs}s"
  STEP_TIMES+=("$(printf '%-28s %6ss' "$name" "$secs")")
}

print_step_times() {
  log "step times:"
  local l
  for l in "${STEP_TIMES[@]}"; do printf '    %s\n' "$l" >&2; done
}

# pid_alive FILE: the process named in FILE is running.
pid_alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# wait_for SECONDS DESCRIPTION CMD...: poll CMD until it succeeds.
wait_for() {
  local secs=$1 what=$2; shift 2
  local i
  for ((i = 0; i < secs * 4; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  die "timed out after ${secs}s waiting for $what"
}

# stop_pidfile FILE NAME: TERM the process from FILE, wait, KILL if it lingers.
stop_pidfile() {
  local file=$1 name=$2 pid i
  if ! pid_alive "$file"; then
    log "$name not running"
    rm -f "$file"
    return 0
  fi
  pid=$(cat "$file")
  log "stopping $name (pid $pid)"
  kill -TERM "$pid"
  for ((i = 0; i < 120; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not stop in 30s; killing"
    kill -KILL "$pid" || true
  fi
  rm -f "$file"
}
