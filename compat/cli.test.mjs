// Windmill's own CLI (wmill, pinned in package.json) against millrun serve:
// add the workspace, push a script from a folder, list and show it, run it
// with its logs streamed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const wmillBin = new URL("./node_modules/.bin/wmill", import.meta.url).pathname;
const base = process.env.BASE_URL;
const token = process.env.WM_TOKEN;

test("wmill: workspace add, script push, list, show and run", async () => {
  const home = await mkdtemp(join(tmpdir(), "wmill-home-"));
  const project = await mkdtemp(join(tmpdir(), "wmill-project-"));
  // The CLI keeps its workspaces under HOME: a fresh one for the test.
  const wmill = (...args) => run(wmillBin, args, { cwd: project, env: { ...process.env, HOME: home, NO_COLOR: "1", FORCE_COLOR: "0" }, timeout: 60000 });
  const added = await wmill("workspace", "add", "local", "local", base + "/", "--token", token);
  assert.match(added.stdout + added.stderr, /Added workspace local/);
  await mkdir(join(project, "u", "cli"), { recursive: true });
  await writeFile(join(project, "u", "cli", "hello.py"), 'def main(name: str = "world"):\n    print("hi from the cli")\n    return {"hello": name}\n');
  const pushed = await wmill("script", "push", "u/cli/hello.py");
  assert.match(pushed.stdout + pushed.stderr, /pushed/);
  const listed = await wmill("script", "list");
  assert.match(listed.stdout, /u\/cli\/hello/);
  const shown = await wmill("script", "show", "u/cli/hello");
  assert.match(shown.stdout, /print\("hi from the cli"\)/);
  const ran = await wmill("script", "run", "u/cli/hello", "-d", '{"name":"cli"}');
  assert.match(ran.stdout + ran.stderr, /hi from the cli/, "the logs are streamed");
  assert.match(ran.stdout, /"hello": "cli"/, "the result is printed");
  const jobs = await wmill("job", "list");
  assert.match(jobs.stdout, /u\/cli\/hello/, "job list shows the run");
  assert.match(jobs.stdout, /success/);
});

