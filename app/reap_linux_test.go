package app

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/millrun/millrun/engine/testkit"
)

// A window opened by a clicked notification is the engine's child; its
// WebKit helpers outlive it for a moment and are then re-parented to the
// engine (a subreaper, for its jobs' sake), which must reap them: each
// click left two zombies behind.
func TestTheEngineReapsTheWindowsHelpers(t *testing.T) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skip("cannot become a subreaper:", err)
	}
	dir := t.TempDir()
	pids := dir + "/helpers"
	a := quietApp(dir)
	// The window starts two helpers and exits before them, as WebKit's
	// network and web processes do when the window closes.
	a.opts.WindowCommand = []string{"/bin/sh", "-c", "sleep 0.3 & echo $! >> " + pids + "; sleep 0.3 & echo $! >> " + pids + "; exit 0", "millrun"}
	start(t, a)
	a.openAt("/runs/1")
	var helpers []int
	testkit.WaitUntil(t, "the window's helpers", 10*time.Second, func() bool {
		b, _ := os.ReadFile(pids)
		helpers = nil
		for _, f := range strings.Fields(string(b)) {
			n, _ := strconv.Atoi(f)
			helpers = append(helpers, n)
		}
		return len(helpers) == 2
	})
	deadline := time.Now().Add(3 * time.Second)
	for _, pid := range helpers {
		for {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
			if err != nil {
				break // reaped
			}
			f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
			if time.Now().After(deadline) {
				t.Fatalf("helper %d is left in state %s (parent %s, this test %d)", pid, f[0], f[1], os.Getpid())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
