package engine

import (
	"context"
	"strings"
	"testing"
)

// What the status icon shows: the newest failed run and its reason, and
// whether the schedules are paused (a setting, so a restart keeps it).
func TestStatusForTheStatusIcon(t *testing.T) {
	t.Parallel()
	f := setup(t)
	if st := f.e.Status(); st.LastFailure != nil || st.SchedulesPaused || st.Tunnel.State != "off" {
		t.Fatalf("at start: %+v", st)
	}
	f.createScript("u/me/boom", "bash", "echo no >&2\nexit 3\n")
	f.syncRun("u/me/boom", "{}")
	st := f.e.Status()
	if st.LastFailure == nil || st.LastFailure.Path != "u/me/boom" || st.LastFailure.JobID == "" || !strings.Contains(st.LastFailure.Reason, "3") {
		t.Fatalf("after a failed run: %+v (%+v)", st, st.LastFailure)
	}
	s := f.e.Settings()
	s.SchedulesPaused = true
	if err := f.e.UpdateSettings(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if !f.e.Status().SchedulesPaused || !f.e.Settings().SchedulesPaused {
		t.Fatal("pausing the schedules did not show")
	}
}
