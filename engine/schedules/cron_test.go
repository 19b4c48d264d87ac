package schedules

import (
	"errors"
	"fmt"
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

// The rule for clock changes, in every zone of the tz database: a named
// local time that the clocks skip runs once, at the instant they jump past
// it; a named local time that the clocks show twice runs once, the first
// time. The table walks zones whose shifts are not whole hours or not one
// hour (Lord Howe's 30 minutes, Troll's 2 hours, Chatham's 02:45 jump, a
// skipped day in Apia, Kathmandu's 15 minutes) with Europe and America for
// comparison.
func TestNextAcrossClockChanges(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, zone, expr, from string
		want                   []string
	}{
		{"Paris: 02:30 skipped runs at the jump", "Europe/Paris", "0 30 2 * * *", "2026-03-28 12:00:00",
			[]string{"2026-03-29 03:00:00 +02:00", "2026-03-30 02:30:00 +02:00"}},
		{"Paris: 02:30 repeated runs once", "Europe/Paris", "0 30 2 * * *", "2026-10-24 12:00:00",
			[]string{"2026-10-25 02:30:00 +02:00", "2026-10-26 02:30:00 +01:00"}},
		{"Paris: hourly, 02:00 repeated runs once", "Europe/Paris", "0 0 * * * *", "2026-10-25 01:30:00",
			[]string{"2026-10-25 02:00:00 +02:00", "2026-10-25 03:00:00 +01:00", "2026-10-25 04:00:00 +01:00"}},
		{"Paris: hourly, 02:00 skipped is the 03:00 run", "Europe/Paris", "0 0 * * * *", "2026-03-29 00:30:00",
			[]string{"2026-03-29 01:00:00 +01:00", "2026-03-29 03:00:00 +02:00", "2026-03-29 04:00:00 +02:00"}},
		{"London: 01:30 skipped", "Europe/London", "0 30 1 * * *", "2026-03-28 12:00:00",
			[]string{"2026-03-29 02:00:00 +01:00", "2026-03-30 01:30:00 +01:00"}},
		{"New York: 02:30 skipped", "America/New_York", "0 30 2 * * *", "2026-03-07 12:00:00",
			[]string{"2026-03-08 03:00:00 -04:00", "2026-03-09 02:30:00 -04:00"}},
		{"New York: 01:30 repeated", "America/New_York", "0 30 1 * * *", "2026-10-31 12:00:00",
			[]string{"2026-11-01 01:30:00 -04:00", "2026-11-02 01:30:00 -05:00"}},
		{"weekdays at 08:00", "Europe/Paris", "0 0 8 * * 1-5", "2026-12-04 09:00:00", // a Friday
			[]string{"2026-12-07 08:00:00 +01:00", "2026-12-08 08:00:00 +01:00"}},

		// Lord Howe moves its clocks by 30 minutes: 02:00 -> 02:30, 02:00 -> 01:30.
		{"Lord Howe: 02:15 skipped runs at 02:30", "Australia/Lord_Howe", "0 15 2 * * *", "2026-10-03 12:00:00",
			[]string{"2026-10-04 02:30:00 +11:00", "2026-10-05 02:15:00 +11:00"}},
		{"Lord Howe: 02:00 skipped runs at 02:30", "Australia/Lord_Howe", "0 0 2 * * *", "2026-10-03 12:00:00",
			[]string{"2026-10-04 02:30:00 +11:00", "2026-10-05 02:00:00 +11:00"}},
		{"Lord Howe: 01:45 repeated runs once", "Australia/Lord_Howe", "0 45 1 * * *", "2026-04-04 12:00:00",
			[]string{"2026-04-05 01:45:00 +11:00", "2026-04-06 01:45:00 +10:30"}},
		{"Lord Howe: every minute waits out the repeated half hour", "Australia/Lord_Howe", "0 * * * * *", "2026-04-05 01:58:30 +11:00",
			[]string{"2026-04-05 01:59:00 +11:00", "2026-04-05 02:00:00 +10:30", "2026-04-05 02:01:00 +10:30"}},
		{"Lord Howe: every 10 minutes over the jump", "Australia/Lord_Howe", "0 */10 * * * *", "2026-10-04 01:45:00",
			[]string{"2026-10-04 01:50:00 +10:30", "2026-10-04 02:30:00 +11:00", "2026-10-04 02:40:00 +11:00"}},

		// Troll moves its clocks by 2 hours: 01:00 -> 03:00, 03:00 -> 01:00.
		{"Troll: 02:00 skipped runs at 03:00", "Antarctica/Troll", "0 0 2 * * *", "2026-03-28 12:00:00",
			[]string{"2026-03-29 03:00:00 +02:00", "2026-03-30 02:00:00 +02:00"}},
		{"Troll: 01:30 skipped runs at 03:00", "Antarctica/Troll", "0 30 1 * * *", "2026-03-28 12:00:00",
			[]string{"2026-03-29 03:00:00 +02:00", "2026-03-30 01:30:00 +02:00"}},
		{"Troll: hourly over two skipped hours", "Antarctica/Troll", "0 0 * * * *", "2026-03-28 23:30:00",
			[]string{"2026-03-29 00:00:00 +00:00", "2026-03-29 03:00:00 +02:00", "2026-03-29 04:00:00 +02:00"}},
		{"Troll: 02:00 repeated runs once", "Antarctica/Troll", "0 0 2 * * *", "2026-10-24 12:00:00",
			[]string{"2026-10-25 02:00:00 +02:00", "2026-10-26 02:00:00 +00:00"}},
		{"Troll: hourly over two repeated hours", "Antarctica/Troll", "0 0 * * * *", "2026-10-25 00:30:00",
			[]string{"2026-10-25 01:00:00 +02:00", "2026-10-25 02:00:00 +02:00", "2026-10-25 03:00:00 +00:00"}},

		// St. John's is 3:30 behind UTC and shifts at 02:00 local.
		{"St. John's: 02:30 skipped", "America/St_Johns", "0 30 2 * * *", "2026-03-07 12:00:00",
			[]string{"2026-03-08 03:00:00 -02:30", "2026-03-09 02:30:00 -02:30"}},
		{"St. John's: 01:30 repeated", "America/St_Johns", "0 30 1 * * *", "2026-10-31 12:00:00",
			[]string{"2026-11-01 01:30:00 -02:30", "2026-11-02 01:30:00 -03:30"}},
		// Chatham is 12:45 ahead and jumps at 02:45.
		{"Chatham: 03:00 skipped runs at 03:45", "Pacific/Chatham", "0 0 3 * * *", "2026-09-26 12:00:00",
			[]string{"2026-09-27 03:45:00 +13:45", "2026-09-28 03:00:00 +13:45"}},
		{"Chatham: 03:00 repeated", "Pacific/Chatham", "0 0 3 * * *", "2026-04-04 12:00:00",
			[]string{"2026-04-05 03:00:00 +13:45", "2026-04-06 03:00:00 +12:45"}},
		// Adelaide: half-hour offset, whole-hour shift.
		{"Adelaide: 02:30 skipped", "Australia/Adelaide", "0 30 2 * * *", "2026-10-03 12:00:00",
			[]string{"2026-10-04 03:00:00 +10:30", "2026-10-05 02:30:00 +10:30"}},
		// Kathmandu went from 5:30 to 5:45 at midnight: 00:00-00:15 never came.
		{"Kathmandu: 00:05 skipped runs at 00:15", "Asia/Kathmandu", "0 5 0 * * *", "1985-12-31 12:00:00",
			[]string{"1986-01-01 00:15:00 +05:45", "1986-01-02 00:05:00 +05:45"}},
		// Caracas went from -4:30 to -4:00 at 02:30.
		{"Caracas: 02:45 skipped", "America/Caracas", "0 45 2 * * *", "2016-04-30 12:00:00",
			[]string{"2016-05-01 03:00:00 -04:00", "2016-05-02 02:45:00 -04:00"}},
		// Apia crossed the date line: 30 December 2011 never came.
		{"Apia: a skipped day's 08:00 runs at the jump", "Pacific/Apia", "0 0 8 * * *", "2011-12-29 12:00:00",
			[]string{"2011-12-31 00:00:00 +14:00", "2011-12-31 08:00:00 +14:00", "2012-01-01 08:00:00 +14:00"}},
		// Moscow set its clocks back for good in 2014 (no DST): 01:00-02:00 came twice.
		{"Moscow: 01:30 repeated", "Europe/Moscow", "0 30 1 * * *", "2014-10-25 12:00:00",
			[]string{"2014-10-26 01:30:00 +04:00", "2014-10-27 01:30:00 +03:00"}},
		// Casablanca suspends its summer time for Ramadan.
		{"Casablanca: 02:30 repeated", "Africa/Casablanca", "0 30 2 * * *", "2026-02-14 12:00:00",
			[]string{"2026-02-15 02:30:00 +01:00", "2026-02-16 02:30:00 +00:00"}},
		{"Casablanca: 02:30 skipped", "Africa/Casablanca", "0 30 2 * * *", "2026-03-21 12:00:00",
			[]string{"2026-03-22 03:00:00 +01:00", "2026-03-23 02:30:00 +01:00"}},
	}
	for _, c := range cases {
		loc := mustLoad(t, c.zone)
		cr, err := Parse(c.expr, c.zone)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		layout := "2006-01-02 15:04:05"
		if len(c.from) > len(layout) { // a reading the clocks show twice, with its offset
			layout += " -07:00"
		}
		from, err := time.ParseInLocation(layout, c.from, loc)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, tm := range cr.Upcoming(from, len(c.want)) {
			got = append(got, tm.In(loc).Format("2006-01-02 15:04:05 -07:00"))
		}
		if strings.Join(got, ", ") != strings.Join(c.want, ", ") {
			t.Errorf("%s (%s in %s):\n got  %v\n want %v", c.name, c.expr, c.zone, got, c.want)
		}
	}
}

