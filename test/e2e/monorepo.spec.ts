// Exact inputs on a monorepo, with the real engine commit after commit (issue
// 18): the repository root is every image's context (StarRocks' and Airflow's
// layout, over a thousand files, Dockerfiles under docker/dockerfiles/). A
// docs-only commit updates no Image and costs about what a commit with
// nothing to do costs; a config file one runtime copies updates that
// runtime's two Images; a source the artifact compiles updates the artifact's
// two (and, through its digest, the runtimes). A preview from a pull
// request's branch, with the preview workflow's flags, shows no Image change
// and writes no cache.
import { strict as assert } from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { monorepoImages, writeMonorepo } from "../fixtures/monorepo/monorepo";
import { changedImages, Project, UpResult } from "./project";
import { E2E_FUNCTIONS, requireEngine, tags } from "./support";

describe("a monorepo root as every image's context (real engine, local stack)", function () {
    this.timeout(60 * 60 * 1000);
    const id = crypto.randomBytes(4).toString("hex");
    const namespace = `e2e-mono-${id}`;
    let project: Project;
    let floor = 0;

    const ok = (r: UpResult): UpResult => {
        assert.equal(r.code, 0, `${r.stdout.slice(-6000)}\n${r.stderr.slice(-6000)}`);
        return r;
    };
    const names = (r: UpResult) => changedImages(r.resources).map((n) => n.replace(/^example-/, ""));

    before(() => {
        requireEngine();
        project = new Project({ branch: `e2e-mono-${id}`, namespace });
        const root = path.join(project.dir, "monorepo");
        assert.ok(writeMonorepo(root) >= 1000);
        // These tests judge which Images change, not compile time.
        const artifact = path.join(root, "docker", "dockerfiles", "artifact.Dockerfile");
        fs.writeFileSync(artifact, fs.readFileSync(artifact, "utf8").replace(/^ARG FUNCTIONS=\d+$/m, `ARG FUNCTIONS=${E2E_FUNCTIONS}`));
        project.editStackConfig((config) => {
            config["imagefleet:images"] = monorepoImages("monorepo");
            // Signing has its own spec; here it would only add cosign and syft runs.
            delete config["imagefleet:supplychain"];
        }, "the monorepo family");
    });
    after(() => project?.remove());

    it("builds the family cold, then the same commit again is the floor", () => {
        const cold = ok(project.run("up"));
        assert.equal(changedImages(cold.resources).length, 8, "4 images × 2 platforms");
        floor = ok(project.run("up", "--expect-no-changes")).seconds;
    });

    it("a docs-only commit updates no Image, at most 1.5× the floor", () => {
        project.change("monorepo/docs/page-7.md", (t) => `${t}More documentation.\n`);
        fs.writeFileSync(path.join(project.dir, "monorepo", "docs", "new-page.md"), "A new page.\n");
        project.commit("docs: a new page");
        const up = ok(project.run("up"));
        assert.deepEqual(names(up), []);
        assert.ok(up.seconds <= 1.5 * floor, `docs-only commit took ${up.seconds.toFixed(1)} s, the floor ${floor.toFixed(1)} s (${(up.seconds / floor).toFixed(2)}×, limit 1.5×)`);
    });

    // A pull request's job as GitHub Actions runs it: the head branch, and the
    // branch it merges into (this stack deploys from the project's branch, as
    // a real repository's from main). No imagefleet setting.
    const pullRequest = (name: string) => ({ GIT_BRANCH: `pr-${id}/${name}`, GITHUB_BASE_REF: project.options.branch });

    it("a pull request's preview from another branch, with only GITHUB_BASE_REF set, shows no Image change for a docs commit and writes no cache", async () => {
        project.change("monorepo/docs/page-8.md", (t) => `${t}Reviewed in a pull request.\n`);
        const before = await Promise.all(["fe", "artifact"].map((i) => tags(`${namespace}/${i}-cache`)));
        const preview = ok(project.runWith(pullRequest("docs"), "preview"));
        assert.deepEqual(names(preview), [], preview.resources.filter((r) => r.op !== "same").map((r) => `${r.op} ${r.name}`).join("\n"));
        const after = await Promise.all(["fe", "artifact"].map((i) => tags(`${namespace}/${i}-cache`)));
        assert.deepEqual(after, before, "the preview wrote a cache ref");
        assert.ok(!after.flat().some((t) => t.startsWith("pr-")), "a cache ref of the pull request's branch exists");
    });

    it("a pull request's preview of a change to fe's config, with only GITHUB_BASE_REF set, shows exactly fe's 2 Images and the review \"1 rebuild, 3 new tags only\"", () => {
        project.change("monorepo/conf/fe/fe.conf", (t) => `${t}threads = 8\n`);
        const preview = ok(project.runWith(pullRequest("fe"), "preview"));
        assert.deepEqual(names(preview), ["fe-amd64", "fe-arm64"]);
        assert.match(`${preview.stdout}\n${preview.stderr}`, /review \(1 rebuild, 3 new tags only, 0 unchanged\)/);
    });

    it("the same change merged: up updates exactly fe's 2 Images", () => {
        assert.deepEqual(names(ok(project.run("up"))), ["fe-amd64", "fe-arm64"]);
    });

    it("a change to a source the artifact compiles updates the artifact's 2 Images, and the runtimes through its digest", () => {
        project.change("monorepo/be/src/main.c", (t) => `${t}\n/* a change */\n`);
        const changed = names(ok(project.run("up")));
        assert.ok(changed.includes("artifact-amd64") && changed.includes("artifact-arm64"), changed.join(", "));
        assert.ok(!changed.some((n) => n.startsWith("dev-env")), changed.join(", "));
    });
});
