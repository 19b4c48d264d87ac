//go:build linux || darwin

package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/deps/npm"
	"github.com/millrun/millrun/engine/deps/npm/npmtest"
)

// The TypeScript tests run on Node, which build/setup.sh installs with
// npm; Bun and Deno are not part of the test machine (their paths are
// checked on the files and commands they would get).
func nodeRunner(t *testing.T, reg *npmtest.Registry) *Runner {
	t.Helper()
	in := Resolve(context.Background(), nil)
	if in.Node == "" {
		t.Fatal("the TypeScript tests need Node.js and npm (build/setup.sh installs them)")
	}
	in.Bun, in.Deno = "", "" // Node's path, whatever else is installed
	r := New(in)
	r.TempRoot = t.TempDir()
	env := offlineEnv(t)
	if reg != nil {
		env = reg.Env(t.TempDir())
	}
	r.NPM = r.NewNPMCache(t.TempDir(), env)
	t.Cleanup(func() { r.Stop(context.Background()) })
	return r
}

// offlineEnv points npm at a registry that is not there: an install
// fails as offline at once, and never reaches the public one.
func offlineEnv(t *testing.T) []string {
	return []string{"npm_config_registry=http://127.0.0.1:9/", "npm_config_userconfig=" + filepath.Join(t.TempDir(), "npmrc"), "npm_config_cache=" + t.TempDir()}
}

var testPackages = []npmtest.Package{
	{Name: "left", Version: "1.1.0"},
	{Name: "left", Version: "1.2.0"},
	{Name: "right", Version: "2.0.0", Deps: map[string]string{"left": "^1.1.0"},
		Files: map[string]string{"index.js": "import * as left from \"left\";\nexport const name = \"right\";\nexport const version = \"2.0.0\";\nexport const leftVersion = left.version;\n"}},
	{Name: "cjs-pkg", Version: "3.0.0", Files: map[string]string{
		"package.json": `{"type": "commonjs", "main": "lib/main.js", "exports": {".": {"import": "./lib/esm.mjs", "require": "./lib/main.js"}, "./sub": "./lib/sub.js"}}`,
		"lib/main.js":  "exports.kind = 'cjs';\n",
		"lib/esm.mjs":  "export const kind = 'esm-condition';\nexport default { kind };\n",
		"lib/sub.js":   "module.exports = { sub: 'sub path' };\n",
	}},
}

func tsSpec(content string, env ...string) Spec {
	return Spec{Language: TypeScript, Content: content, Args: map[string]json.RawMessage{}, Env: append([]string{"WM_JOB_ID=j1", "WM_JOB_PATH=f/jobs/main"}, env...)}
}

func mustSucceed(t *testing.T, out Outcome, logs string) string {
	t.Helper()
	if !out.Success {
		t.Fatalf("failed: %s\nlogs:\n%s", out.Result, logs)
	}
	return string(out.Result)
}

const pkgScript = `import { name, version, leftVersion } from "right";
import { version as pinned } from "left@1.1.0";
import cjs from "cjs-pkg";
import { kind } from "cjs-pkg";
import sub from "cjs-pkg@3/sub";
export async function main() {
  const dyn = await import("left");
  return { right: name + "@" + version, leftOfRight: leftVersion, pinned, cjs: typeof cjs, kind, sub: sub.sub, dyn: dyn.version };
}
`

const pkgResult = `{"right":"right@2.0.0","leftOfRight":"1.1.0","pinned":"1.1.0","cjs":"object","kind":"esm-condition","sub":"sub path","dyn":"1.1.0"}`

