#!/usr/bin/env bash
# Makes the attestor tarball a fleet host installs on first boot
# (BuilderFleetArgs.attestor.releaseUrl): bin/imagefleet-attestor, bin/cosign,
# bin/syft and bin/docker-credential-ecr-login, each built from its Go module
# for linux/<arch> (scripts/tools/{attestor,cosign,syft,ecr-login}: the
# versions the e2e tier runs).
#
#   scripts/attestor-release.sh --arch arm64 OUT.tar.gz
#       cross-compiles all four (CGO off, so no C toolchain for the target;
#       ~10 minutes per architecture on 2 cores, mostly cosign and syft)
#   scripts/attestor-release.sh --arch amd64 --from-bin DIR OUT.tar.gz
#       packs binaries already built for that architecture (the boot test
#       packs the tools scripts/build-tools.sh made); the ECR helper is
#       optional there, since a fleet with no ECR repositories does not run it
#
# Upload one tarball per architecture where the hosts can read it and give
# the URL with {arch} in place of amd64/arm64.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODS="$ROOT/scripts/tools"
arch="" from_bin="" out=""
while (($# > 0)); do
  case $1 in
    --arch) arch=$2; shift 2 ;;
    --from-bin) from_bin=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "attestor-release: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) out=$1; shift ;;
  esac
done
case $arch in
  amd64|arm64) ;;
  *) echo "attestor-release: --arch amd64 or --arch arm64 is required, got '${arch}'" >&2; exit 2 ;;
esac
[[ -n $out ]] || { echo "attestor-release: name the tarball to write (OUT.tar.gz)" >&2; exit 2; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin"

required=(imagefleet-attestor cosign syft)
if [[ -n $from_bin ]]; then
  for tool in "${required[@]}" docker-credential-ecr-login; do
    if [[ -x $from_bin/$tool ]]; then
      cp "$from_bin/$tool" "$stage/bin/$tool"
    elif [[ $tool != docker-credential-ecr-login ]]; then
      echo "attestor-release: $from_bin/$tool not found (scripts/build-tools.sh builds it)" >&2
      exit 1
    fi
  done
else
  export CGO_ENABLED=0 GOOS=linux GOARCH=$arch
  build() { # module-dir ldflags package output
    echo "[attestor-release] $4 ($GOARCH) from $1" >&2
    (cd "$MODS/$1" && go build -trimpath -buildvcs=false -ldflags "-s -w $2" -o "$stage/bin/$4" "$3")
  }
  version() { (cd "$MODS/$1" && go list -m -f '{{.Version}}' "$2"); }
  build attestor "" . imagefleet-attestor
  build cosign "-X sigs.k8s.io/release-utils/version.gitVersion=$(version cosign github.com/sigstore/cosign/v3)" \
    github.com/sigstore/cosign/v3/cmd/cosign cosign
  build syft "-X main.version=$(version syft github.com/anchore/syft)" github.com/anchore/syft/cmd/syft syft
  build ecr-login "" github.com/awslabs/amazon-ecr-credential-helper/ecr-login/cli/docker-credential-ecr-login docker-credential-ecr-login
fi

# The right architecture, read from the ELF header (e_machine) rather than trusted.
want=$([[ $arch == amd64 ]] && echo 3e || echo b7)
for f in "$stage"/bin/*; do
  machine=$(od -An -tx1 -j18 -N1 "$f" | tr -d ' ')
  [[ $(head -c4 "$f" | od -An -c | tr -d ' ') == 177ELF && $machine == "$want" ]] ||
    { echo "attestor-release: $(basename "$f") is not a linux/$arch binary (ELF machine 0x$machine)" >&2; exit 1; }
done
chmod 0755 "$stage"/bin/*
tar -C "$stage" --owner=0 --group=0 --sort=name -czf "$out" bin
echo "[attestor-release] $out: $(cd "$stage/bin" && ls | tr '\n' ' ')" >&2
