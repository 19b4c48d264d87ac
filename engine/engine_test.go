// The engine end to end through its HTTP handler: one file for the shared
// fixture (setup, do, createScript, syncRun, waitJob) and the core webhook
// cases every other test file builds on; it is long because those cases
// share it.
package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/instance"
	"github.com/millrun/millrun/engine/testkit"
)

type fixture struct {
	t     *testing.T
	e     *Engine
	srv   *httptest.Server
	token string
	dir   string
}

// servedHere is a BaseURL that setup replaces with its own server's
// address, for jobs that call back into the engine (wmill's calls).
const servedHere = "served here"

func served(c *Config) { c.BaseURL = servedHere }

func setup(t *testing.T, cfgs ...func(*Config)) *fixture {
	t.Helper()
	dir := t.TempDir()
	// Installed packages' folders are read-only, which testing's own
	// removal of dir cannot undo unless it runs as root.
	t.Cleanup(func() {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o700)
			}
			return nil
		})
	})
	srv := testkit.Listen(t) // its address is known before the engine opens
	// Tests reach only loopback addresses: pip's index and npm's registry
	// are a closed port unless a test serves one (withIndex, npmtest).
	cfg := Config{DataDir: dir, Workers: 4, ShutdownGrace: 2 * time.Second, PackageEnv: []string{"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir, "PIP_INDEX_URL=http://127.0.0.1:9/simple", "PIP_CONFIG_FILE=" + os.DevNull, "PIP_RETRIES=0", "PIP_TIMEOUT=2",
		"npm_config_registry=http://127.0.0.1:9/"}}
	for _, f := range cfgs {
		f(&cfg)
	}
	if cfg.BaseURL == servedHere {
		cfg.BaseURL = "http://" + srv.Listener.Addr().String()
	}
	e, err := Open(cfg)
	if err != nil {
		t.Fatalf("open engine: %v", err)
	}
	tok, err := e.CreateToken(context.Background(), "test", nil, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start(e.Handler(), tok)
	f := &fixture{t: t, e: e, srv: srv.Server, token: tok, dir: dir}
	t.Cleanup(func() {
		srv.Close() // no request still in flight while the engine stops
		e.Close(context.Background())
	})
	return f
}

type resp struct {
	status int
	header http.Header
	body   string
}

func (f *fixture) do(method, path, contentType, body string, hdr ...string) resp {
	f.t.Helper()
	r := testkit.Client{URL: f.srv.URL, Token: f.token}.Do(f.t, method, path, contentType, body, hdr...)
	return resp{r.Status, r.Header, r.Body}
}

func (f *fixture) createScript(path, lang, content string, extra ...string) string {
	f.t.Helper()
	return testkit.Client{URL: f.srv.URL, Token: f.token}.CreateScript(f.t, path, lang, content, extra...)
}

func (f *fixture) syncRun(path, body string) resp {
	f.t.Helper()
	return f.do("POST", "/api/w/local/jobs/run_wait_result/p/"+path, "application/json", body)
}

func (f *fixture) waitJob(id string) map[string]any {
	f.t.Helper()
	var j map[string]any
	testkit.WaitUntil(f.t, "job "+id+" to finish", 20*time.Second, func() bool {
		r := f.do("GET", "/api/w/local/jobs_u/get/"+id, "", "")
		if r.status != 200 {
			f.t.Fatalf("get job %s: %d %s", id, r.status, r.body)
		}
		if err := json.Unmarshal([]byte(r.body), &j); err != nil {
			f.t.Fatal(err)
		}
		return j["type"] == "CompletedJob"
	})
	return j
}

