// Windmill's official TypeScript client, unchanged, against millrun serve:
// the proof that callers written for Windmill work here.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as wmill from "windmill-client";
// getResult and getResultMaybe are exported only on the default object.
import wmillDefault from "windmill-client";

const base = process.env.BASE_URL;
const token = process.env.WM_TOKEN;
const ws = process.env.WM_WORKSPACE;
const uuidRE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function api(method, path, body) {
  const res = await fetch(`${base}/api${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

const hashes = {};
before(async () => {
  wmill.setClient(token, base);
  const scripts = {
    "u/compat/add": ["python3", "def main(a: int, b: int = 1):\n    print('adding')\n    return a + b\n"],
    "u/compat/greet": ["bun", "export async function main(name: string) {\n  return `hello ${name}`;\n}\n"],
    "u/compat/fail": ["python3", "def main():\n    raise ValueError('bad input')\n"],
    "u/compat/slow": ["bash", "sleep 30\n"],
    "u/compat/shaped": ["python3", "def main():\n    return {'windmill_status_code': 202, 'windmill_headers': {'X-From': 'script'}, 'result': {'accepted': True}}\n"],
  };
  for (const [path, [language, content]] of Object.entries(scripts)) {
    const r = await api("POST", `/w/${ws}/scripts/create`, { path, language, content, summary: path });
    assert.equal(r.status, 201, `create ${path}: ${r.text}`);
    hashes[path] = r.text;
  }
});

test("runScriptByPathAsync returns a job id that waitJob resolves", async () => {
  const id = await wmill.runScriptByPathAsync("u/compat/add", { a: 40, b: 2 });
  assert.match(id, uuidRE);
  assert.equal(await wmill.waitJob(id), 42);
});

test("runScriptByHashAsync runs the pinned version after the path moves on", async () => {
  const oldHash = hashes["u/compat/greet"];
  const r = await api("POST", `/w/${ws}/scripts/create`, {
    path: "u/compat/greet", language: "bun", parent_hash: oldHash,
    content: "export async function main(name: string) {\n  return `bye ${name}`;\n}\n",
  });
  assert.equal(r.status, 201);
  const pinned = await wmill.runScriptByHashAsync(oldHash, { name: "ann" });
  assert.equal(await wmill.waitJob(pinned), "hello ann");
  const latest = await wmill.runScriptByPathAsync("u/compat/greet", { name: "ann" });
  assert.equal(await wmill.waitJob(latest), "bye ann");
});

test("runFlowAsync and waitJob run a flow", async () => {
  const r = await api("POST", `/w/${ws}/flows/create`, {
    path: "u/compat/flow",
    summary: "two steps",
    value: {
      modules: [
        { id: "a", value: { type: "script", path: "u/compat/add", input_transforms: { a: { type: "javascript", expr: "flow_input.n" }, b: { type: "static", value: 10 } } } },
        { id: "b", value: { type: "rawscript", language: "bun", content: "export async function main(x: number) { return x * 2 }", input_transforms: { x: { type: "javascript", expr: "results.a" } } } },
      ],
    },
  });
  assert.equal(r.status, 201, r.text);
  const id = await wmill.runFlowAsync("u/compat/flow", { n: 1 });
  assert.match(id, uuidRE);
  assert.equal(await wmill.waitJob(id), 22);
});

test("runScriptByPath waits and returns the result", async () => {
  assert.equal(await wmill.runScriptByPath("u/compat/add", { a: 1 }), 2);
});

test("a failing script rejects with the script's error", async () => {
  await assert.rejects(wmill.runScriptByPath("u/compat/fail", {}), (e) => {
    assert.match(e.message, /was not successful/);
    assert.match(e.message, /ValueError/);
    assert.match(e.message, /bad input/);
    return true;
  });
});

test("getResult and getResultMaybe read a finished job", async () => {
  const id = await wmill.runScriptByPathAsync("u/compat/add", { a: 5, b: 5 });
  await wmill.waitJob(id);
  assert.equal(await wmillDefault.getResult(id), 10);
  const maybe = await wmillDefault.getResultMaybe(id);
  assert.deepEqual(maybe, { started: true, success: true, completed: true, result: 10 });
});

test("getResultMaybe of an unknown job says not completed", async () => {
  const maybe = await wmillDefault.getResultMaybe("00000000-0000-4000-8000-000000000000");
  assert.deepEqual(maybe, { started: null, success: null, completed: false, result: null });
});

test("cancelJob stops a running job", async () => {
  const id = await wmill.runScriptByPathAsync("u/compat/slow", {});
  await new Promise((r) => setTimeout(r, 300));
  const answer = await wmill.cancelJob(id, "compat test");
  assert.equal(answer, id);
  await assert.rejects(wmill.waitJob(id), /was not successful/);
  const job = JSON.parse((await api("GET", `/w/${ws}/jobs_u/get/${id}`)).text);
  assert.equal(job.type, "CompletedJob");
  assert.equal(job.canceled, true);
  assert.equal(job.canceled_reason, "compat test");
});

test("documented curl calls: header token, ?token= and GET with payload", async () => {
  const post = await fetch(`${base}/api/w/${ws}/jobs/run_wait_result/p/u/compat/add?token=${token}`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ a: 2, b: 3 }),
  });
  assert.equal(post.status, 200);
  assert.equal(await post.text(), "5");
  const payload = encodeURIComponent(btoa(JSON.stringify({ a: 7 })));
  const get = await fetch(`${base}/api/w/${ws}/jobs/run_wait_result/p/u/compat/add?payload=${payload}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  assert.equal(get.status, 200);
  assert.equal(await get.text(), "8");
});

