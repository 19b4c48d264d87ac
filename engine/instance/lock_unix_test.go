//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package instance

import (
	"syscall"
	"testing"
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
