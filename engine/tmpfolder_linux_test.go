package engine

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A file in the jobs' temp folder that cannot be removed (on Windows, one
// a leftover process holds open; here, an immutable one) stopped the
// engine from starting at all: it is reported and passed over, and jobs
// run in a fresh folder.
func TestAnUnremovableTempFileDoesNotStopTheStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	held := filepath.Join(dir, "tmp", "old-job", "held")
	if err := os.MkdirAll(filepath.Dir(held), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(held, []byte("x"), 0o600)
	if out, err := exec.Command("chattr", "+i", held).CombinedOutput(); err != nil {
		t.Skipf("cannot make a file immutable here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", held).Run() })
	f := setup(t, func(c *Config) { c.DataDir = dir })
	if !strings.HasPrefix(f.e.runner.TempRoot, filepath.Join(dir, "tmp", "start-")) {
		t.Fatalf("jobs' temp folder: %s", f.e.runner.TempRoot)
	}
	f.createScript("u/me/ok", "bash", "echo hi\n")
	if r := f.syncRun("u/me/ok", "{}"); r.status != 200 {
		t.Fatalf("a job after the start: %d %s", r.status, r.body)
	}
}
