package instance

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOneHolderAtATime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir)
	var inUse *InUseError
	if !errors.As(err, &inUse) {
		t.Fatalf("second Acquire: got %v, want InUseError", err)
	}
	if inUse.Info != nil {
		t.Fatalf("nothing published yet, got %+v", inUse.Info)
	}

	if err := first.Publish(Info{PID: os.Getpid(), Kind: KindServe, URL: "http://127.0.0.1:8700"}); err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir)
	if !errors.As(err, &inUse) || inUse.Info == nil || inUse.Info.PID != os.Getpid() {
		t.Fatalf("second Acquire after Publish: %v", err)
	}
	for _, want := range []string{"millrun serve at http://127.0.0.1:8700", "is already using " + dir, "--data"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}

	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("info left behind after Release: %v", err)
	}
	again, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	again.Release()
}

func TestStaleInfoIsDropped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A holder that was killed leaves its info behind, but not its lock.
	if err := os.WriteFile(dir+"/"+infoName, []byte(`{"pid":1,"kind":"desktop","secret":"old"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("stale info must not block: %v", err)
	}
	defer l.Release()
	if _, err := Read(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale info kept: %v", err)
	}
	if p := l.Previous(); p == nil || p.PID != 1 || p.Kind != KindDesktop {
		t.Fatalf("the holder that did not release the folder: %+v", p)
	}
	// A launch that only looks (takes the lock, lets it go) leaves it for
	// the engine it starts.
	l.Release()
	next, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p := next.Previous(); p == nil || p.PID != 1 {
		t.Fatalf("after a look, the holder that did not release: %+v", p)
	}
	// A holder that announces itself is done with it.
	next.Publish(Info{PID: os.Getpid(), Kind: KindDesktop})
	next.Release()
	clean, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer clean.Release()
	if p := clean.Previous(); p != nil {
		t.Fatalf("after a clean release, a previous holder: %+v", p)
	}
}

// A launch that finds the directory taken leaves the holder's files alone:
// on Windows, changing the mode of a file another process has open fails
// ("Sharing violation"), which hid the "already using" answer a second
// launch should give.
func TestSecondAcquireTouchesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Release()
	file := filepath.Join(dir, "millrun.db-shm")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir)
	var inUse *InUseError
	if !errors.As(err, &inUse) {
		t.Fatalf("second Acquire: %v", err)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o644 {
		t.Fatalf("the second Acquire changed the holder's file to %v", st.Mode().Perm())
	}
}
