package jobs

import (
	"strings"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/store"
	"github.com/millrun/millrun/engine/testkit"
)

// Among due jobs a higher priority runs first (Windmill's script
// priority); equal priorities keep arrival order, and a job not yet due
// waits whatever its priority.
func TestPriorityOrdersDueJobs(t *testing.T) {
	t.Parallel()
	f := newQueue(t, Config{Workers: 1})
	gate := f.enqueue("u/me/block") // holds the one worker while the rest queue
	testkit.WaitUntil(t, "the first job starts", 10*time.Second, func() bool { return len(f.exec.order()) == 1 })
	low := f.enqueue("u/me/low")
	high := f.enqueue("u/me/high", func(j *store.Job) { j.Priority = 10 })
	mid1 := f.enqueue("u/me/mid1", func(j *store.Job) { j.Priority = 5 })
	mid2 := f.enqueue("u/me/mid2", func(j *store.Job) { j.Priority = 5 })
	f.exec.release()
	for _, j := range []*store.Job{gate, low, high, mid1, mid2} {
		f.wait(j)
	}
	want := []string{gate.ID, high.ID, mid1.ID, mid2.ID, low.ID}
	if got := f.exec.order(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("run order %v, want block, high, mid1, mid2, low", got)
	}
}
