package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/millrun/millrun/engine"
	"github.com/millrun/millrun/engine/deps"
	"github.com/millrun/millrun/engine/deps/depstest"
)

// benchDist is a package of some size, so that installing it is not all
// process start: two dozen modules and a subpackage, about 37 KB. Its
// __init__ only sets __version__, so importing it costs next to nothing
// and a cached run measures millrun's overhead, not the package's.
func benchDist(name, version string, requires ...string) depstest.Dist {
	extra := map[string]string{}
	for i := range 24 {
		var b strings.Builder
		fmt.Fprintf(&b, "\"\"\"%s, module %d.\"\"\"\n\n", name, i)
		for j := range 30 {
			fmt.Fprintf(&b, "def f%d(x):\n    return [i * x for i in range(%d)]\n\n", j, j)
		}
		extra[fmt.Sprintf("%s/m%02d.py", name, i)] = b.String()
	}
	extra[name+"/sub/__init__.py"] = "from .core import run\n"
	extra[name+"/sub/core.py"] = "def run(x):\n    return x\n"
	return depstest.Dist{Name: name, Version: version, Requires: requires, Extra: extra}
}

// The index the packages benchmarks use: several versions of some
// projects and requirements between them, so resolving is more than
// reading five pages.
func benchDists() []depstest.Dist {
	return []depstest.Dist{
		benchDist("benchalpha", "1.0", "benchbeta>=1.0"),
		benchDist("benchbeta", "1.0"),
		benchDist("benchbeta", "1.1"),
		benchDist("benchgamma", "1.0"),
		benchDist("benchdelta", "1.0", "benchepsilon>=0.9"),
		benchDist("benchepsilon", "0.9"),
		benchDist("benchepsilon", "1.0"),
	}
}

// The three-package script, its lock, and the same script without the
// packages.
var (
	threePins    = []string{"benchalpha==1.0", "benchbeta==1.1", "benchgamma==1.0"}
	threeScript  = "import benchalpha\nimport benchbeta\nimport benchgamma\n\n\ndef main():\n    return 'hello ' + benchalpha.__version__ + benchbeta.__version__ + benchgamma.__version__\n"
	stdlibScript = "def main():\n    return 'hello ' + '1.0' + '1.1' + '1.0'\n"
	threeAnswer  = "hello 1.01.11.0"
	fiveReqs     = []string{"benchalpha", "benchbeta", "benchdelta", "benchepsilon", "benchgamma"}
	fiveScript   = "import benchalpha\nimport benchbeta\nimport benchdelta\nimport benchepsilon\nimport benchgamma\n\n\ndef main():\n    return 'ok'\n"
)