// A script with npm imports and no lock yet (what the engine runs until
// it locks at save): its imports are resolved once, pins as Windmill
// reads them ("left@1.1.0" keeps left at 1.1.0 though right allows 1.2.0),
// and later runs, the registry gone, run from the cache.
func TestTypeScriptNpmImportsOnNode(t *testing.T) {
	for _, urls := range []bool{false, true} {
		t.Run(fmt.Sprintf("urlImports=%v", urls), func(t *testing.T) {
			reg := npmtest.New(t, testPackages...)
			r := nodeRunner(t, reg)
			r.ts.urlImports = urls
			out, logs := run(t, r, tsSpec(pkgScript))
			if got := mustSucceed(t, out, logs); got != pkgResult {
				t.Errorf("got %s\nwant %s", got, pkgResult)
			}
			if !strings.Contains(logs, "npm: no lock yet: resolving right@latest, left@1.1.0, cjs-pkg@3") {
				t.Errorf("logs:\n%s", logs)
			}
			reg.Stop()
			hits := reg.Hits("")
			start := time.Now()
			out, logs = run(t, r, tsSpec(pkgScript))
			if got := mustSucceed(t, out, logs); got != pkgResult {
				t.Errorf("cached run: %s", got)
			}
			t.Logf("cached run with packages: %v", time.Since(start))
			if strings.Contains(logs, "npm:") || reg.Hits("") != hits {
				t.Errorf("the cached run installed again:\n%s", logs)
			}
		})
	}
}

// A lock pushed with the script (wmill sync) is installed as locked and
// used as it is; a second runner on the same cache (a restart) finds it.
func TestTypeScriptRunsFromPushedLock(t *testing.T) {
	reg := npmtest.New(t, testPackages...)
	r := nodeRunner(t, reg)
	lock := `{
  "dependencies": {
    "right": "^2.0.0"
  }
}
//bun.lock
{
  "lockfileVersion": 1,
  "workspaces": {
    "": {
      "dependencies": {
        "right": "^2.0.0",
      },
    },
  },
  "packages": {
    "left": ["left@1.1.0", "", {}, "` + reg.Integrity("left", "1.1.0") + `"],

    "right": ["right@2.0.0", "", { "dependencies": { "left": "^1.1.0" } }, "` + reg.Integrity("right", "2.0.0") + `"],
  }
}`
	spec := tsSpec(`import { leftVersion } from "right@2.0.0"; export function main() { return leftVersion }`)
	spec.Lock = lock
	out, logs := run(t, r, spec)
	if got := mustSucceed(t, out, logs); got != `"1.1.0"` || !strings.Contains(logs, "npm: installing the lock's packages (right@2.0.0) into the cache, once") {
		t.Errorf("got %s\n%s", got, logs)
	}
	reg.Stop()
	r2 := nodeRunner(t, reg)
	r2.NPM.Root = r.NPM.Root
	out, logs = run(t, r2, spec)
	if got := mustSucceed(t, out, logs); got != `"1.1.0"` || strings.Contains(logs, "npm:") {
		t.Errorf("after a restart: %s\n%s", got, logs)
	}

	// What the lock does not install fails in words, before the script.
	spec.Content = `import { name } from "cjs-pkg"; export function main() { return name }`
	out, _ = run(t, r2, spec)
	if e := errorOf(t, out); e["name"] != "DependencyError" || e["message"] != "the script imports cjs-pkg, which its lock does not install: deploy the script again to update its lock" {
		t.Errorf("got %v", e)
	}
}

// Two first runs of the same imports at once: one install, the other
// waits for it.
func TestTypeScriptConcurrentFirstRunsInstallOnce(t *testing.T) {
	reg := npmtest.New(t, testPackages...)
	r := nodeRunner(t, reg)
	release := reg.Hold()
	var wg sync.WaitGroup
	outs := make([]Outcome, 2)
	logs := make([]string, 2)
	for i := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); outs[i], logs[i] = run(t, r, tsSpec(pkgScript)) }()
		if i == 0 {
			<-reg.Held()
		}
	}
	time.Sleep(200 * time.Millisecond)
	release()
	wg.Wait()
	for i := range outs {
		if got := mustSucceed(t, outs[i], logs[i]); got != pkgResult {
			t.Errorf("run %d: %s", i, got)
		}
	}
	if n := reg.TarballHits("right"); n != 1 {
		t.Errorf("right fetched %d times", n)
	}
}

