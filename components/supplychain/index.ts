export * from "./provenance";
export * from "./checks";
export { SigningKey, SigningKeyArgs, signingKeyPolicy, validateSigningKey } from "./signingKey";
export { AttestorKey, SupplyChain, SupplyChainArgs, validateSupplyChain } from "./supplyChain";
export {
    CosignKeyPair, IndexAttestation, IndexAttestationArgs, PlatformAttestation, PlatformAttestationArgs,
    SourceVerification, SourceVerificationArgs, VerificationPolicy,
} from "./resources";
export { COSIGN_SIGN_FLAGS, COSIGN_VERIFY_FLAGS, RegistryAuth, SigningMaterial, VerifyingMaterial } from "./tools";
