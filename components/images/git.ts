import { execFileSync } from "child_process";

/** Where the branch and SHA were found, for messages. */
export interface ResolvedGit {
    readonly branch: string;
    readonly sha: string;
    readonly source: string;
}

function git(args: string[], cwd: string): string | undefined {
    try {
        return execFileSync("git", args, { cwd, stdio: ["ignore", "pipe", "ignore"] }).toString().trim() || undefined;
    } catch {
        return undefined;
    }
}

/**
 * The branch and commit to build: explicit values first (stack config), then
 * the CI's variables (GitHub Actions, GitLab, Buildkite, generic), then `git`.
 * For a pull request GitHub sets GITHUB_HEAD_REF to the source branch, which is
 * what the cache must be keyed on.
 */
export function resolveGit(explicit: { branch?: string; sha?: string }, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ResolvedGit {
    const fromEnv = {
        branch: env.GITHUB_HEAD_REF || env.GITHUB_REF_NAME || env.CI_COMMIT_REF_NAME || env.BUILDKITE_BRANCH || env.GIT_BRANCH,
        sha: env.GITHUB_SHA || env.CI_COMMIT_SHA || env.BUILDKITE_COMMIT || env.GIT_COMMIT,
    };
    const branch = explicit.branch || fromEnv.branch || git(["rev-parse", "--abbrev-ref", "HEAD"], cwd);
    const sha = explicit.sha || fromEnv.sha || git(["rev-parse", "HEAD"], cwd);
    const source = explicit.branch || explicit.sha ? "config" : fromEnv.branch || fromEnv.sha ? "environment" : "git";
    return { branch: branch === "HEAD" ? "detached" : branch ?? "", sha: sha ?? "", source };
}