test("result shaping sets status and headers", async () => {
  const r = await api("POST", `/w/${ws}/jobs/run_wait_result/p/u/compat/shaped`, {});
  assert.equal(r.status, 202);
  assert.equal(r.headers.get("x-from"), "script");
  assert.deepEqual(JSON.parse(r.text), { accepted: true });
});

test("getResource reads a resource's value; the management view masks it", async () => {
  const r = await api("POST", `/w/${ws}/resources/create`, { path: "u/compat/bot", resource_type: "slack", value: { token: "xoxb-compat-123456", channel: "#ops" } });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(await wmill.getResource("u/compat/bot"), { token: "xoxb-compat-123456", channel: "#ops" });
  const masked = await api("GET", `/w/${ws}/resources/get/u/compat/bot`);
  assert.ok(!masked.text.includes("xoxb-compat-123456"), "the management view shows the secret");
});

test("setVariable creates and updates a variable; getVariable reads it; list and get keep a secret's value out", async () => {
  await wmill.setVariable("u/compat/bot_token", "xoxb-var-111", true, "the bot's token");
  assert.equal(await wmill.getVariable("u/compat/bot_token"), "xoxb-var-111");
  await wmill.setVariable("u/compat/bot_token", "xoxb-var-222");
  assert.equal(await wmill.getVariable("u/compat/bot_token"), "xoxb-var-222");
  const list = await api("GET", `/w/${ws}/variables/list`);
  assert.equal(list.status, 200);
  assert.ok(list.text.includes("u/compat/bot_token") && !list.text.includes("xoxb-var-222"), `list shows the secret: ${list.text}`);
  const one = await api("GET", `/w/${ws}/variables/get/u/compat/bot_token`);
  assert.equal(JSON.parse(one.text).value, null);
  await assert.rejects(wmill.getVariable("u/compat/nope"), /Variable not found at u\/compat\/nope/);
});

test("setResource, setState and getState keep any JSON value; getRootJobId names a job's root", async () => {
  // Not "settings": wmill sync reads any <path>/settings.<ext> as the
  // workspace settings file, and the sync tests share this millrun.
  await wmill.setResource({ n: 1 }, "u/compat/prefs", "any");
  assert.deepEqual(await wmill.getResource("u/compat/prefs"), { n: 1 });
  await wmill.setResource([1, 2], "u/compat/prefs");
  assert.deepEqual(await wmill.getResource("u/compat/prefs"), [1, 2]);
  process.env.WM_STATE_PATH_NEW = "u/compat/counter/user";
  try {
    assert.equal(await wmill.getState(), undefined);
    await wmill.setState(1);
    await wmill.setState((await wmill.getState()) + 1);
    assert.equal(await wmill.getState(), 2);
  } finally {
    delete process.env.WM_STATE_PATH_NEW;
  }
  const id = await wmill.runScriptByPathAsync("u/compat/add", { a: 1 });
  assert.equal(await wmill.getRootJobId(id), id);
});

test("existsScriptByPath, whoami and existsWorkspace answer as Windmill's", async () => {
  assert.equal(await wmill.ScriptService.existsScriptByPath({ workspace: ws, path: "u/compat/add" }), true);
  assert.equal(await wmill.ScriptService.existsScriptByPath({ workspace: ws, path: "u/compat/nope" }), false);
  const me = await wmill.UserService.globalWhoami();
  assert.equal(me.super_admin, true);
  assert.equal((await wmill.UserService.whoami({ workspace: ws })).is_admin, true);
  assert.equal(await wmill.WorkspaceService.existsWorkspace({ requestBody: { id: ws } }), true);
});

