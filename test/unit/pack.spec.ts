import { strict as assert } from "assert";
import { packProblems } from "../../scripts/check-pack";

// The rule scripts/test-consumer.sh applies to `npm pack --dry-run --json`.
const MANIFEST = {
    main: "dist/index.js",
    types: "dist/index.d.ts",
    exports: { ".": { types: "./dist/index.d.ts", default: "./dist/index.js" }, "./package.json": "./package.json" },
};
const GOOD = ["package.json", "README.md", "dist/index.js", "dist/index.d.ts", "dist/images/imageFamily.js", "dist/images/imageFamily.d.ts"];

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

    it("rejects a tarball without compiled output", () => {
        assert.match(packProblems(["package.json"], MANIFEST).join("\n"), /no compiled JavaScript under dist\//);
    });
});
