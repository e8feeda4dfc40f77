import { strict as assert } from "assert";
import { dockerfileRefs } from "../../components/images/dockerfileRefs";
import { declareFamily, familyArgs, FIXTURE, rejection } from "./helpers";

describe("names a Dockerfile builds from", () => {
    it("finds FROM, COPY/ADD --from and RUN --mount from=, leaving out stages, variables and scratch", () => {
        const refs = dockerfileRefs([
            "ARG BASE_IMAGE=debian",
            "FROM ${BASE_IMAGE} AS base",
            "FROM --platform=$BUILDPLATFORM dev-env AS build",
            "COPY --from=base /etc/os-release /x",
            "RUN --mount=type=bind,from=Tools,target=/t \\",
            "    make",
            "FROM scratch",
            "COPY --from=artifact /artifact/bin/hello /hello",
            "ADD --from=0 /a /b",
        ].join("\n"));
        assert.deepEqual(refs.map((r) => [r.name, r.line, r.instruction]), [
            ["dev-env", 3, "FROM dev-env"],
            ["tools", 5, "RUN --mount=…from=Tools"],
            ["artifact", 8, "COPY --from=artifact"],
        ]);
    });

    it("refuses an image whose Dockerfile builds from a family image its from does not list, naming the line", async () => {
        const images = [
            { name: "dev-env", kind: "dev-env" as const, context: FIXTURE, dockerfile: "dev-env.Dockerfile" },
            { name: "artifact", kind: "artifact" as const, context: FIXTURE, dockerfile: "artifact.Dockerfile", from: ["dev-env"] },
            { name: "runtime", kind: "runtime" as const, context: FIXTURE, dockerfile: "runtime.Dockerfile", from: ["dev-env"] },
        ];
        const err = await rejection(familyArgs({ images }));
        assert.match(err.message, /images\[2\]\.from: the Dockerfile builds from "artifact" \(COPY --from=artifact, line \d+\), an image of this family, but from does not list it; add from: \["artifact"\]/);
        assert.deepEqual(err.resources, []);
        // A runtime that builds its own binary from the dev-env (GraphScope's shape) is fine.
        await declareFamily(familyArgs({ images: [images[0], { ...images[1], name: "tool", kind: "runtime" }] }));
    });
});
