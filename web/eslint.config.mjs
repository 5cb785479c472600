// The web client uses only what every current engine has: the "widely available" Baseline of web-features (supported
// in Chromium, Firefox and Safari for 30 months). Checked on what ships — the bundle with its libraries, the service
// worker and the stylesheet — by `npm run lint` (a test runs it: Web/WebClientTests).
import css from "@eslint/css";
import baselineJs from "eslint-plugin-baseline-js";

export default [
  { plugins: { "baseline-js": baselineJs } },
  { files: ["dist/**/*.js"], ...baselineJs.configs.recommended({ available: "widely", level: "error" }) },
  { files: ["static/**/*.css"], plugins: { css }, language: "css/css", rules: { "css/use-baseline": ["error", { available: "widely" }] } },
];
