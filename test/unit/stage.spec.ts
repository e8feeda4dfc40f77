import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { scanContext } from "../../components/images/contexts/scan";
import { stageContext, StagedContext } from "../../components/images/contexts/stage";
import { ContextStager, STALE_DAYS } from "../../components/images/contexts/stager";

/** Writes files (path → content; a trailing `*` in the path marks it executable). */
function tree(root: string, files: Record<string, string>, umask = 0o022): void {
    for (const [spec, content] of Object.entries(files)) {
        const exec = spec.endsWith("*");
        const file = path.join(root, exec ? spec.slice(0, -1) : spec);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.chmodSync(path.dirname(file), 0o777 & ~umask);
        fs.writeFileSync(file, content);
        fs.chmodSync(file, (exec ? 0o777 : 0o666) & ~umask);
    }
}

const FILES = {
    ".dockerignore": "*\n!src/\nsrc/*.o\n",
    "Dockerfile": "FROM scratch\nCOPY src/ /src/\n",
    "src/main.c": "int main(void) { return 0; }\n",
    "src/gen.sh*": "#!/bin/sh\necho gen\n",
    "src/main.o": "object code",
    "docs/README.md": "docs are not in the context",
};

describe("staged build contexts", () => {
    let tmp = "";
    const stage = (context: string, stageDir = path.join(tmp, "stage"), dockerfile = path.join(context, "Dockerfile")): StagedContext =>
        stageContext({ context, dockerfile, stageDir, dockerfileName: "app.Dockerfile", epoch: 0 });

    beforeEach(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-stage-"));
    });
    afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it("stages only what .dockerignore admits, with git-like modes and the epoch as every mtime", () => {
        tree(path.join(tmp, "a"), FILES);
        const s = stage(path.join(tmp, "a"));
        const ctx = path.join(tmp, "stage", "context");
        assert.deepEqual(scanContext(ctx).entries.map((e) => e.path), ["src", "src/gen.sh", "src/main.c"]);
        assert.equal(fs.statSync(path.join(ctx, "src/main.c")).mode & 0o777, 0o644);
        assert.equal(fs.statSync(path.join(ctx, "src/gen.sh")).mode & 0o777, 0o755);
        assert.equal(fs.statSync(path.join(ctx, "src")).mode & 0o777, 0o755);
        for (const f of ["src", "src/main.c", "src/gen.sh"]) {
            assert.equal(fs.statSync(path.join(ctx, f)).mtimeMs, 0, f);
        }
        assert.equal(s.files, 2);
        assert.equal(fs.readFileSync(path.resolve(s.dockerfile), "utf8"), FILES.Dockerfile);
    });

    it("a fresh clone elsewhere, under umask 0002 and with new mtimes, stages the same digest", () => {
        tree(path.join(tmp, "a"), FILES, 0o022);
        tree(path.join(tmp, "elsewhere", "b"), FILES, 0o002);
        const later = new Date(Date.now() + 3_600_000);
        for (const f of ["src/main.c", "src/gen.sh", "Dockerfile"]) {
            fs.utimesSync(path.join(tmp, "elsewhere", "b", f), later, later);
        }
        const a = stage(path.join(tmp, "a"), path.join(tmp, "stage-a"));
        const b = stage(path.join(tmp, "elsewhere", "b"), path.join(tmp, "stage-b"));
        assert.equal(a.digest, b.digest);
        // And a re-stage of the other clone into the same stage keeps it too.
        assert.equal(stage(path.join(tmp, "elsewhere", "b"), path.join(tmp, "stage-a")).digest, a.digest);
    });

    it("changes its digest for a changed, added, renamed or re-moded admitted file and the Dockerfile, not for an ignored one", () => {
        const dir = path.join(tmp, "a");
        tree(dir, FILES);
        const base = stage(dir).digest;
        tree(dir, { "src/main.o": "new object code", "docs/README.md": "more docs" });
        assert.equal(stage(dir).digest, base, "ignored files changed the digest");

        const variants: [string, () => void][] = [
            ["content", () => tree(dir, { "src/main.c": "int main(void) { return 1; }\n" })],
            ["added file", () => tree(dir, { "src/extra.h": "#define X 1\n" })],
            ["rename", () => fs.renameSync(path.join(dir, "src/main.c"), path.join(dir, "src/app.c"))],
            ["exec bit", () => fs.chmodSync(path.join(dir, "src/main.c"), 0o755)],
            ["Dockerfile", () => tree(dir, { Dockerfile: "FROM scratch\n" })],
        ];
        for (const [what, change] of variants) {
            fs.rmSync(dir, { recursive: true, force: true });
            tree(dir, FILES);
            assert.equal(stage(dir).digest, base);
            change();
            assert.notEqual(stage(dir).digest, base, what);
        }
    });

    it("removes staged files the context no longer admits", () => {
        const dir = path.join(tmp, "a");
        tree(dir, FILES);
        stage(dir);
        fs.rmSync(path.join(dir, "src", "gen.sh"));
        fs.writeFileSync(path.join(dir, ".dockerignore"), "*\n!src/main.c\n");
        stage(dir);
        assert.deepEqual(scanContext(path.join(tmp, "stage", "context")).entries.map((e) => e.path), ["src", "src/main.c"]);
    });

    it("does not rewrite a staged file whose source is unchanged", () => {
        const dir = path.join(tmp, "a");
        tree(dir, FILES);
        stage(dir);
        const staged = path.join(tmp, "stage", "context", "src", "main.c");
        const ino = fs.statSync(staged).ino;
        stage(dir);
        assert.equal(fs.statSync(staged).ino, ino);
        tree(dir, { "src/main.c": "changed" });
        stage(dir);
        assert.equal(fs.readFileSync(staged, "utf8"), "changed");
    });

    it("prefers <Dockerfile>.dockerignore over the context's .dockerignore, as BuildKit does", () => {
        const dir = path.join(tmp, "a");
        tree(dir, { ...FILES, "app.Dockerfile": "FROM scratch\n", "app.Dockerfile.dockerignore": "*\n!docs/\n" });
        stage(dir, undefined, path.join(dir, "app.Dockerfile"));
        assert.deepEqual(scanContext(path.join(tmp, "stage", "context")).entries.map((e) => e.path), ["docs", "docs/README.md"]);
        assert.equal(fs.readFileSync(path.join(tmp, "stage", "app.Dockerfile.dockerignore"), "utf8"), "*\n!docs/\n");
    });

    it("re-admits a file below an excluded directory and keeps symlinks as symlinks", () => {
        const dir = path.join(tmp, "a");
        tree(dir, { ".dockerignore": "vendor\n!vendor/keep/this.txt\n", "vendor/keep/this.txt": "kept", "vendor/other.txt": "not kept", "app.txt": "app" });
        fs.symlinkSync("app.txt", path.join(dir, "link"));
        stage(dir, undefined, path.join(dir, "app.txt"));
        const ctx = path.join(tmp, "stage", "context");
        assert.deepEqual(scanContext(ctx).entries.map((e) => e.path).filter((p) => p !== ".dockerignore"),
            ["app.txt", "link", "vendor", "vendor/keep", "vendor/keep/this.txt"]);
        assert.equal(fs.readlinkSync(path.join(ctx, "link")), "app.txt");
    });

    it("does not walk an excluded directory that no exception can reach", () => {
        const dir = path.join(tmp, "a");
        tree(dir, { ".dockerignore": "node_modules\n.git\n!src/\n", "src/a": "a", "node_modules/m/index.js": "x", ".git/HEAD": "ref" });
        const read: string[] = [];
        // The module object itself: `import * as` gives read-only bindings to it.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const nodeFs = require("fs") as { readdirSync: (...a: unknown[]) => unknown };
        const original = nodeFs.readdirSync;
        nodeFs.readdirSync = (p: unknown, ...rest: unknown[]) => {
            read.push(path.relative(dir, String(p)));
            return original(p, ...rest);
        };
        try {
            assert.deepEqual(scanContext(dir).entries.map((e) => e.path), [".dockerignore", "src", "src/a"]);
        } finally {
            nodeFs.readdirSync = original;
        }
        assert.deepEqual(read.sort(), ["", "src"]);
    });

    it("a family's run removes staged copies unused for STALE_DAYS, keeps recent ones and the ones it used, and marks those fresh", () => {
        tree(path.join(tmp, "a"), FILES);
        const root = path.join(tmp, "stage-root");
        const old = (Date.now() - (STALE_DAYS + 1) * 86_400_000) / 1000;
        const stager = new ContextStager(root, tmp, 0);
        stager.stageBuilds([{ key: "app", spec: { name: "app", kind: "runtime", context: "a" }, platform: "linux/amd64", buildArgs: {}, named: {} }]);
        const used = path.join(root, fs.readdirSync(root)[0]);
        fs.utimesSync(used, old, old);
        for (const [name, time] of [["moved-away-0badc0de", old], ["recent-1234abcd", Date.now() / 1000 - 86_400]] as const) {
            fs.mkdirSync(path.join(root, name, "context"), { recursive: true });
            fs.utimesSync(path.join(root, name), time, time);
        }
        assert.deepEqual(stager.pruneStale(), [path.join(root, "moved-away-0badc0de")]);
        assert.deepEqual(fs.readdirSync(root).sort(), [path.basename(used), "frontend.json", "recent-1234abcd"].sort(), "the frontend's answers stay");
        assert.ok(Date.now() - fs.statSync(used).mtimeMs < 60_000, "the copy this run used is not marked fresh");
        // With nothing staged yet (a first run), nothing to prune and no error.
        assert.deepEqual(new ContextStager(path.join(tmp, "none"), tmp, 0).pruneStale(), []);
    });
});
