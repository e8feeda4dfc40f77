import { strict as assert } from "assert";
import * as os from "os";
import { pullRequestBase, resolveGit } from "../../components/images/git";

describe("resolveGit", () => {
    it("prefers explicit config over CI variables", () => {
        const g = resolveGit({ branch: "cfg", sha: "abcdef1" }, { GITHUB_REF_NAME: "ci", GITHUB_SHA: "1234567" });
        assert.deepEqual(g, { branch: "cfg", sha: "abcdef1", source: "config" });
    });

    it("uses a pull request's head branch on GitHub Actions", () => {
        const g = resolveGit({}, { GITHUB_HEAD_REF: "feature/x", GITHUB_REF_NAME: "7/merge", GITHUB_SHA: "1234567" });
        assert.deepEqual(g, { branch: "feature/x", sha: "1234567", source: "environment" });
    });

    it("reads GitLab's variables", () => {
        const g = resolveGit({}, { CI_COMMIT_REF_NAME: "develop", CI_COMMIT_SHA: "89abcdef" });
        assert.equal(g.branch, "develop");
        assert.equal(g.sha, "89abcdef");
    });

    it("falls back to git, and reports nothing outside a repository", () => {
        const g = resolveGit({}, {}, os.tmpdir());
        assert.equal(g.source, "git");
        assert.equal(g.sha, "");
    });
});

describe("pullRequestBase", () => {
    it("reads the target branch each CI sets only in a pull request's job, and nothing elsewhere", () => {
        assert.deepEqual(pullRequestBase({ GITHUB_BASE_REF: "main", GITHUB_HEAD_REF: "feature/y" }), { branch: "main", variable: "GITHUB_BASE_REF" });
        assert.deepEqual(pullRequestBase({ CI_MERGE_REQUEST_TARGET_BRANCH_NAME: "develop" }), { branch: "develop", variable: "CI_MERGE_REQUEST_TARGET_BRANCH_NAME" });
        assert.deepEqual(pullRequestBase({ BUILDKITE_PULL_REQUEST: "42", BUILDKITE_PULL_REQUEST_BASE_BRANCH: "main" }), { branch: "main", variable: "BUILDKITE_PULL_REQUEST_BASE_BRANCH" });
        assert.deepEqual(pullRequestBase({ SYSTEM_PULLREQUEST_TARGETBRANCH: "refs/heads/release/1.x" }), { branch: "release/1.x", variable: "SYSTEM_PULLREQUEST_TARGETBRANCH" });
        // A push build: GitHub sets GITHUB_BASE_REF empty, Buildkite names a base branch with BUILDKITE_PULL_REQUEST=false.
        assert.equal(pullRequestBase({ GITHUB_BASE_REF: "", GITHUB_REF_NAME: "main" }), undefined);
        assert.equal(pullRequestBase({ BUILDKITE_PULL_REQUEST: "false", BUILDKITE_PULL_REQUEST_BASE_BRANCH: "main" }), undefined);
        assert.equal(pullRequestBase({}), undefined);
    });
});
