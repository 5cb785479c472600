// Phones in Debian's Chromium (390×844, touch) on the web client. Prints one JSON line per checkpoint ({step, ...}); the
// .NET tests assert them.
//   node web-phone.mjs drive <pairing url> <agent cwd> [screenshots dir]   every screen, with a mock agent
//   node web-phone.mjs two-phones <pairing url> <agent cwd>                 two phones at once on one daemon
//   node web-phone.mjs refused <pairing url> [screenshots dir]             a link that must not work: what the page says
//   node web-phone.mjs direct <daemon url> <password>                       the page a daemon serves, paired with its address:
//                                                                           a wrong password, then the right one
//   node web-phone.mjs restart <pairing url> <agent cwd>                    a long turn; says "streaming", waits for a line
//                                                                           on stdin (the relay was restarted), then catches up
// CHROMIUM_PATH: the browser binary (default /usr/lib/chromium/chromium).
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [scenario, url, cwd, shots] = process.argv.slice(2);
const say = (step, extra = {}) => console.log(JSON.stringify({ step, ...extra }));
const timeout = 20_000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/lib/chromium/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const errors = [];

async function phone() {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  return page;
}

async function send(page, text) {
  await page.getByLabel("Message").fill(text);
  await page.getByRole("button", { name: "Send" }).click();
}

async function create(page, message) {
  await page.getByRole("button", { name: "New agent" }).click();
  await page.getByLabel("Provider").selectOption("mock");
  await page.getByLabel("Working directory").fill(cwd);
  await page.getByLabel("First message").fill(message);
  await page.getByRole("button", { name: "Create" }).click();
}

async function nextStdinLine() {
  return new Promise((resolve) => {
    process.stdin.setEncoding("utf8");
    process.stdin.once("data", (chunk) => {
      process.stdin.destroy(); // one line is all: an open stdin would keep node from exiting
      resolve(String(chunk).trim());
    });
  });
}

async function restart() {
  const page = await phone();
  await page.goto(url);
  await page.locator('[data-state="online"]').waitFor({ timeout });
  // Every state the badge shows, recorded in the page: a reconnect may be quicker than a poll.
  await page.evaluate(() => {
    globalThis.__states = [];
    const record = () => {
      const state = document.querySelector("[data-state]")?.getAttribute("data-state");
      if (state && globalThis.__states.at(-1) !== state) globalThis.__states.push(state);
    };
    new MutationObserver(record).observe(document.body, { subtree: true, attributes: true, childList: true });
    record();
  });
  await create(page, "[stream 100 6] long turn");
  await page.locator(".row-assistant").first().waitFor({ timeout });
  say("streaming");
  await nextStdinLine();
  await page.locator('[data-state="online"]').waitFor({ timeout: 60_000 });
  await page.locator('[data-testid="agent-status"]', { hasText: "idle" }).waitFor({ timeout: 60_000 });
  await page.locator('.timeline[data-sync="live"]').waitFor({ timeout });
  // The turn's whole reply as the page shows it, after the catch-up.
  say("caught-up", {
    states: await page.evaluate(() => globalThis.__states),
    text: await page.locator(".row-assistant").last().innerText(),
    rows: await page.locator(".row-assistant").count(),
  });

  // Opened again, the agent shows its newest rows; "Load earlier" brings the rest back, joined as they were.
  await page.getByRole("button", { name: "‹ Agents" }).click();
  await page.locator("li[data-agent-id] button").first().click();
  await page.locator('.timeline[data-sync="live"] > li').first().waitFor({ timeout });
  const earlier = page.getByRole("button", { name: "Load earlier" });
  let pages = 0;
  while ((await earlier.count()) > 0) {
    await earlier.click();
    await page.waitForFunction(() => !document.querySelector("button.earlier:disabled"), null, { timeout });
    pages++;
  }
  say("scrolled-back", { pages, text: await page.locator(".row-assistant").last().innerText(), rows: await page.locator(".row-assistant").count() });
}

async function direct() {
  const pair = async (password) => {
    const page = await phone();
    await page.goto(url);
    await page.getByLabel("Pairing link or daemon address").fill(new URL(url).host);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Pair" }).click();
    return page;
  };
  const wrong = await pair("not-the-password");
  const refusal = wrong.locator('[data-state="failed"]');
  await refusal.waitFor({ timeout });
  say("wrong-password", { message: await refusal.innerText() });
  const right = await pair(cwd); // (for `direct`, the 3rd argument is the password)
  await right.locator('[data-state="online"]').waitFor({ timeout });
  await right.getByRole("heading", { name: "Agents" }).waitFor({ timeout });
  say("right-password", { state: await right.locator("[data-state]").innerText() });
}

const strays = (page) => page.evaluate(() => globalThis.__paseoStrayReplies ?? 0);

