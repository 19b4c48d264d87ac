package alerts

import (
	"testing"
	"time"
)

// A run's notice is not shown to a user looking at it: a focused millrun
// window showing that run, or the Runs list it appears on live. Another
// page, an unfocused window, or one silent too long do not count.
func TestNoNoticeWhileLooking(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	p := NewPresence(func() time.Time { return now })
	rec := &recorder{}
	a := New(Config{Sender: rec, Level: func() string { return Failures }, Window: time.Millisecond, Watching: p.Watching})

	p.Report("tab1", "/runs/j1", true)
	a.JobFinished(failed("j1", "u/me/a"))
	p.Report("tab1", "/runs?path=u/me", true)
	a.JobFinished(failed("j2", "u/me/a"))
	p.Report("tab1", "/tunnel", true)
	a.TunnelChanged("online", "error", "gone")
	if got := rec.wait(t, 1); len(got) != 0 {
		t.Fatalf("notices while looking: %+v", got)
	}

	for _, c := range []struct {
		path    string
		focused bool
		after   time.Duration
	}{{"/scripts/u/me/a", true, 0}, {"/runs/j3", false, 0}, {"/runs/j3", true, 2 * time.Minute}} {
		rec.mu.Lock()
		rec.sent = nil
		rec.mu.Unlock()
		p.Report("tab1", c.path, c.focused)
		now = now.Add(c.after)
		time.Sleep(5 * time.Millisecond) // past the burst window
		a.JobFinished(failed("j3", "u/me/a"))
		if got := rec.wait(t, 1); len(got) != 1 {
			t.Errorf("%+v: %d notices, want 1", c, len(got))
		}
	}
}
