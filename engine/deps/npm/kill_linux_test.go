package npm

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/deps/npm/npmtest"
)

// TestKillHelper is the millrun that gets killed: it installs the lock
// the parent describes and never finishes (the registry holds the
// tarballs).
func TestKillHelper(t *testing.T) {
	root := os.Getenv("NPM_KILL_ROOT")
	if root == "" {
		t.Skip("run by TestNpmKilledMidInstall")
	}
	lock, err := ParseLock(os.Getenv("NPM_KILL_LOCK"))
	if err != nil {
		t.Fatal(err)
	}
	c := &Cache{Root: root, NPM: os.Getenv("NPM_KILL_NPM"), Env: strings.Split(os.Getenv("NPM_KILL_ENV"), "\x1f")}
	_, err = c.Install(context.Background(), lock, ToolNPM, nil)
	t.Fatalf("the install ended: %v", err)
}

// millrun killed with -9 in the middle of an install: what it left is not
// used, and the next millrun installs the lock.
func TestNpmKilledMidInstall(t *testing.T) {
	reg := npmtest.New(t, testPackages...)
	root := t.TempDir()
	c := newCache(t, reg, root)
	mark := "NPM_KILL_MARK=" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	lock := pushedLock(reg)
	release := reg.Hold()
	defer release()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "NPM_KILL_ROOT="+root, "NPM_KILL_LOCK="+lock.String(), "NPM_KILL_NPM="+c.NPM,
		"NPM_KILL_ENV="+strings.Join(append(c.Env, mark), "\x1f"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reg.Held():
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the helper never fetched a tarball:\n%s", out.String())
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	// The npm it started is in its own process group and outlives it, as
	// a job does; the next millrun kills those by their marker
	// (runtime.KillLeftovers) before it starts anything.
	if killMarked(mark) == 0 {
		t.Fatal("the killed helper's npm is gone already: the test did not kill mid-install")
	}

	if _, ok := c.Cached(lock); ok {
		t.Fatal("a killed install is in the cache")
	}
	if _, err := os.Stat(c.Dir(lock)); !os.IsNotExist(err) {
		t.Fatal("a killed install has its lock's folder")
	}
	left, _ := filepath.Glob(filepath.Join(root, "npm", ".tmp-*"))
	if len(left) != 1 {
		t.Fatalf("expected the killed install's temporary folder, found %v", left)
	}
	release()
	nm, err := c.Install(context.Background(), lock, ToolNPM, nil)
	if err != nil {
		t.Fatal(err)
	}
	if readVersion(t, nm, "right") != "2.0.0" {
		t.Error("not installed")
	}
	if left, _ := filepath.Glob(filepath.Join(root, "npm", ".tmp-*")); len(left) != 0 {
		t.Errorf("still there: %v", left)
	}
}

func killMarked(mark string) int {
	n := 0
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err == nil && bytes.Contains(env, []byte(mark+"\x00")) {
			syscall.Kill(-pid, syscall.SIGKILL)
			syscall.Kill(pid, syscall.SIGKILL)
			n++
		}
	}
	return n
}
