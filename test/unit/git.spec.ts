import { strict as assert } from "assert";
import * as os from "os";
import { resolveGit } from "../../components/images/git";

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
