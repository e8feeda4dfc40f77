// The unit tier's mocha configuration (`npm test`, `npm run test:unit`).
// IMAGEFLEET_UNIT_DRY_RUN=1 loads every spec and registers every test without
// running one (mocha's dry run): test/e2e/workflow-steps.spec.ts runs the
// workflows' `npm run test:unit` step that way, because the unit tier of the
// same commit has just run those tests for real (scripts/test-all.sh), and the
// step's own wiring (the script, this file, every spec's imports) is what it checks.
"use strict";

module.exports = {
    require: ["ts-node/register/transpile-only"],
    extension: ["ts"],
    spec: ["test/unit/**/*.spec.ts"],
    timeout: 60000,
    "forbid-only": true,
    "forbid-pending": true,
    reporter: "test/reporter.js",
    "dry-run": process.env.IMAGEFLEET_UNIT_DRY_RUN === "1",
};
