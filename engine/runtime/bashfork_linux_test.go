package runtime

import (
	"bytes"
	"context"
	"io"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/testkit"
)

// Closing a Bash server ends the job process it forked, which is in a
// process group of its own.
func TestClosingABashServerEndsItsChild(t *testing.T) {
	t.Parallel()
	r := newRunner(t, true)
	s, err := startBashServer(r, r.interp.Bash)
	if err != nil {
		t.Fatal(err)
	}
	dir := s.next
	env, err := prepareBashJob(dir, "sleep 60\n", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	go r.forkBash(context.Background(), s, dir, env, io.Discard)
	var child int
	testkit.WaitUntil(t, "the server's child to take the request", 5*time.Second, func() bool {
		if kids := orphansOf(s.cmd.Process.Pid); len(kids) == 1 {
			if cwd, _ := os.Readlink("/proc/" + strconv.Itoa(kids[0]) + "/cwd"); cwd == dir {
				child = kids[0] // in the job folder: it took the request
			}
		}
		return child != 0
	})
	s.close()
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(child, 0) == nil {
		st, _ := os.ReadFile("/proc/" + strconv.Itoa(child) + "/stat")
		if bytes.Contains(st, []byte(") Z ")) {
			break // dead; reaped by whoever adopted it
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(child, syscall.SIGKILL)
			t.Fatalf("the server's child %d outlived it", child)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
