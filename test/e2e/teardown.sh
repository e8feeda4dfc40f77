#!/usr/bin/env bash
# Stop the dockerd and registries that setup.sh and oci-registry.sh started (by their pid files).
# Leaves packages, engine data, registry contents and caches, so setup.sh is fast again.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=lib.sh
. ./lib.sh

stop_pidfile "$REGISTRY_PID" "registry"
stop_pidfile "$OCIREG_PID" "oci-registry"
# dockerd stops its containers and its own containerd on TERM.
stop_pidfile "$DOCKERD_PID" "dockerd"
log "teardown done (caches kept in $IMAGEFLEET_CACHE_DIR and $IMAGEFLEET_STATE_DIR)"