test("HttpTriggerService and ResourceService create a signed route that answers", async () => {
  const crypto = await import("node:crypto");
  await wmill.ResourceService.createResource({ workspace: ws, requestBody: {
    path: "u/compat/gh_secret", resource_type: "signature_auth", value: { provider: "github", secret: "compat-secret" } } });
  await wmill.HttpTriggerService.createHttpTrigger({ workspace: ws, requestBody: {
    path: "u/compat/gh_route", script_path: "u/compat/greet", is_flow: false, route_path: "compat/:name", http_method: "post",
    request_type: "sync", authentication_method: "signature", authentication_resource_path: "u/compat/gh_secret",
    is_static_website: false, workspaced_route: false, wrap_body: false, raw_string: false } });
  const got = await wmill.HttpTriggerService.getHttpTrigger({ workspace: ws, path: "u/compat/gh_route" });
  assert.equal(got.route_path, "compat/:name");
  assert.equal(got.request_type, "sync");
  const list = await wmill.HttpTriggerService.listHttpTriggers({ workspace: ws });
  assert.ok(list.some((t) => t.path === "u/compat/gh_route"));

  const body = JSON.stringify({ ignored: true });
  const sig = "sha256=" + crypto.createHmac("sha256", "compat-secret").update(body).digest("hex");
  const res = await fetch(`${base}/api/r/compat/route`, { method: "POST", body, headers: { "Content-Type": "application/json", "X-Hub-Signature-256": sig } });
  assert.equal(res.status, 200);
  // Routes run the latest version: an earlier test moved greet to "bye".
  assert.equal(await res.json(), "bye route", "the :name segment is an argument");
  const forged = await fetch(`${base}/api/r/compat/route`, { method: "POST", body, headers: { "Content-Type": "application/json", "X-Hub-Signature-256": "sha256=00" } });
  assert.equal(forged.status, 401);

  await wmill.HttpTriggerService.deleteHttpTrigger({ workspace: ws, path: "u/compat/gh_route" });
  assert.equal((await fetch(`${base}/api/r/compat/route`, { method: "POST", body })).status, 404);
});

test("ScheduleService creates, previews, lists, disables and deletes a schedule that runs", async () => {
  const preview = await wmill.ScheduleService.previewSchedule({ requestBody: { schedule: "0 0 8 * * 1-5", timezone: "Europe/Paris" } });
  assert.equal(preview.length, 10);
  assert.ok(preview.every((t) => new Date(t).getUTCMinutes() === 0), "each preview is on the hour");
  await wmill.ScheduleService.createSchedule({ workspace: ws, requestBody: {
    path: "u/compat/every_second", schedule: "* * * * * *", timezone: "UTC", script_path: "u/compat/add", is_flow: false, args: { a: 1, b: 2 },
  } });
  assert.equal(await wmill.ScheduleService.existsSchedule({ workspace: ws, path: "u/compat/every_second" }), true);
  const got = await wmill.ScheduleService.getSchedule({ workspace: ws, path: "u/compat/every_second" });
  assert.equal(got.schedule, "* * * * * *");
  assert.deepEqual(got.args, { a: 1, b: 2 });
  const listed = await wmill.ScheduleService.listSchedules({ workspace: ws });
  assert.ok(listed.some((s) => s.path === "u/compat/every_second" && s.enabled));
  let runs = [];
  for (let i = 0; i < 60 && runs.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    runs = JSON.parse((await api("GET", `/w/${ws}/jobs/completed/list?schedule_path=u/compat/every_second`)).text);
  }
  assert.ok(runs.length > 0, "the schedule ran");
  assert.equal(await wmillDefault.getResult(runs[0].id), 3);
  await wmill.ScheduleService.setScheduleEnabled({ workspace: ws, path: "u/compat/every_second", requestBody: { enabled: false } });
  assert.equal((await wmill.ScheduleService.getSchedule({ workspace: ws, path: "u/compat/every_second" })).enabled, false);
  await wmill.ScheduleService.deleteSchedule({ workspace: ws, path: "u/compat/every_second" });
  assert.equal(await wmill.ScheduleService.existsSchedule({ workspace: ws, path: "u/compat/every_second" }), false);
});

test("JobService.getJob reads a queued job and the same job completed, in Windmill's shapes", async () => {
  const id = await wmill.runScriptByPathAsync("u/compat/slow", {});
  const queued = await wmill.JobService.getJob({ workspace: ws, id });
  assert.equal(queued.type, "QueuedJob");
  assert.equal(queued.id, id);
  assert.equal(queued.script_path, "u/compat/slow");
  for (const field of ["is_flow_step", "tag", "visible_to_owner", "same_worker", "script_entrypoint_override"]) {
    assert.ok(field in queued, `a QueuedJob carries ${field}`);
  }
  await wmill.JobService.cancelQueuedJob({ workspace: ws, id, requestBody: { reason: "test" } });
  let done;
  for (let i = 0; i < 50; i++) {
    done = await wmill.JobService.getJob({ workspace: ws, id });
    if (done.type === "CompletedJob") break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(done.type, "CompletedJob");
  assert.equal(done.canceled, true);
  for (const field of ["result_columns", "is_flow_step", "is_skipped", "visible_to_owner", "tag", "success"]) {
    assert.ok(field in done, `a CompletedJob carries ${field}`);
  }
});
