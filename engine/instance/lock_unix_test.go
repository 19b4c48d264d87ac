//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package instance

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// A process forked while millrun held the lock (a job starting, between
// fork and exec) shares the lock file's descriptor for a moment. Release
// must free the directory at once even then, or the next start on it (a
// restart, a test reopening an engine) is told another millrun uses it.
func TestReleaseFreesTheDirectoryWhileADescriptorIsShared(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := syscall.Dup(int(l.f.Fd())) // what a forked child holds
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(shared)
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	again, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	again.Release()
}

// Asked to stop the holder it was told of, StopHolder signals it and
// waits for the folder; a holder that changed meanwhile is not touched.
func TestStopHolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// The holder: a shell holding the lock through flock(1)'s descriptor
	// would need flock; a child of this test that takes the lock itself
	// is simpler: this test binary, run as the holder.
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHolder$")
	cmd.Env = append(os.Environ(), "MILLRUN_TEST_HOLD="+dir)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	bufio.NewReader(out).ReadString('\n') // "held"
	who, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := StopHolder(dir, &Info{PID: who.PID + 1, Kind: who.Kind}, time.Second); err == nil {
		t.Fatal("a holder other than the one described was stopped")
	}
	if err := StopHolder(dir, who, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the holder did not stop cleanly: %v", err)
	}
}

// TestHelperHolder holds MILLRUN_TEST_HOLD until SIGTERM, as serve does.
func TestHelperHolder(t *testing.T) {
	dir := os.Getenv("MILLRUN_TEST_HOLD")
	if dir == "" {
		t.Skip("run by TestStopHolder")
	}
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	l.Publish(Info{PID: os.Getpid(), Kind: KindServe})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	fmt.Println("held")
	<-sig
	l.Release()
}
