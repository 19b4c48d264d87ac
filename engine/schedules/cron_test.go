package schedules

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/errs"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// Clock changes in two zones: a daily time skipped when clocks go forward
// runs once, an hour later on the clock; one that comes twice when they go
// back runs once; an hourly schedule keeps its beat through both.
func TestNextAcrossClockChanges(t *testing.T) {
	t.Parallel()
	paris, ny := mustLoad(t, "Europe/Paris"), mustLoad(t, "America/New_York")
	cases := []struct {
		name, expr string
		loc        *time.Location
		from       time.Time
		want       []string
	}{
		{"Paris spring forward skips 02:30", "0 30 2 * * *", paris, time.Date(2026, 3, 28, 12, 0, 0, 0, paris),
			[]string{"2026-03-29 03:30 CEST", "2026-03-30 02:30 CEST", "2026-03-31 02:30 CEST"}},
		{"Paris fall back repeats 02:30", "0 30 2 * * *", paris, time.Date(2026, 10, 24, 12, 0, 0, 0, paris),
			[]string{"2026-10-25 02:30 CEST", "2026-10-26 02:30 CET", "2026-10-27 02:30 CET"}},
		{"New York spring forward skips 02:30", "0 30 2 * * *", ny, time.Date(2026, 3, 7, 12, 0, 0, 0, ny),
			[]string{"2026-03-08 03:30 EDT", "2026-03-09 02:30 EDT"}},
		{"New York fall back repeats 01:30", "0 30 1 * * *", ny, time.Date(2026, 10, 31, 12, 0, 0, 0, ny),
			[]string{"2026-11-01 01:30 EDT", "2026-11-02 01:30 EST"}},
		{"hourly keeps both passes of a repeated hour", "0 0 * * * *", paris, time.Date(2026, 10, 25, 1, 30, 0, 0, paris),
			[]string{"2026-10-25 02:00 CEST", "2026-10-25 02:00 CET", "2026-10-25 03:00 CET"}},
		{"weekdays at 08:00", "0 0 8 * * 1-5", paris, time.Date(2026, 12, 4, 9, 0, 0, 0, paris), // a Friday
			[]string{"2026-12-07 08:00 CET", "2026-12-08 08:00 CET"}},
	}
	for _, c := range cases {
		cr, err := Parse(c.expr, c.loc.String())
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var got []string
		for _, tm := range cr.Upcoming(c.from, len(c.want)) {
			got = append(got, tm.In(c.loc).Format("2006-01-02 15:04 MST"))
		}
		if strings.Join(got, ", ") != strings.Join(c.want, ", ") {
			t.Errorf("%s:\n got  %v\n want %v", c.name, got, c.want)
		}
	}
}

func TestInvalidSchedulesSayWhy(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ expr, tz, want string }{
		{"0 0 8 * *", "", "time zone is missing"},
		{"0 0 8 * * *", "Mars/Olympus", "not a time zone"},
		{"* * *", "UTC", "has 3 fields; a schedule has six"},
		{"61 * * * * *", "UTC", "above maximum"},
		{"0 0 25 * * *", "UTC", "above maximum"},
		{"@daily", "UTC", "write the six fields"},
		{"CRON_TZ=UTC 0 * * * * *", "UTC", "timezone field"},
		{"0 0 0 30 2 *", "UTC", "never comes"},
	} {
		_, err := Parse(c.expr, c.tz)
		var inv *errs.Invalid
		if err == nil || !errors.As(err, &inv) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q, %q) = %v, want %q", c.expr, c.tz, err, c.want)
		}
	}
	c, err := Parse("0 8 * * 1-5", "UTC")
	if err != nil || c.Expr != "0 0 8 * * 1-5" {
		t.Fatalf("a five-field cron: %v %v", c, err)
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ expr, want string }{
		{"0 0 8 * * *", "every day at 08:00 in Europe/Paris"},
		{"0 0 8 * * 1-5", "every weekday (Monday to Friday) at 08:00 in Europe/Paris"},
		{"0 30 18 * * 1,3", "every Monday and Wednesday at 18:30 in Europe/Paris"},
		{"0 0 9 1 * *", "on day 1 of every month at 09:00 in Europe/Paris"},
		{"0 */5 * * * *", "every 5 minutes"},
		{"*/2 * * * * *", "every 2 seconds"},
		{"0 0 * * * *", "every hour, on the hour"},
		{"0 15 * * * *", "every hour at 15 minutes past"},
		{"0 0 */3 * * *", "every 3 hours, on the hour in Europe/Paris"},
	} {
		cr, err := Parse(c.expr, "Europe/Paris")
		if err != nil {
			t.Fatal(err)
		}
		if got := cr.Describe(); got != c.want {
			t.Errorf("%s: %q, want %q", c.expr, got, c.want)
		}
	}
}
