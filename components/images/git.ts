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

/** A pull request's target branch and the CI variable it came from. */
export interface PullRequestBase {
    readonly branch: string;
    readonly variable: string;
}

/**
 * The branch a pull request merges into, when this run is a CI job for one:
 * GitHub Actions, GitLab merge request pipelines, Buildkite and Azure
 * Pipelines each set a variable only in such a job. Undefined otherwise.
 */
export function pullRequestBase(env: NodeJS.ProcessEnv = process.env): PullRequestBase | undefined {
    const candidates: [string, string | undefined][] = [
        ["GITHUB_BASE_REF", env.GITHUB_BASE_REF],
        ["CI_MERGE_REQUEST_TARGET_BRANCH_NAME", env.CI_MERGE_REQUEST_TARGET_BRANCH_NAME],
        // Buildkite sets the base branch on every build; BUILDKITE_PULL_REQUEST is "false" outside one.
        ["BUILDKITE_PULL_REQUEST_BASE_BRANCH", env.BUILDKITE_PULL_REQUEST && env.BUILDKITE_PULL_REQUEST !== "false" ? env.BUILDKITE_PULL_REQUEST_BASE_BRANCH : undefined],
        // Azure gives a full ref.
        ["SYSTEM_PULLREQUEST_TARGETBRANCH", env.SYSTEM_PULLREQUEST_TARGETBRANCH?.replace(/^refs\/heads\//, "")],
    ];
    const found = candidates.find(([, v]) => v !== undefined && v.trim() !== "");
    return found ? { branch: found[1]!.trim(), variable: found[0] } : undefined;
}
