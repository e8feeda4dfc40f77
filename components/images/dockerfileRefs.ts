/** A name a Dockerfile takes content from, and where. */
export interface DockerfileRef {
    /** The name as written (`artifact` in `COPY --from=artifact …`). */
    readonly name: string;
    /** 1-based line of the instruction. */
    readonly line: number;
    /** The instruction, for messages (`COPY --from=artifact`). */
    readonly instruction: string;
}

/**
 * The names a Dockerfile builds from (`FROM x`, `COPY/ADD --from=x`,
 * `RUN --mount=…,from=x`) that are not its own stages. BuildKit resolves such
 * a name to a named build context when one is given, else to an image on
 * Docker Hub: forgetting a family image in `from` only fails at build time,
 * on the builder, after everything upstream was built. Names with a variable
 * (`${BASE_IMAGE}`) are left out; they are not known before the build.
 */
export function dockerfileRefs(text: string): DockerfileRef[] {
    const stages = new Set<string>();
    const refs: DockerfileRef[] = [];
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
        const start = i;
        let instruction = lines[i];
        while (/\\\s*$/.test(instruction) && i + 1 < lines.length) {
            instruction = instruction.replace(/\\\s*$/, " ") + lines[++i];
        }
        const words = instruction.trim().split(/\s+/);
        const keyword = words[0]?.toUpperCase();
        const add = (name: string, what: string) => {
            if (name !== "" && !name.includes("$") && !/^\d+$/.test(name) && name.toLowerCase() !== "scratch") {
                refs.push({ name: name.toLowerCase(), line: start + 1, instruction: what });
            }
        };
        if (keyword === "FROM") {
            const args = words.slice(1).filter((w) => !w.startsWith("--"));
            add(args[0] ?? "", `FROM ${args[0]}`);
            if (args[1]?.toUpperCase() === "AS" && args[2]) {
                stages.add(args[2].toLowerCase());
            }
        } else if (keyword === "COPY" || keyword === "ADD") {
            const from = words.find((w) => w.startsWith("--from="));
            if (from) {
                add(from.slice("--from=".length), `${keyword} ${from}`);
            }
        } else if (keyword === "RUN") {
            for (const mount of words.filter((w) => w.startsWith("--mount="))) {
                const from = /(?:^|,)from=([^,]+)/.exec(mount.slice("--mount=".length));
                if (from) {
                    add(from[1], `RUN --mount=…from=${from[1]}`);
                }
            }
        }
    }
    // A stage may be named after a later use, but never used before it exists:
    // keep the check simple and treat every stage name as the Dockerfile's own.
    return refs.filter((r) => !stages.has(r.name));
}
