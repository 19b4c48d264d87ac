// A Windmill workspace folder as people publish it (wmill sync's layout:
// <path>.py + .script.yaml + .script.lock pinning Python 3.12), with a
// library two scripts import (f.common.db and .sibling), packages from
// the index, `wmill`, TypeScript with windmill-client and Bash, is one
// `wmill sync push` away from running: every script answers through its
// webhook, and a pull gives the locks back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, mkdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const wmillBin = new URL("./node_modules/.bin/wmill", import.meta.url).pathname;
const base = process.env.BASE_URL;
const token = process.env.WM_TOKEN;

const schema = (props = {}) => `schema:
  $schema: 'https://json-schema.org/draft/2020-12/schema'
  type: object
  properties:${Object.keys(props).length ? "" : " {}"}
${Object.entries(props).map(([k, t]) => `    ${k}:\n      type: ${t}\n      description: ''\n      default: null\n`).join("")}  required: []
`;

const workspace = {
  // Other suites share this millrun: the push and pull keep to these folders.
  "wmill.yaml": "defaultTs: bun\nincludes:\n  - f/common/**\n  - f/reports/**\n  - f/bots/**\nexcludes: []\n",
  "f/common/folder.meta.yaml": "summary: shared code\ndisplay_name: common\nowners: []\nextra_perms: {}\n",
  "f/common/db.py": "# shared helpers, no main: a library\nimport greeter\n\n\ndef connect():\n    return {\"db\": greeter.hello(\"db\")}\n",
  "f/common/db.script.yaml": `summary: db helpers\ndescription: ''\nlock: '!inline f/common/db.script.lock'\nkind: script\nno_main_func: true\n${schema()}`,
  "f/common/db.script.lock": "# py: 3.12\ncolorword==1.0\ngreeter==1.0",
  "f/reports/folder.meta.yaml": "summary: reports\ndisplay_name: reports\nowners: []\nextra_perms: {}\n",
  "f/reports/daily.py": "import wmill\nimport greeter\nfrom f.common.db import connect\n\n\ndef main(who: str = \"team\"):\n    wmill.set_state({\"last\": who})\n    return {\"greeting\": greeter.hello(who), \"db\": connect()[\"db\"], \"state\": wmill.get_state()}\n",
  "f/reports/daily.script.yaml": `summary: daily report\ndescription: ''\nlock: '!inline f/reports/daily.script.lock'\nkind: script\n${schema({ who: "string" })}`,
  "f/reports/daily.script.lock": "# py: 3.12\ncolorword==2.0\ngreeter==1.0\nwmill==1.404.0",
  "f/reports/weekly.py": "from .daily import main as daily\n\n\ndef main():\n    return {\"weekly\": daily(\"week\")[\"greeting\"]}\n",
  "f/reports/weekly.script.yaml": `summary: weekly report\ndescription: ''\nlock: ''\nkind: script\n${schema()}`,
  "f/bots/folder.meta.yaml": "summary: bots\ndisplay_name: bots\nowners: []\nextra_perms: {}\n",
  "f/bots/notify.ts": "import * as wmill from \"windmill-client\";\n\nexport async function main(msg: string = \"hi\") {\n  const seen = ((await wmill.getState()) ?? 0) + 1;\n  await wmill.setState(seen);\n  return { sent: msg, seen, workspace: wmill.getWorkspace() };\n}\n",
  "f/bots/notify.script.yaml": `summary: notify\ndescription: ''\nlock: ''\nkind: script\n${schema({ msg: "string" })}`,
  "f/bots/ping.sh": "host=\"${1:-localhost}\"\necho \"pong $host\"\n",
  "f/bots/ping.script.yaml": `summary: ping\ndescription: ''\nlock: ''\nkind: script\n${schema({ host: "string" })}`,
};

test("a Windmill workspace folder pushes whole and every script runs through its webhook", async () => {
  const home = await mkdtemp(join(tmpdir(), "wmill-home-"));
  const folder = await mkdtemp(join(tmpdir(), "wmill-workspace-"));
  const env = { ...process.env, HOME: home, NO_COLOR: "1", FORCE_COLOR: "0" };
  const wmill = (cwd, ...args) => run(wmillBin, args, { cwd, env, timeout: 120000 });
  const api = async (method, path, body) => {
    const r = await fetch(base + "/api/w/local" + path, {
      method, headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.status, text: await r.text() };
  };
  for (const [p, content] of Object.entries(workspace)) {
    await mkdir(join(folder, dirname(p)), { recursive: true });
    await writeFile(join(folder, p), content);
  }
  await wmill(folder, "workspace", "add", "local", "local", base + "/", "--token", token);
  const pushed = await wmill(folder, "sync", "push", "--yes");
  assert.doesNotMatch(pushed.stdout + pushed.stderr, /error|failed/i, pushed.stdout + pushed.stderr);

  const call = async (path, body = {}) => {
    const r = await api("POST", "/jobs/run_wait_result/p/" + path, body);
    assert.equal(r.status, 200, `${path}: ${r.text}`);
    return JSON.parse(r.text);
  };
  assert.deepEqual(await call("f/reports/daily", { who: "ann" }),
    { greeting: "hello ann in blue", db: "hello db in blue", state: { last: "ann" } }, "the pushed lock pins colorword 2.0");
  assert.deepEqual(await call("f/reports/weekly"), { weekly: "hello week in blue" });
  const notified = await call("f/bots/notify", { msg: "deploy done" });
  assert.deepEqual(notified, { sent: "deploy done", seen: 1, workspace: "local" });
  assert.equal((await call("f/bots/notify", { msg: "again" })).seen, 2, "state kept between runs");
  assert.equal(await call("f/bots/ping", { host: "db1" }), "pong db1");
  const lib = await api("POST", "/jobs/run/p/f/common/db", {});
  assert.deepEqual(lib, { status: 400, text: "Bad request: f/common/db is a library: it has no main function" });

  // The logs say what ran: Python 3.12 asked for and which wmill.
  const jobs = JSON.parse((await api("GET", "/jobs/completed/list?script_path_exact=f/reports/daily&per_page=5")).text);
  const daily = JSON.parse((await api("GET", "/jobs_u/get/" + jobs[0].id)).text);
  assert.match(daily.logs, /3\.12/, "the log says which Python the lock asked for");
  assert.match(daily.logs, /built-in wmill/, "the log says which wmill ran");

  // A pull gives the pushed locks back as they were, and the one millrun
  // resolved for the script that came without.
  const pulled = await mkdtemp(join(tmpdir(), "wmill-workspace-pulled-"));
  await writeFile(join(pulled, "wmill.yaml"), workspace["wmill.yaml"]);
  await wmill(pulled, "workspace", "add", "local", "local", base + "/", "--token", token);
  await wmill(pulled, "sync", "pull", "--yes");
  for (const p of ["f/reports/daily.script.lock", "f/common/db.script.lock"]) {
    assert.equal(await readFile(join(pulled, p), "utf8"), workspace[p], `${p} pulled as pushed`);
  }
  for (const p of ["f/reports/daily.py", "f/reports/weekly.py", "f/bots/notify.ts", "f/bots/ping.sh", "f/common/db.py"]) {
    assert.equal(await readFile(join(pulled, p), "utf8"), workspace[p], `${p} pulled as pushed`);
  }
  assert.match(await readFile(join(pulled, "f/reports/weekly.script.lock"), "utf8"), /^# py: 3\.\d+\n(.*\n)*greeter==1\.0/m);
});
