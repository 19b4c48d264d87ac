package deps_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/deps"
	"github.com/millrun/millrun/engine/deps/depstest"
)

// The test index: a package with a dependency, two versions of that
// dependency, a package whose import name differs from its project name,
// and an sdist whose build fails.
func serve(t *testing.T) *depstest.Index {
	return depstest.Serve(t,
		depstest.Dist{Name: "base", Version: "1.0"},
		depstest.Dist{Name: "base", Version: "2.0"},
		depstest.Dist{Name: "Fancy-Name", Version: "0.3", Module: "fancy", Requires: []string{"base>=1.0"}},
		depstest.Dist{Name: "broken", Version: "1.0", BuildError: "compiler exploded: libfoo.h not found"},
	)
}

// tempDir is t.TempDir for a test that installs packages: their folders
// are read-only (Cache.readOnly), which testing's own removal cannot undo
// unless it runs as root.
func tempDir(t testing.TB) string {
	dir := t.TempDir()
	t.Cleanup(func() { writable(dir) })
	return dir
}

func writable(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
}

// toolsFor runs pip against the loopback index only: a fresh HOME, no
// config files, no retries (an unreachable index fails at once), no
// pip cache (so index hits count downloads). The process environment is
// never changed; each test passes its own.
func toolsFor(t *testing.T, indexURL string) deps.Tools {
	home := tempDir(t)
	return deps.Tools{Env: []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"PIP_INDEX_URL=" + indexURL,
		"PIP_CONFIG_FILE=" + os.DevNull,
		"PIP_RETRIES=0",
		"PIP_TIMEOUT=5",
		"PIP_NO_CACHE_DIR=1",
	}}
}

var (
	pyOnce sync.Once
	pyErr  error
	testPy deps.Python
)

// python3 is the machine's interpreter, with pip; tests that need it are
// skipped without it.
func python3(t *testing.T) deps.Python {
	t.Helper()
	pyOnce.Do(func() {
		tools := deps.Tools{}
		testPy, pyErr = tools.Probe(context.Background(), "python3")
		if pyErr == nil {
			if out, err := exec.Command(testPy.Path, "-m", "pip", "--version").CombinedOutput(); err != nil {
				pyErr = errors.New("no pip: " + string(out))
			}
		}
	})
	if pyErr != nil {
		t.Skip("python3 with pip is needed:", pyErr)
	}
	return testPy
}

// importFrom runs Python with PYTHONPATH set to the cache's folders and
// returns what the code printed.
func importFrom(t *testing.T, py deps.Python, paths []string, code string) string {
	t.Helper()
	cmd := exec.Command(py.Path, "-c", code)
	cmd.Env = []string{"PYTHONPATH=" + strings.Join(paths, string(os.PathListSeparator)), "PATH=" + os.Getenv("PATH"), "PYTHONNOUSERSITE=1"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python %q with PYTHONPATH %v: %v\n%s", code, paths, err, out)
	}
	return strings.TrimSpace(string(out))
}

func asError(t *testing.T, err error) *deps.Error {
	t.Helper()
	var e *deps.Error
	if !errors.As(err, &e) {
		t.Fatalf("want a *deps.Error, got %T %v", err, err)
	}
	return e
}

