// Flows as a Windmill workspace keeps them (`<path>.flow/flow.yaml` with
// its inline scripts beside it, as Windmill's flow editor and `wmill sync
// pull` write them), using loops, branches, retries and a failure
// handler: one `wmill sync push` away from running, each by its webhook,
// with the results Windmill gives; `wmill job list --parent` and
// `wmill job logs` read their steps.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const wmillBin = new URL("./node_modules/.bin/wmill", import.meta.url).pathname;
const base = process.env.BASE_URL;
const token = process.env.WM_TOKEN;

const schemaHead = "schema:\n  $schema: 'https://json-schema.org/draft/2020-12/schema'\n  type: object\n";

const workspace = {
  // Other suites share this millrun: the push keeps to this folder.
  "wmill.yaml": "defaultTs: bun\nincludes:\n  - f/flowsx/**\nexcludes: []\n",
  "f/flowsx/folder.meta.yaml": "summary: flows from a workspace\ndisplay_name: flowsx\nowners: []\nextra_perms: {}\n",
  "f/flowsx/team.variable.yaml": "value: platform\nis_secret: false\ndescription: team on call\n",

  // A parallel for loop (parallelism 2) with a branchone inside each
  // iteration, then a step over the loop's results.
  "f/flowsx/fanout.flow/flow.yaml": `summary: Measure each url
description: ''
value:
  modules:
    - id: a
      summary: each url
      value:
        type: forloopflow
        iterator:
          type: javascript
          expr: flow_input.urls
        skip_failures: false
        parallel: true
        parallelism:
          type: static
          value: 2
        modules:
          - id: b
            value:
              type: rawscript
              content: '!inline measure.inline_script.ts'
              language: bun
              input_transforms:
                url:
                  type: javascript
                  expr: flow_input.iter.value
                i:
                  type: javascript
                  expr: flow_input.iter.index
          - id: c
            value:
              type: branchone
              branches:
                - summary: secure
                  expr: results.b.url.startsWith('https')
                  modules:
                    - id: d
                      value:
                        type: rawscript
                        content: '!inline secure.inline_script.py'
                        language: python3
                        input_transforms:
                          m:
                            type: javascript
                            expr: results.b
              default:
                - id: e
                  value:
                    type: rawscript
                    content: '!inline plain.inline_script.py'
                    language: python3
                    input_transforms:
                      m:
                        type: javascript
                        expr: results.b
    - id: f
      value:
        type: rawscript
        content: '!inline total.inline_script.py'
        language: python3
        input_transforms:
          measured:
            type: javascript
            expr: results.a
${schemaHead}  order:
    - urls
  properties:
    urls:
      type: array
      description: urls to measure
      default:
        - https://a.example
        - http://bb.example
        - https://ccc.example
      items:
        type: string
  required: []
`,
  "f/flowsx/fanout.flow/measure.inline_script.ts": "export async function main(url: string, i: number) {\n  return { url, len: url.length, i };\n}\n",
  "f/flowsx/fanout.flow/secure.inline_script.py": "def main(m: dict):\n    return {**m, \"secure\": True}\n",
  "f/flowsx/fanout.flow/plain.inline_script.py": "def main(m: dict):\n    return m\n",
  "f/flowsx/fanout.flow/total.inline_script.py": "def main(measured: list):\n    return {\"total\": sum(m[\"len\"] for m in measured), \"secure\": [m.get(\"secure\", False) for m in measured]}\n",

  // A branchone routing an issue, a transform reading a variable, and a
  // whileloop counting until its stop_after_if.
  "f/flowsx/triage.flow/flow.yaml": `summary: Triage an issue
description: ''
value:
  modules:
    - id: route
      value:
        type: branchone
        branches:
          - summary: bug
            expr: flow_input.kind === 'bug'
            modules:
              - id: bug
                value:
                  type: rawscript
                  content: '!inline bug.inline_script.sh'
                  language: bash
                  input_transforms:
                    title:
                      type: javascript
                      expr: flow_input.title
                    team:
                      type: javascript
                      expr: variable('f/flowsx/team')
          - summary: feature
            expr: flow_input.kind === 'feature'
            modules:
              - id: feature
                value:
                  type: rawscript
                  content: '!inline feature.inline_script.py'
                  language: python3
                  input_transforms:
                    title:
                      type: javascript
                      expr: flow_input.title
        default: []
    - id: count
      stop_after_if:
        expr: result >= 2
        skip_if_stopped: false
      value:
        type: whileloopflow
        skip_failures: false
        modules:
          - id: tick
            value:
              type: rawscript
              content: '!inline tick.inline_script.py'
              language: python3
              input_transforms:
                n:
                  type: javascript
                  expr: flow_input.iter.index
    - id: done
      value:
        type: rawscript
        content: '!inline done.inline_script.py'
        language: python3
        input_transforms:
          routed:
            type: javascript
            expr: results.route
          ticks:
            type: javascript
            expr: results.count
${schemaHead}  order:
    - kind
    - title
  properties:
    kind:
      type: string
      description: ''
      default: bug
    title:
      type: string
      description: ''
      default: untitled
  required: []
`,
  "f/flowsx/triage.flow/bug.inline_script.sh": "title=\"$1\"\nteam=\"$2\"\necho \"bug for $team: $title\"\n",
  "f/flowsx/triage.flow/feature.inline_script.py": "def main(title: str):\n    return {\"feature\": title}\n",
  "f/flowsx/triage.flow/tick.inline_script.py": "def main(n: int):\n    return n\n",
  "f/flowsx/triage.flow/done.inline_script.py": "def main(routed, ticks: list):\n    return {\"routed\": routed, \"ticks\": ticks}\n",

  // A branchall (parallel) with a failing branch it may skip, a step
  // retried until it passes, and a failure handler.
  "f/flowsx/broadcast.flow/flow.yaml": `summary: Broadcast
description: ''
value:
  modules:
    - id: all
      value:
        type: branchall
        parallel: true
        branches:
          - summary: slack
            skip_failure: false
            modules:
              - id: slack
                value:
                  type: rawscript
                  content: '!inline slack.inline_script.py'
                  language: python3
                  input_transforms:
                    msg:
                      type: javascript
                      expr: flow_input.msg
          - summary: pager
            skip_failure: true
            modules:
              - id: pager
                value:
                  type: rawscript
                  content: '!inline pager.inline_script.py'
                  language: python3
                  input_transforms: {}
    - id: flaky
      retry:
        constant:
          attempts: 2
          seconds: 0
      value:
        type: rawscript
        content: '!inline flaky.inline_script.py'
        language: python3
        input_transforms:
          job:
            type: javascript
            expr: "flow_input.fail ? 'fail' : 'ok'"
  failure_module:
    id: failure
    value:
      type: rawscript
      content: '!inline failure.inline_script.py'
      language: python3
      input_transforms:
        message:
          type: javascript
          expr: error.message
        step_id:
          type: javascript
          expr: error.step_id
${schemaHead}  properties:
    msg:
      type: string
      description: ''
      default: deployed
    fail:
      type: boolean
      description: ''
      default: false
  required: []
`,
  "f/flowsx/broadcast.flow/slack.inline_script.py": "def main(msg: str):\n    return {\"slack\": msg}\n",
  "f/flowsx/broadcast.flow/pager.inline_script.py": "def main():\n    raise RuntimeError(\"pager down\")\n",
  "f/flowsx/broadcast.flow/flaky.inline_script.py": "def main(job: str):\n    if job == \"fail\":\n        raise ValueError(\"still failing\")\n    return \"sent\"\n",
  "f/flowsx/broadcast.flow/failure.inline_script.py": "def main(message: str, step_id: str):\n    return {\"alerted\": message, \"step\": step_id}\n",
};

