import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as path from "path";

// @pulumi/aws, @pulumi/github and @pulumi/tls are optional peers: a program that
// only builds images must load none of them. Checked at run time, in a fresh
// Node process per case: the probe below records every module loaded (and who
// loaded it) while it imports an entry, touches some of its exports and, with
// `declare`, declares a family under mocks.

const ROOT = path.resolve(__dirname, "..", "..");
const HEAVY = /[\\/]node_modules[\\/]@pulumi[\\/](aws|github|tls)[\\/]/;

const PROBE = String.raw`
const Module = require("module");
const path = require("path");
const [entry, accesses, declareFamily] = JSON.parse(process.env.PROBE_ARGS);
const hidden = process.env.PROBE_HIDE ? process.env.PROBE_HIDE.split(",") : [];
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
    if (hidden.some((h) => request === h || request.startsWith(h + "/"))) {
        const err = new Error("Cannot find module '" + request + "'");
        err.code = "MODULE_NOT_FOUND";
        throw err;
    }
    return resolve.call(this, request, ...rest);
};
const before = new Set(Object.keys(require.cache));
const loadedBy = {};
const load = Module._load;
Module._load = function (request, parent, ...rest) {
    const exported = load.call(this, request, parent, ...rest);
    try {
        const file = Module._resolveFilename(request, parent, ...rest);
        if (!(file in loadedBy) && !before.has(file)) loadedBy[file] = parent ? parent.filename : null;
    } catch {}
    return exported;
};
const report = (extra) => {
    const loaded = Object.keys(require.cache).filter((f) => !before.has(f));
    process.stdout.write(JSON.stringify({ loaded, loadedBy, ...extra }));
};
(async () => {
    const mod = require(entry);
    for (const access of accesses) {
        const value = access.split(".").reduce((o, k) => o[k], mod);
        if (value === undefined) throw new Error(access + " is undefined");
    }
    if (declareFamily) {
        const { evaluate } = require(path.join(process.cwd(), "scripts/harness/mocks"));
        const { familyArgs } = require(path.join(process.cwd(), "test/unit/helpers"));
        const { resources } = await evaluate({ stack: "probe", program: () => new mod.ImageFamily("probe", familyArgs()) });
        if (resources.length === 0) throw new Error("the family declared nothing");
    }
    report({});
})().catch((err) => report({ error: String(err && err.message || err) }));
`;

interface Probe {
    /** Every module file the import loaded. */
    readonly loaded: string[];
    /** Who first loaded each file. */
    readonly loadedBy: Record<string, string | null>;
    readonly error?: string;
}

function probe(entry: string, accesses: readonly string[] = [], options: { declare?: boolean; hide?: readonly string[] } = {}): Probe {
    const run = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", PROBE], {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, PROBE_ARGS: JSON.stringify([path.join(ROOT, entry), accesses, options.declare ?? false]), PROBE_HIDE: (options.hide ?? []).join(",") },
    });
    assert.equal(run.status, 0, run.stderr);
    return JSON.parse(run.stdout) as Probe;
}

/** The chain of files from the entry to `file`, repository-relative: what imported the heavy module. */
function chainTo(result: Probe, file: string): string {
    const chain: string[] = [];
    // Up to the entry: its loader, the probe (`[eval]`), is no module the probe saw loaded.
    for (let f: string | null | undefined = file; f && f in result.loadedBy && chain.length < 50; f = result.loadedBy[f]) {
        chain.unshift(path.relative(ROOT, f));
    }
    return chain.join("\n    -> ");
}

/** The heavy peers a probe loaded, each with the import chain that brought it in. */
function heavyLoaded(result: Probe): { peers: string[]; chains: string } {
    const files = result.loaded.filter((f) => HEAVY.test(f));
    const peers = [...new Set(files.map((f) => HEAVY.exec(f)![1]))].sort();
    const firsts = peers.map((p) => files.find((f) => HEAVY.exec(f)![1] === p && !HEAVY.test(result.loadedBy[f] ?? ""))!);
    return { peers, chains: firsts.map((f) => `  ${chainTo(result, f)}`).join("\n") };
}

function assertLight(result: Probe): void {
    assert.equal(result.error, undefined, result.error);
    const { peers, chains } = heavyLoaded(result);
    assert.deepEqual(peers, [], `loaded @pulumi/${peers.join(", @pulumi/")}; import chains:\n${chains}`);
}

