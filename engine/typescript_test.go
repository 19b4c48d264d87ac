package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/deps/npm/npmtest"
	"github.com/millrun/millrun/engine/testkit"
)

const wmillScript = `import * as wmill from "windmill-client";
export async function main() {
  const n = Number(await wmill.getVariable("u/me/runs").catch(() => "0")) + 1;
  await wmill.setVariable("u/me/runs", String(n));
  await wmill.setState({ n }, "u/me/wm_state_" + n);
  return { secret: await wmill.getVariable("u/me/token"), n, state: await wmill.getState("u/me/wm_state_" + n),
    child: await wmill.runScriptByPath("u/me/child", { a: 21 }) };
}
`

func (f *fixture) wmillFixtures() {
	f.t.Helper()
	f.secretVariable("u/me/token", "tok-123")
	f.createScript("u/me/child", "python3", "def main(a: int):\n    return a * 2\n")
	f.createScript("u/me/wm", "bun", wmillScript)
}

func (f *fixture) runLogs(path string) (string, string) {
	f.t.Helper()
	r := f.syncRun(path, "{}")
	j := f.waitJob(r.header.Get("X-Millrun-Job-Id"))
	logs, _ := j["logs"].(string)
	return r.body, logs
}

// `import * as wmill from "windmill-client"` on Node with no registry
// and nothing cached: millrun's built-in client calls this engine (a
// secret variable, a variable counting runs, state, a child job), and the
// log says it was the built-in one.
func TestTypeScriptBuiltinWindmillClientAgainstEngine(t *testing.T) {
	t.Parallel()
	f := setup(t, served) // npm's registry: the fixture's closed port
	f.wmillFixtures()
	body, logs := f.runLogs("u/me/wm")
	if body != `{"secret":"tok-123","n":1,"state":{"n":1},"child":42}` {
		t.Fatalf("got %s\nlogs:\n%s", body, logs)
	}
	if !strings.Contains(logs, "windmill-client: millrun's built-in module (the registry cannot be reached and windmill-client is not in the cache)") {
		t.Errorf("logs:\n%s", logs)
	}
	if body, _ = f.runLogs("u/me/wm"); body != `{"secret":"tok-123","n":2,"state":{"n":2},"child":42}` {
		t.Errorf("second run: %s", body)
	}
}

// Where the registry has windmill-client, the real package is locked and
// installed like any other, and its calls against millrun pass.
func TestTypeScriptRealWindmillClientAgainstEngine(t *testing.T) {
	t.Parallel()
	dir, _ := filepath.Abs("../compat/node_modules/windmill-client")
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		t.Fatalf("%s is missing: build/setup.sh test installs it (cd compat && npm ci)", dir)
	}
	var pkg struct{ Version string }
	json.Unmarshal(b, &pkg)
	reg := npmtest.New(t, npmtest.Package{Name: "windmill-client", Version: pkg.Version, Dir: dir})
	f := setup(t, served, func(c *Config) { c.PackageEnv = append(c.PackageEnv, reg.Env(t.TempDir())...) })
	f.wmillFixtures()
	body, logs := f.runLogs("u/me/wm")
	if body != `{"secret":"tok-123","n":1,"state":{"n":1},"child":42}` {
		t.Fatalf("got %s\nlogs:\n%s", body, logs)
	}
	if !strings.Contains(logs, "windmill-client "+pkg.Version+" from the script's lock") {
		t.Errorf("logs:\n%s", logs)
	}
	reg.Stop()
	if body, logs = f.runLogs("u/me/wm"); body != `{"secret":"tok-123","n":2,"state":{"n":2},"child":42}` || strings.Contains(logs, "npm:") {
		t.Errorf("second run, registry gone: %s\n%s", body, logs)
	}
}

// npmPackages serves what the TypeScript engine tests install: right
// needs left; left comes in two versions.
func npmPackages(t *testing.T) *npmtest.Registry {
	return npmtest.New(t,
		npmtest.Package{Name: "left", Version: "1.1.0"},
		npmtest.Package{Name: "left", Version: "1.2.0"},
		npmtest.Package{Name: "right", Version: "2.0.0", Deps: map[string]string{"left": "^1.1.0"},
			Files: map[string]string{"index.js": "import { version } from \"left\";\nexport const leftVersion = version;\n"}},
	)
}

func withRegistry(t *testing.T, reg *npmtest.Registry) func(*Config) {
	env := reg.Env(t.TempDir())
	return func(c *Config) { c.PackageEnv = append(c.PackageEnv, env...) }
}

