package engine

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/deps/depstest"
	"github.com/millrun/millrun/engine/testkit"
)

// A lock pushed with a script (wmill sync push's .script.lock) is kept
// with the version, shown on it, and given back by a pull.
func TestPushedLockIsKeptAndPulled(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const lock = "# py: 3.11\nanyio==4.5.0\nhttpx==0.28.1\nwmill==1.404.0"
	f.createScript("f/me/fetch", "python3", "import httpx\nimport wmill\n\ndef main():\n    return 1\n", "lock", lock)
	var got map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/scripts/get/p/f/me/fetch", "", "").body), &got)
	if got["lock"] != lock {
		t.Fatalf("the script's lock: %v", got["lock"])
	}
	// The same content pushed again without a lock keeps it.
	f.createScript("f/me/fetch", "python3", "import httpx\nimport wmill\n\ndef main():\n    return 1\n", "summary", "now with a summary")
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/scripts/get/p/f/me/fetch", "", "").body), &got)
	if got["lock"] != lock || got["summary"] != "now with a summary" {
		t.Fatalf("after a push without a lock: %v %v", got["lock"], got["summary"])
	}
	r := f.mustDo(200, "GET", "/api/w/local/workspaces/tarball?archive_type=zip", "", "")
	zr, err := zip.NewReader(bytes.NewReader([]byte(r.body)), int64(len(r.body)))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, file := range zr.File {
		if file.Name != "f/me/fetch.script.json" {
			continue
		}
		rc, _ := file.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		var meta map[string]any
		json.Unmarshal(b, &meta)
		found = meta["lock"] == lock
		if !found {
			t.Errorf("the pulled metadata's lock: %s", b)
		}
	}
	if !found && !t.Failed() {
		t.Errorf("no f/me/fetch.script.json in the pull: %v", strings.Join(names(zr), ", "))
	}
}

func names(zr *zip.Reader) []string {
	var out []string
	for _, f := range zr.File {
		out = append(out, f.Name)
	}
	return out
}

// packageIndex serves the packages the engine tests install: greeter
// needs colorword; colorword comes in two versions.
func packageIndex(t *testing.T) *depstest.Index {
	return depstest.Serve(t,
		depstest.Dist{Name: "colorword", Version: "1.0", Code: "WORD = 'red'\n"},
		depstest.Dist{Name: "colorword", Version: "2.0", Code: "WORD = 'blue'\n"},
		depstest.Dist{Name: "greeter", Version: "1.0", Requires: []string{"colorword"},
			Code: "import colorword\ndef hello(name):\n    return 'hello ' + name + ' in ' + colorword.WORD\n"},
	)
}

// withIndex points the engine's pip at a loopback index only (no user
// configuration, no retries, no pip cache).
func withIndex(t *testing.T, url string) func(*Config) {
	home := t.TempDir()
	return func(c *Config) {
		c.PackageEnv = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "PIP_INDEX_URL=" + url,
			"PIP_CONFIG_FILE=" + os.DevNull, "PIP_RETRIES=0", "PIP_TIMEOUT=5", "PIP_NO_CACHE_DIR=1", "PIP_DISABLE_PIP_VERSION_CHECK=1"}
	}
}

// jobsOfKind lists the jobs of one kind at path, newest first.
func (f *fixture) jobsOfKind(kind, path string) []map[string]any {
	f.t.Helper()
	var list []map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/jobs/list?script_path_exact="+path, "", "").body), &list)
	var out []map[string]any
	for _, j := range list {
		if j["job_kind"] == kind {
			out = append(out, j)
		}
	}
	return out
}