describe("optional peers: what importing each entry loads", function () {
    // Each case starts a Node process with ts-node (about 2 s on 2 cores).
    this.timeout(60_000);

    it("components/images, declaring a family under mocks, loads no @pulumi/aws, @pulumi/github or @pulumi/tls module", () => {
        const result = probe("components/images", ["ImageFamily", "resolveGit", "validateFamily"], { declare: true });
        assertLight(result);
        // It did load what it needs: the probe sees modules of the packages a family uses.
        assert.ok(result.loaded.some((f) => /[\\/]@pulumi[\\/]docker-build[\\/]/.test(f)), "docker-build was not loaded");
    });

    it("the package entry loads none of them for ImageFamily, Promotion, StackImageRefs, ghcrRegistry and the fleet's file renderers", () => {
        assertLight(probe("components", [
            "ImageFamily", "images.ImageFamily", "ValidationError", "Promotion", "StackImageRefs", "delivery.Promotion",
            "registry.ghcrRegistry", "registry.cacheRepositoryRules", "builders.renderUserData", "builders.fleetProblems",
        ], { declare: true }));
    });

    it("control: BuilderFleet loads @pulumi/aws and @pulumi/tls, EcrRegistry @pulumi/aws, GithubDelivery @pulumi/aws and @pulumi/github", () => {
        assert.deepEqual(heavyLoaded(probe("components", ["BuilderFleet"])).peers, ["aws", "tls"]);
        assert.deepEqual(heavyLoaded(probe("components", ["registry.EcrRegistry"])).peers, ["aws"]);
        assert.deepEqual(heavyLoaded(probe("components", ["delivery.GithubDelivery"])).peers, ["aws", "github"]);
        assert.deepEqual(heavyLoaded(probe("components", ["builders.caProfile"])).peers, ["tls"]);
    });

    it("the check names the import chain when a module of images/ drags a peer in", () => {
        // What a future `import ... from "../registry/ecrRegistry"` in images/ would do, as the probe sees it.
        const result = probe("components/images", ["ImageFamily"]);
        const aws = path.join(ROOT, "node_modules", "@pulumi", "aws", "index.js");
        const ecr = path.join(ROOT, "components", "registry", "ecrRegistry.ts");
        const fake: Probe = { ...result, loaded: [...result.loaded, aws], loadedBy: { ...result.loadedBy, [aws]: ecr, [ecr]: path.join(ROOT, "components", "images", "index.ts") } };
        assert.throws(() => assertLight(fake), (err: Error) => err.message.includes(
            "loaded @pulumi/aws; import chains:\n  components/images/index.ts\n    -> components/registry/ecrRegistry.ts\n    -> node_modules/@pulumi/aws/index.js"));
    });

    it("without @pulumi/aws and @pulumi/tls installed, ImageFamily still works and BuilderFleet fails naming the peers and the install command", () => {
        assertLight(probe("components", ["ImageFamily"], { declare: true, hide: ["@pulumi/aws", "@pulumi/tls"] }));
        const fleet = probe("components", ["BuilderFleet"], { hide: ["@pulumi/aws", "@pulumi/tls"] });
        assert.match(fleet.error ?? "", /^imagefleet: BuilderFleet needs @pulumi\/aws and @pulumi\/tls \(optional peer dependencies of imagefleet\), and @pulumi\/aws is not installed: run `npm install @pulumi\/aws@"\^7\.\d+\.\d+"`/);
        assert.match(fleet.error ?? "", /import ImageFamily from "imagefleet\/images"/);
        const github = probe("components", ["GithubDelivery"], { hide: ["@pulumi/github"] });
        assert.match(github.error ?? "", /GithubDelivery needs @pulumi\/aws and @pulumi\/github .* @pulumi\/github is not installed: run `npm install @pulumi\/github@"\^6\./);
    });
});

describe("the module indexes load their heavy files on first use", () => {
    // Value exports of each module index before the optional peers became lazy: none may be lost.
    const EXPORTS: Record<string, string[]> = {
        builders: ["BuilderFleet", "BuildxRegistration", "KubernetesBuilder", "DEFAULTS", "FLEET_PLATFORMS", "IDLE_STOP_SCRIPT", "caProfile", "clientProfile", "fleetProblems", "hostBuildkitdToml", "instanceArchitecture", "renderBuildkitdToml", "renderUserData", "serverProfile"],
        registry: ["EcrRegistry", "GHCR_ADDRESS", "KEEP_COUNT", "PROTECTED_ENVIRONMENTS", "cacheRepositoryRules", "ghcrRegistry", "imageRepositoryRules", "policyDocument", "protectionFor", "validateEcrRegistry"],
        delivery: ["ECR_READ_ACTIONS", "ECR_WRITE_ACTIONS", "GITHUB_OIDC_HOST", "GITHUB_OIDC_URL", "GithubDelivery", "Promotion", "REFS_OUTPUT", "STS_AUDIENCE", "StackImageRefs", "environmentSubject", "githubTrustPolicy", "parseRef", "previewPolicy", "promotedImages", "promotedKey", "pullRequestSubject", "s3Backend", "validateDelivery", "validatePromotion"],
    };
    const LAZY: [string, string, string[]][] = [
        ["builders", "builderFleet", ["BuilderFleet"]],
        ["builders", "certificates", ["caProfile", "serverProfile", "clientProfile"]],
        ["registry", "ecrRegistry", ["EcrRegistry", "PROTECTED_ENVIRONMENTS", "protectionFor", "validateEcrRegistry"]],
        ["delivery", "githubDelivery", ["GithubDelivery", "validateDelivery"]],
    ];
    /* eslint-disable @typescript-eslint/no-require-imports -- the point is what require() returns */
    const load = (...parts: string[]) => require(path.join(ROOT, "components", ...parts)) as Record<string, unknown>;
    /* eslint-enable @typescript-eslint/no-require-imports */

    for (const [module, names] of Object.entries(EXPORTS)) {
        it(`components/${module} exports the same values as before`, () => {
            // Under ts-node's transpile-only mode, re-exported types show up as undefined values: not exports.
            const index = load(module);
            assert.deepEqual(Object.keys(index).filter((k) => k !== "__esModule" && index[k] !== undefined).sort(), [...names].sort());
        });
    }
    for (const [module, file, names] of LAZY) {
        it(`components/${module}: ${names.join(", ")} are ${file}'s own exports`, () => {
            const index = load(module);
            const own = load(module, file);
            for (const name of names) {
                assert.notEqual(own[name], undefined, `${file} has no export ${name}`);
                assert.equal(index[name], own[name], name);
            }
        });
    }
});
