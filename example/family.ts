import { ImageSpec } from "../components/images/types";

export interface ExampleFamilyOptions {
    /** Build context of the example, relative to the project directory. Default: `example`. */
    readonly context?: string;
    /**
     * Where the runtime image takes its artifact from: the artifact image built
     * in this family, or a local directory holding `artifact/bin/hello`
     * (StarRocks' `ARTIFACT_SOURCE=image|local`). Default: `image`.
     */
    readonly artifactSource?: "image" | "local";
    /** The directory used when `artifactSource` is `local`. */
    readonly localArtifactDir?: string;
}

/** The example family: a C toolchain, the compiled program, and the image that ships it. */
export function exampleFamily(options: ExampleFamilyOptions = {}): ImageSpec[] {
    const context = options.context ?? "example";
    const devEnv: ImageSpec = { name: "dev-env", kind: "dev-env", context, dockerfile: "dev-env.Dockerfile" };
    const artifact: ImageSpec = { name: "artifact", kind: "artifact", context, dockerfile: "artifact.Dockerfile", from: ["dev-env"] };
    if (options.artifactSource === "local") {
        return [devEnv, {
            name: "runtime", kind: "runtime", context, dockerfile: "runtime.Dockerfile",
            from: { artifact: { local: options.localArtifactDir ?? "" } },
        }];
    }
    return [devEnv, artifact, { name: "runtime", kind: "runtime", context, dockerfile: "runtime.Dockerfile", from: ["artifact"] }];
}
