package store

import (
	"path/filepath"
	"testing"
	"time"
)

// A job whose caller waits for its result is written without an fsync, but
// once MarkRunning returns the mark must be in the file (what a second
// process, or millrun restarted after kill -9, reads), and the lowered
// sync level must not leak to writes outside the group (tokens, settings).
func TestCrashSafeWritesAreCommittedAndDoNotWeakenOthers(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "millrun.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	j := &Job{ID: "j1", Workspace: "local", Kind: "script", ScriptPath: "u/me/x", Language: "bash", Args: "{}",
		Status: StatusQueued, CreatedAt: now, ScheduledFor: now, Durability: SurvivesCrash}
	db.InsertJobAsync(j, nil)
	j.StartedAt = now
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
