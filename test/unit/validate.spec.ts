import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ValidationError } from "../../components/errors";
import { ImageSpec } from "../../components/images";
import { familyWarnings } from "../../components/images/validate";
import { familyArgs, FIXTURE, fixtureImages, rejection } from "./helpers";

const with_ = (patch: (images: ImageSpec[]) => ImageSpec[]) => familyArgs({ images: patch(fixtureImages.map((i) => ({ ...i }))) });

/** Asserts the family is rejected before anything is declared, naming the family, the stack and `parts`. */
async function rejects(args: ReturnType<typeof familyArgs>, ...parts: (string | RegExp)[]): Promise<void> {
    const err = await rejection(args, "staging");
    assert.ok(err instanceof ValidationError, `expected a ValidationError, got ${err}`);
    assert.match(err.message, /^ImageFamily "fam" \(stack "staging"\) is invalid:/);
    for (const part of parts) {
        if (typeof part === "string") {
            assert.ok(err.message.includes(part), `message lacks ${JSON.stringify(part)}:\n${err.message}`);
        } else {
            assert.match(err.message, part);
        }
    }
    assert.deepEqual(err.resources.map((r) => r.name), [], "resources were declared before validation");
}

describe("ImageFamily validation", () => {
    it("rejects an empty family", async () => {
        await rejects(familyArgs({ images: [] }), "images: the family is empty; declare at least one image");
    });

    it("rejects an unknown image in from and lists the valid ones", async () => {
        await rejects(with_((i) => { i[2] = { ...i[2], from: ["artifakt"] }; return i; }),
            'images[2].from.artifakt: "artifakt" is not an image of this family; valid: "dev-env", "artifact"');
    });

    it("rejects a cycle and prints it", async () => {
        await rejects(with_((i) => { i[0] = { ...i[0], from: ["runtime"] }; return i; }),
            "from has a cycle: dev-env -> runtime -> artifact -> dev-env");
    });

    it("rejects an image that takes from itself", async () => {
        await rejects(with_((i) => { i[1] = { ...i[1], from: ["artifact"] }; return i; }), 'images[1].from.artifact: "artifact" is the image itself');
    });

    it("rejects duplicate names", async () => {
        await rejects(with_((i) => [...i, { ...i[2] }]), 'images[3].name: "runtime" is declared twice (also images[2])');
    });

    it("rejects invalid names and kinds", async () => {
        await rejects(with_((i) => { i[2] = { ...i[2], name: "Run Time", kind: "service" as any }; return i; }),
            'images[2].name: "Run Time" is not an image name', 'images[2].kind: "service" is not valid; valid: "dev-env", "artifact", "runtime"');
    });

    it("rejects an unsupported platform and names the supported ones", async () => {
        await rejects(familyArgs({ platforms: ["linux/arm65" as any] }), 'platforms[0]: "linux/arm65" is not a supported platform; valid: "linux/amd64", "linux/arm64"');
    });

    it("rejects a platform with no builder", async () => {
        await rejects(familyArgs({ builders: { "linux/amd64": "b" } }), 'builders: platform "linux/arm64" has no builder', 'configured: "linux/amd64"');
    });

    it("suggests the platform a builders key leaves the os out of, and the form a from key is a typo of", async () => {
        await rejects(familyArgs({ builders: { amd64: "b", "linux/arm64": "b2" } as any }), 'builders.amd64: unknown key; did you mean "linux/amd64"?');
        await rejects(with_((i) => { i[2] = { ...i[2], from: { artifact: { locl: FIXTURE } } as any }; return i; }),
            'images[2].from.artifact: must be an image name, {"image": "<name>"} or {"local": "<directory>"}, got {"locl":', 'did you mean {"local": …}?');
    });

    it("rejects a variant with no build args and two variants with the same args, naming both", async () => {
        await rejects(familyArgs({ variants: { release: { PROFILE: "release" }, plain: {} } }), "variants.plain: has no build args");
        await rejects(familyArgs({ variants: { a: { X: "1", Y: "2" }, b: { Y: "2", X: "1" } } }), 'variants.b: has the same build args as variant "a"');
    });

    it("rejects a missing dockerfile with the path it looked at", async () => {
        await rejects(with_((i) => { i[1] = { ...i[1], dockerfile: "nope.Dockerfile" }; return i; }),
            `images[1].dockerfile: "nope.Dockerfile" not found (looked for ${path.join(FIXTURE, "nope.Dockerfile")})`);
    });

    it("rejects an empty or missing context", async () => {
        const empty = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-empty-"));
        await rejects(with_((i) => { i[0] = { ...i[0], context: empty }; return i; }), `images[0].context: ${JSON.stringify(empty)} is not a non-empty directory`);
        await rejects(with_((i) => { i[0] = { ...i[0], context: "" }; return i; }), 'images[0].context: must not be empty');
    });

    it("rejects a local artifact directory that does not exist", async () => {
        await rejects(with_((i) => { i[2] = { ...i[2], from: { artifact: { local: "/nonexistent/dist" } } }; return i; }),
            'images[2].from.artifact: local directory "/nonexistent/dist" is not a non-empty directory');
    });

    it("rejects a bad SHA, an empty branch, a bad release and a bad variant", async () => {
        await rejects(familyArgs({ git: { branch: "", sha: "xyz" }, tags: { release: "1.2" }, variants: { "Fast!": {} } }),
            "git.branch: is empty", 'git.sha: "xyz" is not a commit SHA', 'tags.release: "1.2" is not a semver version', 'variants["Fast!"]: "Fast!" is not a variant name');
    });

    it("rejects non-string build args", async () => {
        await rejects(familyArgs({ buildArgs: { N: 3 as any } }), "buildArgs.N: must be a string (build arg values are strings; quote numbers), got 3");
    });

    it("rejects repositories for images that are not in the family", async () => {
        await rejects(familyArgs({ registry: { address: "r", repositories: { web: "r/web" } } }), 'registry.repositories.web: "web" is not an image of this family');
    });

    it("reports every problem at once", async () => {
        const err = await rejection(familyArgs({ platforms: ["linux/arm65" as any], git: { branch: "main", sha: "nope" } }));
        assert.equal(err.message.split("\n").filter((l) => l.startsWith("  - ")).length, 2);
    });
});

