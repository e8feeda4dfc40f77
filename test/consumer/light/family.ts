// GraphScope's family as a platform team would declare it with imagefleet's
// images module only. `graphscope/` is test/fixtures/graphscope (a symlink in
// the repository; scripts/test-consumer.sh copies the files).
import { ImageFamily, ImageSpec } from "imagefleet/images";
import { graphscopeImages, Versions, VERSIONS } from "./graphscope/family";

export const SHA = "0123456789abcdef0123456789abcdef01234567";

export function graphscopeFamily(versions: Versions = VERSIONS, sha: string = SHA): ImageFamily {
    // Type-checked here against the published ImageSpec.
    const images: ImageSpec[] = graphscopeImages(versions);
    return new ImageFamily("graphscope", {
        images,
        builders: { "linux/amd64": "gs-amd64", "linux/arm64": "gs-arm64" },
        registry: { address: "registry.example.com", namespace: "graphscope" },
        git: { branch: "main", sha },
        buildArgs: { BASE_IMAGE: "registry.example.com/mirror/debian:bookworm", RUNTIME_BASE_IMAGE: "registry.example.com/mirror/debian:bookworm-slim" },
    });
}
