// BuildKit's answer against imagefleet's: for every build of a corpus (the
// example, the fixtures, the GraphScope-shaped family, the monorepo, and one
// case per Dockerfile construct), what ImageFamily staged and checked offline
// (BuildKit's Dockerfile frontend as WebAssembly, no builder) equals what the
// local buildkitd itself decides: its lint subrequest's findings, the
// followpaths of its converted LLB, and the files it pulls from each local
// directory when it loads it (buildkit-probe records every file it opens).
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FamilyImage, ImageFamily, ImageSpec } from "../../components/images";
import { exampleFamily } from "../../example/family";
import { graphscopeImages } from "../fixtures/graphscope/family";
import { monorepoImages, writeMonorepo } from "../fixtures/monorepo/monorepo";
import { declareFamily, familyArgs, fixtureImages, FIXTURE, plain, builds } from "../unit/helpers";
import { hostClientArgs } from "./hosts";
import { must, ROOT } from "./support";

const PORT: Record<string, number> = { "linux/amd64": 1234, "linux/arm64": 1235 };
const BASE = process.env.IMAGEFLEET_BASE_IMAGE ?? "registry.localhost:5000/base/debian:bookworm";
const BUSYBOX = process.env.IMAGEFLEET_BUSYBOX_IMAGE ?? "registry.localhost:5000/base/busybox:1.36";
const BUILD_ARGS = { BASE_IMAGE: BASE, BUSYBOX_IMAGE: BUSYBOX, RUNTIME_BASE_IMAGE: BASE };

interface ProbeLocal { followPaths: string[] | null; pulled?: string[] }
interface ProbeAnswer { id: string; locals?: Record<string, ProbeLocal>; lint: { ruleName?: string; detail?: string; line?: number }[]; buildError?: { message: string }; error?: string }

/** Asks the local buildkitd of each platform (buildkit-probe) about each build. */
function probe(requests: readonly object[], platform: string): ProbeAnswer[] {
    const r = must("buildkit-probe", hostClientArgs(PORT[platform]), { input: JSON.stringify({ builds: requests }) });
    return (JSON.parse(r.stdout) as { builds: ProbeAnswer[] }).builds;
}

/** Regular files below a staged directory (what BuildKit would open to send them). */
function stagedFiles(dir: string): string[] {
    return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join("/"))
        .sort();
}

const findings = (list: readonly { ruleName?: string; detail?: string; line?: number }[]) =>
    list.map((w) => `${w.line}: ${w.ruleName}: ${w.detail}`).sort();

/**
 * Declares the family (mocks, real frontend), asks the daemon about each of
 * its builds with the same inputs, and compares. Named family images are a
 * real image the daemon can pull (their content is not read either way).
 */
async function compare(label: string, images: ImageSpec[], platforms: ("linux/amd64" | "linux/arm64")[] = ["linux/amd64"]): Promise<Map<string, { files: string[]; rules: string[] }>> {
    const { family, resources } = await declareFamily(familyArgs({ images, platforms, buildArgs: BUILD_ARGS, stageDir: path.join(os.tmpdir(), `imagefleet-frontend-e2e-${label}`) }));
    const compared = new Map<string, { files: string[]; rules: string[] }>();
    for (const platform of platforms) {
        const cases: { image: FamilyImage; spec: ImageSpec; build: Record<string, any> }[] = [];
        for (const image of (family as ImageFamily).images.filter((i) => i.builds[platform])) {
            const spec = images.find((s) => s.name === image.image)!;
            const build = plain(builds(resources).find((r) => r.name === `fam-${image.image}-${platform.split("/")[1]}`)!);
            cases.push({ image, spec, build });
        }
        const requests = cases.map(({ spec, build }) => {
            const context = path.resolve(spec.context);
            const named = Object.fromEntries(Object.entries(build.context.named ?? {}).map(([n, c]: [string, any]) =>
                [n, c.location.startsWith("docker-image://") ? { image: BUSYBOX } : { local: path.resolve(namedSource(spec, n)) }]));
            return { id: spec.name, dockerfile: path.join(context, spec.dockerfile ?? "Dockerfile"), context, target: spec.target, buildArgs: build.buildArgs, platform, named };
        });
        const answers = probe(requests, platform);
        cases.forEach(({ image, spec, build }, i) => {
            const a = answers[i];
            const what = `${label}: ${spec.name} (${platform})`;
            assert.equal(a.error, undefined, `${what}: the daemon refused: ${a.error}`);
            assert.deepEqual(findings(image.checks[platform]!.warnings), findings(a.lint), `${what}: Dockerfile checks differ`);
            const daemonContext = a.locals?.context;
            assert.deepEqual(stagedFiles(build.context.location), daemonContext?.pulled ?? [], `${what}: staged context differs from what buildkitd pulled`);
            for (const [n, c] of Object.entries(build.context.named ?? {}) as [string, any][]) {
                if (!c.location.startsWith("docker-image://")) {
                    assert.deepEqual(stagedFiles(c.location), a.locals?.[n]?.pulled ?? [], `${what}: staged named context ${n} differs`);
                }
            }
            compared.set(`${spec.name} ${platform}`, { files: stagedFiles(build.context.location), rules: a.lint.map((w) => w.ruleName!).sort() });
        });
    }
    return compared;
}

