// Exact inputs (issue 18): a build's inputs are the context files its
// Dockerfile reads, as BuildKit's own Dockerfile frontend computes them, on
// the layouts users have: a monorepo root as every image's context, one
// directory of Dockerfiles without ignore files, and a named local context.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ValidationError } from "../../components/errors";
import { forgetAnswers } from "../../components/images/contexts/reads";
import { monorepoImages, writeMonorepo } from "../fixtures/monorepo/monorepo";
import { Recorded } from "../../scripts/harness/mocks";
import { NAMES_A_KEY } from "./arbitraries";
import { builds, declareFamily, familyArgs, plain, rejection } from "./helpers";

type Inputs = Record<string, Record<string, unknown>>;
const inputsOf = (rs: Recorded[]): Inputs => Object.fromEntries(builds(rs).map((r) => [r.name, plain(r)]));
/** The Images whose inputs differ between two declarations, and which of their keys differ. */
function changed(a: Inputs, b: Inputs): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const name of Object.keys(a)) {
        const keys = Object.keys({ ...a[name], ...b[name] }).filter((k) => JSON.stringify(a[name][k]) !== JSON.stringify(b[name]?.[k]));
        if (keys.length > 0) {
            out[name] = keys.sort();
        }
    }
    return out;
}

describe("exact inputs: an image changes only when a file its Dockerfile reads changes", function () {
    this.timeout(180_000);
    let tmp = "";
    before(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-exact-"));
    });
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    describe("a monorepo root as every image's context (Dockerfiles under docker/dockerfiles/)", () => {
        let root = "";
        let stageDir = "";
        const declare = async () => {
            const { resources, family } = await declareFamily(familyArgs({ images: monorepoImages(root), stageDir }));
            return { inputs: inputsOf(resources), family };
        };
        let base: Inputs;

        before(async () => {
            root = path.join(tmp, "monorepo");
            stageDir = path.join(tmp, "stage");
            assert.ok(writeMonorepo(root) >= 1000, "the root holds over a thousand files");
            base = (await declare()).inputs;
            assert.equal(Object.keys(base).length, 8);
        });

        it("reads per image only what its Dockerfile copies, and says so in the report", async () => {
            const { family } = await declare();
            assert.equal(family.contexts.fe.files, family.contexts["dev-env"].files, "one context, admitted once");
            assert.ok(family.contexts.fe.files >= 1000);
            assert.deepEqual(family.contexts["dev-env"].read, { files: 0, bytes: 0 });
            assert.equal(family.contexts.fe.read.files, 1, "conf/fe/fe.conf");
            assert.equal(family.contexts.artifact.read.files, 3, "be/src: main.c, gen.sh, Makefile");
            const staged = (family.image("fe").staged["linux/amd64"]!).location;
            const files = fs.readdirSync(staged, { recursive: true, withFileTypes: true }).filter((e) => !e.isDirectory()).map((e) => path.relative(staged, path.join(e.parentPath, e.name)));
            assert.deepEqual(files, ["conf/fe/fe.conf"], "only what fe reads is staged and given to the provider");
        });

        it("asks BuildKit's frontend again only when a directory a build reads changes, not for docs", async () => {
            const trace = path.join(tmp, "frontend-trace");
            const runs = () => (fs.existsSync(trace) ? fs.readFileSync(trace, "utf8").trim().split("\n").filter(Boolean).length : 0);
            process.env.IMAGEFLEET_FRONTEND_TRACE = trace;
            try {
                forgetAnswers();
                await declare();
                assert.equal(runs(), 0, "the answers from the first declaration are in the stage's cache file");
                fs.writeFileSync(path.join(root, "docs", "another-page.md"), "docs\n");
                forgetAnswers();
                await declare();
                assert.equal(runs(), 0, "a new file in docs/, which no build reads, needs no new answer");
                fs.writeFileSync(path.join(root, "conf", "fe", "extra.conf"), "x = 1\n");
                forgetAnswers();
                const { family } = await declare();
                assert.equal(runs(), 1, "a new file in conf/fe, which fe reads, asks again (one run for every build)");
                assert.equal(family.contexts.fe.read.files, 2, "and fe now reads it");
                fs.rmSync(path.join(root, "conf", "fe", "extra.conf"));
                forgetAnswers();
                base = (await declare()).inputs;
                assert.equal(runs(), 2);
            } finally {
                delete process.env.IMAGEFLEET_FRONTEND_TRACE;
            }
        });

        it("a docs-only change leaves all 8 per-platform Images identical", async () => {
            fs.appendFileSync(path.join(root, "docs", "page-1.md"), "more docs\n");
            fs.writeFileSync(path.join(root, "docs", "new-page.md"), "a new page\n");
            assert.deepEqual(changed(base, (await declare()).inputs), {});
        });

        it("a change to a file only fe.Dockerfile copies changes exactly fe's 2 Images", async () => {
            fs.appendFileSync(path.join(root, "conf", "fe", "fe.conf"), "threads = 8\n");
            const after = (await declare()).inputs;
            assert.deepEqual(Object.keys(changed(base, after)).sort(), ["fam-fe-amd64", "fam-fe-arm64"]);
            base = after;
        });

        it("a change to a source the artifact copies changes the artifact's 2; fe and be change only through its digest", async () => {
            fs.appendFileSync(path.join(root, "be", "src", "main.c"), "/* a change */\n");
            const diff = changed(base, (await declare()).inputs);
            assert.deepEqual(Object.keys(diff).sort(), ["fam-artifact-amd64", "fam-artifact-arm64", "fam-be-amd64", "fam-be-arm64", "fam-fe-amd64", "fam-fe-arm64"]);
            for (const name of ["fam-fe-amd64", "fam-be-arm64"]) {
                assert.deepEqual(diff[name], ["context", "tags"], `${name}: ${diff[name].join(", ")}`);
            }
        });
    });

    describe("one directory of Dockerfiles, no ignore file", () => {
        const write = (dir: string, files: Record<string, string>) => {
            for (const [f, text] of Object.entries(files)) {
                fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
                fs.writeFileSync(path.join(dir, f), text);
            }
        };

        it("a change read by one image changes that image only; COPY . . reads the whole context and names the line", async () => {
            const dir = path.join(tmp, "shared");
            write(dir, {
                "dev.Dockerfile": "FROM scratch AS tools\nCOPY tools/ /tools/\n",
                "app.Dockerfile": "FROM scratch\nARG FLAVOUR=plain\nCOPY --from=dev /tools /tools\nCOPY src/${FLAVOUR}/ /src/\n",
                "all.Dockerfile": "FROM scratch\nCOPY . /everything\n",
                "tools/cc": "cc", "src/plain/main.c": "int main;", "src/fancy/main.c": "int fancy;", "README.md": "docs",
            });
            const images = [
                { name: "dev", kind: "dev-env" as const, context: dir, dockerfile: "dev.Dockerfile" },
                { name: "app", kind: "runtime" as const, context: dir, dockerfile: "app.Dockerfile", from: ["dev"] },
                { name: "all", kind: "runtime" as const, context: dir, dockerfile: "all.Dockerfile" },
            ];
            const declare = async () => {
                const r = await declareFamily(familyArgs({ images, stageDir: path.join(tmp, "stage-shared"), platforms: ["linux/amd64"] }));
                return { inputs: inputsOf(r.resources), family: r.family };
            };
            const first = await declare();
            assert.deepEqual(first.family.contexts.app.read, { files: 1, bytes: 9 }, "ARG-expanded: src/plain only");
            assert.equal(first.family.contexts.all.read.whole, "COPY . /everything (line 2)");
            assert.equal(first.family.contexts.all.read.files, first.family.contexts.all.files);

            fs.writeFileSync(path.join(dir, "src", "fancy", "main.c"), "int fancier;");
            assert.deepEqual(Object.keys(changed(first.inputs, (await declare()).inputs)), ["fam-all-amd64"], "src/fancy is read by all only");
            const second = await declare();
            fs.writeFileSync(path.join(dir, "README.md"), "more docs");
            assert.deepEqual(Object.keys(changed(second.inputs, (await declare()).inputs)), ["fam-all-amd64"]);
        });

        it("a Dockerfile the frontend refuses is an error naming the image before anything is declared", async () => {
            const dir = path.join(tmp, "refused");
            write(dir, { "Dockerfile": "FROM scratch AS base\nCOPY a /a\n" });
            const err = await rejection(familyArgs({ images: [{ name: "app", kind: "runtime", context: dir, target: "missing" }], platforms: ["linux/amd64"] }));
            assert.ok(err instanceof ValidationError);
            assert.match(err.message, /images\[0\]\.dockerfile: image "app": BuildKit's Dockerfile frontend refused .*Dockerfile \(target "missing"\): target stage "missing" could not be found/);
            assert.equal(err.resources.filter((r) => r.type === "docker-build:index:Image").length, 0);
        });

        it("a build arg that makes FROM invalid is refused naming the image's key and the build args to check", async () => {
            const dir = path.join(tmp, "bad-arg");
            write(dir, { "Dockerfile": "ARG BASE=scratch\nFROM ${BASE}\nCOPY a /a\n", "a": "a" });
            const err = await rejection(familyArgs({ images: [{ name: "app", kind: "runtime", context: dir, buildArgs: { BASE: "~W@q/s" } }], platforms: ["linux/amd64"] }));
            assert.ok(err instanceof ValidationError);
            for (const line of err.problems) {
                assert.match(line, NAMES_A_KEY);
            }
            assert.match(err.message, /images\[0\]\.dockerfile: image "app": .*check the build args: buildArgs, images\[0\]\.buildArgs/);
        });
    });
});