// benchPackages measures what packages cost a Python script, against
// what a user would run by hand with the same pip, interpreter and index:
// a cached run against the script without packages, a first run against
// `pip install --target`, and a resolution against pip's own dry run.
// Both sides reach a loopback index only, without retries or pip's
// cache, so neither gains from what the other fetched.
func benchPackages(n, reps int, which string) {
	dir, _ := os.MkdirTemp("", "millrun-bench-")
	defer os.RemoveAll(dir)
	// The same Python for both sides, as in benchPeers.
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		python, _ = exec.LookPath("python3")
	}
	must(os.Setenv("PATH", filepath.Dir(python)+string(os.PathListSeparator)+os.Getenv("PATH")))
	py, err := deps.Tools{}.Probe(context.Background(), python)
	must(err)
	if out, err := exec.Command(py.Path, "-m", "pip", "--version").CombinedOutput(); err != nil {
		must(fmt.Errorf("the packages benchmarks need pip for %s: %s", py.Path, out))
	}

	ix, err := depstest.Start(benchDists()...)
	must(err)
	defer ix.Stop()
	home := filepath.Join(dir, "home")
	must(os.MkdirAll(home, 0o700))
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "PIP_INDEX_URL=" + ix.URL, "PIP_CONFIG_FILE=" + os.DevNull,
		"PIP_RETRIES=0", "PIP_NO_CACHE_DIR=1", "PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_INPUT=1"}
	h := newHarnessWith(engine.Config{DataDir: filepath.Join(dir, "data"), Workers: 2, PackageEnv: env})
	defer h.close()
	if got := h.e.Interpreters().Python; got != py.Path {
		must(fmt.Errorf("millrun runs %s, the baseline %s: not the same interpreter", got, py.Path))
	}
	pipVersion, _ := exec.Command(py.Path, "-m", "pip", "--version").Output()
	fmt.Printf("packages: Python %s (%s), %s, loopback index, uv %s\n", py.Version, py.Path,
		strings.Fields(string(pipVersion) + " ? ?")[1], map[bool]string{true: "not used", false: "installed but pip is what the baselines run"}[deps.FindTools(env).UV == ""])
	lock := "# py: " + py.Minor() + "\n" + strings.Join(threePins, "\n")
	compiled = func() time.Duration {
		return waitCompiled(filepath.Join(dir, "data", "packages", "python_"+strings.ReplaceAll(py.Minor(), ".", "_")), "cpython-"+strings.ReplaceAll(py.Minor(), ".", ""))
	}
	byHand := func(argv ...string) []string { return append([]string{py.Path, "-m", "pip"}, argv...) }
	runCmd := func(argv []string, extraEnv ...string) {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(append([]string{}, env...), extraEnv...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			must(fmt.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, out))
		}
	}

	pick := func(name string) bool { return which == "" || which == "packages" || which == name }
	if pick("cached") {
		benchPackagesCached(h, n, lock)
	}
	if pick("first") {
		benchPackagesFirst(h, reps, dir, lock, byHand, runCmd)
	}
	if pick("resolve") {
		benchPackagesResolve(h, reps, dir, byHand, runCmd)
	}
}