function namedSource(spec: ImageSpec, name: string): string {
    const from = spec.from as Record<string, { local: string }>;
    return from[name].local;
}

/** One Dockerfile per construct, sharing one context. */
const CONSTRUCTS: Record<string, string> = {
    "glob.Dockerfile": `FROM ${BUSYBOX}\nCOPY src/*.c /src/\n`,
    "parents.Dockerfile": `FROM ${BUSYBOX}\nCOPY --parents pkg/*/go.mod /mods/\n`,
    "arg.Dockerfile": `FROM ${BUSYBOX}\nARG FLAVOUR=fancy\nCOPY conf/\${FLAVOUR}/ /etc/app/\n`,
    "targetarch.Dockerfile": `FROM ${BUSYBOX}\nARG TARGETARCH\nCOPY bin/\${TARGETARCH}/ /usr/local/bin/\n`,
    "bind.Dockerfile": `FROM ${BUSYBOX}\nRUN --mount=type=bind,source=scripts,target=/s sh /s/build.sh\n`,
    "bindroot.Dockerfile": `FROM ${BUSYBOX}\nRUN --mount=type=bind,target=/ctx ls /ctx\n`,
    "from.Dockerfile": `FROM ${BUSYBOX} AS build\nRUN echo x > /x\nFROM ${BUSYBOX}\nCOPY --from=build /x /x\n`,
    "heredoc.Dockerfile": `FROM ${BUSYBOX}\nCOPY <<EOF /greeting\nhello\nEOF\n`,
    "url.Dockerfile": `FROM ${BUSYBOX}\nADD --checksum=sha256:${"0".repeat(64)} https://example.invalid/x.tgz /x.tgz\n`,
    "all.Dockerfile": `FROM ${BUSYBOX}\nCOPY . /app\n`,
    "link.Dockerfile": `FROM ${BUSYBOX}\nCOPY current /current\n`,
    "target.Dockerfile": `FROM ${BUSYBOX} AS docs\nCOPY docs/ /docs/\nFROM ${BUSYBOX} AS app\nCOPY src/ /src/\n`,
    "own.Dockerfile": `FROM ${BUSYBOX}\nCOPY . /app\n`,
    "own.Dockerfile.dockerignore": "*\n!conf\n",
    "checks.Dockerfile": `FROM ${BUSYBOX} as Build\nMAINTAINER someone\nENV A=\${UNDEFINED_THING}\ncmd echo hi\n`,
    ".dockerignore": "*.o\nlogs/\n!logs/keep.log\n",
    "src/a.c": "a", "src/b.c": "b", "src/a.o": "obj", "src/README": "readme",
    "pkg/x/go.mod": "module x", "pkg/y/go.mod": "module y", "pkg/y/y.go": "package y",
    "conf/fancy/app.conf": "fancy", "conf/plain/app.conf": "plain",
    "bin/amd64/tool": "amd64", "bin/arm64/tool": "arm64",
    "scripts/build.sh": "echo build", "docs/index.md": "docs",
    "logs/run.log": "noise", "logs/keep.log": "kept", "releases/v1/app": "v1",
};