// A script that imports a package from the index: saving it starts a
// dependency job that resolves its lock (Windmill's format) and installs
// it; its webhook runs with the package and with millrun's wmill (the
// index has none); with the index gone, it runs from the cache.
func TestScriptImportsPackages(t *testing.T) {
	t.Parallel()
	ix := packageIndex(t)
	f := setup(t, served, withIndex(t, ix.URL))
	f.createScript("f/me/greet", "python3", "import greeter\nimport wmill\n\ndef main(name: str = 'ann'):\n    return greeter.hello(name) + ' @' + wmill.get_workspace()\n")
	var dep []map[string]any
	testkit.WaitUntil(t, "the dependency job", 60*time.Second, func() bool {
		dep = f.jobsOfKind("dependencies", "f/me/greet")
		return len(dep) == 1 && dep[0]["running"] != true && dep[0]["type"] == "CompletedJob"
	})
	dj := f.waitJob(dep[0]["id"].(string))
	if dj["success"] != true {
		t.Fatalf("dependency job: %v", dj)
	}
	var script map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/scripts/get/p/f/me/greet", "", "").body), &script)
	lock, _ := script["lock"].(string)
	if !strings.HasPrefix(lock, "# py: 3.") || !strings.Contains(lock, "\ncolorword==2.0") || !strings.Contains(lock, "\ngreeter==1.0") || strings.Contains(lock, "wmill") {
		t.Fatalf("the version's lock:\n%s", lock)
	}
	if logs, _ := dj["logs"].(string); !strings.Contains(logs, "greeter") || !strings.Contains(logs, "built-in wmill") {
		t.Errorf("the dependency job's log does not say what it fetched: %s", logs)
	}
	r := f.syncRun("f/me/greet", `{"name":"bob"}`)
	if r.status != 200 || r.body != `"hello bob in blue @local"` {
		t.Fatalf("run with packages: %d %s", r.status, r.body)
	}
	// Settings shows the cache; cleared, it is refilled by the next run.
	var pk struct {
		Location string `json:"location"`
		Bytes    int64  `json:"bytes"`
		IndexURL string `json:"index_url"`
	}
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/millrun/packages", "", "").body), &pk)
	if pk.Bytes == 0 || !strings.HasPrefix(pk.Location, f.dir) || pk.IndexURL != ix.URL {
		t.Fatalf("the package cache in Settings: %+v", pk)
	}
	f.mustDo(200, "POST", "/api/millrun/packages/clear", "", "")
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/millrun/packages", "", "").body), &pk)
	if pk.Bytes != 0 {
		t.Fatalf("the cleared cache holds %d bytes", pk.Bytes)
	}
	if r := f.syncRun("f/me/greet", `{"name":"dee"}`); r.body != `"hello dee in blue @local"` {
		t.Fatalf("run after the cache was cleared: %d %s", r.status, r.body)
	}
	ix.Stop()
	r = f.syncRun("f/me/greet", `{"name":"cy"}`)
	if r.status != 200 || r.body != `"hello cy in blue @local"` {
		t.Fatalf("run from the cache, the index stopped: %d %s", r.status, r.body)
	}
}

// A lock pushed with the script is used as it is: no resolution, the
// version it pins.
func TestPushedLockIsUsedAsItIs(t *testing.T) {
	t.Parallel()
	ix := packageIndex(t)
	f := setup(t, withIndex(t, ix.URL))
	f.createScript("f/me/old", "python3", "import greeter\n\ndef main():\n    return greeter.hello('x')\n",
		"lock", "# py: 3.11\ncolorword==1.0\ngreeter==1.0")
	r := f.syncRun("f/me/old", `{}`)
	if r.status != 200 || r.body != `"hello x in red"` {
		t.Fatalf("run with the pushed lock: %d %s", r.status, r.body)
	}
	if n := len(f.jobsOfKind("dependencies", "f/me/old")); n != 0 {
		t.Errorf("a script pushed with its lock started %d dependency jobs", n)
	}
	j := f.waitJob(r.header.Get("X-Millrun-Job-Id"))
	if logs, _ := j["logs"].(string); strings.Contains(logs, "resolving") {
		t.Errorf("the pushed lock was resolved again: %s", logs)
	}
}

