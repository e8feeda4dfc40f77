import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as dockerbuild from "@pulumi/docker-build";
import { Problems } from "../errors";
import { imageKey } from "../images/imageFamily";
import { archOf, Platform } from "../images/platforms";
import { SHA } from "../images/policy";
import { publicBuildArgs, SourceInfo } from "./provenance";
import { IndexAttestation, PlatformAttestation } from "./resources";
import { SigningKey } from "./signingKey";
import { RegistryAuth } from "./tools";

/** One published image as `ImageFamily.images` lists it (a `FamilyImage` fits). */
export interface PublishedImage {
    /** Image name. Required. */
    readonly image: string;
    /** Variant name, `""` for the default variant. Required. */
    readonly variant: string;
    /** Repository the image is in. Required. */
    readonly repository: pulumi.Input<string>;
    /** The per-platform builds; their outputs give digest, Dockerfile, target, build args, named contexts and builder. Required. */
    readonly builds: Readonly<Partial<Record<Platform, dockerbuild.Image>>>;
    /** The multi-platform index; an image without one (push off) is skipped. Default: none. */
    readonly index?: dockerbuild.Index;
    /**
     * The image's spec, so the provenance names the source context and
     * Dockerfile rather than a staged copy. Default: the paths the build read.
     */
    readonly spec?: {
        /** Build context directory as the spec gives it. Required. */
        readonly context: string;
        /** Dockerfile relative to the context. Default: `Dockerfile`. */
        readonly dockerfile?: string;
    };
    /** Per platform, the buildx builder that builds it (`FamilyImage.builders`); a builder in `SupplyChainArgs.attestors` attests it itself. Default: none. */
    readonly builders?: Readonly<Partial<Record<Platform, pulumi.Input<string>>>>;
    /** Per platform, the staged context (`FamilyImage.staged`): the files the build read; the provenance lists its digest. Default: none. */
    readonly staged?: Readonly<Partial<Record<Platform, {
        /** sha256 over the staged files and Dockerfile. Required. */
        readonly digest: string;
    }>>>;
}

/** A build its host attests: what a verifier expects of the host's provenance. */
/**
 * The key that verifies a host's attestations: a cosign KMS reference
 * (`BuilderFleet.attestors` gives one per host, known once the key exists)
 * or a PEM public key.
 */
export interface AttestorKey {
    /** `awskms:///…`. Default: none (then `publicKey`). */
    readonly keyRef?: pulumi.Input<string>;
    /** PEM public key. Default: none (then `keyRef`). */
    readonly publicKey?: string;
}

export interface AttestedBuild {
    /** buildx builder name. */
    readonly builder: string;
    /** `awskms://…` or the public key PEM that verifies the host's attestations. */
    readonly key: string;
    /** The per-platform manifest digest (the attestations' subject). */
    readonly digest: string;
    /** sha256 (hex) of the Dockerfile the build was given. */
    readonly dockerfileSha256: string;
    /** The build args (credential-like names left out). */
    readonly buildArgs: Readonly<Record<string, string>>;
    /** The target stage, `""` for the last. */
    readonly target: string;
}

const sha256 = (text: string) => crypto.createHash("sha256").update(text).digest("hex");

/** Arguments of `SupplyChain`. */
export interface SupplyChainArgs {
    /** What the family published (`ImageFamily.images`); images without an index (push off) are skipped. Required. */
    readonly images: readonly PublishedImage[];
    /** The commit the family was built from, named in every provenance. Required. */
    readonly source: SourceInfo;
    /** The key that signs (`SigningKey`). Required. */
    readonly key: SigningKey;
    /** Credentials for the registry the images are in; kept secret. Default: none (anonymous, or the machine's docker config). */
    readonly registry?: {
        /** Registry host. Required. */
        readonly address: pulumi.Input<string>;
        /** Username. Default: none. */
        readonly username?: pulumi.Input<string>;
        /** Password or token. Default: none (no credentials are passed). */
        readonly password?: pulumi.Input<string>;
    };
    /**
     * Builders whose host attests what it builds (an imagefleet attestor
     * beside buildkitd), by buildx builder name, with the key that verifies
     * their attestations. A build on one of them gets no deployer-side SBOM
     * or provenance: its host signs BuildKit's own provenance after the push,
     * off this run's critical path; an image built only on them gets no
     * deployer-side index records either. `attestedBy` says which key to
     * expect. Default: none (every build is attested here, SLSA Build L1).
     */
    readonly attestors?: Readonly<Record<string, AttestorKey>>;
    /** Directory that relative Dockerfile paths resolve against. Default: `process.cwd()`. */
    readonly baseDir?: string;
    /**
     * Prefix of the records' names, normally the family's name, so an image's
     * records are named like its builds: `<prefix>-<image>-<arch>` per
     * per-platform digest, `<prefix>-<image>` per index (of another type, so
     * no clash). Default: this component's name.
     */
    readonly namePrefix?: string;
}