describe("BuildKit's Dockerfile frontend offline equals the daemon's (differential, real buildkitd)", function () {
    this.timeout(20 * 60 * 1000);
    let tmp = "";
    const cwd = process.cwd();
    before(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-frontend-e2e-"));
        process.chdir(ROOT);
    });
    after(() => {
        process.chdir(cwd);
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("the example family, both platforms", async () => {
        const seen = await compare("example", exampleFamily(), ["linux/amd64", "linux/arm64"]);
        assert.equal(seen.size, 6);
        assert.deepEqual(seen.get("artifact linux/arm64")!.files, ["src/Makefile", "src/gen.sh", "src/main.c"]);
    });

    it("the fixtures: the family (images and a named local context)", async () => {
        const local: ImageSpec[] = [fixtureImages[0], { ...fixtureImages[2], from: { artifact: { local: path.join(FIXTURE, "local-artifact") } } }];
        assert.equal((await compare("fixture", fixtureImages)).size + (await compare("fixture-local", local)).size, 5);
    });

    it("the GraphScope-shaped family (14 images)", async () => {
        assert.equal((await compare("graphscope", graphscopeImages() as ImageSpec[])).size, 14);
    });

    it("the monorepo: the repository root as every image's context", async () => {
        const root = path.join(tmp, "monorepo");
        writeMonorepo(root);
        const seen = await compare("monorepo", monorepoImages(root));
        assert.equal(seen.size, 4);
        assert.deepEqual(seen.get("fe linux/amd64")!.files, ["conf/fe/fe.conf"]);
    });

    it("one case per construct: globs, --parents, ARGs, TARGETARCH, bind mounts, COPY --from, heredocs, URLs, COPY . ., symlinks, targets, ignore files, checks", async () => {
        const dir = path.join(tmp, "constructs");
        for (const [f, text] of Object.entries(CONSTRUCTS)) {
            fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
            fs.writeFileSync(path.join(dir, f), text);
        }
        fs.symlinkSync("releases/v1", path.join(dir, "current"));
        const images: ImageSpec[] = Object.keys(CONSTRUCTS).filter((f) => f.endsWith(".Dockerfile")).map((f) => ({
            name: f.replace(".Dockerfile", ""), kind: "runtime", context: dir, dockerfile: f,
            ...(f === "target.Dockerfile" ? { target: "docs" } : {}),
        }));
        const seen = await compare("constructs", images, ["linux/amd64", "linux/arm64"]);
        assert.equal(seen.size, images.length * 2);
        // Not vacuous: what each construct reads, as both sides agreed.
        const files = (name: string, platform = "linux/amd64") => seen.get(`${name} ${platform}`)!.files;
        assert.deepEqual(files("glob"), ["src/a.c", "src/b.c"]);
        assert.deepEqual(files("parents"), ["pkg/x/go.mod", "pkg/y/go.mod"]);
        assert.deepEqual(files("arg"), ["conf/fancy/app.conf"]);
        assert.deepEqual([files("targetarch"), files("targetarch", "linux/arm64")], [["bin/amd64/tool"], ["bin/arm64/tool"]]);
        assert.deepEqual(files("bind"), ["scripts/build.sh"]);
        assert.deepEqual([files("from"), files("heredoc"), files("url")], [[], [], []]);
        assert.deepEqual(files("link"), ["releases/v1/app"], "the symlink is followed to its target");
        assert.deepEqual(files("target"), ["docs/index.md"], "only the target's stages");
        assert.deepEqual(files("own"), ["conf/fancy/app.conf", "conf/plain/app.conf"], "own.Dockerfile.dockerignore wins over .dockerignore");
        for (const whole of ["all", "bindroot"]) {
            // `logs/` is out but `!logs/keep.log` is back; `*.o` is anchored at the root, so src/a.o stays in.
            assert.ok(files(whole).includes("logs/keep.log") && !files(whole).includes("logs/run.log") && files(whole).includes("src/a.o"), `${whole}: ${files(whole).join(", ")}`);
        }
        assert.deepEqual(seen.get("checks linux/amd64")!.rules,
            ["ConsistentInstructionCasing", "FromAsCasing", "JSONArgsRecommended", "MaintainerDeprecated", "StageNameCasing", "UndefinedVar"]);
    });
});

