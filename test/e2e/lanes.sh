# Which e2e spec runs in which lane (sourced by test/e2e/run.sh). The main
# and side lanes run side by side, then the solo lane alone; each lane runs
# its specs one after another.
#
# main: the specs that build on the local stack's hosts (1234/1235,
#       IMAGEFLEET_HOST_SET=local) or bring their own builder (the Docker
#       engine's BuildKit), and push to the registries. A new spec lands here
#       unless it is listed below.
# side: the specs that bring their own host (boot: systemd-nspawn; fleet: a
#       buildkitd of its own) and pools, which kills hosts on purpose, on a
#       second set of hosts (1236/1237, IMAGEFLEET_HOST_SET=side) that nothing
#       in the main lane uses, in a registry namespace of its own; and
#       attestation, which turns that set's attestors on while it runs (the
#       main lane's stacks attest deployer-side, and two writers of one
#       digest's referrers tag lose one); and faults' builder and engine
#       cases (namespace e2e-faults).
# solo: faults' two registry cases, after both lanes, alone: one stops the
#       registry both lanes push to; the other, its cache refs deleted, made a
#       cold `up` that exited 0 having dropped the family's artifact and
#       runtime from the stack when it ran beside the main lane with the 2
#       cores at 100 % (1 run of 2 on 2026-12-07: a product bug under load,
#       kept in view here until it is understood). Faults' other cases run in
#       the side lane (as in the 29m14s run of 2026-12-07), its baseline in
#       both.
SIDE_SPECS=(boot fleet pools attestation faults)
SOLO_SPECS=(faults)
SOLO_GREP='baseline: a first pulumi up|the registry stopped while builds push|the registry cache refs deleted'
SIDE_INVERT_GREP='the registry stopped while builds push|the registry cache refs deleted'

lanes_assign() {
  local f name
  SIDE_LANE=() SOLO_LANE=() MAIN_LANE=()
  for name in "${SIDE_SPECS[@]}"; do SIDE_LANE+=("test/e2e/$name.spec.ts"); done
  for name in "${SOLO_SPECS[@]}"; do SOLO_LANE+=("test/e2e/$name.spec.ts"); done
  for f in test/e2e/*.spec.ts; do
    name=$(basename "$f" .spec.ts)
    [[ " ${SIDE_SPECS[*]} ${SOLO_SPECS[*]} " == *" $name "* ]] || MAIN_LANE+=("$f")
  done
  for f in "${SIDE_LANE[@]}" "${SOLO_LANE[@]}"; do
    [[ -f $f ]] || { echo "test/e2e/lanes.sh names $f, which does not exist" >&2; return 1; }
  done
}
