# Which e2e spec runs in which lane (sourced by test/e2e/run.sh). The lanes
# run side by side; each lane runs its specs one after another.
#
# main: the specs that build on the local stack's hosts (1234/1235,
#       IMAGEFLEET_HOST_SET=local) or bring their own builder (the Docker
#       engine's BuildKit), and push to the registries. A new spec lands here
#       unless it is listed below.
# side: the specs that bring their own host (boot: systemd-nspawn; fleet: a
#       buildkitd of its own) and those that kill builder hosts on purpose
#       (pools, faults), on a second set of hosts (1236/1237,
#       IMAGEFLEET_HOST_SET=side) that nothing in the main lane uses. Each
#       side spec uses a registry namespace of its own.
# solo: what stops the registry both lanes push to: faults' "registry stopped"
#       case (with the baseline it forks from), after both lanes, alone.
SIDE_SPECS=(boot fleet pools faults)
SOLO_SPECS=(faults)
SOLO_GREP='baseline: a first pulumi up|the registry stopped while builds push'
SIDE_INVERT_GREP='the registry stopped while builds push'

lanes_assign() {
  local f name
  SIDE_LANE=() SOLO_LANE=() MAIN_LANE=()
  for name in "${SIDE_SPECS[@]}"; do SIDE_LANE+=("test/e2e/$name.spec.ts"); done
  for name in "${SOLO_SPECS[@]}"; do SOLO_LANE+=("test/e2e/$name.spec.ts"); done
  for f in test/e2e/*.spec.ts; do
    name=$(basename "$f" .spec.ts)
    [[ " ${SIDE_SPECS[*]} " == *" $name "* ]] || MAIN_LANE+=("$f")
  done
  for f in "${SIDE_LANE[@]}" "${SOLO_LANE[@]}"; do
    [[ -f $f ]] || { echo "test/e2e/lanes.sh names $f, which does not exist" >&2; return 1; }
  done
}
