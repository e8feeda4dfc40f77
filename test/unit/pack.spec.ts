import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { packProblems } from "../../scripts/check-pack";

// The rule scripts/test-consumer.sh applies to `npm pack --dry-run --json`.
const MANIFEST = {
    main: "dist/index.js",
    types: "dist/index.d.ts",
    exports: { ".": { types: "./dist/index.d.ts", default: "./dist/index.js" }, "./package.json": "./package.json" },
};
const GOOD = ["package.json", "README.md", "dist/index.js", "dist/index.d.ts", "dist/images/imageFamily.js", "dist/images/imageFamily.d.ts", "wasm/imagefleet-frontend.wasm", "host/isolate-builds.sh",
    "provider/pulumi-resource-imagefleet", "schema.json", "dist/provider/main.js", "dist/provider/main.d.ts"];

describe("package contents", () => {
    it("accepts compiled JS with declarations and package metadata", () => {
        assert.deepEqual(packProblems(GOOD, MANIFEST), []);
    });

    it("rejects tests, examples, benchmarks, sources and source maps", () => {
        const problems = packProblems([...GOOD, "test/unit/docs.spec.ts", "example/family.ts", "bench/evaluation.ts", "components/index.ts", "dist/index.js.map", "index.ts", "Pulumi.yaml"], MANIFEST);
        for (const file of ["test/unit/docs.spec.ts", "example/family.ts", "bench/evaluation.ts", "components/index.ts", "dist/index.js.map", "index.ts", "Pulumi.yaml"]) {
            assert.ok(problems.some((p) => p.startsWith(`${file}:`)), `${file} was not rejected: ${problems.join("; ")}`);
        }
    });

    it("rejects a module without its declaration file, and entry points that are not packed", () => {
        const problems = packProblems(["package.json", "dist/index.js", "dist/other.js", "dist/other.d.ts"], MANIFEST);
        assert.ok(problems.includes("package.json names dist/index.d.ts, which is not in the tarball"), problems.join("; "));
        assert.ok(problems.includes("dist/index.js: no declaration file next to it"), problems.join("; "));
    });

    it("rejects a tarball without compiled output, or without BuildKit's Dockerfile frontend", () => {
        assert.match(packProblems(["package.json"], MANIFEST).join("\n"), /no compiled JavaScript under dist\//);
        assert.match(packProblems(GOOD.filter((f) => !f.endsWith(".wasm")), MANIFEST).join("\n"), /no wasm\/imagefleet-frontend\.wasm/);
        assert.match(packProblems([...GOOD, "wasm/other.wasm"], MANIFEST).join("\n"), /wasm\/other\.wasm: not compiled output/);
        assert.match(packProblems(GOOD.filter((f) => !f.startsWith("host/")), MANIFEST).join("\n"), /no host\/isolate-builds\.sh: BuilderFleet cannot write its hosts' user data/);
        assert.match(packProblems([...GOOD, "host/other.sh"], MANIFEST).join("\n"), /host\/other\.sh: not compiled output/);
    });

    it("rejects a tarball without the provider plugin's entry, its schema or its compiled main, and a bin entry that is not packed", () => {
        for (const f of ["provider/pulumi-resource-imagefleet", "schema.json", "dist/provider/main.js"]) {
            assert.match(packProblems(GOOD.filter((g) => g !== f), MANIFEST).join("\n"), new RegExp(`no ${f.replace(/[./]/g, "\\$&")}: YAML, Go and Python programs cannot run the provider plugin`));
        }
        assert.deepEqual(packProblems(GOOD, { ...MANIFEST, bin: { x: "provider/x" } }), ["package.json names provider/x, which is not in the tarball"]);
    });

    describe("subpath entries (imagefleet/images, …)", () => {
        const WITH_IMAGES = {
            ...MANIFEST,
            exports: { ...MANIFEST.exports, "./images": { types: "./dist/images/index.d.ts", default: "./dist/images/index.js" } },
            typesVersions: { "*": { images: ["dist/images/index.d.ts"] } },
        };
        const FILES = [...GOOD, "dist/images/index.js", "dist/images/index.d.ts"];

        it("accepts a subpath whose types typesVersions maps too", () => {
            assert.deepEqual(packProblems(FILES, WITH_IMAGES), []);
        });

        it("rejects a subpath that is not packed", () => {
            assert.deepEqual(packProblems(GOOD, WITH_IMAGES).sort(), [
                "package.json names dist/images/index.d.ts, which is not in the tarball",
                "package.json names dist/images/index.js, which is not in the tarball",
            ]);
        });

        it("rejects a subpath without typesVersions (moduleResolution node would not type-check it) or with other declarations", () => {
            assert.match(packProblems(FILES, { ...WITH_IMAGES, typesVersions: undefined }).join("\n"),
                /exports\["\.\/images"\] has types dist\/images\/index\.d\.ts, but typesVersions\["\*"\]\["images"\] is undefined/);
            assert.match(packProblems(FILES, { ...WITH_IMAGES, typesVersions: { "*": { images: ["dist/index.d.ts"] } } }).join("\n"),
                /typesVersions\["\*"\]\["images"\] is \["dist\/index\.d\.ts"\]/);
        });

        it("the package: one entry per module, and @pulumi/aws, @pulumi/github, @pulumi/tls optional peers", () => {
            const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"));
            assert.deepEqual(Object.keys(manifest.exports), [".", "./images", "./builders", "./registry", "./delivery", "./package.json"]);
            for (const module of ["images", "builders", "registry", "delivery"]) {
                assert.deepEqual(manifest.exports[`./${module}`], { types: `./dist/${module}/index.d.ts`, default: `./dist/${module}/index.js` });
            }
            const optional = Object.keys(manifest.peerDependencies).filter((p) => manifest.peerDependenciesMeta?.[p]?.optional === true);
            assert.deepEqual(optional.sort(), ["@pulumi/aws", "@pulumi/github", "@pulumi/tls"]);
            assert.deepEqual(Object.keys(manifest.peerDependencies).filter((p) => !optional.includes(p)).sort(), ["@pulumi/docker-build", "@pulumi/pulumi"]);
        });
    });
});
