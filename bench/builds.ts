// npm run bench:builds — what the registry cache and native builders are worth,
// measured side by side in one run on the Docker engine's BuildKit (the e2e
// tier's builder; needs test/e2e/setup.sh). Prints a Markdown table.
//   cold      every step runs: empty builder cache, no registry cache to import
//   warm      builder cache wiped, the same build imports the registry cache
//   runtime   a one-line change to runtime.Dockerfile, builder cache warm
//   runtime+  the same change after wiping the builder cache (a fresh CI runner)
// and the compile step natively (amd64) vs under QEMU (arm64) from the cold run.
import * as fs from "fs";
import * as path from "path";
import { exampleFamily } from "../example/family";
import { copyExample, must, parseProgress, runSha, sh, writeBake } from "../test/e2e/support";

const BUILDER = process.env.IMAGEFLEET_E2E_BUILDER ?? "default";

function wipeBuilder(): void {
    must("docker", ["buildx", "prune", "--builder", BUILDER, "--all", "--force"]);
    sh("docker", ["image", "prune", "--all", "--force"]);
}

async function bake(overrides: string[]): Promise<{ seconds: number; log: string }> {
    const { file: out } = await writeBake(BUILDER, overrides);
    const r = must("docker", ["buildx", "bake", "--builder", BUILDER, "-f", out, "--progress=plain"]);
    return { seconds: r.seconds, log: r.stderr };
}

/** Seconds of the compile step (gen.sh + make) of one arch, from a plain progress log. */
function compileSeconds(log: string, arch: string): number {
    const step = parseProgress(log).find((s) => / RUN .*make /.test(s.name) && s.name.includes(`-${arch} `) && s.ran);
    if (!step) {
        throw new Error(`no compile step ran for ${arch}: was the build really cold?`);
    }
    const done = new RegExp(`^#${step.id} DONE ([\\d.]+)s$`, "m").exec(log);
    return Number(done![1]);
}

async function main(): Promise<void> {
    const id = runSha().slice(0, 12);
    const git = [`imagefleet:gitSha=${runSha()}`, `imagefleet:gitBranch=bench-${id}`, `imagefleet:fallbackBranches=["none-${id}"]`];
    const changed = copyExample();
    const file = path.join(changed, "runtime.Dockerfile");
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("RUN /usr/local/bin/hello", `RUN /usr/local/bin/hello && echo ${id} > /etc/bench`));
    const withChange = [...git, `imagefleet:images=${JSON.stringify(exampleFamily({ context: changed }))}`];

    wipeBuilder();
    const cold = await bake(git);
    wipeBuilder();
    const warm = await bake(git);
    const runtime = await bake(withChange);
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(`echo ${id}`, `echo ${id}-2`));
    wipeBuilder();
    const runtimeFresh = await bake(withChange);

    const native = compileSeconds(cold.log, "amd64");
    const qemu = compileSeconds(cold.log, "arm64");
    const row = (what: string, s: number) => `| ${what} | ${s.toFixed(1)} | ${((100 * s) / cold.seconds).toFixed(1)} % |`;
    console.log("| build (3 images × 2 platforms) | seconds | of cold |");
    console.log("|---|---|---|");
    console.log(row("cold: empty builder cache, no registry cache", cold.seconds));
    console.log(row("warm: builder cache wiped, registry cache imported", warm.seconds));
    console.log(row("runtime-only change, builder cache warm", runtime.seconds));
    console.log(row("runtime-only change, builder cache wiped (fresh runner)", runtimeFresh.seconds));
    console.log("");
    console.log("| compile step (gen.sh + make, 3500 functions) | seconds |");
    console.log("|---|---|");
    console.log(`| linux/amd64, native | ${native.toFixed(1)} |`);
    console.log(`| linux/arm64, QEMU | ${qemu.toFixed(1)} |`);
    console.log(`| QEMU / native | ${(qemu / native).toFixed(1)}x |`);
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