// A TypeScript script that imports an npm package and a workspace script
// (both relative forms): saving it starts a dependency job that keeps a
// Windmill lock with the version; runs use it, get the imported script's
// current version, and run from the cache once the registry is gone.
func TestTypeScriptScriptImportsPackagesAndScripts(t *testing.T) {
	t.Parallel()
	reg := npmPackages(t)
	f := setup(t, withRegistry(t, reg))
	f.createScript("f/common/helpers", "bun", `export function greet(v: string): string { return "left " + v }`)
	f.createScript("f/common/main", "bun", `import { leftVersion } from "right";
import { greet } from "./helpers";
import { greet as again } from "/f/common/helpers.ts";
export function main() { return greet(leftVersion) + (again === greet ? "" : " (two modules)") }
`)
	var dep []map[string]any
	testkit.WaitUntil(t, "the dependency job", 60*time.Second, func() bool {
		dep = f.jobsOfKind("dependencies", "f/common/main")
		return len(dep) == 1 && dep[0]["type"] == "CompletedJob"
	})
	if dj := f.waitJob(dep[0]["id"].(string)); dj["success"] != true {
		t.Fatalf("dependency job: %v", dj)
	}
	var script map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/scripts/get/p/f/common/main", "", "").body), &script)
	lock, _ := script["lock"].(string)
	if !strings.HasPrefix(lock, "{\n  \"dependencies\": {\n    \"right\": \"latest\"\n  }\n}\n//bun.lock\n{") || !strings.Contains(lock, `"right": ["right@2.0.0", "",`) {
		t.Fatalf("the version's lock:\n%s", lock)
	}
	if r := f.syncRun("f/common/main", "{}"); r.body != `"left 1.2.0"` {
		t.Fatalf("run: %d %s", r.status, r.body)
	}
	f.createScript("f/common/helpers", "bun", `export function greet(v: string): string { return "LEFT " + v }`)
	reg.Stop()
	if r := f.syncRun("f/common/main", "{}"); r.body != `"LEFT 1.2.0"` {
		t.Fatalf("after the helper changed, the registry gone: %d %s", r.status, r.body)
	}
}

// An import pins a version of the registry, not another source: an
// alias or a file (reachable through Deno's "npm:" form, which the other
// sources' ':' would otherwise make a URL import) fails the run in words
// naming the import, and npm never runs. `npm:left@file:..` made npm
// install the cache's own npm folder as left.
func TestTypeScriptImportPinIsARegistryVersion(t *testing.T) {
	t.Parallel()
	reg := npmPackages(t)
	f := setup(t, withRegistry(t, reg))
	for path, spec := range map[string]string{"f/me/alias": "npm:left@npm:right@2.0.0", "f/me/file": "npm:left@file:.."} {
		f.createScript(path, "bun", `import * as x from "`+spec+`";
export function main() { return Object.keys(x).length }
`)
		r := f.syncRun(path, "{}")
		if r.header.Get("X-Millrun-Job-Success") != "false" || !strings.Contains(r.body, `the import \"`+strings.TrimPrefix(spec, "npm:")+`\" pins`) {
			t.Errorf("%s: %d %s", spec, r.status, r.body)
		}
	}
	if n := reg.Hits("/"); n > 0 {
		t.Errorf("npm asked the registry %d times", n)
	}
}

// A lock pushed with a TypeScript script (wmill sync) is kept byte for
// byte, given back by a pull, and installed as it pins: left 1.1.0 where
// a resolution would take 1.2.0.
func TestTypeScriptPushedLockRoundTrips(t *testing.T) {
	t.Parallel()
	reg := npmPackages(t)
	f := setup(t, withRegistry(t, reg))
	lock := "{\n  \"dependencies\": {\n    \"right\": \"^2.0.0\"\n  }\n}\n//bun.lock\n{\n  \"lockfileVersion\": 1,\n  \"workspaces\": {\n    \"\": {\n      \"dependencies\": {\n        \"right\": \"^2.0.0\",\n      },\n    },\n  },\n  \"packages\": {\n" +
		"    \"left\": [\"left@1.1.0\", \"\", {}, \"" + reg.Integrity("left", "1.1.0") + "\"],\n\n" +
		"    \"right\": [\"right@2.0.0\", \"\", { \"dependencies\": { \"left\": \"^1.1.0\" } }, \"" + reg.Integrity("right", "2.0.0") + "\"],\n  }\n}\n"
	f.createScript("f/me/pinned", "bun", `import { leftVersion } from "right@2"; export function main() { return leftVersion }`, "lock", lock)
	if r := f.syncRun("f/me/pinned", "{}"); r.body != `"1.1.0"` {
		t.Fatalf("run with the pushed lock: %d %s", r.status, r.body)
	}
	var script map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/scripts/get/p/f/me/pinned", "", "").body), &script)
	if script["lock"] != lock {
		t.Fatalf("the lock changed:\n%v", script["lock"])
	}
	if n := len(f.jobsOfKind("dependencies", "f/me/pinned")); n != 0 {
		t.Errorf("a script pushed with its lock started %d dependency jobs", n)
	}
	pulled := f.zipFiles("")
	var meta map[string]any
	json.Unmarshal([]byte(pulled["f/me/pinned.script.json"]), &meta)
	if meta["lock"] != lock {
		t.Errorf("the pulled lock differs: %v", meta["lock"])
	}
}
