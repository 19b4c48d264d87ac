// Windmill's own CLI (wmill, pinned in package.json) against millrun serve:
// add the workspace, push a script from a folder, list and show it, run it
// with its logs streamed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, mkdir, writeFile } from "node:fs/promises";
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
});
