// Mocha's spec reporter plus the plain closing line CI reads
// ("N passed, N failed, N skipped"), and the same counts appended to
// $IMAGEFLEET_RESULTS so scripts/test-all.sh can total the tiers. Each test's
// and each spec file's wall time (hooks included: a cold build in `before`
// belongs to its file) go to $IMAGEFLEET_TIMES as JSON lines, which
// scripts/test-times.js turns into the end-of-run table and the budget check.
const fs = require("fs");
const path = require("path");
const Mocha = require("mocha");

const ROOT = path.resolve(__dirname, "..");
const rel = (file) => (file ? path.relative(ROOT, file) : "(unknown)");

class Reporter extends Mocha.reporters.Spec {
    constructor(runner, options) {
        super(runner, options);
        const tier = process.env.IMAGEFLEET_TIER || "tests";
        const lane = process.env.IMAGEFLEET_LANE || "";
        const times = [];
        const files = new Map();
        const t0 = Date.now();
        // A top-level describe marks its file's start and end; a file may hold several.
        runner.on("suite", (suite) => {
            if (suite.parent && suite.parent.root && suite.file) {
                const f = files.get(suite.file) || { start: Date.now(), seconds: 0, tests: 0 };
                f.start = Date.now();
                files.set(suite.file, f);
            }
        });
        runner.on("suite end", (suite) => {
            if (suite.parent && suite.parent.root && suite.file) {
                const f = files.get(suite.file);
                f.seconds += (Date.now() - f.start) / 1000;
            }
        });
        const record = (state) => (test) => {
            const f = files.get(test.file);
            if (f) {
                f.tests++;
            }
            times.push({ kind: "test", tier, lane, file: rel(test.file), title: test.fullTitle(), seconds: (test.duration || 0) / 1000, state });
        };
        runner.on("pass", record("passed"));
        runner.on("fail", (test) => {
            // A failing hook is reported as a "test" of its own; count real tests only.
            if (test.type === "test") {
                record("failed")(test);
            }
        });
        runner.once("end", () => {
            const { passes, failures, pending } = runner.stats;
            process.stdout.write(`\n${tier}: ${passes} passed, ${failures} failed, ${pending} skipped\n`);
            if (process.env.IMAGEFLEET_RESULTS) {
                fs.appendFileSync(process.env.IMAGEFLEET_RESULTS, `${tier} ${passes} ${failures} ${pending}\n`);
            }
            if (process.env.IMAGEFLEET_TIMES) {
                const lines = [
                    { kind: "run", tier, lane, seconds: (Date.now() - t0) / 1000, passed: passes, failed: failures },
                    ...[...files].map(([file, f]) => ({ kind: "file", tier, lane, file: rel(file), seconds: f.seconds, tests: f.tests })),
                    ...times,
                ];
                fs.appendFileSync(process.env.IMAGEFLEET_TIMES, lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
            }
        });
    }
}

module.exports = Reporter;