// The same rule checked against a brute-force reading of the clocks,
// around every clock change of 2026 in zones with odd offsets or shifts:
// for a daily time at each quarter hour near the change, the day's run is
// the first instant whose clock reading is that time or later, once; an
// every-second schedule runs each second the clocks show, once.
func TestClockChangesAgainstTheClocks(t *testing.T) {
	t.Parallel()
	zones := []string{"Australia/Lord_Howe", "Antarctica/Troll", "America/St_Johns", "Pacific/Chatham", "Australia/Adelaide",
		"Asia/Kathmandu", "Asia/Kolkata", "Africa/Casablanca", "Europe/Paris", "Europe/London", "Europe/Dublin", "America/New_York",
		"America/Santiago", "Pacific/Auckland", "America/Havana"}
	checked := 0
	for _, zone := range zones {
		loc := mustLoad(t, zone)
		for _, change := range clockChanges(loc, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
			checked++
			before := change.Add(-time.Nanosecond).In(loc)
			day := time.Date(before.Year(), before.Month(), before.Day(), 0, 0, 0, 0, time.UTC) // the date of the change, as read
			for q := -8; q <= 12; q++ {
				w := wallClock(before, loc).Truncate(15 * time.Minute).Add(time.Duration(q) * 15 * time.Minute)
				if w.Day() != day.Day() {
					continue
				}
				expr := fmt.Sprintf("0 %d %d * * *", w.Minute(), w.Hour())
				cr, err := Parse(expr, zone)
				if err != nil {
					t.Fatal(err)
				}
				want := firstReading(loc, w, change.Add(-30*time.Hour))
				var runs []time.Time
				for _, tm := range cr.Upcoming(change.Add(-30*time.Hour), 4) {
					// The day's run reads w or later (later when skipped),
					// and earlier than the next day's w.
					if r := wallClock(tm, loc); !r.Before(w) && r.Before(w.Add(24*time.Hour)) {
						runs = append(runs, tm)
					}
				}
				if len(runs) != 1 || !runs[0].Equal(want) {
					t.Errorf("%s, change at %s: %q ran at %v that day, want once at %s", zone, change.In(loc), expr, runs, want.In(loc))
				}
				if l := cr.Last(want.Add(3 * time.Hour)); !l.Equal(want) {
					t.Errorf("%s: %q: the last run 3 h after %s is %s", zone, expr, want.In(loc), l.In(loc))
				}
			}
			// Every second around the change (Troll repeats two hours).
			cr, _ := Parse("* * * * * *", zone)
			seen := map[time.Time]int{}
			from, to := change.Add(-2*time.Hour-5*time.Minute), change.Add(2*time.Hour+5*time.Minute)
			var prev time.Time
			for tm := cr.Next(from); tm.Before(to); tm = cr.Next(tm) {
				if !prev.IsZero() && !tm.After(prev) {
					t.Fatalf("%s: %s after %s", zone, tm, prev)
				}
				prev = tm
				seen[wallClock(tm, loc)]++
				if l := cr.Last(tm.Add(999 * time.Millisecond)); !l.Equal(tm) {
					t.Fatalf("%s: the last run at %s is %s", zone, tm.Add(999*time.Millisecond).In(loc), l.In(loc))
				}
			}
			for r, n := range seen {
				if n != 1 {
					t.Errorf("%s: %s ran %d times", zone, r.Format("15:04:05"), n)
					break
				}
			}
			// Every reading the clocks showed in that span ran.
			for tm := from.Add(time.Second); !tm.After(change.Add(2 * time.Hour)); tm = tm.Add(time.Minute) {
				if seen[wallClock(tm, loc)] != 1 {
					t.Errorf("%s: %s never ran", zone, tm.In(loc))
					break
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d clock changes in 2026 (is the tz database installed?)", checked)
	}
}

// clockChanges lists the instants in [from, to) at which loc's offset changes.
func clockChanges(loc *time.Location, from, to time.Time) []time.Time {
	var out []time.Time
	for t := from; t.Before(to); {
		_, end := t.In(loc).ZoneBounds()
		if end.IsZero() || !end.Before(to) {
			break
		}
		if _, o1 := end.Add(-time.Second).In(loc).Zone(); true {
			if _, o2 := end.In(loc).Zone(); o1 != o2 {
				out = append(out, end)
			}
		}
		t = end
	}
	return out
}

// firstReading scans the clocks minute by minute from start for the first
// instant that reads w or later (offsets and changes here are whole
// minutes).
func firstReading(loc *time.Location, w, start time.Time) time.Time {
	t := start.Truncate(time.Minute)
	for wallClock(t, loc).Before(w) {
		t = t.Add(time.Minute)
	}
	return t
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
