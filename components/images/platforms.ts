/** Platforms imagefleet builds for; each maps to the short arch used in tags and cache refs. */
export const PLATFORM_ARCH: Readonly<Record<string, string>> = {
    "linux/amd64": "amd64",
    "linux/arm64": "arm64",
    "linux/arm/v7": "armv7",
    "linux/ppc64le": "ppc64le",
    "linux/riscv64": "riscv64",
    "linux/s390x": "s390x",
};

export type Platform = "linux/amd64" | "linux/arm64" | "linux/arm/v7" | "linux/ppc64le" | "linux/riscv64" | "linux/s390x";

export const SUPPORTED_PLATFORMS = Object.keys(PLATFORM_ARCH) as Platform[];

/** The default: both platforms, each built natively on its own builder. */
export const DEFAULT_PLATFORMS: readonly Platform[] = ["linux/amd64", "linux/arm64"];

export function isPlatform(value: unknown): value is Platform {
    return typeof value === "string" && value in PLATFORM_ARCH;
}

export function archOf(platform: Platform): string {
    return PLATFORM_ARCH[platform];
}
