# Which e2e spec runs in which lane (sourced by test/e2e/run.sh).
#
# side: specs that bring their own builders (a booted host under systemd-nspawn,
#       the Docker engine's BuildKit, a buildkitd of their own) and only push
#       to the registry: they run beside the main lane.
# solo: specs that kill, stop or restart the shared buildkitd hosts or the
#       registry on purpose: they run last, alone.
# main: every other spec (the shared hosts on 1234/1235 and the registries),
#       one after another. A new spec lands here unless listed below.
SIDE_SPECS=(boot builds fleet)
SOLO_SPECS=(pools faults)

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
