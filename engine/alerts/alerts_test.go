package alerts

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/store"
)

type recorder struct {
	mu   sync.Mutex
	sent []Notice
}

func (r *recorder) Send(n Notice) (bool, error) {
	r.mu.Lock()
	r.sent = append(r.sent, n)
	r.mu.Unlock()
	return true, nil
}

func (r *recorder) wait(t *testing.T, n int) []Notice {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		r.mu.Lock()
		got := append([]Notice(nil), r.sent...)
		r.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func failed(id, path string) *store.Job {
	return &store.Job{ID: id, ScriptPath: path, Status: store.StatusFailure, Result: `{"error":{"name":"ValueError","message":"bad input"}}`}
}

// A failure says which script and why, and opens its run; a flood within
// the window gives one summary; successes only at the all level.
func TestFailuresAreToldOnceAndFloodsSummed(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	level := Failures
	var mu sync.Mutex
	a := New(Config{Sender: rec, Level: func() string { mu.Lock(); defer mu.Unlock(); return level }, Window: 150 * time.Millisecond})
	a.JobFinished(failed("j1", "u/me/sync_contacts"))
	got := rec.wait(t, 1)
	if len(got) != 1 || got[0].Title != "millrun: u/me/sync_contacts failed" || got[0].Body != "u/me/sync_contacts: ValueError: bad input" || got[0].Open != "/runs/j1" {
		t.Fatalf("first failure: %+v", got)
	}
	for i := 0; i < 200; i++ {
		a.JobFinished(failed("jx", "u/me/flood"))
	}
	got = rec.wait(t, 2)
	if len(got) != 2 || got[1].Title != "millrun: 200 more runs failed" || !strings.Contains(got[1].Body, "u/me/flood failed") {
		t.Fatalf("a flood of 200: %d notices, last %+v", len(got), got[len(got)-1])
	}
	a.JobFinished(&store.Job{ID: "ok", ScriptPath: "u/me/x", Status: store.StatusSuccess})
	a.JobFinished(&store.Job{ID: "step", ScriptPath: "u/me/x", Status: store.StatusFailure, ParentJob: "flow"})
	a.JobFinished(&store.Job{ID: "c", ScriptPath: "u/me/x", Status: store.StatusCanceled})
	time.Sleep(50 * time.Millisecond)
	if got := rec.wait(t, 2); len(got) != 2 {
		t.Fatalf("a success, a flow step and a cancel were told: %+v", got[2:])
	}
	mu.Lock()
	level = All
	mu.Unlock()
	a.JobFinished(&store.Job{ID: "ok2", ScriptPath: "u/me/x", Status: store.StatusSuccess, SchedulePath: "u/me/s"})
	if got := rec.wait(t, 3); len(got) != 3 || !strings.Contains(got[2].Body, "(schedule u/me/s)") {
		t.Fatalf("at level all a success is told: %+v", got)
	}
	mu.Lock()
	level = Off
	mu.Unlock()
	a.JobFinished(failed("j9", "u/me/x"))
	a.TunnelChanged("online", "reconnecting", "")
	time.Sleep(200 * time.Millisecond)
	if got := rec.wait(t, 3); len(got) != 3 {
		t.Fatalf("with notifications off: %+v", got[3:])
	}
}

func TestTunnelNotices(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	a := New(Config{Sender: rec, Level: func() string { return Failures }, Window: time.Millisecond})
	a.TunnelChanged("connecting", "online", "")
	a.TunnelChanged("online", "reconnecting", "")
	time.Sleep(5 * time.Millisecond)
	a.TunnelChanged("connecting", "error", "ngrok refused the authtoken (ERR_NGROK_105).")
	got := rec.wait(t, 2)
	if len(got) != 2 || got[0].Title != "millrun: the tunnel is offline" || got[0].Open != "/tunnel" ||
		!strings.Contains(got[1].Body, "ERR_NGROK_105") {
		t.Fatalf("tunnel notices: %+v", got)
	}
}
