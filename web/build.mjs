// Builds the web client into dist/ (the static files the relay and the daemon serve, embedded in the paseo binary), or
// with --tests its unit tests into dist-test/ (run by `node --test`).
import { build } from "esbuild";
import { cpSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));
const tests = process.argv.includes("--tests");

if (tests) {
  rmSync(join(root, "dist-test"), { recursive: true, force: true });
  await build({
    entryPoints: readdirSync(join(root, "test")).filter((f) => f.endsWith(".test.ts")).map((f) => join(root, "test", f)),
    outdir: join(root, "dist-test"),
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    logLevel: "warning",
  });
} else {
  const out = join(root, "dist");
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [join(root, "src", "main.tsx")],
    outfile: join(out, "app.js"),
    bundle: true,
    minify: true,
    format: "esm",
    target: ["es2022"],
    jsx: "automatic",
    jsxImportSource: "preact",
    legalComments: "none",
    logLevel: "warning",
  });
  cpSync(join(root, "static"), out, { recursive: true });
}
