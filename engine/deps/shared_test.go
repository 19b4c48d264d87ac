package deps_test

// What one script's requirements or lock can do to the packages of
// another: every `name==version` folder is shared by all the scripts of
// one Python, so nothing but that name and version from the user's index
// may fill it. These began as the security review's reproductions
// (findings 1, 2, 3, 6 and 11); each failed before the fix it names.

import (
	"context"
	"os"
	"os/exec"
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
	cache := deps.NewCache(t.TempDir(), toolsFor(t, ix.URL))
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
	cache := deps.NewCache(t.TempDir(), toolsFor(t, ix.URL))
	lock, err := cache.Resolve(context.Background(), py, reqs.Lines(), nil)
	t.Logf("script A: lines %q, lock %q, err %v", reqs.Lines(), lock.String(), err)
	if n := evil.Hits("/"); n > 0 {
		t.Errorf("a #requirements: token set pip's index (%d requests)", n)
	}
	if got := scriptB(t, cache, py); got != "2.0" {
		t.Errorf("script B runs what script A's requirement fetched: %q", got)
	}
}

