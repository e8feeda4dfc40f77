import * as fs from "fs";
import * as path from "path";
import { main } from "@pulumi/pulumi/provider";
import { registerAsProviderResources } from "../fleetResource";
import { imagefleetProvider } from "./provider";

// The entry of `pulumi-resource-imagefleet` (provider/pulumi-resource-imagefleet).
registerAsProviderResources();
const version = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")).version as string;
main(imagefleetProvider(version), process.argv.slice(2)).catch((e: unknown) => {
    console.error(e instanceof Error ? e.stack ?? e.message : String(e));
    process.exit(1);
});