export function validateSupplyChain(name: string, args: SupplyChainArgs, stack = pulumi.getStack()): void {
    const p = new Problems();
    if (!Array.isArray(args.images) || args.images.length === 0) {
        p.add("images: at least one image (ImageFamily.images) is required");
    }
    if (typeof args.source?.repository !== "string" || !/^(https?|ssh|git):\/\/\S+$/.test(args.source.repository)) {
        p.add(`source.repository: ${JSON.stringify(args.source?.repository)} is not a repository URL such as "https://github.com/example-org/imagefleet"`);
    }
    if (typeof args.source?.commit !== "string" || !SHA.test(args.source.commit)) {
        p.add(`source.commit: ${JSON.stringify(args.source?.commit)} is not a commit SHA (7 to 64 hex characters)`);
    }
    if (!args.source?.branch) {
        p.add("source.branch: the branch name is required");
    }
    if (!(args.key instanceof SigningKey)) {
        p.add("key: a SigningKey is required");
    }
    for (const [builder, key] of Object.entries(args.attestors ?? {})) {
        const ref = key?.keyRef;
        // A key the fleet makes in this run is known only once it exists.
        if (!pulumi.Output.isInstance(ref) && !(typeof ref === "string" && ref.startsWith("awskms://")) && !key?.publicKey?.includes("-----BEGIN PUBLIC KEY-----")) {
            p.add(`attestors.${builder}: needs {keyRef: "awskms:///…"} or {publicKey: "-----BEGIN PUBLIC KEY-----…"}`);
        }
    }
    p.throwIfAny(`SupplyChain ${JSON.stringify(name)}`, stack);
}

/**
 * The Dockerfile a build used. The provider reports `inline: ""` for a
 * Dockerfile given by location (seen with docker-build 0.0.22), so an empty
 * inline text means "read the file".
 */
export function dockerfileText(dockerfile: { inline?: string; location?: string } | undefined, baseDir: string): string {
    if (dockerfile?.inline) {
        return dockerfile.inline;
    }
    return dockerfile?.location ? fs.readFileSync(path.resolve(baseDir, dockerfile.location), "utf8") : "";
}

/** What a build's provenance needs from the docker-build Image (its outputs echo its inputs) and the image's spec. */
function buildFacts(build: dockerbuild.Image, baseDir: string, image: PublishedImage, platform: Platform) {
    return pulumi.all([build.dockerfile, build.context, build.buildArgs, build.target, build.builder]).apply(([dockerfile, context, buildArgs, target, builder]) => {
        const location = dockerfile?.location;
        const text = dockerfileText(dockerfile, baseDir);
        const named = (context?.named ?? {}) as Record<string, { location?: string }>;
        const familyContexts = Object.fromEntries(Object.entries(named)
            .filter(([, c]) => c.location?.startsWith("docker-image://"))
            .map(([k, c]) => [k, c.location!]));
        const rel = (p: string) => path.relative(baseDir, path.resolve(baseDir, p)) || ".";
        const spec = image.spec;
        const staged = image.staged?.[platform];
        return {
            context: spec ? rel(spec.context) : context?.location ? rel(context.location) : ".",
            dockerfile: spec ? rel(path.join(spec.context, spec.dockerfile ?? "Dockerfile"))
                : location && !dockerfile?.inline ? rel(location) : "(inline)",
            ...(staged ? { contextDigest: staged.digest.startsWith("sha256:") ? staged.digest : `sha256:${staged.digest}` } : {}),
            dockerfileText: text,
            target: target ?? undefined,
            // Credential-like args never reach the attestation's state or statement.
            buildArgs: publicBuildArgs(buildArgs ?? {}),
            familyContexts,
            builder: builder?.name ?? "default",
        };
    });
}

/**
 * Signed supply-chain records for everything a family published: per
 * per-platform manifest an SPDX SBOM (syft) and a SLSA v1 provenance, per
 * index a cosign signature, a provenance naming its platforms, and the
 * platforms' SBOMs, all attested with cosign and stored in the registry next
 * to the image. One resource per digest makes all of that digest's records
 * (a `PlatformAttestation` per per-platform manifest, an `IndexAttestation`
 * per index). Each is keyed on the digest it covers: it is made once per
 * digest and never again while that digest is published, whatever the
 * commit.
 */
export class SupplyChain extends pulumi.ComponentResource {
    /** Per image key: the index digest that is signed and attested. */
    public readonly signed: pulumi.Output<Record<string, string>>;
    /** Per image key and platform: the provenance predicate as attested. */
    public readonly provenance: pulumi.Output<Record<string, Record<string, unknown>>>;
    /** What verifies the signatures: the public key PEM or `awskms:///<arn>`. */
    public readonly verifyKey: pulumi.Output<string>;
    /**
     * Per image key and platform, for builds on attesting builders: the
     * builder and the key (`awskms://…` or the public key PEM) whose
     * attestations a verifier should wait for on that platform's manifest.
     */
    public readonly attestedBy: pulumi.Output<Record<string, Record<string, AttestedBuild>>>;