// wmill sync: push a folder with a script in each language, pull it into an
// empty folder (same files), edit and push back (the new version runs), and
// a secret variable plus a resource naming it round-trip without the secret
// in clear in any file but the one pulled with --plain-secrets, nor in
// millrun's database.
test("wmill sync pull and push round-trip scripts, a flow, a secret variable and a resource", async () => {
  const home = await mkdtemp(join(tmpdir(), "wmill-home-"));
  const first = await mkdtemp(join(tmpdir(), "wmill-sync-a-"));
  const second = await mkdtemp(join(tmpdir(), "wmill-sync-b-"));
  const env = { ...process.env, HOME: home, NO_COLOR: "1", FORCE_COLOR: "0" };
  const wmill = (cwd, ...args) => run(wmillBin, args, { cwd, env, timeout: 60000 });
  await wmill(first, "workspace", "add", "local", "local", base + "/", "--token", token);

  const secret = "xoxb-SYNC-SECRET-9731";
  const api = async (method, path, body) => {
    const r = await fetch(base + "/api/w/local" + path, {
      method, headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.status, text: await r.text() };
  };
  assert.equal((await api("POST", "/variables/create", { path: "u/sync/bot_token", value: secret, is_secret: true })).status, 201);
  assert.equal((await api("POST", "/resources/create", { path: "u/sync/slack", resource_type: "slack", value: { token: "$var:u/sync/bot_token" } })).status, 201);

  const files = {
    "u/sync/py.py": 'def main(n: int = 1):\n    print("py log line")\n    return {"py": n}\n',
    "u/sync/ts.ts": "export async function main(n: number = 2) {\n  return { ts: n };\n}\n",
    "u/sync/sh.sh": 'n="${1:-3}"\necho "sh $n"\n',
  };
  await mkdir(join(first, "u", "sync"), { recursive: true });
  for (const [p, content] of Object.entries(files)) await writeFile(join(first, p), content);
  for (const p of Object.keys(files)) await wmill(first, "script", "push", p);
  const listed = await wmill(first, "script", "list");
  for (const p of ["u/sync/py", "u/sync/ts", "u/sync/sh"]) assert.match(listed.stdout, new RegExp(p));
  assert.equal((await api("POST", "/flows/create", { path: "u/sync/chain", summary: "chain", value: { modules: [
    { id: "a", value: { type: "rawscript", language: "python3", content: "def main():\n    return 41\n", input_transforms: {} } },
  ] } })).status, 201);

  const pulled = await wmill(second, "sync", "pull", "--yes");
  assert.match(pulled.stdout + pulled.stderr, /changes applied locally/);
  for (const [p, content] of Object.entries(files)) {
    assert.equal(await readFile(join(second, p), "utf8"), content, `${p} pulled as pushed`);
  }
  const flowYaml = await readFile(join(second, "u/sync/chain.flow/flow.yaml"), "utf8");
  assert.match(flowYaml, /!inline a\.inline_script\.py/);
  assert.match(await readFile(join(second, "u/sync/chain.flow/a.inline_script.py"), "utf8"), /return 41/);
  assert.match(await readFile(join(second, "u/sync/slack.resource.yaml"), "utf8"), /\$var:u\/sync\/bot_token/);
  const varYaml = await readFile(join(second, "u/sync/bot_token.variable.yaml"), "utf8");
  assert.match(varYaml, /is_secret: true/);
  for (const f of await listFiles(second)) {
    assert.ok(!(await readFile(f, "utf8")).includes(secret), `${f} holds the secret in clear`);
  }

  // Nothing changed: push has nothing to do. Then an edit pushes a new version.
  const noop = await wmill(second, "sync", "push", "--yes");
  assert.match(noop.stdout + noop.stderr, /0 changes to apply/);
  await writeFile(join(second, "u/sync/py.py"), files["u/sync/py.py"].replace('{"py": n}', '{"py": n, "edited": True}'));
  await writeFile(join(second, "u/sync/chain.flow/a.inline_script.py"), "def main():\n    return 42\n");
  // A folder as a Windmill workspace's pull has it: its folder.meta and a script in it.
  await mkdir(join(second, "f", "shared"), { recursive: true });
  await writeFile(join(second, "f/shared/folder.meta.yaml"), "summary: Shared tools\ndisplay_name: shared\nowners: []\nextra_perms: {}\n");
  await writeFile(join(second, "f/shared/seven.py"), "def main():\n    return 7\n");
  // A library (no main) does not stop the push: it is saved, not runnable.
  await writeFile(join(second, "f/shared/helpers.py"), "def shout(s: str) -> str:\n    return s.upper()\n");
  const pushed = await wmill(second, "sync", "push", "--yes");
  assert.match(pushed.stdout + pushed.stderr, /Updating script u\/sync\/py/);
  assert.equal((await api("POST", "/jobs/run_wait_result/p/f/shared/seven", {})).text, "7");
  assert.equal(JSON.parse((await api("GET", "/scripts/get/p/f/shared/helpers")).text).no_main_func, true);
  const lib = await api("POST", "/jobs/run/p/f/shared/helpers", {});
  assert.deepEqual(lib, { status: 400, text: "Bad request: f/shared/helpers is a library: it has no main function" });
  assert.equal(JSON.parse((await api("GET", "/folders/get/shared")).text).summary, "Shared tools");
  const ran = await api("POST", "/jobs/run_wait_result/p/u/sync/py", {});
  assert.deepEqual(JSON.parse(ran.text), { py: 1, edited: true });
  assert.equal((await api("POST", "/jobs/run_wait_result/f/u/sync/chain", {})).text, "42");
  // The secret went back through push unchanged and still reads the same.
  const value = await api("GET", "/variables/get_value/u/sync/bot_token");
  assert.equal(JSON.parse(value.text), secret);
  const interpolated = await api("GET", "/resources/get_value_interpolated/u/sync/slack");
  assert.equal(JSON.parse(interpolated.text).token, secret);

  // Deleting the file archives the script, as Windmill's push does.
  await rm(join(second, "u/sync/sh.sh"));
  await rm(join(second, "u/sync/sh.script.yaml"));
  await wmill(second, "sync", "push", "--yes");
  assert.equal((await api("GET", "/scripts/get/p/u/sync/sh")).status, 404);

  // Schedules travel with --include-schedules, and push back.
  assert.equal((await api("POST", "/schedules/create", { path: "u/sync/morning", schedule: "0 0 8 * * 1-5", timezone: "Europe/Paris",
    script_path: "u/sync/py", args: { n: 5 }, missed: "run_once" })).status, 201);
  const withSchedules = await mkdtemp(join(tmpdir(), "wmill-sync-sched-"));
  await wmill(withSchedules, "sync", "pull", "--yes", "--include-schedules");
  const schedYaml = await readFile(join(withSchedules, "u/sync/morning.schedule.yaml"), "utf8");
  assert.match(schedYaml, /schedule: 0 0 8 \* \* 1-5/);
  assert.match(schedYaml, /timezone: Europe\/Paris/);
  await writeFile(join(withSchedules, "u/sync/morning.schedule.yaml"), schedYaml.replace("0 0 8 * * 1-5", "0 30 7 * * 1-5"));
  const schedPush = await wmill(withSchedules, "sync", "push", "--yes", "--include-schedules");
  assert.match(schedPush.stdout + schedPush.stderr, /Updating schedule u\/sync\/morning/);
  const morning = JSON.parse((await api("GET", "/schedules/get/u/sync/morning")).text);
  assert.equal(morning.schedule, "0 30 7 * * 1-5");
  assert.equal(morning.description_words, "every weekday (Monday to Friday) at 07:30 in Europe/Paris");
  assert.match((await wmill(withSchedules, "sync", "push", "--yes", "--include-schedules")).stdout, /0 changes to apply/);

  // --plain-secrets is the one way the value reaches a file.
  const plain = await mkdtemp(join(tmpdir(), "wmill-sync-plain-"));
  await wmill(plain, "sync", "pull", "--yes", "--plain-secrets");
  assert.match(await readFile(join(plain, "f/shared/folder.meta.yaml"), "utf8"), /summary: Shared tools/);
  assert.match(await readFile(join(plain, "u/sync/bot_token.variable.yaml"), "utf8"), new RegExp(secret));

  const data = process.env.MILLRUN_TEST_DATA;
  assert.ok(data, "compat/run.sh passes the data folder");
  for (const name of ["millrun.db", "millrun.db-wal"]) {
    const b = await readFile(join(data, name)).catch(() => Buffer.alloc(0));
    assert.ok(!b.includes(Buffer.from(secret)), `${name} holds the secret in clear`);
  }
});

async function listFiles(dir) {
  const out = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name === ".claude" || e.name === ".agents") continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...await listFiles(p));
    else out.push(p);
  }
  return out;
}

