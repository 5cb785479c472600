// A phone in Debian's Chromium (390×844, touch): opens a pairing link of the web client, then drives a mock agent
// through every screen. Prints one JSON line per checkpoint ({step, ok, ...}); the .NET test asserts them.
//   node web-phone.mjs <pairing url> <agent cwd> [screenshots dir]
// CHROMIUM_PATH: the browser binary (default /usr/lib/chromium/chromium).
import { chromium } from "playwright-core";

const [url, cwd, shots] = process.argv.slice(2);
const say = (step, extra = {}) => console.log(JSON.stringify({ step, ...extra }));
const timeout = 20_000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/lib/chromium/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const errors = [];
try {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
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

  // A permission: the prompt appears, Allow lets the tool run.
  await page.getByLabel("Message").fill("[permission make test] then reply");
  await page.getByRole("button", { name: "Send" }).click();
  const dialog = page.getByRole("alertdialog");
  await dialog.waitFor({ timeout });
  await shot("permission");
  const title = await dialog.locator("strong").innerText();
  await dialog.getByRole("button", { name: "Allow" }).click();
  await page.locator(".row-tool", { hasText: "$ make test" }).locator("summary", { hasText: "completed" }).waitFor({ timeout });
  say("permission", { title });

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
  say("errors", { errors });
} catch (e) {
  say("failed", { error: String(e), errors });
  process.exitCode = 1;
} finally {
  await browser.close();
}
