import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runTool, withSubjectLock } from "../../components/supplychain/tools";

/** A stand-in for cosign: a shell script that reports what it was given. */
function fakeTool(dir: string, body: string): string {
    const file = path.join(dir, "fake-cosign");
    fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return file;
}

describe("supply chain tools (runTool)", () => {
    let tmp = "";
    const saved = process.env.IMAGEFLEET_COSIGN;
    beforeEach(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-tools-"));
    });
    afterEach(() => {
        fs.rmSync(tmp, { recursive: true, force: true });
        if (saved === undefined) {
            delete process.env.IMAGEFLEET_COSIGN;
        } else {
            process.env.IMAGEFLEET_COSIGN = saved;
        }
    });

    it("passes the key file in place of {key}, gives the tool its files, reads back what it wrote, and removes the scratch directory", async () => {
        process.env.IMAGEFLEET_COSIGN = fakeTool(tmp, [
            'echo "args: $*"',
            'key=$3; stat -c %a "$key"; cat "$key"; echo; echo "password=$COSIGN_PASSWORD"',
            'dir=$(dirname "$key"); cat "$dir/predicate.json"; echo sbom > "$dir/out.json"; echo "$dir" > ' + path.join(tmp, "scratch"),
            "echo warn >&2; exit 3",
        ].join("\n"));
        const r = await runTool("cosign", ["attest", "{key}", "--predicate", "{dir}/predicate.json", "repo@sha256:1"], {
            signing: { privateKey: "PRIVATE", password: "pw" }, files: { "predicate.json": "{}" }, read: ["out.json"],
        });
        assert.equal(r.code, 3);
        assert.equal(r.stderr, "warn\n");
        const lines = r.stdout.trim().split("\n");
        assert.match(lines[0], /^args: attest --key \/.*\/cosign\.key --predicate \/.*\/predicate\.json repo@sha256:1$/);
        assert.deepEqual(lines.slice(1), ["600", "PRIVATE", "password=pw", "{}"]);
        assert.deepEqual(r.files, { "out.json": "sbom\n" });
        assert.equal(fs.existsSync(fs.readFileSync(path.join(tmp, "scratch"), "utf8").trim()), false, "the key's scratch directory is left behind");
    });

    it("runs concurrently: two 1-second calls take about 1 second, not 2 (every dynamic resource shares one provider process)", async () => {
        process.env.IMAGEFLEET_COSIGN = fakeTool(tmp, "sleep 1; echo done");
        const started = Date.now();
        const [a, b] = await Promise.all([runTool("cosign", ["x"]), runTool("cosign", ["y"])]);
        assert.deepEqual([a.stdout, b.stdout], ["done\n", "done\n"]);
        assert.ok(Date.now() - started < 1800, `took ${Date.now() - started} ms`);
    });

    it("a missing tool is exit -1 with how to build it; a hung tool is killed at the timeout", async () => {
        process.env.IMAGEFLEET_COSIGN = path.join(tmp, "no-such-cosign");
        const missing = await runTool("cosign", ["version"]);
        assert.equal(missing.code, -1);
        assert.match(missing.stderr, /not on PATH: build it with scripts\/build-tools\.sh .* or set IMAGEFLEET_COSIGN/);
        process.env.IMAGEFLEET_COSIGN = fakeTool(tmp, "echo started; exec sleep 30");
        const started = Date.now();
        const hung = await runTool("cosign", ["sign"], { timeoutMs: 300 });
        assert.ok(Date.now() - started < 5000);
        assert.equal(hung.code, -1);
        assert.match(hung.stderr, /killed by SIGKILL/);
        assert.equal(hung.stdout, "started\n");
    });

    it("writes for one digest take turns (cosign's fallback tag is read-modify-write), writes for others do not wait, and a failed write frees the turn", async () => {
        const log: string[] = [];
        const write = (name: string, ms: number, fail = false) => async () => {
            log.push(`${name} start`);
            await new Promise((r) => setTimeout(r, ms));
            log.push(`${name} end`);
            if (fail) {
                throw new Error(`${name} failed`);
            }
            return name;
        };
        const results = await Promise.allSettled([
            withSubjectLock("r@sha256:a", write("sign", 60, true)),
            withSubjectLock("r@sha256:a", write("provenance", 10)),
            withSubjectLock("r@sha256:b", write("other", 5)),
            withSubjectLock("r@sha256:a", write("sbom", 10)),
        ]);
        assert.deepEqual(results.map((r) => r.status), ["rejected", "fulfilled", "fulfilled", "fulfilled"]);
        const a = log.filter((l) => !l.startsWith("other"));
        assert.deepEqual(a, ["sign start", "sign end", "provenance start", "provenance end", "sbom start", "sbom end"]);
        assert.ok(log.indexOf("other end") < log.indexOf("sign end"), "a write for another digest waited");
    });
});
