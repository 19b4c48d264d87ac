package engine

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/alerts"
	"github.com/millrun/millrun/engine/testkit"
)

type noticeRecorder struct {
	mu   sync.Mutex
	sent []alerts.Notice
}

func (r *noticeRecorder) Send(n alerts.Notice) (bool, error) {
	r.mu.Lock()
	r.sent = append(r.sent, n)
	r.mu.Unlock()
	return true, nil
}

func (r *noticeRecorder) all() []alerts.Notice {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]alerts.Notice(nil), r.sent...)
}

// A run that fails while nobody watches gives a desktop notification that
// names the script and the reason and opens the run; successes do not, by
// default; the setting turns them off.
func TestFailedRunNotifies(t *testing.T) {
	t.Parallel()
	rec := &noticeRecorder{}
	f := setup(t, func(c *Config) { c.Notifier = rec })
	f.createScript("u/me/fails", "python3", "def main():\n    raise ValueError('the API said 503')\n")
	f.createScript("u/me/works", "bash", "echo fine\n")
	f.syncRun("u/me/works", "{}")
	r := f.syncRun("u/me/fails", "{}")
	id := r.header.Get("X-Millrun-Job-Id")
	testkit.WaitUntil(t, "a notification", 3*time.Second, func() bool { return len(rec.all()) > 0 })
	got := rec.all()
	if len(got) != 1 || got[0].Title != "millrun: u/me/fails failed" || !strings.Contains(got[0].Body, "ValueError: the API said 503") || got[0].Open != "/runs/"+id {
		t.Fatalf("notifications: %+v", got)
	}
	s := f.e.Settings()
	s.Notifications = alerts.Off
	if err := f.e.UpdateSettings(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	f.syncRun("u/me/fails", "{}")
	time.Sleep(300 * time.Millisecond)
	if n := len(rec.all()); n != 1 {
		t.Fatalf("with notifications off %d were sent", n)
	}
	s.Notifications = "sometimes"
	if err := f.e.UpdateSettings(t.Context(), s); err == nil || !strings.Contains(err.Error(), "notifications must be") {
		t.Fatalf("a bad level: %v", err)
	}
}