func (h *harness) get(path string) (int, string) {
	req, _ := http.NewRequest("GET", h.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+h.token)
	res, err := client.Do(req)
	must(err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	must(err)
	return res.StatusCode, string(b)
}

func (h *harness) create(path, content, lock string) {
	body := map[string]string{"path": path, "language": "python3", "content": content}
	if lock != "" {
		body["lock"] = lock
	}
	b, _ := json.Marshal(body)
	if code, res := h.post("/api/w/local/scripts/create", string(b)); code != 201 {
		must(fmt.Errorf("create %s: %d %s", path, code, res))
	}
}

func (h *harness) clearPackages() {
	if code, body := h.post("/api/millrun/packages/clear", ""); code != 200 {
		must(fmt.Errorf("clearing the package cache: %d %s", code, body))
	}
}

// benchPackagesCached compares sync runs of a script importing three
// cached packages with the same script without them, interleaved in
// rounds as benchSync does. The packages' __init__ is one assignment,
// so what the ratio shows is millrun's cost (planning the run, the
// stats of the cache, three more folders on sys.path), not the
// packages' own import time.
func benchPackagesCached(h *harness, n int, lock string) {
	h.create("u/bench/pk_three", threeScript, lock)
	h.create("u/bench/pk_none", stdlibScript, "")
	// The same lock without the imports: its folders are on the path and
	// the run is planned as with them, but Python imports nothing from
	// them. Its ratio is millrun's share; the rest is Python's import of
	// three packages.
	h.create("u/bench/pk_lockonly", stdlibScript, lock)
	call := func(path string) {
		code, body := h.post("/api/w/local/jobs/run_wait_result/p/"+path, "{}")
		if code != 200 || !strings.Contains(body, threeAnswer) {
			must(fmt.Errorf("%s answered %d %s", path, code, body))
		}
	}
	for range 10 { // the first call installs; then warm all three
		call("u/bench/pk_three")
		call("u/bench/pk_none")
		call("u/bench/pk_lockonly")
	}
	compiled()
	type round struct {
		ratio, lockRatio float64
		p50, b50, l50    time.Duration
	}
	var rounds []round
	for range syncRounds {
		var pk, base, lk []time.Duration
		for range n {
			base = append(base, timeIt(1, func() { call("u/bench/pk_none") })...)
			pk = append(pk, timeIt(1, func() { call("u/bench/pk_three") })...)
			lk = append(lk, timeIt(1, func() { call("u/bench/pk_lockonly") })...)
		}
		p50, b50, l50 := percentile(pk, 0.5), percentile(base, 0.5), percentile(lk, 0.5)
		rounds = append(rounds, round{float64(p50) / float64(b50), float64(l50) / float64(b50), p50, b50, l50})
	}
	slices.SortFunc(rounds, func(a, b round) int { return cmpFloat(a.ratio, b.ratio) })
	all := make([]string, len(rounds))
	for i, r := range rounds {
		all[i] = fmt.Sprintf("%.2f", r.ratio)
	}
	m := rounds[len(rounds)/2]
	report("cached 3 packages sync p50 vs stdlib-only", m.ratio, 1.1, true,
		fmt.Sprintf("with packages %s, stdlib-only %s; rounds %s", ms(m.p50), ms(m.b50), strings.Join(all, " ")))
	report("  of which millrun's (same lock, no import)", m.lockRatio, 1.1, true,
		fmt.Sprintf("%s; the rest is Python importing three packages in the forked job", ms(m.l50)))
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// benchPackagesFirst compares the first sync call of a script pushed
// with its lock, on an empty cache (install, then run), with what a
// user does by hand: `pip install --no-deps --target` of the same pins
// (the lock is complete, so --no-deps is what it allows), then running
// the script with that folder on PYTHONPATH. The two alternate, and
// each repetition starts from an empty cache.
func benchPackagesFirst(h *harness, reps int, dir, lock string, byHand func(...string) []string, runCmd func([]string, ...string)) {
	h.create("u/bench/pk_first", threeScript, lock)
	var after []time.Duration // until the background compile is done, after the answer
	script := filepath.Join(dir, "first.py")
	must(os.WriteFile(script, []byte(threeScript+"\nprint(main())\n"), 0o600))
	manual := func(noCompile bool) time.Duration {
		target, err := os.MkdirTemp(dir, "target-")
		must(err)
		defer os.RemoveAll(target)
		argv := byHand("install", "-q", "--no-deps", "--target", target)
		if noCompile {
			argv = append(argv, "--no-compile")
		}
		argv = append(argv, threePins...)
		start := time.Now()
		runCmd(argv)
		runCmd([]string{argv[0], script}, "PYTHONPATH="+target)
		return time.Since(start)
	}
	ours := func() time.Duration {
		h.clearPackages()
		start := time.Now()
		code, body := h.post("/api/w/local/jobs/run_wait_result/p/u/bench/pk_first", "{}")
		d := time.Since(start)
		if code != 200 || !strings.Contains(body, threeAnswer) {
			must(fmt.Errorf("first run answered %d %s", code, body))
		}
		after = append(after, compiled())
		return d
	}
	ours() // page cache: pip's own modules, the wheels' first serving
	manual(false)
	var mine, base, baseNC []time.Duration
	for i := range reps {
		if i%2 == 0 {
			mine = append(mine, ours())
			base = append(base, manual(false))
		} else {
			base = append(base, manual(false))
			mine = append(mine, ours())
		}
		baseNC = append(baseNC, manual(true))
	}
	m, b, nc := percentile(mine, 0.5), percentile(base, 0.5), percentile(baseNC, 0.5)
	report("first run, 3 locked pkgs vs pip --target", float64(m)/float64(b), 1.2, true,
		fmt.Sprintf("millrun median %s (+%s compiling in the background, waited for before the next sample), pip install --no-deps --target + run %s (with --no-compile %s, ratio %.2f); millrun %s; pip %s",
			ms(m), ms(percentile(after, 0.5)), ms(b), ms(nc), float64(m)/float64(nc), msList(mine), msList(base)))
}

// benchPackagesResolve compares a dependency job that resolves a
// five-package lock (saving a script that imports them; it ends when
// the lock is kept with the version, the packages installed) with pip's
// own resolution by hand: `pip install --dry-run --ignore-installed
// --report`, which is how millrun resolves with pip. Every repetition
// is a new script and an empty cache, so nothing resolved before is
// reused.
func benchPackagesResolve(h *harness, reps int, dir string, byHand func(...string) []string, runCmd func([]string, ...string)) {
	manual := func() time.Duration {
		report := filepath.Join(dir, "report.json")
		defer os.Remove(report)
		start := time.Now()
		runCmd(byHand(append([]string{"install", "-q", "--dry-run", "--ignore-installed", "--report", report}, fiveReqs...)...))
		return time.Since(start)
	}
	k := 0
	var after []time.Duration
	ours := func() time.Duration {
		h.clearPackages()
		k++
		path := fmt.Sprintf("u/bench/pk_resolve%d", k)
		start := time.Now()
		h.create(path, fiveScript, "")
		id := ""
		for {
			if time.Since(start) > 2*time.Minute {
				must(fmt.Errorf("the dependency job of %s did not finish", path))
			}
			if id == "" {
				_, body := h.get("/api/w/local/jobs/list?script_path_exact=" + path)
				var list []map[string]any
				must(json.Unmarshal([]byte(body), &list))
				for _, j := range list {
					if j["job_kind"] == "dependencies" {
						id, _ = j["id"].(string)
					}
				}
			}
			if id != "" {
				_, body := h.get("/api/w/local/jobs_u/get/" + id)
				var j map[string]any
				must(json.Unmarshal([]byte(body), &j))
				if j["type"] == "CompletedJob" {
					// When the job says it ended: the polling (slow, so as
					// not to take the CPU from the job) adds nothing.
					at, _ := j["completed_at"].(string)
					end, err := time.Parse(time.RFC3339Nano, at)
					must(err)
					d := end.Sub(start)
					if j["success"] != true {
						must(fmt.Errorf("the dependency job failed: %s", body))
					}
					var res struct{ Lock string }
					b, _ := json.Marshal(j["result"])
					json.Unmarshal(b, &res)
					if strings.Count(res.Lock, "==") != len(fiveReqs) {
						must(fmt.Errorf("the dependency job's lock: %q", res.Lock))
					}
					compiled()
					after = append(after, time.Since(end))
					return d
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	ours()
	manual()
	var mine, base []time.Duration
	for i := range reps {
		if i%2 == 0 {
			mine = append(mine, ours())
			base = append(base, manual())
		} else {
			base = append(base, manual())
			mine = append(mine, ours())
		}
	}
	m, b := percentile(mine, 0.5), percentile(base, 0.5)
	report("dependency job, 5-pkg lock vs pip --dry-run", float64(m)/float64(b), 1.2, true,
		fmt.Sprintf("millrun median %s (save to lock kept, packages installed; +%s compiling in the background), pip --dry-run --report %s; millrun %s; pip %s",
			ms(m), ms(percentile(after, 0.5)), ms(b), msList(mine), msList(base)))
}

func msList(d []time.Duration) string {
	s := make([]string, len(d))
	for i, x := range d {
		s[i] = fmt.Sprintf("%.0f", float64(x.Microseconds())/1000)
	}
	return strings.Join(s, " ") + " ms"
}

// compiled waits for the background compile of the cache's packages
// (set by benchPackages); it answers how long it waited.
var compiled func() time.Duration

// waitCompiled waits until every module of every package folder in dir
// has its .pyc (tag: "cpython-311"): the compile millrun runs in the
// background after an install must not share the machine with the next
// sample.
func waitCompiled(dir, tag string) time.Duration {
	start := time.Now()
	for {
		missing := ""
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || missing != "" {
				return filepath.SkipDir
			}
			if d.IsDir() && strings.HasPrefix(d.Name(), ".tmp-") {
				return filepath.SkipDir
			}
			if stem, ok := strings.CutSuffix(d.Name(), ".py"); ok && !d.IsDir() {
				pyc := filepath.Join(filepath.Dir(p), "__pycache__", stem+"."+tag+".pyc")
				if _, err := os.Stat(pyc); err != nil {
					missing = p
				}
			}
			return nil
		})
		if missing == "" {
			return time.Since(start)
		}
		if time.Since(start) > time.Minute {
			must(fmt.Errorf("%s was not compiled within a minute", missing))
		}
		time.Sleep(2 * time.Millisecond)
	}
}
