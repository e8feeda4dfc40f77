#!/usr/bin/env node
// The suite's time budget, reported by the suite itself (issue 29).
//
//   node scripts/test-times.js report TIMES [RESULTS]   the end-of-run table: per tier, per spec, the five slowest tests
//   node scripts/test-times.js budgets TIMES     exit 3 when an e2e spec took over twice its budget
//
// TIMES is the JSON-lines file test/reporter.js and scripts/test-all.sh append
// to ($IMAGEFLEET_TIMES). Budgets are in test/e2e/budgets.json, seconds per
// spec file, set from measured runs with headroom; over 2x its budget a spec
// has regressed, not had a slow day.
"use strict";
const fs = require("fs");
const path = require("path");

const BUDGETS = path.join(__dirname, "..", "test", "e2e", "budgets.json");
const OVER = 2;

function read(file) {
    if (!fs.existsSync(file)) {
        return [];
    }
    return fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
}

const fmt = (s) => (s >= 90 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(0)} s`).padStart(9);

function budgets() {
    return JSON.parse(fs.readFileSync(BUDGETS, "utf8")).specs;
}

function report(file, results) {
    const lines = read(file);
    // Counts per tier from $IMAGEFLEET_RESULTS ("tier passed failed skipped"), which every reporter writes.
    const counts = results && fs.existsSync(results)
        ? fs.readFileSync(results, "utf8").split("\n").filter(Boolean).map((l) => l.split(" ")).map(([tier, p, f]) => ({ tier, n: Number(p) + Number(f) }))
        : [];
    const out = [];
    const phases = lines.filter((l) => l.kind === "phase");
    out.push("", "=== time budget: where this run's time went ===");
    if (phases.length) {
        out.push("", "step / tier                          time     tests");
        for (const p of phases) {
            const tests = counts.filter((c) => p.tier && (c.tier === p.tier || c.tier.startsWith(`${p.tier}-`))).reduce((n, c) => n + c.n, 0);
            out.push(`  ${p.name.padEnd(32)} ${fmt(p.seconds)}  ${p.tier ? String(tests).padStart(6) : ""}`);
        }
        out.push(`  ${"total".padEnd(32)} ${fmt(phases.reduce((s, p) => s + p.seconds, 0))}`);
    }
    const specs = lines.filter((l) => l.kind === "file");
    if (specs.length) {
        const b = fs.existsSync(BUDGETS) ? budgets() : {};
        out.push("", "spec (tier, lane)                                        time  tests   budget");
        for (const s of [...specs].sort((x, y) => y.seconds - x.seconds)) {
            const budget = s.tier === "e2e" ? (b[s.file] !== undefined ? fmt(b[s.file]) : "     none") : "";
            const flag = s.tier === "e2e" && b[s.file] !== undefined && s.seconds > OVER * b[s.file] ? "  << over 2x budget" : "";
            out.push(`  ${`${s.file} (${s.tier}${s.lane ? `, ${s.lane}` : ""})`.padEnd(52)} ${fmt(s.seconds)} ${String(s.tests).padStart(6)} ${budget}${flag}`);
        }
    }
    const tests = lines.filter((l) => l.kind === "test").sort((x, y) => y.seconds - x.seconds).slice(0, 5);
    if (tests.length) {
        out.push("", "the five slowest tests");
        for (const t of tests) {
            out.push(`  ${fmt(t.seconds)}  ${t.file}: ${t.title}`);
        }
    }
    console.log(out.join("\n"));
}

/** Exit 3, loudly, when an e2e spec took more than twice its budget; a spec without a budget is named too. */
function check(file) {
    const b = budgets();
    const specs = read(file).filter((l) => l.kind === "file" && l.tier === "e2e");
    const over = specs.filter((s) => b[s.file] !== undefined && s.seconds > OVER * b[s.file]);
    for (const s of specs.filter((x) => b[x.file] === undefined)) {
        console.error(`[budget] ${s.file} has no budget in test/e2e/budgets.json (it took ${s.seconds.toFixed(0)} s): add one`);
    }
    if (over.length === 0) {
        console.error(`[budget] every e2e spec within ${OVER}x its budget (${specs.length} specs)`);
        return 0;
    }
    const bar = "!".repeat(78);
    console.error(`\n${bar}`);
    console.error("TEST TIME REGRESSION: these e2e specs took more than twice their budget");
    for (const s of over) {
        console.error(`  ${s.file}: ${s.seconds.toFixed(0)} s, budget ${b[s.file]} s (${(s.seconds / b[s.file]).toFixed(1)}x)`);
    }
    console.error("Find what made them slower (the five slowest tests above), or, if the spec now tests more,");
    console.error("raise its budget in test/e2e/budgets.json with the measured figure in the commit message.");
    console.error(`${bar}\n`);
    return 3;
}

const [cmd, file, results] = process.argv.slice(2);
if (!file || !["report", "budgets"].includes(cmd)) {
    console.error("usage: test-times.js report|budgets TIMES");
    process.exit(2);
}
process.exit(cmd === "report" ? (report(file, results), 0) : check(file));
