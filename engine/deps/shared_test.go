package deps_test

// What one script's requirements or lock can do to the packages of
// another: every `name==version` folder is shared by all the scripts of
// one Python, so nothing but that name and version from the user's index
// may fill it. These began as the security review's reproductions
// (findings 1, 2, 3, 6 and 11); each failed before the fix it names.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/millrun/millrun/engine/deps"
	"github.com/millrun/millrun/engine/deps/depstest"
)

// tryImport is importFrom for code expected to fail at times.
func tryImport(py deps.Python, paths []string, code string) (string, error) {
	cmd := exec.Command(py.Path, "-c", code)
	cmd.Env = []string{"PYTHONPATH=" + strings.Join(paths, string(os.PathListSeparator)), "PATH=" + os.Getenv("PATH"), "PYTHONNOUSERSITE=1"}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// evilBase serves another base 2.0, as a second index would.
func evilBase(t *testing.T) *depstest.Index {
	return depstest.Serve(t, depstest.Dist{Name: "base", Version: "2.0", Code: "__version__ = 'planted by script A'\n"})
}

// scriptB installs the lock `base==2.0` as any other script would, and
// says which base it imports.
func scriptB(t *testing.T, cache *deps.Cache, py deps.Python) string {
	t.Helper()
	paths, err := cache.Install(context.Background(), py, deps.ParseLock("base==2.0\n"), nil)
	if err != nil {
		t.Fatal("script B:", err)
	}
	got, err := tryImport(py, paths, "import base; print(base.__version__)")
	if err != nil {
		return "no base: " + got
	}
	return got
}

// Finding 1: a PEP 723 dependency with an escaped newline set pip's
// index for the resolution, and the wheels it fetched filled the shared
// folders.
func TestPEP723NewlineCannotChooseTheIndex(t *testing.T) {
	py := python3(t)
	ix := serve(t)
	evil := evilBase(t)
	src := "# /// script\n# dependencies = [\"base==2.0\\n--index-url " + evil.URL + "\"]\n# ///\n\ndef main():\n    pass\n"
	reqs := deps.Infer("u/me/a", src, nil)
	cache := deps.NewCache(tempDir(t), toolsFor(t, ix.URL))
	lock, err := cache.Resolve(context.Background(), py, reqs.Lines(), nil)
	t.Logf("script A: lines %q, lock %q, err %v", reqs.Lines(), lock.String(), err)
	if n := evil.Hits("/"); n > 0 {
		t.Errorf("script A's requirement reached the other index (%d requests)", n)
	}
	if got := scriptB(t, cache, py); got != "2.0" {
		t.Errorf("script B runs what script A's requirement fetched: %q", got)
	}
}

// Finding 1 through Windmill's #requirements: block: one token, with a
// U+2028 LINE SEPARATOR that pip's splitlines() breaks on.
func TestRequirementsLineSeparatorCannotChooseTheIndex(t *testing.T) {
	py := python3(t)
	ix := serve(t)
	evil := evilBase(t)
	src := "#requirements:\n#base==2.0\u2028--index-url=" + evil.URL + "\n\ndef main():\n    pass\n"
	reqs := deps.Infer("u/me/a", src, nil)
	cache := deps.NewCache(tempDir(t), toolsFor(t, ix.URL))
	lock, err := cache.Resolve(context.Background(), py, reqs.Lines(), nil)
	t.Logf("script A: lines %q, lock %q, err %v", reqs.Lines(), lock.String(), err)
	if n := evil.Hits("/"); n > 0 {
		t.Errorf("a #requirements: token set pip's index (%d requests)", n)
	}
	if got := scriptB(t, cache, py); got != "2.0" {
		t.Errorf("script B runs what script A's requirement fetched: %q", got)
	}
}

// Finding 1, the resolver's own guard: whatever a caller passes, a line
// that is more than one requirement never reaches pip, and the error
// names it.
func TestResolveRefusesWhatIsNotOneRequirement(t *testing.T) {
	py := python3(t)
	ix := serve(t)
	other := depstest.Serve(t, depstest.Dist{Name: "planted", Version: "6.6.6"})
	tools := toolsFor(t, ix.URL)
	for _, line := range []string{
		"planted==6.6.6\n--extra-index-url " + other.URL,
		"planted==6.6.6\u2028--extra-index-url=" + other.URL,
		"planted==6.6.6\u0085--extra-index-url=" + other.URL,
		"planted==6.6.6\v--extra-index-url=" + other.URL,
		"planted==6.6.6 --extra-index-url=" + other.URL,
		"planted==6.6.6 \\",
		"--extra-index-url=" + other.URL,
		"-r/etc/passwd",
		"planted @ " + other.URL + "/${HOME}.whl",
	} {
		for _, resolve := range []func() (deps.Lock, error){
			func() (deps.Lock, error) { return tools.Resolve(context.Background(), py, []string{"base", line}, nil) },
			func() (deps.Lock, error) {
				return deps.NewCache(tempDir(t), tools).Resolve(context.Background(), py, []string{"base", line}, nil)
			},
		} {
			_, err := resolve()
			if e := asError(t, err); e.Kind != deps.ErrInvalid || e.Package != line || !strings.Contains(err.Error(), "cannot be installed") {
				t.Errorf("%q: %v", line, err)
			}
		}
	}
	if n := other.Hits("/"); n > 0 {
		t.Errorf("the other index was asked %d times", n)
	}
	// What Infer refused is an error in words, with where it was.
	src := "# /// script\n# dependencies = [\"planted==6.6.6\\n--extra-index-url " + other.URL + "\"]\n# ///\n"
	err := deps.Infer("u/me/x", src, nil).Err()
	if err == nil || !strings.Contains(err.Error(), `(a PEP 723 dependency) cannot be installed: it holds a line break (U+000A)`) {
		t.Errorf("Infer: %v", err)
	}
}

// Finding 2: a lock whose line for base==2.0 is skipped by its marker and
// whose other line fetches base 1.0 filled the shared base==2.0 folder
// with 1.0.
func TestMarkerLineCannotFillAnotherVersionsFolder(t *testing.T) {
	py := python3(t)
	ix := serve(t)
	cache := deps.NewCache(tempDir(t), toolsFor(t, ix.URL))
	a := deps.ParseLock("base==2.0 ; python_version < \"3\"\nbase==1.0\n")
	paths, err := cache.Install(context.Background(), py, a, nil)
	if err != nil {
		t.Fatal("script A:", err)
	}
	if got, _ := tryImport(py, paths, "import base; print(base.__version__)"); got != "1.0" {
		t.Errorf("script A imports base %q", got)
	}
	if got := scriptB(t, cache, py); got != "2.0" {
		t.Errorf("script B's base==2.0 runs another version: %q", got)
	}
}

// Finding 2 with a URL: `base @ URL` in script A's lock filled the
// folder of base==2.0 that script B takes from the index.
func TestURLLineKeepsItsOwnFolder(t *testing.T) {
	py := python3(t)
	ix := serve(t)
	evil := evilBase(t)
	whl := strings.TrimSuffix(evil.URL, "/simple") + "/files/base-2.0-py3-none-any.whl"
	cache := deps.NewCache(tempDir(t), toolsFor(t, ix.URL))
	a := deps.ParseLock("base==2.0 ; python_version < \"3\"\nbase @ " + whl + "\n")
	paths, err := cache.Install(context.Background(), py, a, nil)
	if err != nil {
		t.Fatal("script A:", err)
	}
	if got, _ := tryImport(py, paths, "import base; print(base.__version__)"); got != "planted by script A" {
		t.Errorf("script A does not get what its URL serves: %q", got)
	}
	if got := scriptB(t, cache, py); got != "2.0" {
		t.Errorf("script B runs script A's URL's base: %q", got)
	}
	if len(paths) != 1 || strings.Contains(filepath.Base(paths[0]), "==") {
		t.Errorf("the URL's folder %v is named like an index pin's", paths)
	}
	// What a URL serves must be the project its line names (pip checks
	// it too, and millrun the installed metadata after it).
	_, err = cache.Install(context.Background(), py, deps.ParseLock("fancy-name @ "+whl+"\n"), nil)
	if e := asError(t, err); e.Package != "fancy-name @ "+whl {
		t.Errorf("another project by URL: %v", err)
	}
}

// Finding 2 through a resolution: a package fetched by URL whose
// metadata names `base @ URL` made pip fetch that base, and the lock
// pinned it as base==2.0, into the shared folder.
func TestDependencyByURLIsPinnedByURL(t *testing.T) {
	py := python3(t)
	ix := serve(t)
	evil := depstest.Serve(t,
		depstest.Dist{Name: "base", Version: "2.0", Code: "__version__ = 'planted by script A'\n"},
		depstest.Dist{Name: "carrier", Version: "1.0"},
	)
	files := strings.TrimSuffix(evil.URL, "/simple") + "/files/"
	carrier := depstest.Serve(t, depstest.Dist{Name: "carrier", Version: "1.0", Requires: []string{"base @ " + files + "base-2.0-py3-none-any.whl"}})
	carrierURL := strings.TrimSuffix(carrier.URL, "/simple") + "/files/carrier-1.0-py3-none-any.whl"
	cache := deps.NewCache(tempDir(t), toolsFor(t, ix.URL))
	lock, err := cache.Resolve(context.Background(), py, []string{"carrier @ " + carrierURL}, nil)
	if err != nil {
		t.Fatal("script A:", err)
	}
	if !strings.Contains(lock.String(), "base @ "+files+"base-2.0-py3-none-any.whl") {
		t.Errorf("script A's lock does not say where its base came from: %q", lock.String())
	}
	if got := scriptB(t, cache, py); got != "2.0" {
		t.Errorf("script B runs the base script A's dependency named by URL: %q", got)
	}
}

// Finding 3: a lock line whose marker excludes this Python published an
// empty, complete base==2.0 folder, and script B could not import base.
func TestMarkerExcludedLineHasNoFolder(t *testing.T) {
	py := python3(t)
	ix := serve(t)
	root := tempDir(t)
	cache := deps.NewCache(root, toolsFor(t, ix.URL))
	paths, err := cache.Install(context.Background(), py, deps.ParseLock("base==2.0 ; python_version < \"3\"\nfancy-name==0.3 ; python_version >= \"3\"\n"), nil)
	if err != nil {
		t.Fatal("script A:", err)
	}
	if len(paths) != 1 || filepath.Base(paths[0]) != "fancy-name==0.3" {
		t.Errorf("script A's paths %v", paths)
	}
	if got := scriptB(t, cache, py); got != "2.0" {
		t.Errorf("script B's base==2.0: %q", got)
	}
	// Multi-platform locks are ordinary: one line per platform.
	lock := deps.ParseLock("base==1.0 ; sys_platform == 'win32'\nbase==2.0 ; sys_platform != 'win32'\n")
	paths, err = cache.Install(context.Background(), py, lock, nil)
	if err != nil || len(paths) != 1 {
		t.Fatalf("per-platform lines: %v %v", paths, err)
	}
	if got, _ := tryImport(py, paths, "import base; print(base.__version__)"); got != "2.0" {
		t.Errorf("per-platform lines: %q", got)
	}
	// Two lines for one project that both apply: which one is imported
	// would depend on the path's order.
	_, err = cache.Install(context.Background(), py, deps.ParseLock("base==1.0\nbase==2.0 ; python_version >= '3'\n"), nil)
	if e := asError(t, err); e.Kind != deps.ErrInvalid || !strings.Contains(err.Error(), `lines 1 "base==1.0" and 2 "base==2.0 ; python_version >= '3'" both apply`) {
		t.Errorf("two lines for base: %v", err)
	}
}

// Finding 6: a line that is only a backslash continued onto an option
// line, which reached pip as an option (-r of a file with its own index).
func TestOptionThroughContinuationIsRefused(t *testing.T) {
	py := python3(t)
	ix := serve(t)
	other := depstest.Serve(t, depstest.Dist{Name: "planted", Version: "6.6.6"})
	reqs := filepath.Join(tempDir(t), "r.txt")
	os.WriteFile(reqs, []byte("--index-url "+other.URL+"\nplanted==6.6.6\n"), 0o600)
	cache := deps.NewCache(tempDir(t), toolsFor(t, ix.URL))
	for _, text := range []string{
		"base==1.0\n\\\n--requirement=" + reqs + "\n",
		"base==1.0 \\\n--requirement=" + reqs + "\n",
		"base==1.0 \\\n\\\n-r" + reqs + "\n",
		"base==1.0\n-r " + reqs + "\n",
		"base==1.0\n--requirement\u2028planted==6.6.6\n",
	} {
		paths, err := cache.Install(context.Background(), py, deps.ParseLock(text), nil)
		if got, ierr := tryImport(py, paths, "import planted; print(planted.__version__)"); ierr == nil {
			t.Errorf("%q: an option line reached pip: planted %s installed", text, got)
		}
		if e := asError(t, err); e.Kind != deps.ErrInvalid || !strings.Contains(err.Error(), "the lock's line") {
			t.Errorf("%q: %v", text, err)
		}
	}
	if n := other.Hits("/"); n > 0 {
		t.Errorf("the other index was asked %d times", n)
	}
}

// Finding 11: a lock's --hash values were dropped, so a hash-pinned lock
// installed whatever the index served.
func TestLockHashesAreChecked(t *testing.T) {
	py := python3(t)
	ix := serve(t)
	sum := sha256.Sum256(ix.File("base-1.0-py3-none-any.whl"))
	good := "sha256:" + hex.EncodeToString(sum[:])
	wrong := "sha256:" + strings.Repeat("0", 64)
	cache := deps.NewCache(tempDir(t), toolsFor(t, ix.URL))
	ctx := context.Background()

	_, err := cache.Install(ctx, py, deps.ParseLock("base==1.0 \\\n    --hash="+wrong+"\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "base==1.0") {
		t.Errorf("a download that does not match the lock's hash was installed: %v", err)
	}
	var log bytes.Buffer
	paths, err := cache.Install(ctx, py, deps.ParseLock("base==1.0 \\\n    --hash="+good+"\nfancy-name==0.3\n"), &log)
	if err != nil {
		t.Fatalf("the right hash: %v\n%s", err, log.String())
	}
	if got := importFrom(t, py, paths, "import base; print(base.__version__)"); got != "1.0" {
		t.Errorf("import: %q", got)
	}
	if !strings.Contains(log.String(), "1 packages are installed only if what is downloaded matches the lock's --hash values") ||
		!strings.Contains(log.String(), "NOT checked against any hash (the lock has no --hash for them): fancy-name==0.3") {
		t.Errorf("the log does not say what was checked:\n%s", log.String())
	}
	// A hash-pinned line never takes a folder installed without the
	// check: base==1.0 from the index is not known to match.
	plain, err := cache.Install(ctx, py, deps.ParseLock("base==1.0\n"), nil)
	if err != nil || plain[0] == paths[0] {
		t.Errorf("hash-pinned and plain base==1.0 share %v (%v)", plain, err)
	}
	_, err = cache.Install(ctx, py, deps.ParseLock("base==1.0 --hash=md5:0123\n"), nil)
	if e := asError(t, err); e.Kind != deps.ErrInvalid || !strings.Contains(err.Error(), "is not a sha256, sha384 or sha512 hash") {
		t.Errorf("a weak hash: %v", err)
	}
}
