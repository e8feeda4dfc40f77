import type { CheckFinding } from "../images/checks";
import { reviewCounts, type ReviewRow } from "../images/review";

/** What a preview wrote to `IMAGEFLEET_REVIEW_FILE`: per family, its review rows and Dockerfile checks. */
export interface ReviewFile {
    readonly stack?: string;
    readonly families?: Readonly<Record<string, { readonly rows: readonly ReviewRow[]; readonly checks: Readonly<Record<string, readonly CheckFinding[]>> }>>;
}

/** GitHub refuses a comment longer than this. */
export const GITHUB_COMMENT_LIMIT = 65_536;
/** Findings listed in full; the rest are counted (the table is what must stay whole). */
const MAX_FINDINGS = 50;

/** The marker the workflow finds the stack's comment by, to edit it on the next push. */
export function commentMarker(stack: string): string {
    return `<!-- imagefleet-review: ${stack} -->`;
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
const ORDER: Record<string, number> = { rebuild: 0, promote: 1, "settings only": 2, "new tags only": 3, unchanged: 4 };

/**
 * The pull request comment for one stack: the review table first (never
 * cut), then BuildKit's Dockerfile checks, then the raw `pulumi preview
 * --diff` in `<details>`, shortened in the middle when the whole comment
 * would pass GitHub's limit.
 */
export function renderReviewComment(stack: string, review: ReviewFile, rawDiff: string, limit = GITHUB_COMMENT_LIMIT): string {
    const families = Object.entries(review.families ?? {});
    const rows = families.flatMap(([, f]) => f.rows).slice().sort((a, b) => (ORDER[a.status] ?? 9) - (ORDER[b.status] ?? 9));
    const head = [
        commentMarker(stack),
        `#### \`preview\` on ${stack}: ${reviewCounts(rows)}`,
        "",
    ];
    const table = rows.length === 0
        ? ["No image review: this stack has no earlier update to compare with (its first preview), or builds no images."]
        : [
            "| image | platforms | | why |",
            "|---|---|---|---|",
            ...rows.map((r) => `| \`${cell(r.image)}\` | ${cell(r.platforms.join(", "))} | ${r.status === "rebuild" ? "**rebuild**" : r.status} | ${cell(r.reasons.join("; "))} |`),
        ];
    const findings = families.flatMap(([, f]) => Object.entries(f.checks).flatMap(([image, list]) => list.map((c) => ({ image, c }))));
    const checks = findings.length === 0 ? [] : [
        "",
        `**Dockerfile checks** (BuildKit, ${findings.length} ${findings.length === 1 ? "finding" : "findings"}):`,
        "",
        ...findings.slice(0, MAX_FINDINGS).map(({ image, c }) =>
            `- \`${cell(image)}\`: \`${cell(c.dockerfile)}${c.line > 0 ? `:${c.line}` : ""}\` ${c.url ? `[${c.rule}](${c.url})` : c.rule}: ${cell(c.detail)}`),
        ...(findings.length > MAX_FINDINGS ? [`- … and ${findings.length - MAX_FINDINGS} more (see the preview's output)`] : []),
    ];
    const top = [...head, ...table, ...checks].join("\n");
    const open = "\n\n<details>\n<summary>pulumi preview --diff</summary>\n\n```\n";
    const close = "\n```\n</details>\n";
    const room = limit - top.length - open.length - close.length;
    const diff = rawDiff.replace(/```/g, "ʼʼʼ");
    return room <= 0 ? `${top}\n` : `${top}${open}${shorten(diff, room)}${close}`;
}

/** Keeps the start and the end of `text` within `room` characters, saying how many lines were left out. */
function shorten(text: string, room: number): string {
    if (text.length <= room) {
        return text;
    }
    const lines = text.split("\n");
    const note = (n: number) => `\n… ${n} lines left out to stay under GitHub's comment limit; the full preview is in the job's log …\n`;
    const budget = room - note(lines.length).length;
    let front = 0;
    let back = 0;
    let used = 0;
    while (front + back < lines.length) {
        const next = front <= back ? lines[front] : lines[lines.length - 1 - back];
        if (used + next.length + 1 > budget) {
            break;
        }
        used += next.length + 1;
        if (front <= back) {
            front += 1;
        } else {
            back += 1;
        }
    }
    return [...lines.slice(0, front), note(lines.length - front - back).trim(), ...lines.slice(lines.length - back)].join("\n");
}