// Relative imports, both forms, resolve to the workspace's current
// scripts (Spec.Modules); their own packages join the lock; a new
// version of an imported script is what the next run gets.
func TestTypeScriptRelativeImports(t *testing.T) {
	reg := npmtest.New(t, testPackages...)
	r := nodeRunner(t, reg)
	main := `import { greet } from "./helpers";
import { greet as again } from "/f/common/helpers.ts";
import { shout } from "../shared/text";
export function main(name: string) { return [greet(name), again === greet, shout(name)] }
`
	modules := map[string]string{
		"f/common/helpers": `import { version } from "left@1.2.0"; import { shout } from "/f/shared/text"; export function greet(n: string): string { return "hello " + shout(n) + " (left " + version + ")" }`,
		"f/shared/text":    `export const shout = (s: string) => s.toUpperCase();`,
	}
	spec := tsSpec(main)
	spec.Env = []string{"WM_JOB_ID=j", "WM_JOB_PATH=f/common/main"}
	spec.Modules = modules
	spec.Args = map[string]json.RawMessage{"name": json.RawMessage(`"bob"`)}
	spec.Order = []string{"name"}
	out, logs := run(t, r, spec)
	if got := mustSucceed(t, out, logs); got != `["hello BOB (left 1.2.0)",true,"BOB"]` {
		t.Errorf("got %s", got)
	}
	if !strings.Contains(logs, "resolving left@1.2.0") {
		t.Errorf("the module's import is not in the lock:\n%s", logs)
	}
	spec.Modules = map[string]string{"f/common/helpers": `export function greet(n: string) { return "hi " + n }`, "f/shared/text": modules["f/shared/text"]}
	out, logs = run(t, r, spec)
	if got := mustSucceed(t, out, logs); got != `["hi bob",true,"BOB"]` {
		t.Errorf("after the module changed: %s", got)
	}

	spec.Modules = map[string]string{"f/shared/text": modules["f/shared/text"]}
	out, _ = run(t, r, spec)
	if e := errorOf(t, out); e["name"] != "ImportError" || e["message"] != `f/common/main imports "./helpers": the workspace has no script f/common/helpers` {
		t.Errorf("missing module: %v", e)
	}
	spec.Modules = map[string]string{"f/common/helpers": "export function greet( {", "f/shared/text": ""}
	out, _ = run(t, r, spec)
	if e := errorOf(t, out); e["name"] != "CompileError" || !strings.HasPrefix(e["message"].(string), "f/common/helpers does not compile: line 1:") {
		t.Errorf("broken module: %v", e)
	}
}

func TestTypeScriptCompileErrorAndNoDeps(t *testing.T) {
	r := nodeRunner(t, nil)
	out, _ := run(t, r, tsSpec("export function main() { return 1 +* }\n"))
	if e := errorOf(t, out); e["name"] != "CompileError" || !strings.HasPrefix(e["message"].(string), "TypeScript does not compile: line 1:") {
		t.Errorf("got %v", e)
	}
	spec := tsSpec(`import { readFileSync } from "fs"; import path from "node:path";
export function main() { return typeof readFileSync + path.sep }`)
	out, logs := run(t, r, spec)
	if got := mustSucceed(t, out, logs); got != `"function/"` || logs != "" {
		t.Errorf("got %s, logs %q", got, logs)
	}
	// Timings: a script without packages, its bundle made once.
	start := time.Now()
	const n = 5
	for range n {
		mustSucceed(t, r.Run(context.Background(), spec, io.Discard), "")
	}
	t.Logf("run without packages: %v", time.Since(start)/n)
}

