// Pull requests that review (issue 19), under mocks with the real offline
// frontend: the review table (rebuild, new tags only, unchanged, and why),
// BuildKit's Dockerfile checks, the comment under GitHub's limit, and a pull
// request's preview declaring the deploy's cache settings (issue 18).
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderReviewComment, GITHUB_COMMENT_LIMIT, ReviewFile } from "../../components/delivery/reviewComment";
import { ValidationError } from "../../components/errors";
import { ImageFamily, ImageFamilyArgs, ImageSpec } from "../../components/images";
import { ReviewRow } from "../../components/images/review";
import { evaluate } from "../../scripts/harness/mocks";
import { monorepoImages, writeMonorepo } from "../fixtures/monorepo/monorepo";
import { builds, familyArgs, plain, rejection } from "./helpers";

const value = <T>(o: { apply: (f: (v: T) => unknown) => unknown }): Promise<T> => new Promise((resolve) => o.apply((v) => resolve(v)));

async function declare(args: ImageFamilyArgs, preview = false) {
    let family: ImageFamily | undefined;
    const { resources } = await evaluate({ stack: "test", preview, program: () => { family = new ImageFamily("fam", args); } });
    return { resources, family: family!, record: await value<string>(family!.record), review: await value<ReviewRow[]>(family!.review) };
}

