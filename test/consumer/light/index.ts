// A Pulumi program that builds GraphScope's images and nothing else: its
// package.json has @pulumi/pulumi and @pulumi/docker-build, and none of
// imagefleet's optional peers (@pulumi/aws, @pulumi/github, @pulumi/tls).
import * as pulumi from "@pulumi/pulumi";
import { graphscopeFamily, SHA } from "./family";
import { Versions, VERSIONS } from "./graphscope/family";

const config = new pulumi.Config();
// `pulumi config set --path versions.vineyardRuntime v0.24.2` bumps one base.
const versions: Versions = { ...VERSIONS, ...config.getObject<Partial<Versions>>("versions") };
const family = graphscopeFamily(versions, config.get("gitSha") ?? SHA);

/** Multi-platform ref per image, `repo:sha@sha256:…`. */
export const refs = family.refs;
/** Per-platform refs per image. */
export const platformRefs = family.platformRefs;