// A fake millrun API, enough for the built-in windmill-client.
func fakeAPI(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	state := map[string]json.RawMessage{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no token", 401)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		p := r.URL.Path
		switch {
		case p == "/api/w/ws1/variables/get_value/u/me/secret":
			fmt.Fprint(w, `"s3cret"`)
		case strings.HasPrefix(p, "/api/w/ws1/variables/get_value/"):
			http.Error(w, "variable not found", 404)
		case strings.HasPrefix(p, "/api/w/ws1/resources/exists/"):
			_, ok := state[strings.TrimPrefix(p, "/api/w/ws1/resources/exists/")]
			fmt.Fprint(w, ok)
		case p == "/api/w/ws1/resources/create":
			var body struct {
				Path  string          `json:"path"`
				Value json.RawMessage `json:"value"`
			}
			json.NewDecoder(r.Body).Decode(&body)
			state[body.Path] = body.Value
			w.WriteHeader(201)
		case strings.HasPrefix(p, "/api/w/ws1/resources/update_value/"):
			var body struct{ Value json.RawMessage }
			json.NewDecoder(r.Body).Decode(&body)
			state[strings.TrimPrefix(p, "/api/w/ws1/resources/update_value/")] = body.Value
		case strings.HasPrefix(p, "/api/w/ws1/resources/get_value_interpolated/"):
			v, ok := state[strings.TrimPrefix(p, "/api/w/ws1/resources/get_value_interpolated/")]
			if !ok {
				http.Error(w, "not found", 404)
				return
			}
			w.Write(v)
		case p == "/api/w/ws1/jobs/run/p/u/me/child":
			if r.URL.Query().Get("parent_job") != "j1" {
				http.Error(w, "no parent", 400)
				return
			}
			fmt.Fprint(w, "0192-child")
		case p == "/api/w/ws1/jobs_u/completed/get_result_maybe/0192-child":
			fmt.Fprint(w, `{"started":true,"completed":true,"success":true,"result":{"child":1}}`)
		case p == "/api/w/ws1/users/whoami":
			fmt.Fprint(w, `{"username":"me"}`)
		default:
			http.Error(w, "no route "+p, 404)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// windmill-client offline with nothing cached: millrun's built-in module
// stands in, says so in the log, and answers from millrun's API.
func TestTypeScriptBuiltinWindmillClient(t *testing.T) {
	r := nodeRunner(t, nil) // the registry cannot be reached
	api := fakeAPI(t)
	script := `import * as wmill from "windmill-client";
import wm from "windmill-client";
export async function main() {
  const before = await wmill.getState();
  await wmill.setState({ n: (before?.n ?? 0) + 1 });
  let missing = "";
  try { await wmill.getVariable("u/me/nope") } catch (e) { missing = e.message }
  let flow = "";
  try { await wmill.runFlow("f/x", {}) } catch (e) { flow = e.message }
  return { secret: await wm.getVariable("u/me/secret"), before: before ?? null, after: await wmill.getState(),
    statePath: wmill.getStatePath(), ws: wmill.getWorkspace(), me: (await wmill.whoami()).username,
    child: await wmill.runScriptByPath("u/me/child", { a: 1 }), missing, flow };
}`
	env := []string{"BASE_INTERNAL_URL=" + api.URL, "WM_TOKEN=tok", "WM_WORKSPACE=ws1", "WM_STATE_PATH_NEW=u/me/main/user"}
	out, logs := run(t, r, tsSpec(script, env...))
	got := mustSucceed(t, out, logs)
	var res map[string]any
	json.Unmarshal([]byte(got), &res)
	if res["secret"] != "s3cret" || res["before"] != nil || fmt.Sprint(res["after"]) != "map[n:1]" || res["statePath"] != "u/me/main/user" ||
		res["ws"] != "ws1" || res["me"] != "me" || fmt.Sprint(res["child"]) != "map[child:1]" {
		t.Errorf("got %s", got)
	}
	if !strings.HasPrefix(res["missing"].(string), "Variable not found at u/me/nope or not visible to you: variable not found") {
		t.Errorf("missing variable: %v", res["missing"])
	}
	if !strings.HasPrefix(res["flow"].(string), "windmill-client's runFlow is not in millrun's built-in windmill-client") {
		t.Errorf("unknown call: %v", res["flow"])
	}
	if !strings.Contains(logs, "windmill-client: millrun's built-in module (the registry cannot be reached and windmill-client is not in the cache)") {
		t.Errorf("logs:\n%s", logs)
	}
	out, _ = run(t, r, tsSpec(script, env...))
	if !strings.Contains(string(out.Result), `"before":{"n":1}`) {
		t.Errorf("state across runs: %s", out.Result)
	}

	// A named import the built-in module lacks fails before the script.
	out, _ = run(t, r, tsSpec(`import { ScheduleService } from "windmill-client"; export function main() { return typeof ScheduleService }`, env...))
	if e := errorOf(t, out); e["name"] != "ImportError" || !strings.HasPrefix(e["message"].(string), "windmill-client's ScheduleService is not in millrun's built-in windmill-client") {
		t.Errorf("named import: %v", e)
	}
	// Other packages have no stand-in: offline says which and where.
	out, _ = run(t, r, tsSpec(`import * as wmill from "windmill-client"; import { name } from "right"; export function main() { return [name, typeof wmill] }`, env...))
	if e := errorOf(t, out); e["name"] != "DependencyError" || e["message"] != "offline: right@latest is not in the cache and the registry http://127.0.0.1:9/ cannot be reached" {
		t.Errorf("offline package: %v", e)
	}
}

// The real windmill-client, where the registry has it, is a locked
// dependency like any other, and the log names its version.
func TestTypeScriptRealWindmillClientFromRegistry(t *testing.T) {
	dir := windmillClientDir(t)
	reg := npmtest.New(t, npmtest.Package{Name: "windmill-client", Version: windmillClientVersion(t, dir), Dir: dir})
	r := nodeRunner(t, reg)
	api := fakeAPI(t)
	env := []string{"BASE_INTERNAL_URL=" + api.URL, "WM_TOKEN=tok", "WM_WORKSPACE=ws1"}
	out, logs := run(t, r, tsSpec(`import * as wmill from "windmill-client"; export async function main() { return await wmill.getVariable("u/me/secret") }`, env...))
	if got := mustSucceed(t, out, logs); got != `"s3cret"` {
		t.Errorf("got %s", got)
	}
	if !strings.Contains(logs, "windmill-client "+windmillClientVersion(t, dir)+" from the script's lock") {
		t.Errorf("logs:\n%s", logs)
	}
}

// windmillClientDir is the real windmill-client the compat suite
// installs (build/setup.sh test): served by the loopback registry, never
// fetched from the public one.
func windmillClientDir(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs("../../compat/node_modules/windmill-client")
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
		t.Fatalf("%s is missing: build/setup.sh test installs it (cd compat && npm ci)", dir)
	}
	return dir
}

func windmillClientVersion(t *testing.T, dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ Version string }
	json.Unmarshal(b, &p)
	return p.Version
}

// Warm workers get the same bundle and packages as cold runs.
func TestTypeScriptWarmWorkerWithPackages(t *testing.T) {
	reg := npmtest.New(t, testPackages...)
	r := nodeRunner(t, reg)
	pool := NewWarmPool(r, 1, time.Minute)
	defer pool.Stop(context.Background())
	spec := tsSpec(`import { leftVersion } from "right"; import { x } from "./x"; export function main() { return leftVersion + x }`)
	spec.Modules = map[string]string{"f/jobs/x": `export const x = "!";`}
	for i := range 2 {
		var logs strings.Builder
		out := pool.Run(context.Background(), WarmSpec{Spec: spec, Path: "f/jobs/main", Hash: "h1"}, &logs)
		if got := mustSucceed(t, out, logs.String()); got != `"1.2.0!"` {
			t.Errorf("run %d: %s", i, got)
		}
	}
}

// Bun and Deno are not installed here: their runs are checked on what
// they would be given.
func TestTypeScriptBunAndDenoCommands(t *testing.T) {
	reg := npmtest.New(t, testPackages...)
	r := nodeRunner(t, reg)
	script := `import { leftVersion } from "right@2.0.0/index.js"; import fs from "fs"; import * as wmill from "windmill-client";
export function main() { return [leftVersion, typeof fs, typeof wmill] }`
	// The lock, resolved with npm here, is in the cache for Bun to use.
	lock, nm, err := r.NPM.Resolve(context.Background(), []npm.Dep{{Name: "right", Version: "2.0.0"}}, npm.ToolNPM, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec := tsSpec(script)
	spec.Lock = lock.String()

	r.interp.Bun = "/opt/bun/bin/bun"
	dir := t.TempDir()
	var logs strings.Builder
	cmd, env, err := r.typeScriptCommand(context.Background(), dir, spec, &logs)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cmd.Args, " ") != "/opt/bun/bin/bun run wrapper.mjs" || strings.Join(env, " ") != "MILLRUN_MAIN=main.mjs" {
		t.Errorf("bun: %v %v", cmd.Args, env)
	}
	if target, _ := os.Readlink(filepath.Join(dir, "node_modules")); target != nm {
		t.Errorf("bun's node_modules link: %q, want %q", target, nm)
	}
	js, _ := os.ReadFile(filepath.Join(dir, "main.mjs"))
	if !strings.Contains(string(js), `from "right/index.js"`) || !strings.Contains(string(js), "millrun's built-in windmill-client") {
		t.Errorf("bun's bundle:\n%s", js)
	}
	if !strings.Contains(logs.String(), "windmill-client: millrun's built-in module (the script's lock has no windmill-client)") {
		t.Errorf("logs: %s", logs.String())
	}

	spec.Language = "deno"
	r.interp.Deno = "/opt/deno"
	dir = t.TempDir()
	cmd, _, err = r.typeScriptCommand(context.Background(), dir, spec, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cmd.Args, " ") != "/opt/deno run -A wrapper.mjs" {
		t.Errorf("deno: %v", cmd.Args)
	}
	js, _ = os.ReadFile(filepath.Join(dir, "main.mjs"))
	if !strings.Contains(string(js), `from "npm:right@2.0.0/index.js"`) || !strings.Contains(string(js), `from "node:fs"`) {
		t.Errorf("deno's bundle:\n%s", js)
	}
	if _, err := os.Lstat(filepath.Join(dir, "node_modules")); err == nil {
		t.Error("deno got a node_modules link")
	}
}

// The dependency job's part: the lock a version keeps.
func TestTypeScriptDependencies(t *testing.T) {
	reg := npmtest.New(t, testPackages...)
	r := nodeRunner(t, reg)
	spec := Spec{Language: TypeScript, Path: "f/a/main", Content: `import { x } from "./lib"; export function main() { return x }`,
		Modules: map[string]string{"f/a/lib": `import { name } from "right"; export const x = name;`}}
	if !typeScriptNeedsDependencies(spec) || typeScriptNeedsDependencies(Spec{Content: `import fs from "node:fs"; export function main() { return fs }`}) {
		t.Error("NeedsDependencies")
	}
	if got := typeScriptWorkspaceImports("f/a/main", spec.Content); len(got) != 1 || got[0] != "f/a/lib" {
		t.Errorf("WorkspaceImports: %v", got)
	}
	lock, err := r.typeScriptDependencies(context.Background(), spec, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	l, err := npm.ParseLock(lock)
	if err != nil || l.Versions()["right"] != "2.0.0" || l.Versions()["left"] != "1.2.0" {
		t.Fatalf("lock %q: %v", lock, err)
	}
	// The lock kept with the version runs with no network call.
	reg.Stop()
	spec.Lock = lock
	spec.Env = []string{"WM_JOB_ID=j"}
	out, logs := run(t, r, spec)
	if got := mustSucceed(t, out, logs); got != `"right"` || strings.Contains(logs, "npm:") {
		t.Errorf("got %s\n%s", got, logs)
	}
	// A pushed lock that covers the imports is kept byte for byte.
	if again, err := r.typeScriptDependencies(context.Background(), spec, io.Discard); err != nil || again != lock {
		t.Errorf("kept lock: %v", err)
	}
	// No packages: Windmill's empty lock.
	empty, _ := r.typeScriptDependencies(context.Background(), Spec{Language: TypeScript, Content: `export function main() {}`}, io.Discard)
	if empty != "{\n  \"dependencies\": {}\n}\n//bun.lock\n<empty>" {
		t.Errorf("empty: %q", empty)
	}
	// Offline, windmill-client alone missing: no lock yet, no failure.
	off := nodeRunner(t, nil)
	var log strings.Builder
	if l, err := off.typeScriptDependencies(context.Background(), tsSpec(`import * as wmill from "windmill-client"; export function main() { return wmill.getWorkspace() }`), &log); l != "" || err != nil {
		t.Errorf("offline windmill-client: %q %v", l, err)
	}
	if !strings.Contains(log.String(), "no lock yet, runs use millrun's built-in windmill-client") {
		t.Errorf("log: %s", log.String())
	}
	if _, err := off.typeScriptDependencies(context.Background(), tsSpec(`import { name } from "right"; export function main() { return name }`), io.Discard); err == nil ||
		err.Error() != "offline: right@latest is not in the cache and the registry http://127.0.0.1:9/ cannot be reached" {
		t.Errorf("offline: %v", err)
	}
}
