// A build that fails during `up`: what depends on it (its index, the images
// built from it, the family's tags and outputs) fails with one message that
// names the build and its builder, asked again right then (it may have died
// mid-build), instead of the SDK's "unhandled exception" with a stack trace.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { namedOnFailure } from "../../components/images/buildFailure";

const failedBuild = () => {
    const err = new Error("failed to register new resource example-svc-amd64 [docker-build:index:Image]: rpc error: code = Unavailable desc = error reading from server: EOF");
    const rejected = () => {
        const o = pulumi.output(Promise.reject(err));
        return o as pulumi.Output<string>;
    };
    return { ref: rejected(), digest: rejected() };
};

const rejection = (o: pulumi.Output<string>) => new Promise<unknown>((resolve) => {
    (o as unknown as { promise: () => Promise<unknown> }).promise().then(() => resolve(undefined), resolve);
});

describe("a build that fails during up", () => {
    let dir = "";
    const saved = { docker: process.env.IMAGEFLEET_DOCKER, preflight: process.env.IMAGEFLEET_PREFLIGHT };
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-build-failure-"));
        // buildx knows the builder; nothing listens at its endpoint any more (port 1 refuses).
        fs.writeFileSync(path.join(dir, "docker"), [
            "#!/bin/sh",
            'echo "Name:          imagefleet-side-amd64-1"',
            'echo "Driver:        remote"',
            'echo "Nodes:"',
            'echo "Name:      imagefleet-side-amd64-10"',
            'echo "Endpoint:  tcp://127.0.0.1:1"',
        ].join("\n"), { mode: 0o755 });
    });
    after(() => {
        fs.rmSync(dir, { recursive: true, force: true });
        for (const [k, v] of [["IMAGEFLEET_DOCKER", saved.docker], ["IMAGEFLEET_PREFLIGHT", saved.preflight]] as const) {
            if (v === undefined) {
                delete process.env[k];
            } else {
                process.env[k] = v;
            }
        }
    });

    const identity = { subject: 'ImageFamily "example"', stack: "local", resource: "example-svc-amd64", key: "svc", platform: "linux/amd64",
        builder: "imagefleet-side-amd64-1", pool: ["imagefleet-side-amd64", "imagefleet-side-amd64-1"] };
    const parent = new pulumi.ComponentResource("test:index:Parent", "p", {}, {}, true);

    it("fails what reads its ref or digest with one error naming the build, its builder at its endpoint now down, and how to take it out of the pool; no stack", async () => {
        process.env.IMAGEFLEET_DOCKER = path.join(dir, "docker");
        delete process.env.IMAGEFLEET_PREFLIGHT;
        const read = namedOnFailure(failedBuild(), identity, parent);
        const [byRef, byDigest] = await Promise.all([rejection(read.ref), rejection(read.digest)]);
        assert.ok(byRef instanceof pulumi.ResourceError, String(byRef));
        assert.equal(byRef, byDigest, "one error for the build, reported once");
        const err = byRef as pulumi.ResourceError;
        assert.equal(err.hideStack, true);
        assert.match(err.message, /^ImageFamily "example" \(stack "local"\): example-svc-amd64 \(svc, linux\/amd64\) did not build, so nothing built from it, its index and the commit's tags were not published/);
        assert.match(err.message, /Its builder "imagefleet-side-amd64-1" at tcp:\/\/127\.0\.0\.1:1 \(driver remote\) no longer answers: connection refused/);
        assert.match(err.message, /take it out of the pool: drop it from builders\["linux\/amd64"\] \(stack config: imagefleet:builders\["linux\/amd64"\]\)/);
        // What the SDK does to a failed input's error at each resource it passes through: the message stays.
        err.message = `error serializing property "sources": ${err.message}`;
        assert.match(err.message, /^ImageFamily "example"/);
    });

    it("without the pre-flight it still names the build and its builder", async () => {
        process.env.IMAGEFLEET_PREFLIGHT = "off";
        const err = await rejection(namedOnFailure(failedBuild(), { ...identity, pool: [] }, parent).digest) as Error;
        assert.match(err.message, /Its builder is "imagefleet-side-amd64-1"\.\n {2}Then run `pulumi up` again/);
    });

    it("passes a build that succeeded through unchanged", async () => {
        const read = namedOnFailure({ ref: pulumi.output("r@sha256:1"), digest: pulumi.output("sha256:1") }, identity, parent);
        assert.equal(await (read.digest as unknown as { promise: () => Promise<string> }).promise(), "sha256:1");
    });
});