func TestScriptsCreateGetList(t *testing.T) {
	t.Parallel()
	f := setup(t)
	h1 := f.createScript("u/me/hello", "python3", "def main(name: str = 'world'):\n    return 'hi ' + name\n")
	if len(h1) != 16 {
		t.Fatalf("hash %q is not 16 hex chars", h1)
	}
	// Windmill's rules for a new version on a live path: name the version
	// it replaces, which must be the latest; the same version again without
	// one is refused. The same content with its parent keeps its hash; a
	// summary change alone is an update in place.
	same := `{"path":"u/me/hello","language":"python3","content":"def main(name: str = 'world'):\n    return 'hi ' + name\n"`
	for _, c := range []struct{ body, want string }{
		{same + `}`, "A script with same hash (hence same path, description, summary, content) already exists!"},
		{strings.Replace(same, "'world'", "'earth'", 1) + `}`, "Path conflict for u/me/hello with non-archived hash " + h1},
		{same + `,"parent_hash":"0123456789abcdef"}`, "The parent hash does not seem to exist"},
	} {
		if r := f.do("POST", "/api/w/local/scripts/create", "application/json", c.body); r.status != 400 || !strings.Contains(r.body, c.want) {
			t.Fatalf("create %s: %d %s, want 400 %q", c.body, r.status, r.body, c.want)
		}
	}
	if again := f.createScript("u/me/hello", "python3", "def main(name: str = 'world'):\n    return 'hi ' + name\n", "summary", "greets"); again != h1 {
		t.Fatalf("a summary change made a new version: %s vs %s", again, h1)
	}
	h2 := f.createScript("u/me/hello", "python3", "def main(name: str = 'you'):\n    return 'yo ' + name\n")
	if h2 == h1 {
		t.Fatal("new content kept the old hash")
	}
	r := f.do("GET", "/api/w/local/scripts/get/p/u/me/hello", "", "")
	var s map[string]any
	json.Unmarshal([]byte(r.body), &s)
	if r.status != 200 || s["hash"] != h2 || !strings.Contains(s["content"].(string), "yo") {
		t.Fatalf("get latest: %d %s", r.status, r.body)
	}
	schema := s["schema"].(map[string]any)
	if schema["properties"].(map[string]any)["name"].(map[string]any)["default"] != "you" {
		t.Fatalf("schema default not inferred: %v", schema)
	}
	r = f.do("GET", "/api/w/local/scripts/history/p/u/me/hello", "", "")
	var hist []map[string]any
	json.Unmarshal([]byte(r.body), &hist)
	if len(hist) != 2 {
		t.Fatalf("history has %d versions, want 2: %s", len(hist), r.body)
	}
	f.createScript("f/ops/deploy", "bash", "echo hi\n")
	r = f.do("GET", "/api/w/local/scripts/list", "", "")
	var list []map[string]any
	json.Unmarshal([]byte(r.body), &list)
	if len(list) != 2 || list[0]["path"] != "f/ops/deploy" || list[1]["path"] != "u/me/hello" {
		t.Fatalf("list: %s", r.body)
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/echo", "python3", "def main(x=None):\n    return x\n")
	cases := []struct {
		name, method, path, ctype, body string
		status                          int
		contains                        string
	}{
		{"invalid path", "POST", "/api/w/local/scripts/create", "application/json", `{"path":"hello","language":"bash","content":"echo"}`, 400, "u/<user>/<name> or f/<folder>/<name>"},
		{"main's parameters cut off", "POST", "/api/w/local/scripts/create", "application/json", `{"path":"u/me/x","language":"python3","content":"def main(a, b"}`, 400, "main's parameters"},
		{"bad language", "POST", "/api/w/local/scripts/create", "application/json", `{"path":"u/me/x","language":"cobol","content":"x"}`, 400, "unsupported language"},
		{"malformed create", "POST", "/api/w/local/scripts/create", "application/json", `{"path":`, 400, "not valid JSON"},
		{"malformed run body", "POST", "/api/w/local/jobs/run/p/u/me/echo", "application/json", `{"x": }`, 400, "Bad request: the body is not valid JSON"},
		{"unknown script", "POST", "/api/w/local/jobs/run/p/u/me/nope", "application/json", `{}`, 404, "Not found: script not found at name u/me/nope"},
		{"unknown job", "GET", "/api/w/local/jobs_u/get/9b2e3a3e-0000-4000-8000-000000000000", "", "", 404, "Not found: job"},
		{"unknown workspace", "POST", "/api/w/other/jobs/run/p/u/me/echo", "application/json", `{}`, 404, "workspace other"},
		{"unknown route", "GET", "/api/w/local/nothing", "", "", 404, "Not found"},
		{"too large", "POST", "/api/w/local/jobs/run/p/u/me/echo", "application/json", `{"x":"` + strings.Repeat("a", 11<<20) + `"}`, 413, "larger than the limit"},
	}
	for _, c := range cases {
		r := f.do(c.method, c.path, c.ctype, c.body)
		if r.status != c.status || !strings.Contains(r.body, c.contains) {
			t.Errorf("%s: got %d %q, want %d containing %q", c.name, r.status, trunc(r.body), c.status, c.contains)
		}
		if r.status >= 400 && !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
			t.Errorf("%s: error content type %q, want text/plain", c.name, r.header.Get("Content-Type"))
		}
	}
}

