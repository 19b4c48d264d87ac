// A Windmill workspace folder as people publish it (wmill sync's layout:
// <path>.py + .script.yaml + .script.lock pinning Python 3.12), with a
// library two scripts import (f.common.db and .sibling), packages from
// the index, `wmill`, TypeScript with windmill-client and Bash, is one
// `wmill sync push` away from running: every script answers through its
// webhook, and a pull gives the locks back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
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

// One of everything a Windmill workspace holds, as `wmill sync pull` writes
// it: scripts in Python (with envs, priority, tag, timeout and a schema
// with originalType), Bash, Bun, Deno and PostgreSQL (kept, not run), a
// library, a flow with its fields, a flow with a loop and a branch, a
// resource type and a resource of it, a secret variable, a schedule, an
// HTTP route, a websocket trigger (kept, no listener here), a folder,
// workspace settings, a user, a group, named workspace dependencies and the
// encryption key.
const schemaHead = "schema:\n  $schema: https://json-schema.org/draft/2020-12/schema\n  type: object\n";
const everything = {
  "wmill.yaml": "defaultTs: bun\nincludes:\n  - f/everything/**\nexcludes: []\nincludeSchedules: true\nincludeTriggers: true\nincludeUsers: true\nincludeGroups: true\nincludeSettings: true\nincludeKey: true\n",
  "c_everything_api.resource-type.yaml": "description: An API millrun calls\n" + schemaHead + "  properties:\n    base_url:\n      type: string\n      description: ''\n  required:\n    - base_url\n",
  "dependencies/extra.requirements.in": "requests==2.32.3\n",
  "encryption_key.yaml": "Yx3kQ9vLm2Np7Rt5Wz8Bc4Df6Gh1Jk0Ls3Qw9Er2Ty5Ui8Op1As4Dg7Fh0Jk3Lz6\n",
  "settings.yaml": "name: local\ncolor: '#336699'\nerror_handler:\n  extra_args:\n    name: failure\n  muted_on_cancel: false\n  path: f/everything/sh\nmute_critical_alerts: true\noperator_settings:\n  assets: true\n  audit_logs: false\n  folders: false\n  groups: false\n  resources: true\n  runs: true\n  schedules: false\n  triggers: true\n  variables: true\n  workers: false\nslack_oauth_client_id: null\nslack_oauth_client_secret: null\nsuccess_handler: null\n",
  "users/ann@example.com.user.yaml": "disabled: false\nrole: developer\nusername: ann\n",
  "groups/ops.group.yaml": "summary: on call\nadmins: []\nmembers:\n  - u/ann\n",
  "f/everything/folder.meta.yaml": "summary: One of everything\ndisplay_name: everything\nextra_perms: {}\nowners: []\n",
  "f/everything/api.resource.yaml": "description: the API\nvalue:\n  base_url: https://api.example.com\nresource_type: c_everything_api\n",
  "f/everything/token.variable.yaml": "account: null\ndescription: the API token\nvalue: s3cr3t-EVERYTHING\nexpires_at: null\nis_oauth: false\nis_secret: true\n",
  "f/everything/py.py": "import os\n\n\ndef main(n: int = 2, who: str = \"ann\"):\n    return {\"n\": n * 2, \"who\": who, \"region\": os.environ.get(\"REGION\")}\n",
  "f/everything/py.script.lock": "# py: 3.12",
  "f/everything/py.script.yaml": "summary: python\ndescription: doubles n\nlock: '!inline f/everything/py.script.lock'\nenvs:\n  - REGION=eu-west\nkind: script\npriority: 3\n" + schemaHead +
    "  properties:\n    n:\n      type: integer\n      description: ''\n      default: 2\n      originalType: int\n    who:\n      type: string\n      description: ''\n      default: ann\n      originalType: str\n  required: []\ntag: local\ntimeout: 60\n",
  "f/everything/sh.sh": "name=\"${1:-world}\"\necho \"hello $name\"\n",
  "f/everything/sh.script.yaml": "summary: bash\ndescription: ''\nlock: ''\nkind: script\n" + schemaHead + "  properties:\n    name:\n      type: string\n      description: ''\n      default: world\n  required: []\n",
  "f/everything/bun.ts": "export async function main(a: number = 1, b: number = 2) {\n  return { sum: a + b };\n}\n",
  "f/everything/bun.script.lock": "{\n  \"dependencies\": {}\n}\n//bun.lock\n<empty>",
  "f/everything/bun.script.yaml": "summary: bun\ndescription: ''\nlock: '!inline f/everything/bun.script.lock'\nkind: script\n" + schemaHead +
    "  properties:\n    a:\n      type: number\n      description: ''\n      default: 1\n    b:\n      type: number\n      description: ''\n      default: 2\n  required: []\n",
  "f/everything/deno.deno.ts": "export async function main(word: string = \"deno\") {\n  return word.toUpperCase();\n}\n",
  "f/everything/deno.script.lock": "{\n  \"dependencies\": {}\n}\n//bun.lock\n<empty>",
  "f/everything/deno.script.yaml": "summary: deno\ndescription: ''\nlock: '!inline f/everything/deno.script.lock'\nkind: script\n" + schemaHead + "  properties:\n    word:\n      type: string\n      description: ''\n      default: deno\n  required: []\n",
  "f/everything/report.pg.sql": "-- $1 days\nSELECT count(*) FROM orders WHERE created_at > now() - ($1 || ' days')::interval;\n",
  "f/everything/report.script.yaml": "summary: orders report\ndescription: ''\nlock: ''\nkind: script\n" + schemaHead + "  properties:\n    days:\n      type: integer\n      description: ''\n      default: null\n  required:\n    - days\n",
  "f/everything/helpers.py": "def shout(s: str) -> str:\n    return s.upper()\n",
  "f/everything/helpers.script.lock": "# py: 3.12",
  "f/everything/helpers.script.yaml": "summary: helpers\ndescription: shared code\nlock: '!inline f/everything/helpers.script.lock'\nkind: script\n" + schemaHead + "  properties: {}\n  required: []\n",
  "f/everything/chain.flow/flow.yaml": "summary: chain\ndescription: ''\nvalue:\n  modules:\n    - id: a\n      value:\n        type: rawscript\n        content: '!inline a.inline_script.py'\n        input_transforms:\n          x:\n            type: javascript\n            expr: flow_input.x\n        language: python3\n" +
    schemaHead + "  properties:\n    x:\n      type: integer\n      description: ''\n      default: 1\n  required: []\ntag: flows\ntimeout: 120\n",
  "f/everything/chain.flow/a.inline_script.py": "def main(x: int):\n    return x + 1\n",
  "f/everything/loops.flow/flow.yaml": "summary: loop and branch\ndescription: ''\nvalue:\n  modules:\n    - id: loop\n      value:\n        type: forloopflow\n        modules:\n          - id: double\n            value:\n              type: rawscript\n              content: '!inline double.inline_script.py'\n              input_transforms:\n                n:\n                  type: javascript\n                  expr: flow_input.iter.value\n              language: python3\n        iterator:\n          type: javascript\n          expr: flow_input.items\n        parallel: false\n        skip_failures: false\n    - id: pick\n      value:\n        type: branchone\n        branches:\n          - modules:\n              - id: many\n                value:\n                  type: rawscript\n                  content: '!inline many.inline_script.sh'\n                  input_transforms: {}\n                  language: bash\n            expr: results.loop.length > 2\n        default:\n          - id: few\n            value:\n              type: rawscript\n              content: '!inline few.inline_script.sh'\n              input_transforms: {}\n              language: bash\nschema:\n  $schema: https://json-schema.org/draft/2020-12/schema\n  type: object\n  properties:\n    items:\n      type: array\n      description: ''\n      default: []\n  required: []\n",
  "f/everything/loops.flow/double.inline_script.py": "def main(n: int):\n    return n * 2\n",
  "f/everything/loops.flow/many.inline_script.sh": "echo many\n",
  "f/everything/loops.flow/few.inline_script.sh": "echo few\n",
  "f/everything/nightly.schedule.yaml": "summary: nightly\ndescription: ''\nargs:\n  name: night\ncron_version: v2\nenabled: true\nis_flow: false\nmissed: skip\nno_flow_overlap: false\non_failure: null\non_failure_exact: false\non_failure_extra_args: null\non_failure_times: 1\non_recovery: null\non_success: null\npaused_until: null\nretry: null\nschedule: 0 0 3 * * *\nscript_path: f/everything/sh\ntag: null\ntimezone: Europe/Paris\nws_error_handler_muted: false\n",
  "f/everything/feed.websocket_trigger.yaml": "summary: the feed\ndescription: ''\ncan_return_message: false\nfilters: []\ninitial_messages: []\nis_flow: false\nmode: enabled\nscript_path: f/everything/sh\nurl: wss://feed.example.com/ws\nurl_runnable_args: {}\n",
  "f/everything/hook.http_trigger.yaml": "summary: the hook\ndescription: ''\nauthentication_method: none\nhttp_method: post\nis_async: false\nis_flow: false\nis_static_website: false\nraw_string: false\nrequest_type: sync\nroute_path: everything/hook\nscript_path: f/everything/sh\nworkspaced_route: false\nwrap_body: false\n",
};