async function twoPhones() {
  const [a, b] = [await phone(), await phone()];
  await a.goto(url);
  await b.goto(url);
  await a.locator('[data-state="online"]').waitFor({ timeout });
  await b.locator('[data-state="online"]').waitFor({ timeout });
  // A creates an agent; B's list shows it without asking (agent_update), and B drives it: A sees B's turn stream live.
  await create(a, "from phone A");
  await a.locator(".row-assistant", { hasText: "Mock reply to: from phone A" }).waitFor({ timeout });
  const row = b.locator("li[data-agent-id]");
  await row.first().waitFor({ timeout });
  say("b-sees-a", { agents: await row.count() });
  // A's next turn, live in B's list: running while it hangs, settled once A cancels it.
  await send(a, "[hang]");
  const status = row.first().locator(".status");
  await row.first().locator(".status-running").waitFor({ timeout });
  const running = await status.innerText();
  await a.getByRole("button", { name: "Cancel" }).click();
  await row.first().locator(".status:not(.status-running)").waitFor({ timeout });
  say("b-sees-a-live", { running, settled: await status.innerText() });
  await row.first().getByRole("button").click();
  await send(b, "from phone B");
  await a.locator(".row-user", { hasText: "from phone B" }).waitFor({ timeout });
  await a.locator(".row-assistant", { hasText: "Mock reply to: from phone B" }).waitFor({ timeout });
  await b.locator(".row-assistant", { hasText: "Mock reply to: from phone B" }).waitFor({ timeout });
  say("a-sees-b", { rows: await a.locator(".timeline > li").count() });
  say("strays", { a: await strays(a), b: await strays(b) });
}

async function refused() {
  const page = await phone();
  await page.goto(url);
  const alert = page.locator('[role="alert"], [data-state="reconnecting"]', { hasText: /pair again|does not answer|damaged|not 32 bytes|not version|no relay/ });
  await alert.first().waitFor({ timeout: 60_000 });
  if (cwd) await page.screenshot({ path: `${cwd}/web-pair.png` }); // (for `refused`, the 3rd argument is a screenshots folder)
  say("refused", { message: await alert.first().innerText(), online: await page.locator('[data-state="online"]').count() });
}

async function drive() {
  const page = await phone();
  const shot = async (name) => shots && (await page.screenshot({ path: `${shots}/web-${name}.png` }));

  await page.goto(url);
  await page.locator('[data-state="online"]').waitFor({ timeout });
  say("online", { address: page.url() });
  await shot("agents");

  // A new mock agent: provider, directory, first message.
  await page.getByRole("button", { name: "New agent" }).click();
  await page.getByLabel("Provider").selectOption("mock");
  await page.getByLabel("Working directory").fill(cwd);
  await page.getByLabel("First message").fill("hello from the phone");
  await shot("new-agent");
  await page.getByRole("button", { name: "Create" }).click();
  await page.locator(".row-assistant", { hasText: "Mock reply to: hello from the phone" }).waitFor({ timeout });
  say("streamed", { text: await page.locator(".row-assistant").last().innerText() });

  // An image attached to a message: named on the composer, sent with it, taken by the daemon.
  const png = join(tmpdir(), `paseo-web-${process.pid}.png`);
  writeFileSync(png, Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64"));
  await page.getByLabel("Attach images").setInputFiles(png);
  const chip = await page.locator('[data-testid="attached"]').innerText();
  await send(page, "with a picture");
  await page.locator(".row-assistant", { hasText: "Mock reply to: with a picture" }).waitFor({ timeout });
  say("image", { chip, errors: await page.locator('main [role="alert"]').count() });
  rmSync(png);

  // A permission: the prompt appears, Allow lets the tool run.
  await page.getByLabel("Message").fill("[permission make test] then reply");
  await page.getByRole("button", { name: "Send" }).click();
  const dialog = page.getByRole("alertdialog");
  await dialog.waitFor({ timeout });
  await shot("permission");
  const title = await dialog.locator("strong").innerText();
  const detail = await dialog.locator("pre").first().innerText();
  await dialog.getByRole("button", { name: "Allow" }).click();
  await page.locator(".row-tool", { hasText: "$ make test" }).locator("summary", { hasText: "completed" }).waitFor({ timeout });
  say("permission", { title, detail });

  // Cancel a turn that would not end by itself.
  await page.getByLabel("Message").fill("[hang]");
  await page.getByRole("button", { name: "Send" }).click();
  await page.locator('[data-testid="agent-status"]', { hasText: "running" }).waitFor({ timeout });
  await page.getByRole("button", { name: "Cancel" }).click();
  await page.locator('[data-testid="agent-status"]', { hasText: "idle" }).waitFor({ timeout });
  say("canceled");

  // Switch the mode.
  await page.getByLabel("Mode").selectOption("bypassPermissions");
  await page.waitForFunction(() => document.querySelector('select[aria-label="Mode"]')?.value === "bypassPermissions", null, { timeout });
  await page.getByLabel("Message").fill("[permission ls] again");
  await page.getByRole("button", { name: "Send" }).click();
  await page.locator(".row-tool", { hasText: "$ ls" }).locator("summary", { hasText: "completed" }).waitFor({ timeout });
  say("mode", { mode: await page.getByLabel("Mode").inputValue(), asked: await page.getByRole("alertdialog").count() });
  await shot("agent");

  // Back to the list: the agent is there, live.
  await page.getByRole("button", { name: "‹ Agents" }).click();
  await page.locator("li[data-agent-id]").first().waitFor({ timeout });
  say("listed", { agents: await page.locator("li[data-agent-id]").count() });
}

try {
  if (scenario === "drive") await drive();
  else if (scenario === "two-phones") await twoPhones();
  else if (scenario === "refused") await refused();
  else if (scenario === "restart") await restart();
  else if (scenario === "direct") await direct();
  else throw new Error(`unknown scenario ${scenario}`);
  say("errors", { errors });
} catch (e) {
  say("failed", { error: String(e), errors });
  process.exitCode = 1;
} finally {
  await browser.close();
}