func trunc(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

func TestAuthRequired(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/a", "bash", "echo ok\n")
	r := f.do("GET", "/api/version", "", "", "Authorization", "")
	if r.status != 200 || !strings.Contains(r.body, "millrun") {
		t.Fatalf("version: %d %s", r.status, r.body)
	}
	for _, hdr := range [][]string{{"Authorization", ""}, {"Authorization", "Bearer wrongwrongwrongwrongwrongwrong12"}} {
		r := f.do("POST", "/api/w/local/jobs/run_wait_result/p/u/me/a", "application/json", "{}", hdr...)
		// Windmill's exact text (clients compare it); why is in a header.
		if r.status != 401 || r.body != "Not authorized: Unauthorized" || r.header.Get("X-Millrun-Hint") == "" {
			t.Errorf("%v: %d %q %q", hdr, r.status, r.body, r.header.Get("X-Millrun-Hint"))
		}
	}
	r = f.do("POST", "/api/w/local/jobs/run_wait_result/p/u/me/a?token="+f.token, "application/json", "{}", "Authorization", "")
	if r.status != 200 || r.body != `"ok"` {
		t.Fatalf("?token= run: %d %s", r.status, r.body)
	}
}

// languageCases run one script per language; the same table serves sync
// and async checks.
var languageCases = []struct {
	lang, content, args, want string
}{
	{"python3", "def main(a: int, b: str = 'x'):\n    print('log line')\n    return {'sum': a + 1, 'b': b}\n", `{"a": 41, "extra": "ignored"}`, `{"sum": 42, "b": "x"}`},
	{"bun", "export async function main(name: string, n: number = 2) {\n  console.log('log line');\n  return name.repeat(n);\n}\n", `{"name": "ab"}`, `"abab"`},
	{"deno", "export function main(x: { a: number }) { console.log('log line'); return x.a * 2 }\n", `{"x": {"a": 21}}`, `42`},
	{"bash", "name=\"$1\"\ncount=\"${2:-3}\"\necho 'log line'\necho \"hello $name $count\"\n", `{"name": "bob"}`, `"hello bob 3"`},
}

func TestLanguagesSyncAndAsync(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for i, c := range languageCases {
		path := fmt.Sprintf("u/me/lang%d", i)
		f.createScript(path, c.lang, c.content)
		r := f.syncRun(path, c.args)
		// Exact bytes: Windmill answers compact JSON whatever the language.
		var want bytes.Buffer
		json.Compact(&want, []byte(c.want))
		if r.status != 200 || r.body != want.String() || r.header.Get("X-Millrun-Job-Success") != "true" {
			t.Errorf("%s sync: %d %s, want %s", c.lang, r.status, r.body, c.want)
		}
		r = f.do("POST", "/api/w/local/jobs/run/p/"+path, "application/json", c.args)
		if r.status != 201 || len(r.body) != 36 {
			t.Fatalf("%s async: %d %q", c.lang, r.status, r.body)
		}
		j := f.waitJob(r.body)
		res, _ := json.Marshal(j["result"])
		if j["success"] != true || compactJSON(string(res)) != compactJSON(c.want) || !strings.Contains(j["logs"].(string), "log line") {
			t.Errorf("%s async job: %v", c.lang, j)
		}
	}
}

func compactJSON(s string) string {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestBashResultFiles(t *testing.T) {
	t.Parallel()
	f := setup(t)
	cases := []struct{ content, want string }{
		{"echo '{\"a\": [1, 2]}' > result.json\necho done\n", `{"a":[1,2]}`},
		{"printf 'plain text' > result.out\necho done\n", `"plain text"`},
		{"echo first\necho '  last line  '\n", `"last line"`},
		{"n=\"$1\"\necho \"$n\"\n", `"{\"k\":1}"`},
		// The script is ./main.sh, in $0 and in bash's own errors, large
		// ones included, as Windmill runs it (bash ./main.sh).
		{"no_such_command_x 2>&1 || true\necho \"$0\"\n", `"./main.sh"`},
		{"#" + strings.Repeat("x", 70<<10) + "\nno_such_command_x 2>&1 | grep -o '^./main.sh: line 2' || true\n", `"./main.sh: line 2"`},
	}
	for i, c := range cases {
		path := fmt.Sprintf("u/me/bash%d", i)
		f.createScript(path, "bash", c.content)
		r := f.syncRun(path, `{"n": {"k": 1}}`)
		if compactJSON(r.body) != c.want {
			t.Errorf("case %d: got %s want %s", i, r.body, c.want)
		}
	}
}

func failure(t *testing.T, body string) map[string]any {
	t.Helper()
	var v struct {
		Error map[string]any `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.Error == nil {
		t.Fatalf("not an error object: %s", body)
	}
	return v.Error
}

func TestFaults(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/raises", "python3", "class BadThing(Exception):\n    pass\n\ndef main():\n    raise BadThing('it broke')\n")
	r := f.syncRun("u/me/raises", "{}")
	e := failure(t, r.body)
	if r.status != 200 || r.header.Get("X-Millrun-Job-Success") != "false" || e["name"] != "BadThing" || e["message"] != "it broke" || !strings.Contains(e["stack"].(string), "Traceback") {
		t.Errorf("python raise: %d %s", r.status, r.body)
	}

	f.createScript("u/me/tsraise", "bun", "export function main() { throw new RangeError('nope') }\n")
	e = failure(t, f.syncRun("u/me/tsraise", "{}").body)
	if e["name"] != "RangeError" || e["message"] != "nope" {
		t.Errorf("ts throw: %v", e)
	}

	f.createScript("u/me/exit", "bash", "echo about to fail\nexit 3\n")
	e = failure(t, f.syncRun("u/me/exit", "{}").body)
	if e["name"] != "ExecutionErr" || e["exit_code"] != float64(3) || !strings.Contains(e["message"].(string), "about to fail") {
		t.Errorf("bash exit: %v", e)
	}

	f.createScript("u/me/garbage", "python3", "import sys\ndef main():\n    sys.stdout.buffer.write(bytes(range(256)))\n    return 1\n")
	if r := f.syncRun("u/me/garbage", "{}"); r.body != "1" {
		t.Errorf("garbage output: %s", r.body)
	}

	f.createScript("u/me/unserializable", "python3", "import datetime\ndef main():\n    return {'when': datetime.date(2024, 1, 2)}\n")
	if r := f.syncRun("u/me/unserializable", "{}"); compactJSON(r.body) != `{"when":"2024-01-02"}` {
		t.Errorf("non-JSON value: %s", r.body)
	}

	f.createScript("u/me/flood", "bash", "head -c 5000000 /dev/zero | tr '\\0' 'x'\necho\necho end\n")
	r = f.syncRun("u/me/flood", "{}")
	id := r.header.Get("X-Millrun-Job-Id")
	j := f.waitJob(id)
	logs := j["logs"].(string)
	if !strings.Contains(logs, "[millrun: log truncated at") || len(logs) > 20000+10 {
		t.Errorf("flooded log not capped with a marker (len %d): ...%s", len(logs), logs[max(0, len(logs)-200):])
	}

	f.createScript("u/me/compile", "bun", "export function main() { return 1 +* }\n")
	r = f.syncRun("u/me/compile", "{}")
	if e := failure(t, r.body); e["name"] != "CompileError" {
		t.Errorf("compile error: %v", e)
	}
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	t.Parallel()
	f := setup(t)
	marker := t.TempDir() + "/child-alive"
	f.createScript("u/me/hang", "bash", fmt.Sprintf("(sleep 3; touch %s) &\nsleep 60\n", marker), "timeout", "1")
	start := time.Now()
	r := f.syncRun("u/me/hang", "{}")
	e := failure(t, r.body)
	if e["name"] != "TimeoutError" || time.Since(start) > 10*time.Second {
		t.Fatalf("timeout: %v after %s", e, time.Since(start))
	}
	time.Sleep(3500 * time.Millisecond)
	if fileExists(marker) {
		t.Fatal("a child of the timed-out job survived and ran")
	}
}

func TestCancelRunningJob(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/slow", "python3", "import time\ndef main():\n    print('started', flush=True)\n    time.sleep(60)\n")
	id := f.do("POST", "/api/w/local/jobs/run/p/u/me/slow", "application/json", "{}").body
	testkit.WaitUntil(t, "the job to start", 10*time.Second, func() bool {
		return strings.Contains(f.do("GET", "/api/w/local/jobs_u/get/"+id, "", "").body, "started")
	})
	r := f.do("POST", "/api/w/local/jobs_u/queue/cancel/"+id, "application/json", `{"reason":"enough"}`)
	if r.status != 200 || r.body != id {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	j := f.waitJob(id)
	if j["canceled"] != true || j["success"] != false || j["canceled_reason"] != "enough" {
		t.Fatalf("canceled job: %v", j)
	}
	r = f.do("POST", "/api/w/local/jobs_u/queue/cancel/"+id, "application/json", `{}`)
	if r.body != "queued job id "+id+" is already completed" {
		t.Fatalf("second cancel: %s", r.body)
	}
}

func TestConcurrencyLimitSerializes(t *testing.T) {
	t.Parallel()
	f := setup(t)
	// Each run appends start/end marks; with a limit of 1 they never interleave.
	log := t.TempDir() + "/marks"
	f.createScript("u/me/deploy", "bash", fmt.Sprintf("echo start >> %s\nsleep 0.3\necho end >> %s\n", log, log), "concurrent_limit", "1")
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); f.syncRun("u/me/deploy", "{}") }()
	}
	wg.Wait()
	b := readFile(t, log)
	if b != "start\nend\nstart\nend\nstart\nend\n" {
		t.Fatalf("runs overlapped:\n%s", b)
	}
}

func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e, err := Open(Config{DataDir: dir, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Simulate a crash: a job left running, and one still queued, in the file.
	insertRaw(t, e, "11111111-1111-4111-8111-111111111111", "running")
	insertRaw(t, e, "22222222-2222-4222-8222-222222222222", "queued")
	// A sync job whose start reached only the start log, and one whose
	// line was torn by the crash (so it had not started).
	insertRaw(t, e, "33333333-3333-4333-8333-333333333333", "queued")
	insertRaw(t, e, "44444444-4444-4444-8444-444444444444", "queued")
	e.queue.Close(context.Background())
	e.db.Close()
	e.lock.Release() // the OS drops a dead process's lock
	if err := os.WriteFile(filepath.Join(dir, "started-b.log"), []byte("33333333-3333-4333-8333-333333333333\n44444444-4444"), 0o600); err != nil {
		t.Fatal(err)
	}

	f := setup(t, func(c *Config) { c.DataDir = dir })
	j := f.waitJob("11111111-1111-4111-8111-111111111111")
	res, _ := json.Marshal(j["result"])
	if j["success"] != false || !strings.Contains(string(res), "worker stopped: millrun exited while the job ran") {
		t.Fatalf("running job after crash: %v", j)
	}
	j = f.waitJob("22222222-2222-4222-8222-222222222222")
	if j["success"] != true {
		t.Fatalf("queued job after restart did not run: %v", j)
	}
	j = f.waitJob("33333333-3333-4333-8333-333333333333")
	if res, _ := json.Marshal(j["result"]); j["success"] != false || !strings.Contains(string(res), "worker stopped") {
		t.Fatalf("a job the start log says started was run again after the crash: %v", j)
	}
	j = f.waitJob("44444444-4444-4444-8444-444444444444")
	if j["success"] != true {
		t.Fatalf("a job whose start-log line was torn (it had not started) did not run: %v", j)
	}
}

// A second engine on the same data directory would recover the first one's
// running jobs as crashed; it must be refused, naming the first.
func TestSecondEngineOnSameDataDirRefused(t *testing.T) {
	t.Parallel()
	f := setup(t)
	if err := f.e.Announce(instance.KindServe, f.srv.URL, ""); err != nil {
		t.Fatal(err)
	}
	_, err := Open(Config{DataDir: f.dir})
	var inUse *instance.InUseError
	if !errors.As(err, &inUse) || !strings.Contains(err.Error(), "millrun serve at "+f.srv.URL) {
		t.Fatalf("second Open: %v", err)
	}
	// The first engine is untouched and still runs jobs.
	f.createScript("u/me/ok", "bash", "main() { echo 1; }")
	if r := f.syncRun("u/me/ok", "{}"); r.status != 200 {
		t.Fatalf("first engine after refused second: %d %s", r.status, r.body)
	}
	f.e.Close(context.Background())
	e2, err := Open(Config{DataDir: f.dir})
	if err != nil {
		t.Fatalf("Open after the first closed: %v", err)
	}
	e2.Close(context.Background())
}

func TestQueueFullAnswers429(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *Config) { c.Workers = 1 })
	s := f.e.Settings()
	s.MaxQueued = 2
	if err := f.e.UpdateSettings(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	f.createScript("u/me/sleep", "bash", "sleep 2\n")
	var statuses []int
	for range 5 {
		r := f.do("POST", "/api/w/local/jobs/run/p/u/me/sleep", "application/json", "{}")
		statuses = append(statuses, r.status)
		if r.status == 429 && r.header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	if statuses[len(statuses)-1] != 429 {
		t.Fatalf("statuses %v: expected the queue to fill", statuses)
	}
}

func TestSyncWaitLimitCancelsJob(t *testing.T) {
	t.Parallel()
	f := setup(t)
	s := f.e.Settings()
	s.SyncTimeoutS = 1
	if err := f.e.UpdateSettings(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	f.createScript("u/me/long", "bash", "sleep 30\n")
	r := f.syncRun("u/me/long", "{}")
	if r.status != 500 || !strings.Contains(r.body, "timeout after 1s") {
		t.Fatalf("sync limit: %d %s", r.status, r.body)
	}
	list := f.do("GET", "/api/w/local/jobs/list?script_path_exact=u/me/long", "", "")
	var jobs []map[string]any
	json.Unmarshal([]byte(list.body), &jobs)
	if len(jobs) != 1 || !strings.Contains(r.body, jobs[0]["id"].(string)) {
		t.Fatalf("timeout message does not name the job: %s / %s", r.body, list.body)
	}
	j := f.waitJob(jobs[0]["id"].(string))
	if j["canceled"] != true {
		t.Fatalf("job not canceled after the wait limit: %v", j)
	}
}

// The editor asks where a script stops parsing before it saves: the first
// syntax error and its line, per language, and ok for scripts that parse.
func TestSyntaxCheck(t *testing.T) {
	t.Parallel()
	f := setup(t)
	cases := []struct {
		lang, content string
		line          float64
		message       string
	}{
		{"python3", "def main():\n    x = (1,\n    return x\n", 0, "never closed"},
		{"python3", "def main():\n    return 1\n", -1, ""},
		{"bash", "echo hi\nif true; then\necho no fi\n", 0, "syntax error"},
		{"bash", "echo hi\n", -1, ""},
		{"bun", "export function main(a: string) {\n  return a +;\n}\n", 2, "Unexpected"},
		{"bun", "export function main(a: string) { return a }\n", -1, ""},
	}
	for _, c := range cases {
		body, _ := json.Marshal(map[string]string{"language": c.lang, "content": c.content})
		var got map[string]any
		json.Unmarshal([]byte(f.mustDo(200, "POST", "/api/millrun/scripts/check", "application/json", string(body)).body), &got)
		if c.line < 0 {
			if got["ok"] != true {
				t.Errorf("%s %q: %v, want ok", c.lang, c.content, got)
			}
			continue
		}
		if got["ok"] != false || !strings.Contains(fmt.Sprint(got["message"]), c.message) || (c.line > 0 && got["line"] != c.line) || got["line"] == float64(0) {
			t.Errorf("%s %q: %v, want an error on line %v saying %q", c.lang, c.content, got, c.line, c.message)
		}
	}
	f.mustDo(400, "POST", "/api/millrun/scripts/check", "application/json", `{"language":"cobol","content":"x"}`)
}

// Bash runs as Windmill runs main.sh: set -e, and no pipefail (Windmill's
// wrapper sets it for itself, in a shell main.sh does not inherit it
// from), so a pipeline is as good as its last command; forked or spawned.
func TestBashOptionsAsWindmill(t *testing.T) {
	t.Parallel()
	for _, forked := range []bool{true, false} {
		f := setup(t, func(c *Config) { c.NoForkServer = !forked })
		f.createScript("u/me/pipe", "bash", "false | true\necho \"went on: $-\"\n")
		if r := f.syncRun("u/me/pipe", `{}`); !strings.HasPrefix(r.body, `"went on: `) || !strings.Contains(strings.TrimPrefix(r.body, `"went on: `), "e") {
			t.Errorf("forked %v: a pipeline whose first command fails stopped the script: %s", forked, r.body)
		}
		f.createScript("u/me/stop", "bash", "false\necho never\n")
		if r := f.syncRun("u/me/stop", `{}`); strings.Contains(r.body, "never") || r.header.Get("X-Millrun-Job-Success") != "false" {
			t.Errorf("forked %v: set -e did not stop the script at a failed command: %s", forked, r.body)
		}
		f.createScript("u/me/opts", "bash", "set -o | grep pipefail\n")
		if r := f.syncRun("u/me/opts", `{}`); !strings.Contains(r.body, "off") {
			t.Errorf("forked %v: pipefail is set: %s", forked, r.body)
		}
	}
}
