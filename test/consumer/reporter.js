// A copy of imagefleet's test/reporter.js (the consumer may not reach into the
// package's repository): mocha's spec reporter plus the closing line CI reads,
// "consumer: N passed, N failed, N skipped", and the same counts appended to
// $IMAGEFLEET_RESULTS so scripts/test-all.sh totals this tier too.
const fs = require("fs");
const Mocha = require("mocha");

class Reporter extends Mocha.reporters.Spec {
    constructor(runner, options) {
        super(runner, options);
        runner.once("end", () => {
            const { passes, failures, pending } = runner.stats;
            const tier = process.env.IMAGEFLEET_TIER || "consumer";
            process.stdout.write(`\n${tier}: ${passes} passed, ${failures} failed, ${pending} skipped\n`);
            if (process.env.IMAGEFLEET_RESULTS) {
                fs.appendFileSync(process.env.IMAGEFLEET_RESULTS, `${tier} ${passes} ${failures} ${pending}\n`);
            }
        });
    }
}

module.exports = Reporter;
