// What `npm pack` puts in the tarball, checked: compiled JavaScript with a
// declaration file for every module, the entry points package.json names,
// BuildKit's Dockerfile frontend (wasm/imagefleet-frontend.wasm, which
// ImageFamily runs), the builder hosts' firewall script (host/isolate-builds.sh,
// which BuilderFleet puts in the user data), the provider plugin's entry
// (provider/pulumi-resource-imagefleet) and the schema it serves
// (schema.json), and nothing else — no TypeScript sources, tests,
// examples, benchmarks, scripts, stack files or source maps.
//
//   ts-node scripts/check-pack.ts <npm pack --json output> [<tarball>]
//
// With a tarball, its real member list must equal the listing in the JSON.
import { execFileSync } from "child_process";
import * as fs from "fs";

interface PackResult {
    readonly name: string;
    readonly filename: string;
    readonly entryCount: number;
    readonly files: readonly { readonly path: string }[];
}

/** Problems with a packed file list; empty when it is what a consumer needs and nothing more. */
export function packProblems(files: readonly string[], manifest: Record<string, unknown>): string[] {
    const problems: string[] = [];
    const set = new Set(files);
    const ALLOWED = /^(package\.json|README(\.md)?|LICENSE(\.md|\.txt)?|CHANGELOG\.md|dist\/.+\.js|dist\/.+\.d\.ts|wasm\/imagefleet-frontend\.wasm|host\/isolate-builds\.sh|provider\/pulumi-resource-imagefleet|schema\.json)$/;
    const FORBIDDEN = /(^|\/)(test|tests|__tests__|spec|example|examples|bench|benchmarks|scripts|stacks|fixtures|components)(\/|$)|\.spec\.|\.test\.|\.map$|^index\.ts$|^Pulumi\./;
    for (const file of files) {
        if (FORBIDDEN.test(file)) {
            problems.push(`${file}: tests, examples, benchmarks, sources and maps do not belong in the package`);
        } else if (!ALLOWED.test(file)) {
            problems.push(`${file}: not compiled output (dist/**/*.js, dist/**/*.d.ts), the frontend (wasm/imagefleet-frontend.wasm), the hosts' script (host/isolate-builds.sh), the provider plugin (provider/pulumi-resource-imagefleet, schema.json) or package metadata`);
        }
    }
    const js = files.filter((f) => /^dist\/.+\.js$/.test(f));
    const dts = files.filter((f) => f.startsWith("dist/") && f.endsWith(".d.ts"));
    if (js.length === 0) {
        problems.push("no compiled JavaScript under dist/ (did prepack run `npm run build:lib`?)");
    }
    if (!set.has("wasm/imagefleet-frontend.wasm")) {
        problems.push("no wasm/imagefleet-frontend.wasm: ImageFamily cannot run BuildKit's Dockerfile frontend without it (prepack builds it)");
    }
    if (!set.has("host/isolate-builds.sh")) {
        problems.push("no host/isolate-builds.sh: BuilderFleet cannot write its hosts' user data without it (package.json `files`)");
    }
    for (const f of ["provider/pulumi-resource-imagefleet", "schema.json", "dist/provider/main.js"]) {
        if (!set.has(f)) {
            problems.push(`no ${f}: YAML, Go and Python programs cannot run the provider plugin without it (package.json \`files\`)`);
        }
    }
    for (const f of js) {
        if (!set.has(f.replace(/\.js$/, ".d.ts"))) {
            problems.push(`${f}: no declaration file next to it`);
        }
    }
    for (const f of dts) {
        if (!set.has(f.replace(/\.d\.ts$/, ".js"))) {
            problems.push(`${f}: a declaration without its module`);
        }
    }
    // The entry points the manifest names must be in the tarball.
    const exportsField = manifest.exports as Record<string, Record<string, string> | string> | undefined;
    const entries = [
        manifest.main, manifest.types, ...Object.values((manifest.bin ?? {}) as Record<string, string>),
        ...Object.values(exportsField ?? {}).flatMap((v) => (typeof v === "string" ? [v] : Object.values(v))),
    ].filter((e): e is string => typeof e === "string").map((e) => e.replace(/^\.\//, ""));
    const typesVersions = (manifest.typesVersions as Record<string, Record<string, string[]>> | undefined)?.["*"] ?? {};
    entries.push(...Object.values(typesVersions).flat().map((e) => e.replace(/^\.\//, "")));
    for (const entry of new Set(entries)) {
        if (!set.has(entry)) {
            problems.push(`package.json names ${entry}, which is not in the tarball`);
        }
    }
    // TypeScript's `moduleResolution: node` (Pulumi's template) ignores `exports`:
    // each subpath needs a typesVersions entry with the same declarations.
    for (const [subpath, target] of Object.entries(exportsField ?? {})) {
        if (subpath === "." || subpath === "./package.json") {
            continue;
        }
        const types = typeof target === "string" ? undefined : target.types?.replace(/^\.\//, "");
        const mapped = typesVersions[subpath.replace(/^\.\//, "")]?.map((e) => e.replace(/^\.\//, ""));
        if (types === undefined) {
            problems.push(`exports["${subpath}"] names no "types"`);
        } else if (mapped === undefined || mapped.length !== 1 || mapped[0] !== types) {
            problems.push(`exports["${subpath}"] has types ${types}, but typesVersions["*"]["${subpath.replace(/^\.\//, "")}"] is ${JSON.stringify(mapped)}: TypeScript with moduleResolution node would not find them`);
        }
    }
    for (const required of ["dist/index.js", "dist/index.d.ts"]) {
        if (!set.has(required)) {
            problems.push(`${required} is missing`);
        }
    }
    return problems;
}

function main(): void {
    const [packJson, tarball] = process.argv.slice(2);
    if (!packJson) {
        throw new Error("usage: check-pack.ts <npm pack --json output> [<tarball>]");
    }
    const [result] = JSON.parse(fs.readFileSync(packJson, "utf8")) as PackResult[];
    const files = result.files.map((f) => f.path).sort();
    const manifest = JSON.parse(fs.readFileSync("package.json", "utf8")) as Record<string, unknown>;
    const problems = packProblems(files, manifest);
    if (tarball) {
        const members = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" })
            .split("\n").filter((l) => l !== "" && !l.endsWith("/")).map((l) => l.replace(/^package\//, "")).sort();
        if (JSON.stringify(members) !== JSON.stringify(files)) {
            problems.push(`the tarball holds ${members.length} files, the pack listing ${files.length}: ${members.filter((m) => !files.includes(m)).join(", ")}`);
        }
    }
    const js = files.filter((f) => f.endsWith(".js")).length;
    const dts = files.filter((f) => f.endsWith(".d.ts")).length;
    const other = files.filter((f) => !f.endsWith(".js") && !f.endsWith(".d.ts"));
    console.log(`tarball ${result.filename}: ${files.length} files — ${js} .js, ${dts} .d.ts, other: ${other.join(", ") || "none"}`);
    if (problems.length > 0) {
        console.error(`the package is not what a consumer needs:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        process.exit(1);
    }
}

if (require.main === module) {
    main();
}
