package runtime

import "testing"

func TestStatePathRule(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		script, schedule, flow, step, want string
	}{
		{"u/me/count", "", "", "", "u/me/count/user"},
		{"u/me/count", "u/me/every_minute", "", "", "u/me/count/ann"},
		{"f/x/step_script", "", "f/x/flow", "b", "f/x/flow/b_user"},
		{"f/x/step_script", "u/me/nightly", "f/x/flow", "", "f/x/flow/nostep_ann"},
		{"f/x/", "", "", "", "f/x/state/user"},
		{"", "", "", "", "u/ann/tmp_state"},
	} {
		got := StatePath("ann", c.script, c.schedule, c.flow, c.step)
		if got != c.want {
			t.Errorf("StatePath(%q, %q, %q, %q) = %q, want %q", c.script, c.schedule, c.flow, c.step, got, c.want)
		}
	}
}
