#!/bin/bash
# Keeps a builder host's RUN steps away from the host. buildkitd runs every
# build container on its own bridge network (`networkMode = "bridge"`,
# buildkitd.toml), so the steps no longer share the host's network stack: its
# loopback services are out of reach. These rules close what a bridge still
# reaches, for packets coming from the build subnet:
#   - the host itself (buildkitd's TCP port, the attestor, SSH, anything bound
#     to 0.0.0.0): INPUT rejects them;
#   - the instance metadata service (IPv4 and the Nitro IPv6 address) and the
#     ECS credentials endpoint, which would hand out the host role's
#     credentials: FORWARD rejects them.
# Everything else is forwarded, so builds still reach registries and package
# mirrors. Idempotent; the fleet's user data runs it before buildkitd starts,
# and test/e2e/buildkitd.sh runs it for the local hosts.
#
#   isolate-builds.sh SUBNET        e.g. 10.10.0.0/16 (buildkitd's bridgeSubnet)
set -euo pipefail
subnet=${1:?usage: isolate-builds.sh SUBNET}
chain=IMAGEFLEET-BUILDS

# rules TOOL SOURCE METADATA...: (re)write the chain, hook it in once.
rules() {
  local t=$1 src=$2 m
  shift 2
  "$t" -w -N "$chain" 2>/dev/null || true
  "$t" -w -F "$chain"
  for m in "$@"; do
    "$t" -w -A "$chain" -d "$m" -j REJECT
  done
  "$t" -w -C FORWARD -s "$src" -j "$chain" 2>/dev/null || "$t" -w -I FORWARD 1 -s "$src" -j "$chain"
  "$t" -w -C INPUT -s "$src" -j REJECT 2>/dev/null || "$t" -w -I INPUT 1 -s "$src" -j REJECT
}

rules iptables "$subnet" 169.254.169.254/32 169.254.170.2/32
# The bridge has no IPv6 range; drop a route to the IPv6 metadata address all the same.
if command -v ip6tables >/dev/null && ip6tables -w -L FORWARD >/dev/null 2>&1; then
  "ip6tables" -w -N "$chain" 2>/dev/null || true
  ip6tables -w -F "$chain"
  ip6tables -w -A "$chain" -d fd00:ec2::254/128 -j REJECT
  ip6tables -w -C FORWARD -j "$chain" 2>/dev/null || ip6tables -w -I FORWARD 1 -j "$chain"
fi