// A requirement that is more than one requirement for pip (here a U+2028
// LINE SEPARATOR, which pip's splitlines() breaks on, then an index
// option) and a pushed lock with an option line fail in words naming the
// line; neither reaches the other index, nor resolves without the line.
func TestPackagesRefuseLinesThatAreNotRequirements(t *testing.T) {
	t.Parallel()
	ix := packageIndex(t)
	other := depstest.Serve(t, depstest.Dist{Name: "colorword", Version: "2.0", Code: "WORD = 'planted'\n"})
	f := setup(t, withIndex(t, ix.URL))
	f.createScript("f/me/sneaky", "python3", "#requirements:\n#greeter==1.0\u2028--index-url="+other.URL+"\nimport greeter\n\ndef main():\n    return greeter.hello('x')\n")
	r := f.syncRun("f/me/sneaky", `{}`)
	if r.header.Get("X-Millrun-Job-Success") != "false" || !strings.Contains(r.body, "DependenciesError") ||
		!strings.Contains(r.body, `greeter==1.0\\u2028--index-url=`) || !strings.Contains(r.body, "#requirements: line 2") || !strings.Contains(r.body, "line break (U+2028)") {
		t.Fatalf("a requirement with a line separator: %d %s", r.status, r.body)
	}
	f.createScript("f/me/pushed", "python3", "import greeter\n\ndef main():\n    return greeter.hello('x')\n",
		"lock", "# py: 3.11\ngreeter==1.0\n\\\n--requirement=/etc/hostname\ncolorword==2.0")
	r = f.syncRun("f/me/pushed", `{}`)
	if r.header.Get("X-Millrun-Job-Success") != "false" || !strings.Contains(r.body, "the lock's lines 3-4") || !strings.Contains(r.body, "is a pip option") {
		t.Fatalf("a pushed lock with an option line: %d %s", r.status, r.body)
	}
	if n := other.Hits("/"); n > 0 {
		t.Errorf("the other index was asked %d times", n)
	}
}

// Offline with nothing in the cache: the call fails in words naming the
// index, the version keeps no lock and says why.
func TestPackagesOfflineSaysSo(t *testing.T) {
	t.Parallel()
	ix := packageIndex(t)
	url := ix.URL
	ix.Stop()
	f := setup(t, withIndex(t, url))
	f.createScript("f/me/greet", "python3", "import greeter\n\ndef main():\n    return greeter.hello('x')\n")
	r := f.syncRun("f/me/greet", `{}`)
	if r.status != 200 || r.header.Get("X-Millrun-Job-Success") != "false" || !strings.Contains(r.body, "DependenciesError") || !strings.Contains(r.body, "127.0.0.1") {
		t.Fatalf("offline run: %d %s", r.status, r.body)
	}
	var script map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/scripts/get/p/f/me/greet", "", "").body), &script)
	if script["lock"] != nil || script["lock_error_logs"] == nil {
		t.Errorf("after a failed resolution the version shows lock %v, error %v", script["lock"], script["lock_error_logs"])
	}
}

// Workspace scripts import each other as on Windmill (f.folder.name and
// .sibling), a library (no main) among them, its own packages joining
// the importer's; a change to the library reaches the next run.
func TestRelativeImports(t *testing.T) {
	t.Parallel()
	ix := packageIndex(t)
	f := setup(t, withIndex(t, ix.URL))
	f.createScript("f/common/words", "python3", "import greeter\n\nPREFIX = 'v1'\n\ndef greet(n):\n    return PREFIX + ' ' + greeter.hello(n)\n")
	f.createScript("f/app/absolute", "python3", "from f.common.words import greet\n\ndef main():\n    return greet('abs')\n")
	f.createScript("f/common/sibling", "python3", "from .words import greet\n\ndef main():\n    return greet('rel')\n")
	if r := f.syncRun("f/app/absolute", `{}`); r.body != `"v1 hello abs in blue"` {
		t.Fatalf("absolute import of a library: %d %s", r.status, r.body)
	}
	if r := f.syncRun("f/common/sibling", `{}`); r.body != `"v1 hello rel in blue"` {
		t.Fatalf("relative import of a sibling: %d %s", r.status, r.body)
	}
	f.createScript("f/common/words", "python3", "import greeter\n\nPREFIX = 'v2'\n\ndef greet(n):\n    return PREFIX + ' ' + greeter.hello(n)\n")
	if r := f.syncRun("f/app/absolute", `{}`); r.body != `"v2 hello abs in blue"` {
		t.Fatalf("after the library changed: %d %s", r.status, r.body)
	}
	f.createScript("f/app/missing", "python3", "from f.common.nope import x\n\ndef main():\n    return x\n")
	if r := f.syncRun("f/app/missing", `{}`); !strings.Contains(r.body, "f/common/nope, which is not a script of this workspace") {
		t.Fatalf("importing a script that does not exist: %d %s", r.status, r.body)
	}
}

