// npm run review -- --stack <stack> --review <review.json> [--diff <file>] [--out <comment.md>]
// Renders a pull request's comment for one stack: the review table the
// preview wrote to IMAGEFLEET_REVIEW_FILE, BuildKit's Dockerfile checks, and
// the raw `pulumi preview --diff` (from --diff, else the PREVIEW_OUTPUT
// environment variable the workflow fills from pulumi/actions' output),
// shortened to stay under GitHub's comment limit.
import * as fs from "fs";
import { renderReviewComment, ReviewFile } from "../components/delivery/reviewComment";

function arg(name: string): string | undefined {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
}

const stack = arg("stack");
const reviewPath = arg("review");
if (!stack || !reviewPath) {
    console.error("usage: npm run review -- --stack <stack> --review <review.json> [--diff <file>] [--out <comment.md>]");
    process.exit(2);
}
const review: ReviewFile = fs.existsSync(reviewPath) ? JSON.parse(fs.readFileSync(reviewPath, "utf8")) : {};
const diffPath = arg("diff");
const diff = diffPath ? fs.readFileSync(diffPath, "utf8") : process.env.PREVIEW_OUTPUT ?? "";
const comment = renderReviewComment(stack, review, diff);
const out = arg("out");
if (out) {
    fs.writeFileSync(out, comment);
    console.log(`wrote ${out} (${comment.length} characters)`);
} else {
    process.stdout.write(comment);
}
