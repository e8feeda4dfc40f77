#!/usr/bin/env bash
# The root filesystem the boot test (test/e2e/boot.spec.ts) starts as a
# builder host under systemd-nspawn: Debian 12 with systemd as PID 1, Debian's
# cloud-init (22.4, NoCloud datasource) and the commands the fleet's user data
# runs (the same ones Amazon Linux 2023 ships). Nothing of imagefleet's is in
# it: the user data installs everything, as on EC2.
#
#   bash test/e2e/boot/image.sh DEBIAN_ROOTFS_TAR OUT_DIR
#
# Starts from the minbase tarball test/e2e/setup.sh already makes for the
# base image, so only the packages below are downloaded. Prints the image's
# path; idempotent: an image made by this version of the script is reused.
set -euo pipefail
base=$1 out=$2
log() { printf '[boot-image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# What Amazon Linux 2023 has and a Debian image needs installed for the user
# data (README, "Which images the hosts can run"), plus systemd itself and
# libseccomp2 for buildkit-runc (the test's tarball carries Debian's runc,
# which links it; BuildKit's release ships a static one), and iptables for
# the build bridge's fence (host/isolate-builds.sh).
PACKAGES=(systemd systemd-sysv cloud-init curl awscli xfsprogs iproute2 ca-certificates libseccomp2 iptables)

# The image's name carries a hash of this script, so a change to it makes a new image.
version=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)
image=$out/boot-host-bookworm-amd64-$version.tar
if [[ -s $image ]]; then
  log "cached: $image"
  echo "$image"
  exit 0
fi
[[ -s $base ]] || { log "ERROR: no base rootfs tarball at $base"; exit 1; }
command -v systemd-nspawn >/dev/null || { log "ERROR: systemd-nspawn not found (apt-get install systemd-container)"; exit 1; }

dir=$(mktemp -d "$out/boot-host.XXXX")
trap 'rm -rf "$dir"' EXIT
tar -xf "$base" -C "$dir"
log "installing ${PACKAGES[*]} into a copy of $base"
# Not booted: nspawn only runs apt in the tree (with /proc, /dev and the host's network).
systemd-nspawn -q --register=no --keep-unit -D "$dir" --setenv=DEBIAN_FRONTEND=noninteractive \
  bash -c "apt-get update -q && apt-get install -y -q --no-install-recommends ${PACKAGES[*]}" >"$dir.log" 2>&1 ||
  { tail -30 "$dir.log" >&2; log "ERROR: apt in the boot host image failed (log: $dir.log)"; exit 1; }
rm -f "$dir.log"

# What a cloud image's builder sets: the datasource, no network configuration
# by cloud-init (the test gives the host its network, as EC2 gives an AMI
# DHCP), a locale that exists, and a persistent journal (the test reads it
# after the host stopped).
cat >"$dir/etc/cloud/cloud.cfg.d/90-imagefleet-boot.cfg" <<'EOF'
datasource_list: [NoCloud, None]
network: {config: disabled}
locale: C.UTF-8
EOF
mkdir -p "$dir/var/log/journal"
# Every boot test writes its own machine id; an image has none.
: >"$dir/etc/machine-id"
rm -f "$dir/var/lib/dbus/machine-id"
rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin "$dir"/var/lib/apt/lists/* "$dir"/var/log/apt/* "$dir"/var/log/*.log

tar --numeric-owner -C "$dir" -cf "$image.tmp" .
mv "$image.tmp" "$image"
# Images of earlier versions of this script are dead weight.
find "$out" -maxdepth 1 -name 'boot-host-bookworm-amd64-*.tar' ! -name "$(basename "$image")" -delete
log "made $image ($(du -h "$image" | cut -f1))"
echo "$image"