describe("ImageFamily warnings", () => {
    it("warns for a COPY --from of a bare name that is no stage, context or family image (BuildKit would pull it from Docker Hub); not for stages, contexts, tagged images or FROM", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-warn-"));
        try {
            fs.writeFileSync(path.join(dir, "app.Dockerfile"), [
                "FROM debian AS build", "RUN true", "FROM busybox",
                "COPY --from=build /a /a", "COPY --from=artifact /app /app", "COPY --from=alpine:3.20 /etc/os-release /x",
                "COPY --from=tools /t /t", "RUN --mount=type=bind,from=cachefiles,target=/c true", "",
            ].join("\n"));
            fs.mkdirSync(path.join(dir, "tools"));
            fs.writeFileSync(path.join(dir, "tools", "t"), "t");
            const image: ImageSpec = { name: "app", kind: "runtime", context: dir, dockerfile: "app.Dockerfile", from: { tools: { local: path.join(dir, "tools") } } };
            const warnings = familyWarnings("fam", familyArgs({ images: [image] }), "dev");
            assert.equal(warnings.length, 2, warnings.join("\n"));
            assert.ok(warnings[0].startsWith('ImageFamily "fam" (stack "dev"): images[0] ("app"): the Dockerfile takes from "artifact" (COPY --from=artifact, line 5)'), warnings[0]);
            assert.match(warnings[0], /BuildKit will pull docker\.io\/library\/artifact; for a named context add from: \{"artifact": \{"local": "<dir>"\}\}/);
            assert.match(warnings[1], /takes from "cachefiles" \(RUN --mount=…from=cachefiles, line 8\)/);
            const declared = familyWarnings("fam", familyArgs({ images: [{ ...image, from: { tools: { local: path.join(dir, "tools") }, artifact: { local: path.join(dir, "tools") }, cachefiles: { local: path.join(dir, "tools") } } }] }), "dev");
            assert.deepEqual(declared, []);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
