/**
 * `@pulumi/aws`, `@pulumi/github` and `@pulumi/tls` are optional peers: a
 * program that only builds images installs `@pulumi/pulumi` and
 * `@pulumi/docker-build`. The module indexes therefore load the files that
 * import those peers on first use, the way Pulumi's own SDKs load their
 * resources (`utilities.lazyLoad`): the index declares
 * `export const X = undefined as unknown as typeof import("./file").X` (which
 * also lets Node's ESM loader see the name) and replaces it with a getter here.
 */

/** The npm error for a package that is not installed, or undefined when `err` is another error. */
function missingPeer(err: unknown, peers: readonly string[]): string | undefined {
    const e = err as { code?: string; message?: string };
    if (e?.code !== "MODULE_NOT_FOUND" || typeof e.message !== "string") {
        return undefined;
    }
    return peers.find((peer) => e.message!.includes(`'${peer}'`) || e.message!.includes(`'${peer}/`));
}

/** The version range imagefleet's package.json asks of a peer (`*` if it cannot be read). */
function peerRange(peer: string): string {
    try {
        // components/lazy.ts and dist/lazy.js both sit one level below package.json.
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- read only when a peer is missing
        return (require("../package.json") as { peerDependencies?: Record<string, string> }).peerDependencies?.[peer] ?? "*";
    } catch {
        return "*";
    }
}

/**
 * Replaces each of `names` on `target` (a module's `exports`) with a getter
 * that loads `load()` on first use. When one of `peers` is not installed, the
 * getter throws an error that names the export, the missing package and the
 * `npm install` that fixes it, instead of Node's bare "Cannot find module".
 */
export function lazyExports(target: object, names: readonly string[], peers: readonly string[], load: () => Record<string, unknown>): void {
    let loaded: Record<string, unknown> | undefined;
    const loadOnce = (name: string): Record<string, unknown> => {
        if (loaded === undefined) {
            try {
                loaded = load();
            } catch (err) {
                const peer = missingPeer(err, peers);
                if (peer === undefined) {
                    throw err;
                }
                throw new Error(
                    `imagefleet: ${name} needs ${peers.join(" and ")} (optional peer dependencies of imagefleet), ` +
                    `and ${peer} is not installed: run \`npm install ${peer}@"${peerRange(peer)}"\`. ` +
                    "A program that only builds images needs neither: import ImageFamily from \"imagefleet/images\".",
                    { cause: err },
                );
            }
        }
        return loaded;
    };
    for (const name of names) {
        Object.defineProperty(target, name, { enumerable: true, configurable: true, get: () => loadOnce(name)[name] });
    }
}
