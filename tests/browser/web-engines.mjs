// The web client in the two other browser engines, as Debian packages them: Firefox (firefox-esr, driven over WebDriver
// BiDi by puppeteer-core: no browser download) and WebKit, Safari's engine (WebKitGTK's MiniBrowser, driven by
// WebKitWebDriver through selenium-webdriver; it needs a display, so the test runs this under xvfb-run).
// Prints one JSON line per checkpoint ({step, ...}); the .NET test asserts them.
//   node web-engines.mjs firefox|webkit <pairing url> <agent cwd>
// The flow: pair from the link, create a mock agent and see its reply, answer a permission, then open the page again
// without the link: the pairing was kept (IndexedDB) and the agent is listed.
// FIREFOX_PATH (default /usr/bin/firefox-esr), WEBKIT_BROWSER (default: MiniBrowser of libwebkit2gtk-4.1).
import { spawn } from "node:child_process";
import { createServer } from "node:net";

const [engine, url, cwd] = process.argv.slice(2);
const say = (step, extra = {}) => console.log(JSON.stringify({ step, ...extra }));
const timeout = 20_000;

/** A page in either engine, reached by XPath: the same flow runs on both. */
async function firefox() {
  const { default: puppeteer } = await import("puppeteer-core");
  const browser = await puppeteer.launch({ browser: "firefox", executablePath: process.env.FIREFOX_PATH || "/usr/bin/firefox-esr", headless: true });
  const page = await browser.newPage();
  await page.setViewport({ width: 390, height: 844 });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  const find = (xpath) => page.waitForSelector(`::-p-xpath(${xpath})`, { timeout });
  return {
    version: () => browser.version(),
    goto: (address) => page.goto(address),
    waitFor: find,
    click: async (xpath) => (await find(xpath)).click(),
    type: async (xpath, text) => (await find(xpath)).type(text),
    select: async (xpath, value) => (await find(xpath)).select(value),
    text: async (xpath) => (await find(xpath)).evaluate((e) => e.innerText),
    errors: () => errors,
    close: () => browser.close(),
  };
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

async function webkit() {
  const { Builder, By, Capabilities, until } = await import("selenium-webdriver");
  const port = await freePort();
  const driverProcess = spawn("WebKitWebDriver", [`--port=${port}`, "--host=127.0.0.1"], { stdio: ["ignore", "ignore", "inherit"] });
  const server = `http://127.0.0.1:${port}`;
  // The driver is up when its status endpoint answers (probed, at most the timeout).
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      if ((await fetch(`${server}/status`)).ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error("WebKitWebDriver did not answer");
    await new Promise((r) => setTimeout(r, 50));
  }
  const caps = new Capabilities();
  caps.set("browserName", "MiniBrowser");
  caps.set("webkitgtk:browserOptions", {
    binary: process.env.WEBKIT_BROWSER || "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser",
    args: ["--automation"],
  });
  const driver = await new Builder().usingServer(server).withCapabilities(caps).build();
  await driver.manage().window().setRect({ width: 390, height: 844 });
  const find = async (xpath) => {
    const element = await driver.wait(until.elementLocated(By.xpath(xpath)), timeout, `no ${xpath}`);
    await driver.wait(until.elementIsVisible(element), timeout, `${xpath} is not shown`);
    return element;
  };
  return {
    version: async () => (await driver.getCapabilities()).get("browserVersion"),
    // Errors are recorded from the page's own error events, set up once the page is loaded (WebDriver classic has no log).
    goto: async (address) => {
      await driver.get(address);
      await driver.executeScript(`
        window.__errors = [];
        addEventListener("error", (e) => window.__errors.push(String(e.message)));
        addEventListener("unhandledrejection", (e) => window.__errors.push(String(e.reason)));`);
    },
    waitFor: find,
    click: async (xpath) => (await find(xpath)).click(),
    type: async (xpath, text) => (await find(xpath)).sendKeys(text),
    // (as Playwright's selectOption does it: the value, then the input and change events)
    select: async (xpath, value) =>
      driver.executeScript(
        `const s = arguments[0]; s.value = arguments[1]; s.dispatchEvent(new Event("input", { bubbles: true })); s.dispatchEvent(new Event("change", { bubbles: true }));`,
        await find(xpath),
        value,
      ),
    // (the page's innerText, as in Firefox: WebKitWebDriver's own getText leaves out some of a button's rows)
    text: async (xpath) => driver.executeScript("return arguments[0].innerText", await find(xpath)),
    errors: () => driver.executeScript("return window.__errors ?? []"),
    close: async () => {
      try {
        await driver.quit();
      } finally {
        driverProcess.kill();
      }
    },
  };
}

const label = (name) => `//*[@aria-label="${name}"]`;
const button = (name) => `//button[normalize-space()="${name}"]`;
const online = `//*[@data-state="online"]`;

async function run(page) {
  say("engine", { engine, version: await page.version() });
  await page.goto(url);
  await page.waitFor(online);
  say("online");

  await page.click(button("New agent"));
  await page.select(label("Provider"), "mock");
  await page.type(label("Working directory"), cwd);
  await page.type(label("First message"), `hello from ${engine}`);
  await page.click(button("Create"));
  say("streamed", { text: await page.text(`//li[contains(@class,"row-assistant")][contains(., "Mock reply to: hello from ${engine}")]`) });

  await page.type(label("Message"), "[permission make test] then reply");
  await page.click(button("Send"));
  const dialog = `//*[@role="alertdialog"]`;
  const title = await page.text(`${dialog}//strong`);
  await page.click(`${dialog}${button("Allow")}`);
  await page.waitFor(`//li[contains(@class,"row-tool")][contains(., "$ make test")]//summary[contains(., "completed")]`);
  say("permission", { title });

  // Opened again without the link: the saved pairing (IndexedDB) connects, and the agent is listed.
  await page.goto(new URL("/", url).href);
  await page.waitFor(online);
  say("reopened", { agent: await page.text(`//li[@data-agent-id]`) });
  say("errors", { errors: await page.errors() });
}

const page = engine === "firefox" ? await firefox() : engine === "webkit" ? await webkit() : null;
if (!page) {
  say("failed", { error: `unknown engine ${engine}` });
  process.exit(1);
}
try {
  await run(page);
} catch (e) {
  say("failed", { error: String(e) });
  process.exitCode = 1;
} finally {
  await page.close();
}
