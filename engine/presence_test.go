package engine

import (
	"testing"
	"time"

	"github.com/millrun/millrun/engine/testkit"
)

// A failure is not notified while a focused UI window shows the Runs
// list (the UI reports it); once the window loses focus it is.
func TestNoNotificationWhileTheRunsPageIsFocused(t *testing.T) {
	t.Parallel()
	rec := &noticeRecorder{}
	f := setup(t, func(c *Config) { c.Notifier = rec })
	f.createScript("u/me/boom", "bash", "exit 3\n")
	f.mustDo(204, "POST", "/api/millrun/presence", "application/json", `{"client":"tab1","path":"/runs","focused":true}`)
	f.syncRun("u/me/boom", "{}")
	time.Sleep(300 * time.Millisecond)
	if n := len(rec.all()); n != 0 {
		t.Fatalf("%d notices while the Runs page had focus", n)
	}
	f.mustDo(204, "POST", "/api/millrun/presence", "application/json", `{"client":"tab1","path":"/runs","focused":false}`)
	f.syncRun("u/me/boom", "{}")
	testkit.WaitUntil(t, "a notice once the window lost focus", 3*time.Second, func() bool { return len(rec.all()) > 0 })
	if len(rec.all()) != 1 {
		t.Fatalf("%d notices once the window lost focus, want 1", len(rec.all()))
	}
	f.mustDo(400, "POST", "/api/millrun/presence", "application/json", `{"path":"/runs"}`)
}
