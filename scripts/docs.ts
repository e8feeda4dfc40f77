// npx ts-node --transpile-only scripts/docs.ts: regenerates docs/config.md and Pulumi.yaml's descriptions from
// the config schemas, and docs/messages.md from the message catalogue.
import * as fs from "fs";
import * as path from "path";
import { runMain } from "./harness/cli";
import { ROOT } from "./harness/stackFile";
import { writeConfigDocs } from "./configDocs";
import { renderCatalogue } from "../test/unit/catalogue";

runMain("docs", async () => {
    writeConfigDocs(ROOT);
    fs.writeFileSync(path.join(ROOT, "docs", "messages.md"), await renderCatalogue());
    process.stdout.write("wrote docs/config.md, docs/messages.md and Pulumi.yaml descriptions\n");
});
