package runtime

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Closing a Bash server ends the job process it forked ahead, also one
// that took a request and waits to open the job's output, which nothing
// reads any more.
func TestClosingABashServerEndsItsChild(t *testing.T) {
	t.Parallel()
	r := newRunner(t, true)
	s, err := startBashServer(r, r.interp.Bash)
	if err != nil {
		t.Fatal(err)
	}
	dir := s.next
	if _, err := s.req.Write([]byte(dir + "\n")); err != nil { // no reader on the output
		t.Fatal(err)
	}
	var child int
	deadline := time.Now().Add(5 * time.Second)
	for child == 0 && time.Now().Before(deadline) {
		if kids := orphansOf(s.cmd.Process.Pid); len(kids) == 1 {
			if cwd, _ := os.Readlink("/proc/" + strconv.Itoa(kids[0]) + "/cwd"); cwd == dir {
				child = kids[0] // in the job folder: it took the request
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	if child == 0 {
		t.Fatal("the server's child never took the request")
	}
	s.close()
	deadline = time.Now().Add(5 * time.Second)
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
