package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The finished steps of a flow that has not finished (one waiting for an
// approval, for days maybe) outlive retention: the flow reads their
// results when it goes on, and its answers hang on its step's job.
func TestPruneKeepsTheStepsOfUnfinishedFlows(t *testing.T) {
	t.Parallel()
	db, _ := openDB(t)
	ctx := context.Background()
	old := time.Now().Add(-48 * time.Hour)
	add := func(id, parent, status string) {
		j := &Job{ID: id, Workspace: "local", Kind: "flowscript", Args: "{}", Status: StatusQueued, CreatedAt: old, ScheduledFor: old, ParentJob: parent}
		if parent == "" {
			j.Kind, j.FlowStatus = "flow", `{"step":1}`
		}
		if err := db.InsertJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		if status != StatusQueued {
			j.Status, j.StartedAt, j.CompletedAt, j.Result = status, old, old, `"done"`
			if err := db.Commit(ctx, SurvivesPowerLoss, db.FinishJobOp(j)); err != nil {
				t.Fatal(err)
			}
		}
	}
	add("waiting", "", StatusQueued)
	add("step", "waiting", StatusSuccess)
	add("ended", "", StatusSuccess)
	add("endedstep", "ended", StatusSuccess)
	if err := db.AddResume(ctx, Resume{StepJob: "step", ResumeID: 1, FlowJob: "waiting", Approver: "ann", Approved: true, Value: "null", At: old}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PruneJobs(ctx, time.Now(), 0); err != nil {
		t.Fatal(err)
	}
	for id, kept := range map[string]bool{"waiting": true, "step": true, "ended": false, "endedstep": false} {
		_, err := db.GetJob(ctx, "local", id)
		if got := !errors.Is(err, ErrNotFound); got != kept {
			t.Errorf("job %s kept: %v, want %v (%v)", id, got, kept, err)
		}
	}
	if rs, _, _ := db.Resumes(ctx, "step"); len(rs) != 1 {
		t.Errorf("the waiting flow's answer: %v", rs)
	}
}

// An answer is refused once its wait has ended, and a link answers once.
func TestResumesAfterTheEnd(t *testing.T) {
	t.Parallel()
	db, _ := openDB(t)
	ctx := context.Background()
	r := Resume{StepJob: "s", ResumeID: 1, FlowJob: "f", Approver: "ann", Approved: true, Value: `{"a":1}`, At: time.Now()}
	if err := db.AddResume(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := db.AddResume(ctx, r); !errors.Is(err, ErrResumeUsed) {
		t.Fatalf("the same link twice: %v", err)
	}
	rs, end, err := db.EndWait(ctx, "s", time.Now(), func(rs []Resume) string { return "" })
	if err != nil || end != nil || len(rs) != 1 || rs[0].Value != `{"a":1}` || !rs[0].Approved {
		t.Fatalf("not ended: %v %v %v", rs, end, err)
	}
	if _, end, _ = db.EndWait(ctx, "s", time.Now(), func([]Resume) string { return "approved" }); end == nil || end.How != "approved" {
		t.Fatalf("ended: %v", end)
	}
	// Decided once: a later decision does not change it.
	if _, end, _ = db.EndWait(ctx, "s", time.Now(), func([]Resume) string { return "timed out" }); end.How != "approved" {
		t.Fatalf("ended again: %v", end)
	}
	r.ResumeID = 2
	var ended *WaitEndedError
	if err := db.AddResume(ctx, r); !errors.As(err, &ended) || ended.How != "approved" {
		t.Fatalf("an answer after the end: %v", err)
	}
}
