/** Where the user data installs the idle-stop script. */
export const IDLE_STOP_PATH = "/usr/local/bin/imagefleet-idle-stop";

// The attestor signs what a build pushed after the build's connection is
// gone; a host that stopped then would leave the push unattested until its
// next start. Its cosign or syft running counts as activity.
const ATTESTOR_BUSY = `attestor_busy() {
  local pid
  pid=$(systemctl show --property MainPID --value imagefleet-attestor.service 2>/dev/null) || return 1
  # Its children, from /proc (no procps needed).
  [[ $pid =~ ^[1-9][0-9]*$ ]] && [[ -n $(cat /proc/"$pid"/task/*/children 2>/dev/null | tr -d ' ') ]]
}

`;

const ATTESTOR_ACTIVE = `if attestor_busy; then
  echo "$NOW" >"$STATE_FILE"
  echo "active: the attestor is signing what a build pushed"
  exit 0
fi
`;

/**
 * The idle-stop check, run once a minute by a systemd timer on every host.
 *
 * Activity means at least one established TCP connection to the BuildKit port:
 * buildx, buildctl and the docker-build provider hold one for the whole of a
 * build (the session and the solve), and buildkitd cancels a build whose
 * client went away, so "no connection" means "no build". A probe that fails
 * counts as activity: a broken probe must not stop a busy host. So does the
 * attestor (when the fleet has one) while it runs cosign or syft.
 *
 * The last-activity time lives in /run, which is emptied at boot, so a host
 * that was just started gets a full idle period before it can stop again.
 *
 * Everything the test needs to drive it is an environment variable:
 * IDLE_NOW (epoch seconds), IDLE_STOP_CMD, IDLE_PROBE_CMD (exit 0 = active),
 * IDLE_STATE_FILE.
 */
export function idleStopScript(o: { readonly attestor: boolean }): string {
    return `#!/bin/bash
# imagefleet idle stop: stops this host after IDLE_MINUTES without builds.
set -euo pipefail

IDLE_MINUTES=\${IDLE_MINUTES:-30}
BUILDKIT_PORT=\${BUILDKIT_PORT:-1234}
STATE_FILE=\${IDLE_STATE_FILE:-/run/imagefleet/last-activity}
STOP_CMD=\${IDLE_STOP_CMD:-systemctl poweroff}
NOW=\${IDLE_NOW:-$(date +%s)}

builds_running() {
  if [[ -n \${IDLE_PROBE_CMD:-} ]]; then
    bash -c "$IDLE_PROBE_CMD"
    return
  fi
  local conns
  if ! conns=$(ss -H -t -n state established "( sport = :$BUILDKIT_PORT )" 2>&1); then
    echo "probe failed, counting as activity: $conns" >&2
    return 0
  fi
  [[ -n $conns ]]
}

${o.attestor ? ATTESTOR_BUSY : ""}if ((IDLE_MINUTES <= 0)); then
  exit 0
fi
mkdir -p "$(dirname "$STATE_FILE")"

if builds_running; then
  echo "$NOW" >"$STATE_FILE"
  echo "active: a client is connected to port $BUILDKIT_PORT"
  exit 0
fi
${o.attestor ? ATTESTOR_ACTIVE : ""}
last=$(cat "$STATE_FILE" 2>/dev/null || true)
# No record yet, or a clock that went backwards: the idle period starts now.
if [[ ! $last =~ ^[0-9]+$ ]] || ((last > NOW)); then
  last=$NOW
  echo "$NOW" >"$STATE_FILE"
fi
idle=$(((NOW - last) / 60))
if ((idle >= IDLE_MINUTES)); then
  echo "idle for $idle min (limit $IDLE_MINUTES); stopping: $STOP_CMD"
  rm -f "$STATE_FILE"
  bash -c "$STOP_CMD"
else
  echo "idle for $idle min of $IDLE_MINUTES"
fi
`;
}

/** The idle-stop check of a host without an attestor. */
export const IDLE_STOP_SCRIPT = idleStopScript({ attestor: false });

/** The systemd service and timer that run the check every minute. */
export function idleStopUnits(minutes: number, port: number): { service: string; timer: string } {
    return {
        service: [
            "[Unit]",
            "Description=Stop this BuildKit host when no build ran for a while (imagefleet)",
            "",
            "[Service]",
            "Type=oneshot",
            `Environment=IDLE_MINUTES=${minutes}`,
            `Environment=BUILDKIT_PORT=${port}`,
            `ExecStart=${IDLE_STOP_PATH}`,
            "",
        ].join("\n"),
        timer: [
            "[Unit]",
            "Description=Check every minute whether this BuildKit host is idle (imagefleet)",
            "",
            "[Timer]",
            "OnBootSec=1min",
            "OnUnitActiveSec=1min",
            "AccuracySec=10s",
            "",
            "[Install]",
            "WantedBy=timers.target",
            "",
        ].join("\n"),
    };
}