    constructor(name: string, args: SupplyChainArgs, opts?: pulumi.ComponentResourceOptions) {
        validateSupplyChain(name, args);
        super("imagefleet:supplychain:SupplyChain", name, {}, opts);
        const baseDir = args.baseDir ?? process.cwd();
        const childOpts = { parent: this };
        const prefix = args.namePrefix ?? name;
        const registry: pulumi.Input<RegistryAuth> | undefined = args.registry?.password === undefined ? undefined
            : pulumi.secret(pulumi.all([args.registry.address, args.registry.username, args.registry.password])
                .apply(([address, username, password]) => ({ address, username, password })));
        const common = { keyId: args.key.keyId, signing: args.key.signing, registry };

        const signed: Record<string, pulumi.Output<string>> = {};
        const attestedBy: Record<string, Record<string, pulumi.Output<AttestedBuild>>> = {};
        const provenance: Record<string, Record<string, pulumi.Output<Record<string, unknown> | undefined>>> = {};
        for (const image of args.images) {
            if (!image.index) {
                continue;
            }
            const key = imageKey(image.image, image.variant);
            const platformAttestations: PlatformAttestation[] = [];
            const members: Record<string, pulumi.Output<{ digest: string; builder: string; attested?: boolean }>> = {};
            provenance[key] = {};
            for (const [platform, build] of Object.entries(image.builds) as [Platform, dockerbuild.Image][]) {
                const arch = archOf(platform);
                const facts = buildFacts(build, baseDir, image, platform);
                const builder = image.builders?.[platform];
                const attestor = typeof builder === "string" ? args.attestors?.[builder] : undefined;
                if (attestor !== undefined) {
                    // The host attests this build; the deploy records what a verifier should see.
                    (attestedBy[key] ??= {})[platform] = pulumi.all([build.digest, facts, attestor.keyRef ?? attestor.publicKey!]).apply(([digest, f, attestorKey]) => ({
                        builder: builder as string, key: attestorKey, digest,
                        dockerfileSha256: sha256(f.dockerfileText), buildArgs: f.buildArgs, target: f.target ?? "",
                    }));
                    members[platform] = pulumi.all([build.digest, facts.builder]).apply(([digest, b]) => ({ digest, builder: b, attested: true }));
                    continue;
                }
                // One resource per per-platform digest: its SBOM and its provenance.
                // The alias keeps a stack's record from before they were one resource
                // (`-provenance`), so upgrading attests no unchanged digest again.
                const attestation = new PlatformAttestation(`${prefix}-${key}-${arch}`, {
                    ...common, repository: image.repository, digest: build.digest, platform,
                    build: pulumi.all([facts, pulumi.output(image.repository)]).apply(([f, repository]) => ({
                        ...f, image: image.image, variant: image.variant, platform, repository, source: args.source,
                    })),
                }, { ...childOpts, aliases: [{ name: `${prefix}-${key}-${arch}-provenance` }] });
                platformAttestations.push(attestation);
                provenance[key][platform] = attestation.predicate;
                members[platform] = pulumi.all([build.digest, facts.builder]).apply(([digest, builder]) => ({ digest, builder }));
            }
            const indexDigest = image.index.ref.apply((ref) => ref.slice(ref.lastIndexOf("@") + 1));
            if (platformAttestations.length === 0) {
                continue; // every platform attested by its host: nothing left for this run to sign
            }
            // One resource per index digest: signature, provenance and the platforms' SBOMs,
            // which it reads back from the platform attestations, so it waits for them.
            new IndexAttestation(`${prefix}-${key}`, {
                ...common, repository: image.repository, digest: indexDigest, image: image.image, variant: image.variant,
                source: args.source, members, publicKey: args.key.verifying.apply((v) => v.publicKey ?? ""),
            }, { ...childOpts, dependsOn: platformAttestations, aliases: [{ name: `${prefix}-${key}-signature` }] });
            signed[key] = indexDigest;
        }
        this.signed = pulumi.output(signed);
        this.provenance = pulumi.output(provenance) as pulumi.Output<Record<string, Record<string, unknown>>>;
        this.verifyKey = args.key.verifyKey;
        this.attestedBy = pulumi.output(attestedBy) as pulumi.Output<Record<string, Record<string, AttestedBuild>>>;
        this.registerOutputs({ signed: this.signed, provenance: this.provenance, verifyKey: this.verifyKey, attestedBy: this.attestedBy });
    }
}