function write(dir: string, files: Record<string, string>): void {
    for (const [f, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
        fs.writeFileSync(path.join(dir, f), text);
    }
}

const row = (rows: readonly ReviewRow[], image: string) => rows.find((r) => r.image === image)!;

describe("pull requests that review", function () {
    this.timeout(180_000);
    let tmp = "";
    before(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-review-"));
    });
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    describe("the review table", () => {
        let dir = "";
        let images: ImageSpec[] = [];
        const at = (sha: string, extra: Partial<ImageFamilyArgs> = {}) => familyArgs({ images, stageDir: path.join(tmp, "stage"), git: { branch: "main", sha }, ...extra });

        before(() => {
            dir = path.join(tmp, "app");
            write(dir, {
                "dev.Dockerfile": "FROM scratch AS tools\nCOPY tools/ /tools/\n",
                "artifact.Dockerfile": "FROM dev-env\nARG LEVEL=2\nCOPY src/ /src/\n",
                "runtime.Dockerfile": "FROM scratch\nCOPY --from=artifact /src /app\n",
                "tools/cc": "cc", "src/main.c": "int main;", "docs/index.md": "docs",
            });
            images = [
                { name: "dev-env", kind: "dev-env", context: dir, dockerfile: "dev.Dockerfile" },
                { name: "artifact", kind: "artifact", context: dir, dockerfile: "artifact.Dockerfile", from: ["dev-env"] },
                { name: "runtime", kind: "runtime", context: dir, dockerfile: "runtime.Dockerfile", from: ["artifact"] },
            ];
        });

        it("without a previous record there is no review; the same commit again is unchanged everywhere", async () => {
            const first = await declare(at("a".repeat(40)));
            assert.deepEqual(first.review, []);
            const again = await declare(at("a".repeat(40), { previousRecord: first.record }));
            assert.deepEqual(again.review.map((r) => [r.image, r.status, r.reasons]), [["dev-env", "unchanged", []], ["artifact", "unchanged", []], ["runtime", "unchanged", []]]);
        });

        it("a runtime-only commit: runtime rebuilds on both platforms because its Dockerfile changed; the others get new tags only", async () => {
            const before = await declare(at("a".repeat(40)));
            fs.appendFileSync(path.join(dir, "runtime.Dockerfile"), "ENV A=1\n");
            try {
                const after = await declare(at("b".repeat(40), { previousRecord: before.record }));
                assert.deepEqual(row(after.review, "runtime"), {
                    image: "runtime", platforms: ["linux/amd64", "linux/arm64"], status: "rebuild", reasons: [`${path.join(dir, "runtime.Dockerfile")} changed`],
                });
                assert.deepEqual([row(after.review, "dev-env").status, row(after.review, "artifact").status], ["new tags only", "new tags only"]);
            } finally {
                fs.writeFileSync(path.join(dir, "runtime.Dockerfile"), "FROM scratch\nCOPY --from=artifact /src /app\n");
            }
        });

        it("names the files read that changed, a build arg, and the family image a build takes from", async () => {
            const before = await declare(at("a".repeat(40)));
            fs.writeFileSync(path.join(dir, "src", "main.c"), "int main2;");
            fs.writeFileSync(path.join(dir, "docs", "index.md"), "not read by anyone");
            try {
                const after = await declare(at("b".repeat(40), { previousRecord: before.record, buildArgs: { LEVEL: "3" } }));
                assert.deepEqual(row(after.review, "artifact").reasons, ["a file it reads changed: src/main.c", "build arg LEVEL added", "builds from dev-env, which rebuilds"]);
                assert.deepEqual(row(after.review, "runtime").reasons, ["build arg LEVEL added", "builds from artifact, which rebuilds"]);
                assert.deepEqual(row(after.review, "dev-env").reasons, ["build arg LEVEL added"], "a family build arg reaches every build");
            } finally {
                fs.writeFileSync(path.join(dir, "src", "main.c"), "int main;");
            }
        });

        it("a platform added: the new platform's builds were not built before", async () => {
            const before = await declare(at("a".repeat(40), { platforms: ["linux/amd64"] }));
            const after = await declare(at("a".repeat(40), { previousRecord: before.record }));
            assert.deepEqual(row(after.review, "runtime"), { image: "runtime", platforms: ["linux/amd64", "linux/arm64"], status: "rebuild", reasons: ["not built before (linux/arm64)"] });
        });

        it("a builder added to a pool: the builds it takes rebuild there, said so; the others stay unchanged", async () => {
            const one = { "linux/amd64": "a-1", "linux/arm64": "r" };
            const before = await declare(at("a".repeat(40), { builders: one }));
            const after = await declare(at("a".repeat(40), { previousRecord: before.record, builders: { ...one, "linux/amd64": ["a-1", "a-2", "a-3"] } }));
            const moved = after.family.images.filter((i) => i.builders["linux/amd64"] !== "a-1").map((i) => i.image);
            assert.ok(moved.length > 0, "nothing moved to a new builder: the test proves nothing");
            for (const r of after.review) {
                if (moved.includes(r.image)) {
                    const to = String(after.family.image(r.image).builders["linux/amd64"]);
                    assert.deepEqual([r.status, r.reasons], ["rebuild", [`moves from builder a-1 to ${to} (the pool changed; its inputs did not) (linux/amd64)`]], r.image);
                } else {
                    assert.deepEqual([r.status, r.reasons], ["unchanged", []], r.image);
                }
            }
        });

        it("settings only: with cache writes turned off every build runs again, to the same content; none says rebuild and none inherits one", async () => {
            const before = await declare(at("a".repeat(40)));
            const after = await declare(at("a".repeat(40), { previousRecord: before.record, cache: { write: false } }));
            const why = "same content: only the settings every build shares changed (cache refs or push)";
            assert.deepEqual(after.review.map((r) => [r.image, r.status, r.reasons]),
                [["dev-env", "settings only", [why]], ["artifact", "settings only", [why]], ["runtime", "settings only", [why]]]);
            // A content change under the new settings is a rebuild again, and chains.
            fs.appendFileSync(path.join(dir, "tools", "cc"), "v2");
            try {
                const changed = await declare(at("b".repeat(40), { previousRecord: before.record, cache: { write: false } }));
                assert.deepEqual(changed.review.map((r) => [r.image, r.status]), [["dev-env", "rebuild"], ["artifact", "rebuild"], ["runtime", "rebuild"]]);
                assert.match(row(changed.review, "artifact").reasons.join("; "), /builds from dev-env, which rebuilds/);
            } finally {
                fs.writeFileSync(path.join(dir, "tools", "cc"), "cc");
            }
        });

        it("a record from before content fingerprints: a settings change still says rebuild (what it knows), never settings only", async () => {
            const before = await declare(at("a".repeat(40)));
            const old = JSON.parse(before.record);
            for (const builds of Object.values(old.images) as Record<string, { c?: string }>[]) {
                for (const b of Object.values(builds)) {
                    delete b.c;
                }
            }
            const after = await declare(at("a".repeat(40), { previousRecord: JSON.stringify(old), cache: { write: false } }));
            assert.deepEqual(after.review.map((r) => r.status), ["rebuild", "rebuild", "rebuild"]);
        });

        it("on a monorepo: a config file one runtime reads", async () => {
            const root = path.join(tmp, "monorepo");
            writeMonorepo(root);
            const args = (sha: string, previousRecord?: string) => familyArgs({ images: monorepoImages(root), stageDir: path.join(tmp, "stage-mono"), git: { branch: "main", sha }, previousRecord });
            const before = await declare(args("a".repeat(40)));
            fs.appendFileSync(path.join(root, "conf", "fe", "fe.conf"), "x = 1\n");
            const after = await declare(args("b".repeat(40), before.record));
            assert.deepEqual(after.review.filter((r) => r.status === "rebuild").map((r) => [r.image, r.reasons]), [["fe", ["a file it reads changed: conf/fe/fe.conf"]]]);
        });
    });

    describe("BuildKit's Dockerfile checks", () => {
        const family = (text: string, checks?: "warn" | "error" | "off") => {
            const dir = fs.mkdtempSync(path.join(tmp, "checks-"));
            write(dir, { Dockerfile: text });
            return familyArgs({ images: [{ name: "app", kind: "runtime", context: dir }], platforms: ["linux/amd64"], checks });
        };

        it("reports MaintainerDeprecated at its line, with the rule's link, under the image; no builder is needed", async () => {
            const { family: f } = await declare(family("FROM scratch\nMAINTAINER someone@example.com\nCOPY a /a\n"));
            assert.deepEqual(f.checks.app.map((c) => [c.rule, c.line, c.url, c.platforms]), [["MaintainerDeprecated", 2, "https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/", ["linux/amd64"]]]);
        });

        it("checks: error refuses the family naming the image, the rule and the line, before anything is declared", async () => {
            const err = await rejection(family("FROM scratch\nMAINTAINER someone@example.com\n", "error"));
            assert.ok(err instanceof ValidationError);
            assert.match(err.message, /images\[0\] \("app"\): Dockerfile check .*Dockerfile:2: MaintainerDeprecated: .*# check=skip=MaintainerDeprecated/);
            assert.equal(builds(err.resources).length, 0);
        });

        it("honours # check=skip=… and # check=error=true as BuildKit does; checks: off reports nothing", async () => {
            const skipped = await declare(family("# check=skip=MaintainerDeprecated\nFROM scratch\nMAINTAINER x\n"));
            assert.deepEqual(skipped.family.checks, {});
            const err = await rejection(family("# check=error=true\nFROM scratch\nMAINTAINER x\n"));
            assert.match(err.message, /BuildKit's Dockerfile frontend refused .*lint violation/i);
            assert.deepEqual((await declare(family("FROM scratch\nMAINTAINER x\n", "off"))).family.checks, {});
        });
    });

    describe("the pull request comment", () => {
        const rows = (n: number): ReviewRow[] => Array.from({ length: n }, (_, i) => ({
            image: `service-${String(i).padStart(3, "0")}-with-a-long-name`, platforms: ["linux/amd64", "linux/arm64"],
            status: i % 3 === 0 ? "rebuild" : "new tags only",
            reasons: i % 3 === 0 ? [`docker/dockerfiles/service-${i}.Dockerfile changed`, "3 files it reads changed: conf/a.conf, conf/b.conf, conf/c.conf and 4 more"] : [],
        }));

        it("a 100-image family's comment stays under 65,536 characters with the table whole, the raw diff shortened", () => {
            const review: ReviewFile = { stack: "dev", families: { example: { rows: rows(100), checks: {} } } };
            const diff = Array.from({ length: 20_000 }, (_, i) => `    ~ docker-build:index:Index example-service-${i}: (replace) tag: "…:aaaaaaaaaaaa" => "…:bbbbbbbbbbbb"`).join("\n");
            const comment = renderReviewComment("dev", review, diff);
            assert.ok(comment.length <= GITHUB_COMMENT_LIMIT, `${comment.length} characters`);
            for (const r of rows(100)) {
                assert.ok(comment.includes(`| \`${r.image}\` |`), `${r.image} is missing from the table`);
            }
            assert.match(comment, /^<!-- imagefleet-review: dev -->\n#### `preview` on dev: 34 rebuild, 66 new tags only, 0 unchanged/);
            assert.match(comment, /lines left out to stay under GitHub's comment limit/);
            assert.ok(comment.indexOf("| `service-000") < comment.indexOf("<details>"), "the table leads");
            assert.ok(comment.includes("example-service-0:") && comment.includes("example-service-19999:"), "the diff keeps its start and its end");
        });

        it("lists the Dockerfile checks with their links, and keeps a short diff whole", () => {
            const review: ReviewFile = { families: { example: { rows: rows(2), checks: { runtime: [{ rule: "MaintainerDeprecated", detail: "Maintainer instruction is deprecated", url: "https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/", dockerfile: "example/runtime.Dockerfile", line: 3, platforms: ["linux/amd64"] }] } } } };
            const comment = renderReviewComment("staging", review, "a short diff");
            assert.match(comment, /- `runtime`: `example\/runtime\.Dockerfile:3` \[MaintainerDeprecated\]\(https:\/\/docs\.docker\.com\/go\/dockerfile\/rule\/maintainer-deprecated\/\): Maintainer instruction is deprecated/);
            assert.match(comment, /```\na short diff\n```/);
        });
    });

    describe("a pull request's preview declares the deploy's cache settings", () => {
        const args = (branch: string, write?: boolean) => familyArgs({ git: { branch, sha: "c".repeat(40) }, cache: { write } });
        const cacheOf = (rs: Awaited<ReturnType<typeof declare>>["resources"]) =>
            builds(rs).map((r) => ({ name: r.name, from: plain(r).cacheFrom, to: plain(r).cacheTo, tags: plain(r).tags }));

        it("from any branch, with cacheWrite off, every Image is declared as main's up declares it", async () => {
            const deploy = cacheOf((await declare(args("main"))).resources);
            const pr = cacheOf((await declare(args("feature/login", false), true)).resources);
            assert.deepEqual(pr, deploy);
        });

        it("an up from a branch declares that branch's refs, and a preview that may write (not a pull request's) does too", async () => {
            for (const preview of [false, true]) {
                const { resources } = await declare(args("feature/login"), preview);
                const to = plain(builds(resources)[0]).cacheTo[0].registry.ref as string;
                assert.match(to, /-cache:feature-login-[0-9a-f]{8}-(amd64|arm64)$/, `preview=${preview}`);
            }
        });
    });
});
