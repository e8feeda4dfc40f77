// Writes every ```ts block of a Markdown file to its own module, so the
// consumer tier can type-check the documented examples against the packed
// package and run them under mocks: an example that no longer compiles or
// no longer declares its resources fails CI instead of misleading a reader.
//
//   ts-node scripts/extract-examples.ts docs/components.md <out-dir>
//
// Each file is named after the section the block sits in
// and prefixed with the document (`components-01-imagefamily.ts`, …).
import * as fs from "fs";
import * as path from "path";

export interface Example {
    /** The `##`/`###` heading above the block. */
    readonly section: string;
    readonly code: string;
    /** 1-based line of the opening fence. */
    readonly line: number;
}

export function examplesOf(markdown: string): Example[] {
    const examples: Example[] = [];
    const lines = markdown.split("\n");
    let section = "top";
    for (let i = 0; i < lines.length; i++) {
        const heading = /^#{2,3}\s+(.*)$/.exec(lines[i]);
        if (heading) {
            section = heading[1].trim();
            continue;
        }
        if (/^```(ts|typescript)\s*$/.test(lines[i])) {
            const start = i;
            const body: string[] = [];
            for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) {
                body.push(lines[i]);
            }
            examples.push({ section, code: body.join("\n") + "\n", line: start + 1 });
        }
    }
    return examples;
}

function main(): void {
    const [markdownFile, outDir] = process.argv.slice(2);
    if (!markdownFile || !outDir) {
        throw new Error("usage: extract-examples.ts <file.md> <out-dir>");
    }
    const examples = examplesOf(fs.readFileSync(markdownFile, "utf8"));
    fs.mkdirSync(outDir, { recursive: true });
    examples.forEach((ex, i) => {
        const slug = ex.section.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
        const doc = path.basename(markdownFile, ".md").toLowerCase();
        const file = path.join(outDir, `${doc}-${String(i + 1).padStart(2, "0")}-${slug}.ts`);
        fs.writeFileSync(file, `// ${path.basename(markdownFile)}:${ex.line}, section "${ex.section}"\n${ex.code}`);
    });
    console.log(`${examples.length} examples from ${markdownFile} -> ${outDir}`);
}

if (require.main === module) {
    main();
}