// From a script to an import that works: infer, resolve, install, run;
// then the same again with the index gone, from the cache alone.
func TestScriptToImport(t *testing.T) {
	py := python3(t)
	ix := serve(t)
	tools := toolsFor(t, ix.URL)
	ctx := context.Background()

	script := "#requirements:\n#fancy-name\nimport fancy\n\ndef main():\n    return fancy.__version__\n"
	req := deps.Infer("f/x/y", script, nil)
	var log bytes.Buffer
	lock, err := tools.Resolve(ctx, py, req.Lines(), &log)
	if err != nil {
		t.Fatalf("resolve: %v\nlog:\n%s", err, log.String())
	}
	want := "# py: " + py.Minor() + "\nbase==2.0\nfancy-name==0.3"
	if lock.String() != want {
		t.Fatalf("lock\n got %q\nwant %q", lock.String(), want)
	}
	if !strings.Contains(log.String(), "Collecting fancy-name") || !strings.Contains(log.String(), "resolved 2 packages in") {
		t.Errorf("resolution log says too little:\n%s", log.String())
	}

	root := filepath.Join(tempDir(t), "cache")
	cache := deps.NewCache(root, tools)
	log.Reset()
	paths, err := cache.Install(ctx, py, lock, &log)
	if err != nil {
		t.Fatalf("install: %v\n%s", err, log.String())
	}
	vdir := filepath.Join(root, "python_"+strings.ReplaceAll(py.Minor(), ".", "_"))
	if want := []string{filepath.Join(vdir, "base==2.0"), filepath.Join(vdir, "fancy-name==0.3")}; strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("paths %v, want %v", paths, want)
	}
	if got := importFrom(t, py, paths, "import fancy, base; print(fancy.__version__, base.__version__)"); got != "0.3 2.0" {
		t.Errorf("import: %q", got)
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(root); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("cache root mode: %v %v", fi.Mode(), err)
		}
	}
	if !strings.Contains(log.String(), "installed base==2.0, fancy-name==0.3 in") {
		t.Errorf("install log:\n%s", log.String())
	}

	// The index goes away; a new process (a new Cache on the same
	// folder) runs the same lock from the cache, without a request.
	ix.Stop()
	hits := ix.Hits("/")
	again := deps.NewCache(root, tools)
	start := time.Now()
	paths2, err := again.Install(ctx, py, deps.ParseLock(lock.String()), nil)
	if err != nil {
		t.Fatalf("cached install with the index down: %v", err)
	}
	t.Logf("cached Install of 2 packages: %v", time.Since(start))
	if strings.Join(paths2, " ") != strings.Join(paths, " ") || ix.Hits("/") != hits {
		t.Errorf("cached run: paths %v, %d new index hits", paths2, ix.Hits("/")-hits)
	}
	if got := importFrom(t, py, paths2, "import fancy; print(fancy.__version__)"); got != "0.3" {
		t.Errorf("import from cache: %q", got)
	}
}

