// The phone web client's numbers (bench/README.md "Web client"): time from opening the pairing link to the agents list
// (p50 of N loads, each in a fresh browser profile = cold cache, and reloads in one profile = warm cache), the app's
// size, and an agent with thousands of timeline rows: time until its timeline shows, and the long tasks (> 50 ms) while
// it renders and scrolls. Runs Debian's Chromium through playwright-core (tests/browser).
//   node bench/web/web-bench.mjs <pairing url> <big agent's id> [loads]
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const { chromium } = createRequire(join(repo, "tests", "browser", "package.json"))("playwright-core");
const [url, bigAgent, loadsArg] = process.argv.slice(2);
const loads = Number(loadsArg ?? 20);
const p50 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/lib/chromium/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const agentsShown = (page) => page.locator("li[data-agent-id]").first().waitFor({ timeout: 30_000 });

const cold = [];
for (let i = 0; i < loads; i++) {
  const context = await browser.newContext(phone);
  const page = await context.newPage();
  const start = performance.now();
  await page.goto(url);
  await agentsShown(page);
  cold.push(performance.now() - start);
  await context.close();
}

const context = await browser.newContext(phone);
const page = await context.newPage();
await page.goto(url);
await agentsShown(page);
const origin = new URL(url).origin;
const warm = [];
for (let i = 0; i < loads; i++) {
  const start = performance.now();
  await page.goto(origin + "/");
  await agentsShown(page);
  warm.push(performance.now() - start);
}

// The big agent: long tasks recorded from before its screen opens until it has rendered and been scrolled through.
await page.evaluate(() => {
  globalThis.__long = [];
  new PerformanceObserver((list) => list.getEntries().forEach((e) => globalThis.__long.push(e.duration))).observe({ type: "longtask", buffered: false });
});
const open = performance.now();
await page.locator(`li[data-agent-id="${bigAgent}"] button`).click();
await page.locator('.timeline[data-sync="live"] > li').first().waitFor({ timeout: 60_000 });
const timelineMs = performance.now() - open;
const rowsShown = await page.locator(".timeline > li").count();
for (let y = 0; y < 40; y++) await page.mouse.wheel(0, y % 20 < 10 ? -800 : 800);
await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
const longTasks = await page.evaluate(() => globalThis.__long);
await browser.close();

const app = readFileSync(join(repo, "web", "dist", "app.js"));
const css = readFileSync(join(repo, "web", "dist", "app.css"));
const html = readFileSync(join(repo, "web", "dist", "index.html"));
console.log(JSON.stringify({
  loads,
  coldP50Ms: Math.round(p50(cold)),
  warmP50Ms: Math.round(p50(warm)),
  initialLoadGzipBytes: gzipSync(app).length + gzipSync(css).length + gzipSync(html).length,
  appJsBytes: app.length,
  bigAgentTimelineMs: Math.round(timelineMs),
  bigAgentRowsShown: rowsShown,
  longTasksOver50Ms: longTasks.filter((d) => d > 50).length,
  longestTaskMs: Math.round(Math.max(0, ...longTasks)),
}, null, 2));
