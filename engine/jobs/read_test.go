package jobs

import (
	"context"
	"errors"
	"testing"

	"github.com/millrun/millrun/engine/store"
)

// What the Runs page reads goes through the queue, finished or not.
func TestReadsAndCodeJobs(t *testing.T) {
	f := newQueue(t, Config{Workers: 1})
	ctx := context.Background()
	done := f.wait(f.enqueue("u/me/a"))
	code := &store.Job{Workspace: "local", Kind: "preview", ScriptPath: "u/me/draft", Language: "bash"}
	if err := f.q.EnqueueCode(ctx, code, store.JobCode{Language: "bash", Content: "echo draft\n"}); err != nil {
		t.Fatal(err)
	}
	if c, err := f.db.GetJobCode(ctx, code.ID); err != nil || c.Content != "echo draft\n" {
		t.Fatalf("the code job's code: %+v %v", c, err)
	}
	f.wait(code)
	if got, err := f.q.Get(ctx, "local", done.ID); err != nil || got.Status != store.StatusSuccess {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, err := f.q.Get(ctx, "other", done.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another workspace's job: %v", err)
	}
	list, err := f.q.List(ctx, store.JobFilter{Workspace: "local", Path: "u/me/a"})
	if err != nil || len(list) != 1 || list[0].ID != done.ID {
		t.Fatalf("list: %+v %v", list, err)
	}
	if n, err := f.q.Count(ctx, store.JobFilter{Workspace: "local"}); err != nil || n != 2 {
		t.Fatalf("count: %d %v", n, err)
	}
}
