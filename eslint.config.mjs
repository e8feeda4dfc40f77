// ESLint flat config (ESLint 10). `npm run lint` runs it with --max-warnings 0.
//
// - @eslint/js and typescript-eslint `recommended` for every file;
// - a few type-aware rules where type information pays for itself (promises
//   that are never awaited, and Outputs in template literals) — type-aware
//   linting uses the TypeScript project service, one program per tsconfig;
// - @pulumi/eslint-plugin: its two rules (it ships no preset, and its README's
//   `plugins: pulumi` is not valid flat config: plugins map a namespace to the
//   plugin object, so it is registered here as `@pulumi`).
import js from "@eslint/js";
import pulumi from "@pulumi/eslint-plugin";
import { defineConfig, globalIgnores } from "eslint/config";
import tseslint from "typescript-eslint";

const TS = ["**/*.ts"];
// Node's globals for plain JavaScript files (the `globals` package is not a dependency).
const NODE_GLOBALS = Object.fromEntries(
    ["require", "module", "exports", "process", "console", "__dirname", "__filename", "Buffer", "setTimeout", "clearTimeout", "URL"]
        .map((name) => [name, "readonly"]),
);

export default defineConfig(
    globalIgnores([
        "**/node_modules/",
        "bin/",
        "dist/",
        ".pulumi/",
        // Go modules that build the toolchain; no JavaScript in there.
        "scripts/tools/",
    ]),
    {
        linterOptions: { reportUnusedDisableDirectives: "error" },
    },
    js.configs.recommended,
    {
        files: TS,
        extends: [tseslint.configs.recommended],
        languageOptions: {
            parserOptions: {
                projectService: true,
                tsconfigRootDir: import.meta.dirname,
            },
        },
        plugins: { "@pulumi": pulumi },
        rules: {
            // An Output in a template literal renders as a warning text, not its value: use pulumi.interpolate.
            "@pulumi/no-output-in-template-literal": "error",
            "@pulumi/no-output-instance-in-template-literal": "error",
            // A promise nobody awaits hides its failure (and, in a Pulumi program, races the engine).
            "@typescript-eslint/no-floating-promises": "error",
            "@typescript-eslint/no-misused-promises": "error",
            "@typescript-eslint/await-thenable": "error",
            // Backs up the @pulumi rules, which only see a bare `Output<T>` alias: this one
            // also catches `Output<T> | undefined`, `OutputInstance<T>` and any other object.
            "@typescript-eslint/restrict-template-expressions": "error",
            // `_` marks a deliberately unused parameter (mock callbacks take fixed signatures).
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
        },
    },
    {
        // Dynamic providers are serialized with their closures: Pulumi captures the
        // functions' source, so the provider must `require` modules inside them
        // instead of importing at the top (see the comment in the file).
        files: ["components/builders/registration.ts", "components/builders/kubernetesBuilder.ts", "components/supplychain/tools.ts", "components/supplychain/providers.ts", "components/images/manifestCopy.ts"],
        rules: { "@typescript-eslint/no-require-imports": "off" },
    },
    {
        // The mocks harness and the promotion spec load the program module afresh
        // for every evaluation (`delete require.cache[...]; require(file)`): the
        // path is only known at run time, which `import` cannot express synchronously.
        files: ["scripts/harness/mocks.ts", "test/unit/promotion.spec.ts"],
        rules: { "@typescript-eslint/no-require-imports": "off" },
    },
    {
        // Tests and the harness read untyped payloads: mock RPC inputs and states,
        // recorded resources, parsed YAML and JSON. `any` there is the honest type;
        // the library and the program (components/, index.ts, bench/) keep the rule.
        files: ["scripts/**/*.ts", "test/**/*.ts"],
        rules: { "@typescript-eslint/no-explicit-any": "off" },
    },
    {
        // CommonJS JavaScript: mocha's reporter and similar small scripts.
        files: ["**/*.js"],
        languageOptions: { sourceType: "commonjs", globals: NODE_GLOBALS },
    },
    {
        files: ["**/*.mjs"],
        languageOptions: { globals: NODE_GLOBALS },
    },
);
