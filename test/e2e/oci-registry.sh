#!/usr/bin/env bash
# The e2e tier's second registry: go-containerregistry's registry with the OCI
# 1.1 referrers API (scripts/tools/oci-registry, built by
# scripts/build-tools.sh), over TLS with the first registry's certificate, on
# $IMAGEFLEET_REFERRERS_REGISTRY (registry.localhost:5001). The first registry
# (distribution) has no referrers API, so between them the e2e tier covers both
# places cosign keeps signatures and attestations: the referrers API and the
# `sha256-<hex>` fallback tag.
#
#   test/e2e/oci-registry.sh start|stop|status
#
# Idempotent. Manifests live in memory (a restart empties the registry; the
# tests push what they use), blobs under $OCIREG_DIR/blobs. Run setup.sh first
# (the certificate, /etc/hosts, the CA trusted system-wide).
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=lib.sh
. ./lib.sh
TOOLS_BIN="${IMAGEFLEET_TOOLS_DIR:-$HOME/.cache/imagefleet/tools}/bin"

answers() { curl -sf --cacert "$REGISTRY_CA" "https://$OCIREG_ADDR/v2/" >/dev/null; }

cmd_start() {
  local bin
  bin=$(command -v oci-registry || echo "$TOOLS_BIN/oci-registry")
  [[ -x $bin ]] || die "oci-registry not found in $TOOLS_BIN or PATH: run scripts/build-tools.sh first"
  [[ -s $REGISTRY_TLS/server.pem ]] || die "no registry certificate in $REGISTRY_TLS: run test/e2e/setup.sh first"
  # A rebuilt binary restarts the registry (its manifests are in memory: the tests push what they use).
  local build
  build=$(sha256sum "$bin" | cut -d' ' -f1)
  if pid_alive "$OCIREG_PID" && [[ $build != "$(cat "$OCIREG_DIR/binary.sha256" 2>/dev/null)" ]]; then
    log "oci-registry was rebuilt; restarting it"
    stop_pidfile "$OCIREG_PID" oci-registry
  fi
  if pid_alive "$OCIREG_PID"; then
    wait_for 30 "the running oci-registry to answer" answers
    log "oci-registry already running (pid $(cat "$OCIREG_PID")) on $IMAGEFLEET_REFERRERS_REGISTRY"
    return 0
  fi
  if answers; then
    log "reusing the registry already answering on $OCIREG_ADDR"
    return 0
  fi
  mkdir -p "$OCIREG_DIR/blobs"
  log "starting oci-registry on $IMAGEFLEET_REFERRERS_REGISTRY (log: $OCIREG_DIR/oci-registry.log)"
  # setsid, descriptors above stderr closed: the registry outlives this shell
  # and must not hold a lock descriptor the caller was started under.
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if ((fd > 2)); then eval "exec $fd>&-"; fi
    done
    exec setsid "$bin" -addr "$OCIREG_ADDR" -tls-cert "$REGISTRY_TLS/server.pem" -tls-key "$REGISTRY_TLS/server-key.pem" \
      -blobs "$OCIREG_DIR/blobs" >>"$OCIREG_DIR/oci-registry.log" 2>&1 </dev/null
  ) &
  echo $! >"$OCIREG_PID"
  echo "$build" >"$OCIREG_DIR/binary.sha256"
  wait_for 30 "oci-registry (see $OCIREG_DIR/oci-registry.log)" answers
  curl -sf --cacert "$REGISTRY_CA" "https://$IMAGEFLEET_REFERRERS_REGISTRY/v2/" >/dev/null ||
    die "https://$IMAGEFLEET_REFERRERS_REGISTRY/v2/ does not answer; is ${IMAGEFLEET_REFERRERS_REGISTRY%:*} in /etc/hosts?"
  log "oci-registry up: $("$bin" -version), pid $(cat "$OCIREG_PID")"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) stop_pidfile "$OCIREG_PID" oci-registry ;;
  status)
    if pid_alive "$OCIREG_PID" && answers; then
      log "oci-registry: running, pid $(cat "$OCIREG_PID"), $IMAGEFLEET_REFERRERS_REGISTRY"
    else
      log "oci-registry: stopped"
      exit 1
    fi
    ;;
  *) die "usage: $0 start|stop|status" ;;
esac
