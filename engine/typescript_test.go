package engine

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/millrun/millrun/engine/deps/npm/npmtest"
)

// servedSetup is an engine whose jobs reach it back at its BaseURL, as
// windmill-client in a script does.
func servedSetup(t *testing.T) *fixture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := setup(t, func(c *Config) { c.BaseURL = "http://" + ln.Addr().String() + "/api" })
	srv := &http.Server{Handler: f.e.Handler()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return f
}

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
	f := servedSetup(t)
	f.e.runner.NPM.Env = append(f.e.runner.NPM.Env, "npm_config_registry=http://127.0.0.1:9/", "npm_config_userconfig="+filepath.Join(t.TempDir(), "npmrc"), "npm_config_cache="+t.TempDir())
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
	f := servedSetup(t)
	f.e.runner.NPM.Env = append(f.e.runner.NPM.Env, reg.Env(t.TempDir())...)
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