// A fresh wmill profile on this millrun, in a folder of its own.
async function profile(name) {
  const home = await mkdtemp(join(tmpdir(), "wmill-home-"));
  const dir = await mkdtemp(join(tmpdir(), `wmill-${name}-`));
  const env = { ...process.env, HOME: home, NO_COLOR: "1", FORCE_COLOR: "0" };
  // The exit code matters to these tests: a failing command rejects.
  const wmill = async (...args) => {
    const r = await run(wmillBin, args, { cwd: dir, env, timeout: 120000 });
    return { out: r.stdout, all: r.stdout + r.stderr };
  };
  await wmill("workspace", "add", "local", "local", base + "/", "--token", token);
  const api = async (method, path, body) => {
    const r = await fetch(base + "/api/w/local" + path, {
      method, headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.status, text: await r.text() };
  };
  return { dir, wmill, api };
}

async function waitDone(api, id) {
  for (let i = 0; i < 200; i++) {
    const r = JSON.parse((await api("GET", "/jobs_u/completed/get_result_maybe/" + id)).text);
    if (r.completed) return r;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`job ${id} did not finish`);
}

// What Windmill's own CLI tests check of `wmill job` (cli/test/
// job_commands.test.ts): list as JSON and as a table, filtered by script
// path; get, with --json; result; logs; cancel of a job that is not there.
test("wmill job list, get, result, logs and cancel", async () => {
  const { wmill, api } = await profile("jobs");
  const path = `f/clijobs/hello_${Date.now()}`;
  assert.equal((await api("POST", "/scripts/create", { path, language: "bun", summary: "s", description: "",
    content: 'export async function main() {\n  console.log("saying hello");\n  return "hello";\n}\n' })).status, 201);
  const id = (await api("POST", "/jobs/run/p/" + path, {})).text;
  await waitDone(api, id);

  const listed = JSON.parse((await wmill("job", "list", "--json")).out);
  assert.ok(listed.some((j) => j.id === id), "job list --json has the job");
  const table = (await wmill("job", "list")).out;
  for (const word of ["ID", "Status", id]) assert.ok(table.includes(word), `the table shows ${word}`);
  const filtered = JSON.parse((await wmill("job", "list", "--json", "--script-path", path)).out);
  assert.ok(filtered.length >= 1 && filtered.every((j) => j.script_path === path), "--script-path filters");
  const shown = (await wmill("job", "get", id)).out;
  for (const word of ["ID:", id, "Status:", "success"]) assert.ok(shown.includes(word), `job get shows ${word}`);
  const asJSON = JSON.parse((await wmill("job", "get", id, "--json")).out);
  assert.equal(asJSON.id, id);
  assert.equal(asJSON.success, true);
  assert.equal(JSON.parse((await wmill("job", "result", id)).out.trim()), "hello");
  assert.match((await wmill("job", "logs", id)).out, /saying hello/);
  assert.ok(Array.isArray(JSON.parse((await wmill("job", "--json")).out)), "wmill job lists jobs");
  const unknown = "0b5f7c1e-5d0e-4c1e-9a57-3a7d2b1c0f97";
  await assert.rejects(wmill("job", "cancel", unknown), (e) => /queued job id 0b5f7c1e-5d0e-4c1e-9a57-3a7d2b1c0f97 does not exist/.test(e.stdout + e.stderr));
});

// cli/test/preview.test.ts: a local script runs without being pushed,
// with its defaults; cli/test/list_get_new_commands.test.ts: every list
// takes --json, get prints the fields it names.
test("wmill script preview, and list and get of every kind", async () => {
  const { dir, wmill, api } = await profile("preview");
  await writeFile(join(dir, "wmill.yaml"), "defaultTs: bun\nincludes:\n  - f/**\nexcludes: []\n");
  await mkdir(join(dir, "f", "test"), { recursive: true });
  await writeFile(join(dir, "f/test/simple_script.ts"), "export function main(name: string = \"World\") {\n  return `Hello, ${name}!`;\n}\n");
  await writeFile(join(dir, "f/test/simple_script.script.yaml"), "summary: Test script\ndescription: ''\nlock: ''\nschema:\n  $schema: https://json-schema.org/draft/2020-12/schema\n  type: object\n  properties:\n    name:\n      type: string\n      default: World\n  required: []\n");
  assert.match((await wmill("script", "preview", "f/test/simple_script.ts")).all, /Hello, World!/);
  await writeFile(join(dir, "f/test/py_preview.py"), "def main(n: int = 1):\n    return n * 10\n");
  assert.match((await wmill("script", "preview", "f/test/py_preview.py", "-d", '{"n": 4}')).all, /40/);
  assert.equal((await api("GET", "/scripts/exists/p/f/test/simple_script")).text, "false", "a preview saves nothing");

  const path = `f/cliget/script_${Date.now()}`;
  await api("POST", "/folders/create", { name: "cliget" });
  assert.equal((await api("POST", "/scripts/create", { path, language: "bun", summary: "Test script summary", description: "d",
    content: 'export async function main() { return "hello"; }\n' })).status, 201);
  assert.equal((await api("POST", "/resources/create", { path: "f/cliget/my_resource", resource_type: "any", value: { test: "value" } })).status, 201);
  assert.equal((await api("POST", "/variables/create", { path: "f/cliget/my_variable", value: "v", is_secret: false, description: "" })).status, 201);
  for (const kind of ["script", "flow", "resource", "variable", "folder", "schedule", "resource-type", "trigger", "app"]) {
    assert.ok(Array.isArray(JSON.parse((await wmill(kind, "list", "--json")).out)), `${kind} list --json`);
  }
  assert.ok(JSON.parse((await wmill("script", "--json")).out).some((s) => s.path === path), "wmill script --json");
  const got = (await wmill("script", "get", path)).out;
  for (const word of ["Path:", path, "Summary:", "Language:", "bun"]) assert.ok(got.includes(word), `script get shows ${word}`);
  const js = JSON.parse((await wmill("script", "get", path, "--json")).out);
  assert.deepEqual([js.path, js.language, js.summary], [path, "bun", "Test script summary"]);
  assert.equal(JSON.parse((await wmill("resource", "get", "f/cliget/my_resource", "--json")).out).resource_type, "any");
  assert.match((await wmill("resource", "get", "f/cliget/my_resource")).out, /Resource Type:/);
  assert.equal(JSON.parse((await wmill("variable", "get", "f/cliget/my_variable", "--json")).out).path, "f/cliget/my_variable");
  assert.equal(JSON.parse((await wmill("folder", "get", "cliget", "--json")).out).name, "cliget");
  assert.match((await wmill("folder", "get", "cliget")).out, /Name:/);
});

// Resource types (wmill resource-type new, push, list, get) and groups
// (cli/test/group_commands.test.ts: list has "all", create, get, add-user,
// remove-user, delete).
test("wmill resource-type and group commands", async () => {
  const { dir, wmill } = await profile("rtgroups");
  const name = `c_cli_${Date.now()}`;
  await wmill("resource-type", "new", name);
  assert.match(await readFile(join(dir, `${name}.resource-type.yaml`), "utf8"), /schema/);
  await writeFile(join(dir, `${name}.resource-type.yaml`), "schema:\n  type: object\n  properties:\n    url:\n      type: string\ndescription: made by the CLI\n");
  await wmill("resource-type", "push", `${name}.resource-type.yaml`, name);
  assert.ok(JSON.parse((await wmill("resource-type", "list", "--json")).out).some((t) => t.name === name));
  const rt = JSON.parse((await wmill("resource-type", "get", name, "--json")).out);
  assert.deepEqual([rt.name, rt.description, rt.schema.properties.url.type], [name, "made by the CLI", "string"]);

  assert.ok(JSON.parse((await wmill("group", "list", "--json")).out).some((g) => g.name === "all"), "Windmill's group all");
  assert.match((await wmill("group", "list")).out, /Name[\s\S]*Summary[\s\S]*Members/);
  const group = `cli_test_${Date.now()}`;
  assert.match((await wmill("group", "create", group, "--summary", "CLI test group")).all, /created/);
  const shown = (await wmill("group", "get", group)).all;
  assert.ok(shown.includes(group) && shown.includes("CLI test group"), shown);
  assert.equal(JSON.parse((await wmill("group", "get", group, "--json")).out).name, group);
  assert.match((await wmill("group", "add-user", group, "ann")).all, /added/);
  assert.deepEqual(JSON.parse((await wmill("group", "get", group, "--json")).out).members, ["ann"]);
  assert.match((await wmill("group", "remove-user", group, "ann")).all, /removed/);
  assert.match((await wmill("group", "delete", group)).all, /deleted/);
});

// cli/test/local_script_dependencies.test.ts: generate-metadata makes the
// lock of scripts that import local scripts not pushed yet (TypeScript
// and Python), and of scripts without imports.
test("wmill generate-metadata locks scripts with local imports and without", async () => {
  const { dir, wmill } = await profile("genmeta");
  await writeFile(join(dir, "wmill.yaml"), "defaultTs: bun\nincludes:\n  - f/**\nexcludes: []\n");
  await mkdir(join(dir, "f", "utils"), { recursive: true });
  const yaml = (props) => `summary: s\ndescription: d\nschema:\n  $schema: https://json-schema.org/draft/2020-12/schema\n  type: object\n  properties: ${props}\nlock: ""\n`;
  await writeFile(join(dir, "f/utils/helpers.ts"), "export function greet(name: string): string {\n  return `Hello, ${name}!`;\n}\n");
  await writeFile(join(dir, "f/utils/helpers.script.yaml"), yaml("{}"));
  await writeFile(join(dir, "f/main.ts"), 'import { greet } from "./utils/helpers";\n\nexport async function main(name: string = "World") {\n  return greet(name);\n}\n');
  await writeFile(join(dir, "f/main.script.yaml"), yaml("{}"));
  await writeFile(join(dir, "f/utils/pyhelpers.py"), "def calculate(x: int, y: int) -> int:\n    return x + y\n");
  await writeFile(join(dir, "f/processor.py"), "from .utils.pyhelpers import calculate\n\ndef main(x: int = 5, y: int = 10):\n    return calculate(x, y)\n");
  await writeFile(join(dir, "f/simple.ts"), "export async function main(name: string = \"World\") {\n  return `Hello, ${name}!`;\n}\n");
  await wmill("generate-metadata", "--yes");
  for (const p of ["f/main.script.lock", "f/processor.script.lock", "f/simple.script.lock"]) {
    assert.ok((await readFile(join(dir, p), "utf8")).length > 0, `${p} written`);
  }
  assert.match(await readFile(join(dir, "f/processor.script.lock"), "utf8"), /^# py: 3\.\d+/);
  // A flow folder: each inline script gets its lock (flow_dependencies_async).
  await mkdir(join(dir, "f", "chain.flow"), { recursive: true });
  await writeFile(join(dir, "f/chain.flow/flow.yaml"), "summary: chain\ndescription: ''\nvalue:\n  modules:\n    - id: a\n      value:\n        type: rawscript\n        content: '!inline a.inline_script.py'\n        input_transforms: {}\n        language: python3\nschema:\n  $schema: https://json-schema.org/draft/2020-12/schema\n  type: object\n  properties: {}\n  required: []\n");
  await writeFile(join(dir, "f/chain.flow/a.inline_script.py"), "def main():\n    return 1\n");
  await wmill("generate-metadata", "--yes");
  assert.match(await readFile(join(dir, "f/chain.flow/a.inline_script.lock"), "utf8"), /^# py: 3\.\d+/);
  assert.match(await readFile(join(dir, "f/chain.flow/flow.yaml"), "utf8"), /lock: '!inline a\.inline_script\.lock'/);
  assert.match(await readFile(join(dir, "f/processor.script.yaml"), "utf8"), /x:[\s\S]*default: 5/, "the schema is inferred");
});

// cli/test: "script push skips an unchanged script and deploys a changed
// one" and "script runtime settings survive a sync pull/push cycle": every
// field the push body carries is kept, so an untouched script is up to
// date, and each field alone (labels, priority, delete_after_secs down to
// 0, the language from defaultTs) still counts as a change.
test("wmill script push is up to date only when every field matches, and runtime settings survive sync", async () => {
  const { dir, wmill, api } = await profile("uptodate");
  const path = `f/cliup/uptodate_${Date.now()}`;
  await api("POST", "/folders/create", { name: "cliup" });
  assert.equal((await api("POST", "/scripts/create", { path, content: 'export async function main() {\n  return "Hello world";\n}', summary: "Test up to date",
    description: "", language: "bun", kind: "script", labels: ["l1"], delete_after_secs: 900, cache_ignore_s3_path: true,
    schema: { $schema: "https://json-schema.org/draft/2020-12/schema", type: "object", properties: {}, required: [] } })).status, 201);
  const wmillYaml = (ts) => `defaultTs: ${ts}\nincludes:\n  - "${path}**"\nexcludes: []\n`;
  await writeFile(join(dir, "wmill.yaml"), wmillYaml("bun"));
  await wmill("sync", "pull", "--yes");
  const meta = join(dir, path + ".script.yaml");
  for (const key of ["delete_after_secs", "cache_ignore_s3_path", "labels"]) assert.match(await readFile(meta, "utf8"), new RegExp(key), `${key} pulled`);
  const get = async () => JSON.parse((await api("GET", "/scripts/get/p/" + path)).text);
  const push = async () => (await wmill("script", "push", path + ".ts")).all;
  const before = (await get()).hash;
  assert.match(await push(), /is up to date/);
  assert.equal((await get()).hash, before);

  await writeFile(meta, (await readFile(meta, "utf8")).replace("- l1", "- l2"));
  assert.doesNotMatch(await push(), /is up to date/);
  assert.deepEqual((await get()).labels, ["l2"]);
  await wmill("sync", "pull", "--yes");
  await writeFile(meta, (await readFile(meta, "utf8")) + "priority: 2\n");
  assert.doesNotMatch(await push(), /is up to date/);
  assert.equal((await get()).priority, 2);
  await wmill("sync", "pull", "--yes");
  assert.match(await push(), /is up to date/);

  // A content-only edit carries the settings to the new version; a
  // settings-only edit deploys (0 is a value, not unset).
  await writeFile(join(dir, path + ".ts"), 'export async function main() {\n  return "Hello world modified";\n}');
  await wmill("sync", "push", "--yes");
  let got = await get();
  assert.ok(got.content.includes("modified"));
  assert.deepEqual([got.delete_after_secs, got.cache_ignore_s3_path], [900, true]);
  await wmill("sync", "pull", "--yes");
  await writeFile(meta, (await readFile(meta, "utf8")).replace("delete_after_secs: 900", "delete_after_secs: 0"));
  await wmill("sync", "push", "--yes");
  assert.equal((await get()).delete_after_secs, 0);

  await writeFile(join(dir, "wmill.yaml"), wmillYaml("deno"));
  assert.doesNotMatch(await push(), /is up to date/);
  assert.equal((await get()).language, "deno");
});

// cli/test relative imports: a package an imported local script needs is
// in the importer's lock too (Python, from the loopback index), and a
// second run finds all metadata up to date.
test("wmill generate-metadata puts an imported script's packages in the importer's lock", async () => {
  const { dir, wmill } = await profile("relimports");
  await writeFile(join(dir, "wmill.yaml"), "includes: [\"**\"]\nexcludes: []\n");
  await mkdir(join(dir, "f", "relimp"), { recursive: true });
  const meta = "summary: \"Test\"\nschema:\n  type: object\n  properties: {}\nlock: \"\"\n";
  await writeFile(join(dir, "f/relimp/main.py"), "from f.relimp.helper import helper_func\n\ndef main():\n    return helper_func()\n");
  await writeFile(join(dir, "f/relimp/main.script.yaml"), meta);
  await writeFile(join(dir, "f/relimp/helper.py"), "import greeter\n\ndef helper_func():\n    return greeter.hello('x')\n");
  await writeFile(join(dir, "f/relimp/helper.script.yaml"), meta);
  await wmill("generate-metadata", "-i", "f/relimp/*", "--yes");
  assert.match(await readFile(join(dir, "f/relimp/helper.script.lock"), "utf8"), /greeter==1\.0/);
  assert.match(await readFile(join(dir, "f/relimp/main.script.lock"), "utf8"), /greeter==1\.0/);
  assert.match((await wmill("generate-metadata", "-i", "f/relimp/*", "--yes", "--dry-run")).out, /All metadata up-to-date/);
});

// cli/test/folder_missing_meta.test.ts: folder new, add-missing and push;
// a sync push of a folder without folder.meta.yaml warns and goes on.
test("wmill folder new, add-missing and push; a folder without folder.meta still pushes", async () => {
  const { dir, wmill, api } = await profile("folders");
  const name = `nometa${Date.now()}`;
  await writeFile(join(dir, "wmill.yaml"), "defaultTs: bun\nincludes:\n  - \"**\"\nexcludes: []\n");
  await mkdir(join(dir, "f", name), { recursive: true });
  await writeFile(join(dir, "f", name, "test_script.ts"), 'export async function main() { return "hello"; }');
  const pushed = (await wmill("sync", "push", "--yes", "--includes", `f/${name}/**`)).all;
  for (const word of ["Missing folder.meta.yaml", name, "wmill folder add-missing"]) assert.ok(pushed.includes(word), `the push says ${word}:\n${pushed}`);
  assert.equal((await api("POST", `/jobs/run_wait_result/p/f/${name}/test_script`, {})).text, '"hello"');

  const made = `newfolder${Date.now()}`;
  await wmill("folder", "new", made, "--summary", "My summary");
  const meta = await readFile(join(dir, "f", made, "folder.meta.yaml"), "utf8");
  assert.match(meta, /summary: My summary/);
  assert.match(meta, new RegExp(`display_name: ${made}`));
  assert.match((await wmill("folder", "add-missing", "-y")).all, new RegExp(name));
  assert.match(await readFile(join(dir, "f", name, "folder.meta.yaml"), "utf8"), new RegExp(`display_name: ${name}`));
  assert.match((await wmill("folder", "push", made)).all, /Folder pushed/);
  assert.equal(JSON.parse((await api("GET", `/folders/get/${made}`)).text).summary, "My summary");
  await assert.rejects(wmill("folder", "push", "nonexistent"));
});
