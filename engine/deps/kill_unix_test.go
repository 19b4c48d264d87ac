//go:build linux

package deps_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/deps"
)

// TestKillHelper is the process the next test kills; it does nothing
// when run as a test itself.
func TestKillHelper(t *testing.T) {
	root := os.Getenv("DEPS_KILL_ROOT")
	if root == "" {
		t.Skip("run by TestKilledMidInstall")
	}
	py := deps.Python{Path: os.Getenv("DEPS_KILL_PY"), Version: os.Getenv("DEPS_KILL_PYV")}
	tools := deps.Tools{Env: strings.Split(os.Getenv("DEPS_KILL_ENV"), "\n")}
	deps.NewCache(root, tools).Install(context.Background(), py, deps.ParseLock("base==1.0\nfancy-name==0.3"), nil)
}

// millrun killed with kill -9 while pip downloads: nothing half-installed
// is ever used, Sweep at the next start removes the leftovers, and the
// next run installs cleanly.
func TestKilledMidInstall(t *testing.T) {
	py := python3(t)
	ix := serve(t)
	tools := toolsFor(t, ix.URL)
	root := filepath.Join(tempDir(t), "cache")
	arrived, release := ix.Hold("/files/base-1.0")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "DEPS_KILL_ROOT="+root, "DEPS_KILL_PY="+py.Path, "DEPS_KILL_PYV="+py.Version,
		"DEPS_KILL_ENV="+strings.Join(tools.Env, "\n"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the helper never started downloading")
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	// pip, in its own process group, outlives its parent as it would
	// outlive millrun; let it end, and wait until it has.
	release()
	deadline := time.Now().Add(20 * time.Second)
	for pipRunningIn(root) {
		if time.Now().After(deadline) {
			t.Fatal("pip still running")
		}
		time.Sleep(50 * time.Millisecond)
	}

	cache := deps.NewCache(root, tools)
	lock := deps.ParseLock("base==1.0\nfancy-name==0.3")
	if _, ok := cache.Paths(py, lock); ok {
		t.Fatal("a killed install counts as complete")
	}
	vdir := filepath.Join(root, "python_"+strings.ReplaceAll(py.Minor(), ".", "_"))
	if left, _ := filepath.Glob(filepath.Join(vdir, ".tmp-*")); len(left) == 0 {
		t.Error("the kill left nothing behind: it did not happen mid-install")
	}
	if err := cache.Sweep(); err != nil {
		t.Fatal(err)
	}
	paths, err := cache.Install(context.Background(), py, lock, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := importFrom(t, py, paths, "import base, fancy; print(base.__version__, fancy.__version__)"); got != "1.0 0.3" {
		t.Errorf("got %q", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(paths[0]))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("leftover %s", e.Name())
		}
	}
}

// pipRunningIn says whether a process's command line mentions dir.
func pipRunningIn(dir string) bool {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), dir) {
			return true
		}
	}
	return false
}
