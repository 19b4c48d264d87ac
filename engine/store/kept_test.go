package store

import (
	"errors"
	"testing"
	"time"
)

// Kept items come back as they were put, by kind and name; a put replaces.
func TestKeptItems(t *testing.T) {
	t.Parallel()
	db, _ := openDB(t)
	ctx := t.Context()
	if _, err := db.GetKept(ctx, "local", "group", "ops"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an item never put: %v", err)
	}
	for _, it := range [][3]string{{"group", "ops", `{"summary":"a"}`}, {"group", "dev", `{}`}, {"user", "ann@x.io", `{"role":"admin"}`}, {"group", "ops", `{"summary":"b"}`}} {
		if err := db.PutKept(ctx, "local", it[0], it[1], it[2]); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.GetKept(ctx, "local", "group", "ops")
	if err != nil || got.Value != `{"summary":"b"}` {
		t.Fatalf("get: %v %+v", err, got)
	}
	list, err := db.ListKept(ctx, "local", "group")
	if err != nil || len(list) != 2 || list[0].Name != "dev" || list[1].Name != "ops" {
		t.Fatalf("list: %v %+v", err, list)
	}
	if err := db.DeleteKept(ctx, "local", "group", "ops"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteKept(ctx, "local", "group", "ops"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if list, _ := db.ListKept(ctx, "other", "user"); len(list) != 0 {
		t.Fatalf("another workspace's items: %+v", list)
	}
}

// A job's code goes with the job: retention that deletes the job deletes
// it too.
func TestJobCodeGoesWithItsJob(t *testing.T) {
	t.Parallel()
	db, _ := openDB(t)
	ctx := t.Context()
	j := syncJob("j-code")
	if err := db.PutJobCode(ctx, j.ID, JobCode{Language: "python3", Content: "def main():\n    return 1\n"}); err != nil {
		t.Fatal(err)
	}
	if err := db.InsertJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if c, err := db.GetJobCode(ctx, j.ID); err != nil || c.Language != "python3" {
		t.Fatalf("code: %v %+v", err, c)
	}
	j.Status, j.Result, j.CompletedAt = StatusSuccess, "1", time.Now()
	done := make(chan error, 1)
	db.FinishJobAsync(j, func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := db.ForgetJobData(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := db.GetJob(ctx, "local", j.ID); err != nil || got.Args != "{}" || got.Result != "null" || got.Logs != "" || got.Status != StatusSuccess {
		t.Fatalf("after forgetting its data: %v %+v", err, got)
	}
	if _, err := db.PruneJobs(ctx, time.Now().Add(time.Hour), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetJobCode(ctx, j.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the code outlived its job: %v", err)
	}
}
