package schedules

import (
	"testing"
	"time"
)

// Whatever a caller sends as a schedule, Parse answers an error or a
// schedule whose next runs, last run and words can be computed: never a
// panic, never a hang.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"0 0 8 * * 1-5", "*/2 * * * * *", "0 30 2 * * *", "0 0 0 30 2 *", "@daily", "CRON_TZ=UTC * * * * * *",
		"0 0 8 * *", "61 * * * * *", "0 0 8 ? * MON-FRI", "0 0 8 L * *", "", "* * * * * * *"} {
		f.Add(s, "Europe/Paris")
	}
	f.Add("0 0 8 * * *", "Nowhere/Land")
	f.Fuzz(func(t *testing.T, expr, tz string) {
		c, err := Parse(expr, tz)
		if err != nil {
			return
		}
		_ = c.Describe()
		from := time.Date(2026, 10, 25, 1, 0, 0, 0, time.UTC)
		for _, t2 := range c.Upcoming(from, 3) {
			if !t2.After(from) {
				t.Fatalf("%q: a next run %v not after %v", expr, t2, from)
			}
			if l := c.Last(t2); !l.Equal(t2) {
				t.Fatalf("%q: the last run at %v is %v", expr, t2, l)
			}
			from = t2
		}
	})
}