// Two scripts pin different versions of one package and run at once,
// each with its own.
func TestTwoVersionsOfOnePackageSideBySide(t *testing.T) {
	t.Parallel()
	ix := packageIndex(t)
	f := setup(t, withIndex(t, ix.URL))
	f.createScript("f/me/red", "python3", "#requirements:\n#colorword==1.0\nimport colorword\n\ndef main():\n    return colorword.WORD\n")
	f.createScript("f/me/blue", "python3", "#requirements:\n#colorword==2.0\nimport colorword\n\ndef main():\n    return colorword.WORD\n")
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := []string{"f/me/red", "f/me/blue"}[i%2]
			got[i] = f.syncRun(path, `{}`).body
		}()
	}
	wg.Wait()
	for i, g := range got {
		if want := []string{`"red"`, `"blue"`}[i%2]; g != want {
			t.Errorf("run %d: %s, want %s", i, g, want)
		}
	}
}

// A warm worker runs a script with its packages, as a cold run does.
func TestWarmWorkerWithPackages(t *testing.T) {
	t.Parallel()
	ix := packageIndex(t)
	f := setup(t, withIndex(t, ix.URL))
	f.createScript("f/me/warm", "python3", "import os\nimport greeter\n\ndef main(n: str = 'w'):\n    return [greeter.hello(n), os.getpid()]\n", "dedicated_worker", "true")
	var first, second []any
	r1, r2 := f.syncRun("f/me/warm", `{}`), f.syncRun("f/me/warm", `{"n":"x"}`)
	json.Unmarshal([]byte(r1.body), &first)
	json.Unmarshal([]byte(r2.body), &second)
	if len(first) != 2 || first[0] != "hello w in blue" || len(second) != 2 || second[0] != "hello x in blue" {
		t.Fatalf("warm runs: %d %s / %d %s", r1.status, r1.body, r2.status, r2.body)
	}
	if first[1] != second[1] {
		t.Errorf("the two runs were not on one warm worker: pids %v %v", first[1], second[1])
	}
}

// A script that asks for a Python that is not installed runs on the
// default one; its log says so, and a syntax error (newer syntax, most
// likely) names the version it asked for.
func TestAskedForPythonNotInstalled(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/future", "python3", "# py: >=3.99\n\ndef main():\n    return 1 +\n")
	r := f.syncRun("u/me/future", `{}`)
	e := failure(t, r.body)
	if e["name"] != "SyntaxError" || !strings.Contains(e["message"].(string), "asks for Python >=3.99; none is installed, so it ran on 3.") {
		t.Fatalf("syntax error on an older Python: %v", e)
	}
	j := f.waitJob(r.header.Get("X-Millrun-Job-Id"))
	if logs, _ := j["logs"].(string); !strings.Contains(logs, "Python >=3.99 was asked for, but no such interpreter is installed") {
		t.Errorf("the log does not say which Python was asked for: %s", logs)
	}
	f.createScript("u/me/fine", "python3", "# py: >=3.99\n\ndef main():\n    return 2\n")
	if r := f.syncRun("u/me/fine", `{}`); r.body != "2" {
		t.Errorf("a script asking for a newer Python that runs fine on this one: %s", r.body)
	}
}
