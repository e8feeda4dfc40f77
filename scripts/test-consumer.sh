#!/usr/bin/env bash
# The consumer tier: imagefleet as another team's Pulumi program gets it.
#
#  1. `npm pack` the package (prepack compiles components/ to dist/) into a
#     temporary directory, and check the tarball: compiled JS and .d.ts only,
#     no tests, examples, benchmarks or sources (`npm pack --dry-run --json`,
#     compared with the real tarball's members);
#  2. copy test/consumer (its own package.json, tsconfig, program and mocha
#     tests) next to the tarball, plus the examples of docs/components.md;
#  3. `npm install` there: the tarball through `file:../imagefleet.tgz`, the
#     rest from the npm cache when it has them;
#  4. type-check the program and the examples against the installed .d.ts —
#     with `moduleResolution: node` (Pulumi's template) and `node16` (which
#     reads package.json `exports`) — and run the consumer's mocha tests;
#  5. the same for test/consumer/light, a program with only @pulumi/pulumi and
#     @pulumi/docker-build (GraphScope's family, test/fixtures/graphscope, from
#     `imagefleet/images`): `npm ls` must find none of the optional peers
#     (@pulumi/aws, @pulumi/github, @pulumi/tls), and the program type-checks,
#     loads as CommonJS and as ES module, and runs under mocks.
#
# IMAGEFLEET_KEEP_CONSUMER=1 keeps the temporary directory for a look.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/imagefleet-consumer.XXXXXX")
if [[ "${IMAGEFLEET_KEEP_CONSUMER:-}" == 1 ]]; then
  trap 'echo "[consumer] kept $WORK" >&2' EXIT
else
  trap 'rm -rf "$WORK"' EXIT
fi
log() { echo "[consumer] $*" >&2; }
NPM_FLAGS=(--no-audit --no-fund --prefer-offline --loglevel=error)
cd "$ROOT"

log "npm pack -> $WORK"
npm pack --json --pack-destination "$WORK" "${NPM_FLAGS[@]}" > "$WORK/pack.json"
tarball="$WORK/$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[0].filename' "$WORK/pack.json")"
# The listing npm would publish (dist/ is fresh, so no need to compile again).
npm pack --dry-run --json --ignore-scripts "${NPM_FLAGS[@]}" > "$WORK/pack-dry-run.json"
npx ts-node --transpile-only scripts/check-pack.ts "$WORK/pack-dry-run.json" "$tarball"
mv "$tarball" "$WORK/imagefleet.tgz"

log "a throwaway copy of test/consumer"
mkdir "$WORK/consumer"
tar -C test/consumer --exclude=./node_modules --exclude=./package-lock.json --exclude=./light -cf - . | tar -C "$WORK/consumer" -xf -
# The light consumer's graphscope/ and reporter.js are symlinks into the repository: -h copies the files.
mkdir "$WORK/light"
tar -C test/consumer/light -h --exclude=./node_modules --exclude=./package-lock.json -cf - . | tar -C "$WORK/light" -xf -
for doc in README.md docs/components.md; do
  npx ts-node --transpile-only scripts/extract-examples.ts "$doc" "$WORK/consumer/examples"
done

cd "$WORK/consumer"
log "npm install (the packed imagefleet and the consumer's own pins)"
npm install "${NPM_FLAGS[@]}" --no-package-lock
installed=$(node -p 'require("imagefleet/package.json").version')
[[ -f node_modules/imagefleet/dist/index.js && ! -e node_modules/imagefleet/components ]] \
  || { echo "imagefleet was not installed from the tarball" >&2; exit 1; }
log "installed imagefleet $installed from the tarball"

log "tsc --noEmit (moduleResolution node, then node16)"
npx tsc --noEmit -p .
npx tsc --noEmit -p . --module node16 --moduleResolution node16

log "mocha"
IMAGEFLEET_TIER=consumer npx mocha

cd "$WORK/light"
log "light consumer: npm install (only @pulumi/pulumi, @pulumi/docker-build and the packed imagefleet)"
npm install "${NPM_FLAGS[@]}" --no-package-lock
[[ -f node_modules/imagefleet/dist/images/index.js ]] || { echo "imagefleet was not installed from the tarball" >&2; exit 1; }
for peer in @pulumi/aws @pulumi/github @pulumi/tls; do
  # `npm ls` exits 1 when it finds nothing: the listing is what counts.
  listing=$(npm ls "$peer" --all 2>&1 || true)
  log "npm ls $peer: $(tr '\n' ' ' <<<"$listing")"
  if grep -q "$peer@" <<<"$listing" || [[ -e "node_modules/$peer" ]]; then
    echo "$peer is installed in the light consumer, but imagefleet/images must not need it" >&2
    exit 1
  fi
done
log "light consumer: tsc --noEmit (moduleResolution node, then node16)"
npx tsc --noEmit -p .
npx tsc --noEmit -p . --module node16 --moduleResolution node16
log "light consumer: imagefleet/images and the package entry as ES modules"
node --input-type=module -e '
import { ImageFamily } from "imagefleet/images";
import { ImageFamily as FromRoot, Promotion } from "imagefleet";
if (typeof ImageFamily !== "function" || FromRoot !== ImageFamily || typeof Promotion !== "function") {
  throw new Error("imagefleet did not load as an ES module");
}'
log "light consumer: mocha"
IMAGEFLEET_TIER=consumer-light npx mocha
