package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func openDB(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "millrun.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

// syncJob is a job as a sync webhook queues it: its writes are crash-safe.
func syncJob(id string) *Job {
	now := time.Now()
	return &Job{ID: id, Workspace: "local", Kind: "script", ScriptPath: "u/me/x", Language: "bash", Args: "{}",
		Status: StatusQueued, CreatedAt: now, ScheduledFor: now, Durability: SurvivesCrash}
}

// A job whose caller waits for its result is written without an fsync, but
// once MarkRunning returns the mark must be in the file (what a second
// process, or millrun restarted after kill -9, reads), and the lowered
// sync level must not leak to writes outside the group (tokens, settings).
func TestCrashSafeWritesAreCommittedAndDoNotWeakenOthers(t *testing.T) {
	t.Parallel()
	db, path := openDB(t)
	j := syncJob("j1")
	db.InsertJobAsync(j, nil)
	j.StartedAt = time.Now()
	if err := db.MarkRunning(t.Context(), j); err != nil {
		t.Fatal(err)
	}

	other, err := Open(path) // a separate connection pool: sees only what reached the file
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	got, err := other.GetJob(t.Context(), "local", "j1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusRunning {
		t.Fatalf("after MarkRunning returned, the file holds status %q, want running", got.Status)
	}

	var level int
	if err := db.write.QueryRow("PRAGMA synchronous").Scan(&level); err != nil {
		t.Fatal(err)
	}
	if level != 2 {
		t.Fatalf("writes outside the group run at synchronous=%d after a crash-safe batch, want 2 (FULL)", level)
	}
}

// A worker that takes a job before its insert is written gets the job
// written as running by that insert; one taken after gets its own mark.
// Either way the file says running, with the start time, once MarkRunning
// returns.
func TestRunningMarkRidesOnAPendingInsert(t *testing.T) {
	t.Parallel()
	db, _ := openDB(t)
	started := time.Now().Truncate(time.Microsecond)
	for i := range 200 {
		j := syncJob(fmt.Sprint("j", i))
		db.InsertJobAsync(j, nil)
		if i%3 == 0 {
			time.Sleep(time.Millisecond) // sometimes the insert is written first
		}
		j.StartedAt = started
		if err := db.MarkRunning(t.Context(), j); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetJob(t.Context(), "local", j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != StatusRunning || !got.StartedAt.Equal(started) {
			t.Fatalf("job %d: status %q started %v after MarkRunning, want running at %v", i, got.Status, got.StartedAt, started)
		}
	}
}

// A caller-chosen job id used twice (a schedule's due time after a
// restart) is told apart from other failures, by SQLite's error code.
func TestDuplicateJobIDIsRecognised(t *testing.T) {
	t.Parallel()
	db, _ := openDB(t)
	ctx := t.Context()
	if err := db.InsertJob(ctx, syncJob("6f1b5c1e-0000-4000-8000-00000000000a")); err != nil {
		t.Fatal(err)
	}
	if err := db.InsertJob(ctx, syncJob("6f1b5c1e-0000-4000-8000-00000000000a")); !errors.Is(err, ErrDuplicateJob) {
		t.Fatalf("second insert: %v", err)
	}
	bad := syncJob("6f1b5c1e-0000-4000-8000-00000000000b")
	bad.Kind = "nonsense" // a CHECK constraint, not a duplicate
	if err := db.InsertJob(ctx, bad); err == nil || errors.Is(err, ErrDuplicateJob) {
		t.Fatalf("a CHECK failure: %v", err)
	}
}

// The Runs page finds runs by any part of their path (its typing has no
// wildcards: % and _ are themselves), Windmill's script_path_start by
// the start, and counts what a filter matches.
func TestListJobsByPartOfPath(t *testing.T) {
	t.Parallel()
	db, _ := openDB(t)
	ctx := t.Context()
	for i, p := range []string{"u/ann/hello_e2e", "u/ann/Hello_world", "f/ops/deploy", "u/bob/50%_off"} {
		j := syncJob(fmt.Sprintf("6f1b5c1e-0000-4000-8000-0000000000%02d", i))
		j.ScriptPath = p
		if err := db.InsertJob(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		f    JobFilter
		want int
	}{
		{JobFilter{PathContains: "ello_"}, 2},
		{JobFilter{PathContains: "HELLO"}, 2},
		{JobFilter{PathContains: "%_"}, 1},
		{JobFilter{PathContains: "_"}, 3},
		{JobFilter{PathPrefix: "u/ann/"}, 2},
		{JobFilter{PathPrefix: "u/ann/hello_e2e"}, 1},
		{JobFilter{PathPrefix: "ann"}, 0},
		{JobFilter{}, 4},
	} {
		c.f.Workspace = "local"
		list, err := db.ListJobs(ctx, c.f)
		if err != nil {
			t.Fatal(err)
		}
		n, err := db.CountJobs(ctx, c.f)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != c.want || n != c.want {
			t.Errorf("%+v: listed %d, counted %d, want %d", c.f, len(list), n, c.want)
		}
	}
}