test("flows from a Windmill workspace folder push whole and run through their webhooks", async () => {
  const home = await mkdtemp(join(tmpdir(), "wmill-home-"));
  const folder = await mkdtemp(join(tmpdir(), "wmill-flows-"));
  const env = { ...process.env, HOME: home, NO_COLOR: "1", FORCE_COLOR: "0" };
  const wmill = (cwd, ...args) => run(wmillBin, args, { cwd, env, timeout: 120000 });
  const api = async (method, path, body) => {
    const r = await fetch(base + "/api/w/local" + path, {
      method, headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.status, text: await r.text(), id: r.headers.get("X-Millrun-Job-Id") };
  };
  for (const [p, content] of Object.entries(workspace)) {
    await mkdir(join(folder, dirname(p)), { recursive: true });
    await writeFile(join(folder, p), content);
  }
  await wmill(folder, "workspace", "add", "local", "local", base + "/", "--token", token);
  const pushed = await wmill(folder, "sync", "push", "--yes");
  assert.doesNotMatch(pushed.stdout + pushed.stderr, /error|failed/i, pushed.stdout + pushed.stderr);

  const call = async (path, body = {}) => {
    const r = await api("POST", "/jobs/run_wait_result/f/" + path, body);
    assert.equal(r.status, 200, `${path}: ${r.text}`);
    return { result: JSON.parse(r.text), id: r.id };
  };

  // The webhook's caller sends {}: the schema's defaults fill it in.
  const fanout = await call("f/flowsx/fanout");
  assert.deepEqual(fanout.result, { total: 53, secure: [true, false, true] });
  const job = JSON.parse((await api("GET", "/jobs_u/get/" + fanout.id)).text);
  assert.equal(job.job_kind, "flow");
  const loop = job.flow_status.modules[0];
  assert.equal(loop.type, "Success");
  assert.equal(loop.flow_jobs.length, 3);
  assert.deepEqual(loop.flow_jobs_success, [true, true, true]);
  const iteration = JSON.parse((await api("GET", "/jobs_u/get/" + loop.flow_jobs[1])).text);
  assert.equal(iteration.job_kind, "flownode");
  assert.equal(iteration.parent_job, fanout.id);
  assert.deepEqual(iteration.flow_status.modules[1].branch_chosen, { type: "default" });
  assert.deepEqual(JSON.parse((await api("GET", "/jobs_u/get/" + loop.flow_jobs[0])).text).flow_status.modules[1].branch_chosen, { type: "branch", branch: 0 });

  assert.deepEqual((await call("f/flowsx/triage", { kind: "bug", title: "crash on save" })).result,
    { routed: "bug for platform: crash on save", ticks: [0, 1, 2] });
  assert.deepEqual((await call("f/flowsx/triage", { kind: "feature", title: "dark mode" })).result,
    { routed: { feature: "dark mode" }, ticks: [0, 1, 2] });
  assert.deepEqual((await call("f/flowsx/triage", { kind: "question" })).result, { routed: [], ticks: [0, 1, 2] });

  const ok = await call("f/flowsx/broadcast", { msg: "v2 is out" });
  assert.deepEqual(ok.result, "sent");
  const okJob = JSON.parse((await api("GET", "/jobs_u/get/" + ok.id)).text);
  assert.deepEqual(okJob.flow_status.modules[0].flow_jobs_success, [true, false]);
  const branches = JSON.parse((await api("GET", "/jobs_u/get/" + okJob.flow_status.modules[0].flow_jobs[0])).text);
  assert.deepEqual(branches.result, { slack: "v2 is out" });
  const failed = await api("POST", "/jobs/run_wait_result/f/f/flowsx/broadcast", { fail: true });
  assert.deepEqual(JSON.parse(failed.text), { alerted: "still failing", step: "flaky" });
  const failedJob = JSON.parse((await api("GET", "/jobs_u/get/" + failed.id)).text);
  assert.equal(failedJob.success, false);
  assert.equal(failedJob.flow_status.modules[1].failed_retries.length, 2, "two retries before the failure handler");
  assert.equal(failedJob.flow_status.failure_module.parent_module, "flaky");

  // The CLI lists a flow's steps and prints their logs under headers.
  const listed = JSON.parse((await wmill(folder, "job", "list", "--parent", ok.id, "--json")).stdout);
  assert.ok(listed.some((j) => j.job_kind === "flowscript" && j.script_path === "f/flowsx/broadcast/flaky"), JSON.stringify(listed));
  const logs = await wmill(folder, "job", "logs", fanout.id);
  assert.match(logs.stdout, /====== a \(iteration 0\) ======/);
  const text = await api("GET", "/jobs_u/get_logs/" + fanout.id);
  assert.match(text.text, /====== a \(iteration 2\) ======\n\n====== b ======/);
});
