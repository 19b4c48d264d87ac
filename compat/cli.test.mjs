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