// A lock pushed with the script (wmill sync) is installed as it is: no
// resolution, its exact versions, and its text unchanged.
func TestPushedLockUsedAsIs(t *testing.T) {
	py := python3(t)
	ix := serve(t)
	tools := toolsFor(t, ix.URL)
	text := "# py: " + py.Minor() + "\n# pushed by wmill sync\nBase==1.0\n"
	lock := deps.ParseLock(text)
	paths, err := deps.NewCache(tempDir(t), tools).Install(context.Background(), py, lock, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := importFrom(t, py, paths, "import base; print(base.__version__)"); got != "1.0" {
		t.Errorf("got %q", got)
	}
	if ix.Hits("/simple/fancy-name/") != 0 || lock.String() != text {
		t.Error("the lock was not used as it is")
	}
}

// Two versions of one package live side by side, each on its own path.
func TestTwoVersionsSideBySide(t *testing.T) {
	py := python3(t)
	ix := serve(t)
	cache := deps.NewCache(tempDir(t), toolsFor(t, ix.URL))
	ctx := context.Background()
	p1, err := cache.Install(ctx, py, deps.ParseLock("base==1.0"), nil)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := cache.Install(ctx, py, deps.ParseLock("base==2.0"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p1[0] == p2[0] {
		t.Fatalf("one folder for two versions: %s", p1[0])
	}
	v1 := importFrom(t, py, p1, "import base; print(base.__version__)")
	v2 := importFrom(t, py, p2, "import base; print(base.__version__)")
	if v1 != "1.0" || v2 != "2.0" {
		t.Errorf("versions %q %q", v1, v2)
	}
}

// Many jobs asking for the same package at once install it once.
func TestConcurrentFirstInstallsInstallOnce(t *testing.T) {
	py := python3(t)
	ix := serve(t)
	cache := deps.NewCache(tempDir(t), toolsFor(t, ix.URL))
	lock := deps.ParseLock("# py: " + py.Minor() + "\nbase==1.0\nfancy-name==0.3")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	paths := make([][]string, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i], errs[i] = cache.Install(context.Background(), py, lock, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("install %d: %v", i, err)
		}
		if strings.Join(paths[i], " ") != strings.Join(paths[0], " ") {
			t.Errorf("different paths: %v %v", paths[i], paths[0])
		}
	}
	if n := ix.Hits("/files/base-1.0"); n != 1 {
		t.Errorf("base-1.0 downloaded %d times, want 1", n)
	}
	if n := ix.Hits("/files/fancy_name-0.3"); n != 1 {
		t.Errorf("fancy_name-0.3 downloaded %d times, want 1", n)
	}
}

// What a kill -9 in the middle of an install leaves (a temporary folder,
// a folder without its completion marker) is never used and is replaced
// by a clean install.
func TestInterruptedInstallIsRedone(t *testing.T) {
	py := python3(t)
	ix := serve(t)
	root := tempDir(t)
	vdir := filepath.Join(root, "python_"+strings.ReplaceAll(py.Minor(), ".", "_"))
	half := filepath.Join(vdir, "base==1.0")
	tmp := filepath.Join(vdir, ".tmp-base==1.0-12345")
	for _, d := range []string{filepath.Join(half, "base"), filepath.Join(tmp, "base")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "__init__.py"), []byte("raise ImportError('half a package')\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cache := deps.NewCache(root, toolsFor(t, ix.URL))
	lock := deps.ParseLock("base==1.0")
	if _, ok := cache.Paths(py, lock); ok {
		t.Fatal("a folder without its marker counts as installed")
	}
	paths, err := cache.Install(context.Background(), py, lock, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := importFrom(t, py, paths, "import base; print(base.__version__)"); got != "1.0" {
		t.Errorf("got %q", got)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the interrupted install's temporary folder is still there: %v", err)
	}
	if ix.Hits("/files/base-1.0") != 1 {
		t.Error("not reinstalled")
	}
}

// Sweep, at start, removes every leftover at once.
func TestSweep(t *testing.T) {
	root := tempDir(t)
	vdir := filepath.Join(root, "python_3_11")
	keep := filepath.Join(vdir, "ok==1")
	// Made before folders were checked against their pins: it may hold
	// another line's wheel, so it goes too.
	old := filepath.Join(vdir, "old==1")
	for _, d := range []string{keep, old, filepath.Join(vdir, "half==1"), filepath.Join(vdir, ".tmp-x==1-99")} {
		os.MkdirAll(d, 0o700)
	}
	os.WriteFile(filepath.Join(keep, ".millrun-verified"), nil, 0o600)
	os.WriteFile(filepath.Join(old, ".millrun-complete"), nil, 0o600)
	os.MkdirAll(root+".clearing-1", 0o700)
	if err := deps.NewCache(root, deps.Tools{}).Sweep(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(vdir)
	if len(entries) != 1 || entries[0].Name() != "ok==1" {
		t.Errorf("after sweep: %v", entries)
	}
	if _, err := os.Stat(root + ".clearing-1"); !errors.Is(err, fs.ErrNotExist) {
		t.Error("an interrupted Clear's folder is still there")
	}
}

// A cancelled install (the job was cancelled) publishes nothing and
// leaves no temporary folder.
func TestCancelledInstall(t *testing.T) {
	py := python3(t)
	ix := serve(t)
	root := tempDir(t)
	cache := deps.NewCache(root, toolsFor(t, ix.URL))
	ctx, cancel := context.WithCancel(context.Background())
	w := &signalWriter{match: "fetching base==1.0", hit: make(chan struct{})}
	go func() {
		<-w.hit
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	_, err := cache.Install(ctx, py, deps.ParseLock("base==1.0"), w)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	vdir := filepath.Join(root, "python_"+strings.ReplaceAll(py.Minor(), ".", "_"))
	entries, _ := os.ReadDir(vdir)
	if len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

type signalWriter struct {
	mu    sync.Mutex
	match string
	hit   chan struct{}
	done  bool
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done && bytes.Contains(p, []byte(w.match)) {
		w.done = true
		close(w.hit)
	}
	return len(p), nil
}

// Offline with nothing cached: the job fails with words, naming the
// package and the index.
func TestOfflineEmptyCache(t *testing.T) {
	py := python3(t)
	ix := serve(t)
	tools := toolsFor(t, ix.URL)
	ix.Stop()
	_, err := deps.NewCache(tempDir(t), tools).Install(context.Background(), py, deps.ParseLock("base==1.0"), nil)
	e := asError(t, err)
	want := "offline: base==1.0 is not in the cache and the index " + ix.URL + " cannot be reached"
	if e.Kind != deps.ErrOffline || err.Error() != want {
		t.Errorf("got %v (kind %d)\nwant %s", err, e.Kind, want)
	}
	_, err = tools.Resolve(context.Background(), py, []string{"base", "fancy-name"}, nil)
	e = asError(t, err)
	if e.Kind != deps.ErrOffline || err.Error() != "offline: cannot resolve base, fancy-name: the index "+ix.URL+" cannot be reached" {
		t.Errorf("resolve offline: %v", err)
	}
}

// An import whose package has another name, a version that does not
// exist, a build that fails, requirements that conflict: each in words.
func TestResolveFailuresInWords(t *testing.T) {
	py := python3(t)
	ix := serve(t)
	tools := toolsFor(t, ix.URL)
	ctx := context.Background()

	req := deps.Infer("f/x/y", "import fancy\n", nil)
	_, err := tools.Resolve(ctx, py, req.Lines(), nil)
	e := asError(t, err)
	if want := "no package named 'fancy' on the index " + ix.URL + ": name it in #requirements:"; e.Kind != deps.ErrNotFound || err.Error() != want {
		t.Errorf("not found: %v", err)
	}

	_, err = tools.Resolve(ctx, py, []string{"base==9"}, nil)
	e = asError(t, err)
	if want := "no version of 'base' matches base==9 on the index " + ix.URL + " (it has 1.0, 2.0)"; e.Kind != deps.ErrNotFound || err.Error() != want {
		t.Errorf("no such version: %v", err)
	}

	_, err = tools.Resolve(ctx, py, []string{"broken"}, nil)
	e = asError(t, err)
	if e.Kind != deps.ErrBuild || e.Package != "broken" || !strings.Contains(e.Tail, "compiler exploded: libfoo.h not found") ||
		!strings.HasPrefix(err.Error(), "broken failed to build from source; the end of its build log:\n") {
		t.Errorf("build failure: kind %d package %q\n%v", e.Kind, e.Package, err)
	}
	if strings.Contains(err.Error(), "Traceback") {
		t.Errorf("a stack trace reached the user:\n%v", err)
	}

	_, err = tools.Resolve(ctx, py, []string{"base<2", "fancy-name", "base>2"}, nil)
	e = asError(t, err)
	if e.Kind != deps.ErrConflict || !strings.Contains(e.Tail, "base<2") {
		t.Errorf("conflict: %v", err)
	}
}

// wmill is an ordinary requirement; when the index has none, the caller
// can tell that wmill alone failed, and resolve without it.
func TestWmillMissingFromIndex(t *testing.T) {
	py := python3(t)
	ix := serve(t)
	tools := toolsFor(t, ix.URL)
	ctx := context.Background()
	req := deps.Infer("f/x/y", "import wmill\nimport base\n", nil)
	if !req.Has("wmill") {
		t.Fatal("wmill is a requirement, as on Windmill")
	}
	_, err := tools.Resolve(ctx, py, req.Lines(), nil)
	if !deps.FailedFor(err, "wmill") {
		t.Fatalf("FailedFor(wmill) false for %v", err)
	}
	lock, err := tools.Resolve(ctx, py, req.Without("wmill").Lines(), nil)
	if err != nil || lock.String() != "# py: "+py.Minor()+"\nbase==2.0" {
		t.Fatalf("without wmill: %q %v", lock.String(), err)
	}

	// A pushed lock pins wmill; installing it fails for wmill alone, and
	// the rest of the lock is installed all the same.
	cache := deps.NewCache(tempDir(t), tools)
	_, err = cache.Install(ctx, py, deps.ParseLock("base==1.0\nwmill==1.404.0"), nil)
	if !deps.FailedFor(err, "wmill") || deps.FailedFor(err, "base") {
		t.Errorf("install: FailedFor wrong for %v", err)
	}
	if _, ok := cache.Paths(py, deps.ParseLock("base==1.0")); !ok {
		t.Error("base was not installed because wmill failed")
	}
	// Another failure besides wmill's is not wmill's alone.
	_, err = deps.NewCache(tempDir(t), tools).Install(ctx, py, deps.ParseLock("nosuch==1\nwmill==1.404.0"), nil)
	if deps.FailedFor(err, "wmill") {
		t.Errorf("FailedFor(wmill) with nosuch failing too: %v", err)
	}
}

// Size and Clear, for Settings; a cleared cache fills again on the next
// run.
func TestSizeAndClear(t *testing.T) {
	py := python3(t)
	ix := serve(t)
	root := filepath.Join(tempDir(t), "deps")
	cache := deps.NewCache(root, toolsFor(t, ix.URL))
	if n, err := cache.Size(); err != nil || n != 0 {
		t.Fatalf("empty cache: %d %v", n, err)
	}
	lock := deps.ParseLock("base==1.0")
	if _, err := cache.Install(context.Background(), py, lock, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := cache.Size(); err != nil || n == 0 {
		t.Fatalf("size after install: %d %v", n, err)
	}
	if err := cache.Clear(); err != nil {
		t.Fatal(err)
	}
	if n, _ := cache.Size(); n != 0 {
		t.Errorf("size after clear: %d", n)
	}
	if _, ok := cache.Paths(py, lock); ok {
		t.Error("still installed after clear")
	}
	paths, err := cache.Install(context.Background(), py, lock, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := importFrom(t, py, paths, "import base; print(base.__version__)"); got != "1.0" {
		t.Errorf("after refill: %q", got)
	}
}

func TestStdlibFromInterpreter(t *testing.T) {
	py := python3(t)
	std, err := deps.Tools{}.Stdlib(context.Background(), py)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"os", "json", "asyncio", "_thread", "__future__"} {
		if !std(m) {
			t.Errorf("%s is standard", m)
		}
	}
	if std("requests") || std("wmill") {
		t.Error("requests and wmill are not standard")
	}
	r := deps.Infer("", "import os, json, requests\nimport wmill\n", std)
	if got := strings.Join(r.Lines(), " "); got != "requests wmill" {
		t.Errorf("inferred %q", got)
	}
}

// Cache.Resolve gives the lock Tools.Resolve gives and installs it in
// the same pip run: each wheel is fetched once, and Install then finds
// everything in the cache.
func TestCacheResolveInstallsWhileResolving(t *testing.T) {
	py := python3(t)
	ix := serve(t)
	tools := toolsFor(t, ix.URL)
	ctx := context.Background()
	want, err := tools.Resolve(ctx, py, []string{"fancy-name"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := ix.Hits("/files/")
	cache := deps.NewCache(tempDir(t), tools)
	var log bytes.Buffer
	lock, err := cache.Resolve(ctx, py, []string{"fancy-name"}, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if lock.String() != want.String() {
		t.Errorf("lock\n got %q\nwant %q", lock.String(), want.String())
	}
	if n := ix.Hits("/files/") - before; n != 2 {
		t.Errorf("%d downloads for two packages", n)
	}
	paths, ok := cache.Paths(py, lock)
	if !ok {
		t.Fatalf("not installed after Resolve:\n%s", log.String())
	}
	if got := importFrom(t, py, paths, "import fancy, base; print(fancy.__version__, base.__version__)"); got != "0.3 2.0" {
		t.Errorf("import: %q", got)
	}
	if !strings.Contains(log.String(), "resolved 2 packages in") || !strings.Contains(log.String(), "installed base==2.0, fancy-name==0.3 in") {
		t.Errorf("log:\n%s", log.String())
	}

	// A requirement by URL stays pinned by its URL.
	url := strings.TrimSuffix(ix.URL, "/simple") + "/files/base-1.0-py3-none-any.whl"
	lock, err = deps.NewCache(tempDir(t), tools).Resolve(ctx, py, []string{"base @ " + url}, nil)
	if err != nil || lock.String() != "# py: "+py.Minor()+"\nbase @ "+url {
		t.Errorf("by URL: %q %v", lock.String(), err)
	}

	// Failures read as Tools.Resolve's do.
	_, err = cache.Resolve(ctx, py, []string{"base==9"}, nil)
	if e := asError(t, err); e.Kind != deps.ErrNotFound {
		t.Errorf("no such version: %v", err)
	}
	_, err = cache.Resolve(ctx, py, []string{"broken"}, nil)
	if e := asError(t, err); e.Kind != deps.ErrBuild || e.Package != "broken" {
		t.Errorf("build failure: %v", err)
	}
}

// With Compile, installed packages get their bytecode once, after the
// install returns: jobs never write it (PYTHONDONTWRITEBYTECODE), so
// without it every run would compile every module it imports.
func TestCompiledAfterInstall(t *testing.T) {
	py := python3(t)
	ix := serve(t)
	cache := deps.NewCache(tempDir(t), toolsFor(t, ix.URL))
	cache.Compile = true
	t.Cleanup(cache.Close)
	paths, err := cache.Install(context.Background(), py, deps.ParseLock("base==1.0\nfancy-name==0.3"), nil)
	if err != nil {
		t.Fatal(err)
	}
	tag := "cpython-" + strings.ReplaceAll(py.Minor(), ".", "")
	pycs := []string{
		filepath.Join(paths[0], "base", "__pycache__", "__init__."+tag+".pyc"),
		filepath.Join(paths[1], "fancy", "__pycache__", "__init__."+tag+".pyc"),
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, pyc := range pycs {
		for {
			if _, err := os.Stat(pyc); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never appeared", pyc)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// After Close nothing more is compiled.
	cache.Close()
	paths, err = cache.Install(context.Background(), py, deps.ParseLock("base==2.0"), nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(paths[0], "base", "__pycache__")); err == nil {
		t.Error("compiled after Close")
	}
}

// An installed package's folder is read-only once it is complete (and
// compiled): it is on every job's path that pins it, so a job writing
// there by accident (a file "next to __file__", a module planted in it)
// fails instead of changing the next jobs. Clear and Sweep still remove
// it, and a later compile is not needed.
func TestInstalledPackagesAreReadOnly(t *testing.T) {
	py := python3(t)
	ix := serve(t)
	for _, compile := range []bool{false, true} {
		root := filepath.Join(tempDir(t), "deps")
		cache := deps.NewCache(root, toolsFor(t, ix.URL))
		cache.Compile = compile
		paths, err := cache.Install(context.Background(), py, deps.ParseLock("base==1.0\nfancy-name==0.3"), nil)
		if err != nil {
			t.Fatal(err)
		}
		var writable []string
		deadline := time.Now().Add(30 * time.Second)
		for {
			writable = writable[:0]
			for _, p := range paths {
				filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
					if err != nil {
						return err
					}
					if fi, err := d.Info(); err == nil && fi.Mode().Perm()&0o222 != 0 {
						writable = append(writable, path)
					}
					return nil
				})
			}
			if len(writable) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if len(writable) > 0 {
			t.Fatalf("compile %v: writable after install: %v", compile, writable)
		}
		if compile {
			cache.Close()
			tag := "cpython-" + strings.ReplaceAll(py.Minor(), ".", "")
			if _, err := os.Stat(filepath.Join(paths[0], "base", "__pycache__", "__init__."+tag+".pyc")); err != nil {
				t.Errorf("not compiled before it was made read-only: %v", err)
			}
		}
		if os.Getuid() != 0 { // root writes anyway
			if err := os.WriteFile(filepath.Join(paths[0], "base", "traceback.py"), []byte("x = 1\n"), 0o600); err == nil {
				t.Errorf("compile %v: a file could be planted in an installed package", compile)
			}
		}
		if got := importFrom(t, py, paths, "import base, fancy; print(base.__version__, fancy.__version__)"); got != "1.0 0.3" {
			t.Errorf("compile %v: import from the read-only folders: %q", compile, got)
		}
		if err := cache.Sweep(); err != nil {
			t.Fatalf("compile %v: sweep: %v", compile, err)
		}
		if _, ok := cache.Paths(py, deps.ParseLock("base==1.0")); !ok {
			t.Errorf("compile %v: sweep removed a complete, read-only package", compile)
		}
		if err := cache.Clear(); err != nil {
			t.Fatalf("compile %v: clear: %v", compile, err)
		}
		if _, err := os.Stat(root); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("compile %v: after clear: %v", compile, err)
		}
	}
}
