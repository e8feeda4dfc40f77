// npm run bench: how long the mocked evaluation of a family takes as it grows.
// Sizes run interleaved (round robin) so machine noise hits all of them alike.
import * as path from "path";
import { ImageFamily, ImageSpec } from "../components/images";
import { evaluate } from "../scripts/harness/mocks";

const FIXTURE = path.join(__dirname, "..", "test", "fixtures", "family");
const SIZES = (process.env.BENCH_SIZES ?? "10,50,200").split(",").map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

/** One dev-env, a quarter artifacts taking from it, the rest runtimes each taking one artifact. */
export function syntheticFamily(n: number): ImageSpec[] {
    const artifacts = Math.max(1, Math.floor(n / 4));
    const images: ImageSpec[] = [{ name: "dev-env", kind: "dev-env", context: FIXTURE, dockerfile: "dev-env.Dockerfile" }];
    for (let i = 0; i < artifacts && images.length < n; i++) {
        images.push({ name: `artifact-${i}`, kind: "artifact", context: FIXTURE, dockerfile: "artifact.Dockerfile", from: { "dev-env": "dev-env" } });
    }
    for (let i = 0; images.length < n; i++) {
        images.push({ name: `runtime-${i}`, kind: "runtime", context: FIXTURE, dockerfile: "runtime.Dockerfile", from: { artifact: `artifact-${i % artifacts}` } });
    }
    return images;
}

async function once(n: number): Promise<{ ms: number; resources: number }> {
    const images = syntheticFamily(n);
    const start = process.hrtime.bigint();
    const { resources } = await evaluate({
        stack: "bench",
        program: () => new ImageFamily("bench", {
            images,
            builders: { "linux/amd64": "amd64", "linux/arm64": "arm64" },
            registry: { address: "registry.test" },
            git: { branch: "main", sha: "0123456789abcdef" },
        }),
    });
    return { ms: Number(process.hrtime.bigint() - start) / 1e6, resources: resources.length };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
    await once(SIZES[0]); // warm up module loading and the JIT
    const times = new Map<number, number[]>(SIZES.map((s) => [s, []]));
    const counts = new Map<number, number>();
    for (let round = 0; round < ROUNDS; round++) {
        for (const n of SIZES) {
            const r = await once(n);
            times.get(n)!.push(r.ms);
            counts.set(n, r.resources);
        }
    }
    const base = median(times.get(SIZES[0])!);
    console.log(`| images × platforms | resources | median ms (${ROUNDS} rounds) | min ms | max ms | ratio to ${SIZES[0]} images |`);
    console.log("|---|---|---|---|---|---|");
    for (const n of SIZES) {
        const t = times.get(n)!;
        console.log(`| ${n} × 2 | ${counts.get(n)} | ${median(t).toFixed(0)} | ${Math.min(...t).toFixed(0)} | ${Math.max(...t).toFixed(0)} | ${(median(t) / base).toFixed(2)} |`);
    }
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
