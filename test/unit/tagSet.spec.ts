// The family's TagSet (issue 23): a commit's tags in one resource, copied at
// registry speed. The provider runs `docker buildx imagetools create`; here a
// stand-in docker (IMAGEFLEET_DOCKER) records each call.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { tagSetProvider } from "../../components/images/tagSet";

describe("TagSet: a commit's tags, published together", () => {
    let dir = "";
    let log = "";
    const calls = () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as string[]) : []);
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-tagset-"));
        log = path.join(dir, "calls.jsonl");
        const fake = path.join(dir, "docker");
        // Records its arguments; fails for a source that names "broken", after a pause (1 s) that shows the copies overlap.
        fs.writeFileSync(fake, `#!/usr/bin/env node
const args = process.argv.slice(2);
require("fs").appendFileSync(${JSON.stringify(log)}, JSON.stringify([Date.now(), ...args]) + "\\n");
setTimeout(() => { if (args.some((a) => a.includes("broken"))) { console.error("not found"); process.exit(1); } }, 1000);
`, { mode: 0o755 });
        process.env.IMAGEFLEET_DOCKER = fake;
    });
    after(() => {
        delete process.env.IMAGEFLEET_DOCKER;
        fs.rmSync(dir, { recursive: true, force: true });
    });
    beforeEach(() => fs.rmSync(log, { force: true }));

    const tags = (sha: string, digests: Record<string, string>) => Object.fromEntries(Object.entries(digests).flatMap(([image, d]) => [
        [`r/${image}:${sha}`, `r/${image}@sha256:${d.repeat(64)}`], [`r/${image}:dev`, `r/${image}@sha256:${d.repeat(64)}`],
    ]));

    it("create copies every tag, one imagetools call per index with all its tags, several at once", async () => {
        const props = { tags: tags("aaaa", { a: "1", b: "2", c: "3" }) };
        const out = await tagSetProvider.create!(props);
        assert.deepEqual(out.outs, props, "the state records what each tag points at");
        const c = calls();
        assert.equal(c.length, 3);
        for (const call of c) {
            assert.deepEqual(call.slice(1, 4), ["buildx", "imagetools", "create"]);
            assert.equal(call.filter((a) => a === "-t").length, 2, "the commit tag and the alias in one call");
        }
        const starts = c.map((x) => Number(x[0]));
        assert.ok(Math.max(...starts) - Math.min(...starts) < 1000, "the copies ran at the same time (one after another, they would start 1 s apart or more)");
    });

    it("a new commit over the same indexes moves only the commit tags; diff says so; nothing to do is no change", async () => {
        const olds = { tags: tags("aaaa", { a: "1", b: "2" }) };
        const news = { tags: tags("bbbb", { a: "1", b: "2" }) };
        assert.equal((await tagSetProvider.diff!("tags", olds, news)).changes, true);
        assert.equal((await tagSetProvider.diff!("tags", news, news)).changes, false);
        await tagSetProvider.update!("tags", olds, news);
        const c = calls();
        assert.deepEqual(c.map((x) => x.filter((a, i) => x[i - 1] === "-t")).flat().sort(), ["r/a:bbbb", "r/b:bbbb"], "the aliases did not move");
    });

    it("a failed copy fails the update, naming the tags and the source; delete removes nothing", async () => {
        const news = { tags: { "r/x:bbbb": "r/x@sha256:broken" } };
        await assert.rejects(tagSetProvider.update!("tags", { tags: {} }, news), /r\/x:bbbb -> r\/x@sha256:broken: not found/);
        fs.rmSync(log, { force: true });
        await tagSetProvider.delete!("tags", news);
        assert.deepEqual(calls(), []);
    });
});