async function filesUnder(dir, base = dir) {
  const out = {};
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) Object.assign(out, await filesUnder(p, base));
    else out[p.slice(base.length + 1)] = await readFile(p, "utf8");
  }
  return out;
}

test("a workspace with one of everything pushes in one sync push, pulls back with no diff and pushes again with no change", async () => {
  const home = await mkdtemp(join(tmpdir(), "wmill-home-"));
  const folder = await mkdtemp(join(tmpdir(), "wmill-everything-"));
  const env = { ...process.env, HOME: home, NO_COLOR: "1", FORCE_COLOR: "0" };
  const wmill = async (cwd, ...args) => {
    const r = await run(wmillBin, args, { cwd, env, timeout: 120000 });
    return r.stdout + r.stderr;
  };
  const api = async (method, path, body) => {
    const r = await fetch(base + "/api/w/local" + path, {
      method, headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.status, text: await r.text() };
  };
  for (const [p, content] of Object.entries(everything)) {
    await mkdir(join(folder, dirname(p)), { recursive: true });
    await writeFile(join(folder, p), content);
  }
  await wmill(folder, "workspace", "add", "local", "local", base + "/", "--token", token);
  // Secrets travel in clear here (--plain-secrets): a folder pulled from a
  // Windmill cluster holds them sealed with that cluster's key.
  const pushed = await wmill(folder, "sync", "push", "--yes", "--plain-secrets");
  assert.match(pushed, /Done! All \d+ changes pushed/, pushed);
  assert.doesNotMatch(pushed, /failed|Error:/, pushed);

  const again = await wmill(folder, "sync", "pull", "--dry-run", "--plain-secrets");
  assert.match(again, /0 changes to apply/, "the pushed folder pulls back with no change:\n" + again);
  const pulled = await mkdtemp(join(tmpdir(), "wmill-everything-pulled-"));
  await writeFile(join(pulled, "wmill.yaml"), everything["wmill.yaml"]);
  await wmill(pulled, "workspace", "add", "local", "local", base + "/", "--token", token);
  await wmill(pulled, "sync", "pull", "--yes", "--plain-secrets");
  const got = await filesUnder(pulled);
  delete got["wmill-lock.yaml"];
  assert.deepEqual(Object.keys(got).sort(), Object.keys(everything).sort(), "the same files");
  for (const [p, content] of Object.entries(everything)) assert.equal(got[p], content, `${p} pulled as pushed`);
  const noop = await wmill(pulled, "sync", "push", "--dry-run", "--plain-secrets");
  assert.match(noop, /0 changes to apply/, "a second push changes nothing:\n" + noop);

  // Each item does what it says here.
  const call = async (path, body = {}) => (await api("POST", "/jobs/run_wait_result/" + path, body)).text;
  assert.deepEqual(JSON.parse(await call("p/f/everything/py", { n: 4 })), { n: 8, who: "ann", region: "eu-west" }, "envs are set");
  assert.equal(await call("p/f/everything/sh", { name: "ann" }), '"hello ann"');
  assert.equal(await call("p/f/everything/bun"), '{"sum":3}');
  assert.equal(await call("p/f/everything/deno"), '"DENO"');
  assert.equal(await call("f/f/everything/chain", { x: 4 }), "5");
  assert.equal(await call("f/f/everything/loops", { items: [1, 2, 3] }), '"many"', "the loop, then the branch its results chose");
  assert.equal(await call("f/f/everything/loops", { items: [1] }), '"few"');
  assert.deepEqual(await api("POST", "/jobs/run/p/f/everything/report", {}),
    { status: 400, text: "Bad request: millrun cannot run postgresql scripts: this script is kept so that a pull and push to Windmill lose nothing" });
  assert.equal((await api("POST", "/jobs/run/p/f/everything/helpers", {})).status, 400, "a library does not run");
  const routed = await fetch(base + "/api/r/everything/hook", { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"name":"route"}' });
  assert.equal(await routed.text(), '"hello route"');
  assert.equal((await api("GET", "/variables/get_value/f/everything/token")).text, '"s3cr3t-EVERYTHING"');
  assert.equal(JSON.parse((await api("GET", "/schedules/get/f/everything/nightly")).text).timezone, "Europe/Paris");
  const settings = JSON.parse((await api("GET", "/workspaces/get_settings")).text);
  assert.equal(settings.error_handler.path, "f/everything/sh");
  assert.match(await wmill(folder, "resource-type", "list"), /c_everything_api/);
  assert.equal(JSON.parse((await api("GET", "/users/get/ann")).text).email, "ann@example.com");
  assert.deepEqual(JSON.parse((await api("GET", "/groups/get/ops")).text).members, ["ann"]);
});
