// The suite's own time budget (scripts/test-times.js, issue 29): the
// end-of-run table and the check that fails the e2e runner when a spec takes
// over twice its budget.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");
const SCRIPT = path.join(ROOT, "scripts", "test-times.js");
const BUDGETS = JSON.parse(fs.readFileSync(path.join(ROOT, "test", "e2e", "budgets.json"), "utf8")).specs as Record<string, number>;

function times(lines: object[]): string {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-times-")), "times.jsonl");
    fs.writeFileSync(file, lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
    return file;
}
const run = (...args: string[]) => spawnSync(process.execPath, [SCRIPT, ...args], { encoding: "utf8" });

describe("the suite's time budget", () => {
    const spec = "test/e2e/faults.spec.ts";

    it("every e2e spec file has a budget, and every budget names a spec that exists", () => {
        const specs = fs.readdirSync(path.join(ROOT, "test", "e2e")).filter((f) => f.endsWith(".spec.ts")).map((f) => `test/e2e/${f}`).sort();
        assert.deepEqual(Object.keys(BUDGETS).sort(), specs);
    });

    it("prints each step, each spec against its budget, and the five slowest tests", () => {
        const file = times([
            { kind: "phase", name: "unit tier", tier: "unit", seconds: 200 },
            { kind: "file", tier: "e2e", lane: "main", file: spec, seconds: 300, tests: 10 },
            ...[1, 2, 3, 4, 5, 6].map((n) => ({ kind: "test", tier: "e2e", file: spec, title: `test ${n}`, seconds: n * 10 })),
        ]);
        const results = path.join(path.dirname(file), "results");
        fs.writeFileSync(results, "unit 390 2 0\n");
        const r = run("report", file, results);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /unit tier\s+3\.3 min\s+392/);
        assert.match(r.stdout, new RegExp(`${spec} \\(e2e, main\\)\\s+5\\.0 min\\s+10\\s+${(BUDGETS[spec] / 60).toFixed(1)} min`));
        const slowest = r.stdout.slice(r.stdout.indexOf("the five slowest tests")).split("\n").slice(1).filter(Boolean);
        assert.equal(slowest.length, 5);
        assert.match(slowest[0], /60 s\s+test\/e2e\/faults\.spec\.ts: test 6/);
        assert.ok(!r.stdout.includes("test 1\n"), "the sixth slowest is listed");
    });

    it("passes a spec within twice its budget and fails the run loudly, exit 3, naming a spec over it", () => {
        const within = run("budgets", times([{ kind: "file", tier: "e2e", file: spec, seconds: 2 * BUDGETS[spec], tests: 1 }]));
        assert.equal(within.status, 0, within.stderr);
        const over = run("budgets", times([{ kind: "file", tier: "e2e", file: spec, seconds: 2 * BUDGETS[spec] + 1, tests: 1 }]));
        assert.equal(over.status, 3);
        assert.match(over.stderr, /TEST TIME REGRESSION/);
        assert.match(over.stderr, new RegExp(`${spec}: ${2 * BUDGETS[spec] + 1} s, budget ${BUDGETS[spec]} s`));
    });

    it("names an e2e spec that has no budget, without failing the run for it", () => {
        const r = run("budgets", times([{ kind: "file", tier: "e2e", file: "test/e2e/new.spec.ts", seconds: 10, tests: 1 }]));
        assert.equal(r.status, 0);
        assert.match(r.stderr, /test\/e2e\/new\.spec\.ts has no budget/);
    });
});
