// Package schedules runs scripts and flows on Windmill's cron schedules:
// six fields with seconds, in a time zone, with the next due time persisted
// so a restart neither repeats nor forgets a run, and a choice of what a
// laptop that slept through due times does on waking.
package schedules

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/millrun/millrun/engine/errs"
	cron "github.com/netresearch/go-cron"
)

// Windmill's cron: seconds first, and a day of month OR a day of week
// matching when both are restricted, as classic cron (and Windmill's
// croner) reads them.
var parser = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.DowOrDom)

// Cron is a parsed schedule in its time zone.
type Cron struct {
	Expr     string // six fields, as stored
	Location *time.Location
	spec     *cron.SpecSchedule
	// fixedHours: the schedule names its hours (08:00, 02:30), so a wall
	// time repeated when clocks go back must not run twice.
	fixedHours bool
}

const fieldsHelp = "second minute hour day-of-month month day-of-week, such as \"0 0 8 * * 1-5\" for 08:00 on weekdays"

// Parse reads a Windmill schedule. Five fields (classic cron, without
// seconds) are taken as starting at second 0; Expr then has six.
func Parse(expr, timezone string) (*Cron, error) {
	fields := strings.Fields(expr)
	if strings.Contains(expr, "TZ=") {
		return nil, errs.Invalidf("give the time zone in the timezone field, not in the cron")
	}
	if strings.HasPrefix(strings.TrimSpace(expr), "@") {
		return nil, errs.Invalidf("%q: write the six fields (%s)", expr, fieldsHelp)
	}
	switch len(fields) {
	case 5:
		fields = append([]string{"0"}, fields...)
	case 6:
	default:
		return nil, errs.Invalidf("%q has %d fields; a schedule has six: %s", expr, len(fields), fieldsHelp)
	}
	if strings.TrimSpace(timezone) == "" {
		return nil, errs.Invalidf("the time zone is missing: give an IANA name such as Europe/Paris, America/New_York or UTC")
	}
	loc, err := time.LoadLocation(timezone)
	if err != nil {
		return nil, errs.Invalidf("%q is not a time zone this computer knows: give an IANA name such as Europe/Paris or UTC", timezone)
	}
	norm := strings.Join(fields, " ")
	s, err := parser.Parse(norm)
	if err != nil {
		return nil, errs.Invalidf("%q: %s (the fields are %s)", norm, err, fieldsHelp)
	}
	spec, ok := s.(*cron.SpecSchedule)
	if !ok {
		return nil, errs.Invalidf("%q is not a cron schedule", norm)
	}
	spec.Location = loc
	c := &Cron{Expr: norm, Location: loc, spec: spec, fixedHours: spec.Hour&(1<<63) == 0 && bits.OnesCount64(spec.Hour) < 24}
	if c.Next(time.Now()).IsZero() {
		return nil, errs.Invalidf("%q never comes (such as 30 February)", norm)
	}
	return c, nil
}

// Next is the first due time strictly after after, or zero when none
// comes. A time zone's clock change is met as documented in README: a time
// skipped when clocks go forward runs once, an hour later on the clock
// (02:30 becomes 03:30); a time that comes twice when clocks go back runs
// once, the first time. Schedules that run every hour keep running through
// both hours of a repeated one.
func (c *Cron) Next(after time.Time) time.Time {
	t := c.spec.Next(after)
	for i := 0; c.fixedHours && !t.IsZero() && i < 1000; i++ {
		if !wallClock(t, c.Location).After(wallClock(after, c.Location)) {
			// Not later on the clock than what came before: the second
			// pass through a repeated hour.
			t = c.spec.Next(t)
			continue
		}
		break
	}
	return t
}

// wallClock is t's reading on the clocks of loc, as a zone-less time.
func wallClock(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), 0, time.UTC)
}

// Upcoming lists the next n due times after from.
func (c *Cron) Upcoming(from time.Time, n int) []time.Time {
	out := make([]time.Time, 0, n)
	for t := from; len(out) < n; {
		t = c.Next(t)
		if t.IsZero() {
			break
		}
		out = append(out, t)
	}
	return out
}

var dayNames = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

// Describe says in plain words when the schedule runs, for the common
// shapes ("every day at 08:00 in Europe/Paris", "every 5 minutes"); other
// schedules are read back field by field.
func (c *Cron) Describe() string {
	f := strings.Fields(c.Expr)
	sec, min, hour, dom, month, dow := f[0], f[1], f[2], f[3], f[4], f[5]
	zone := " in " + c.Location.String()
	every := func(field, unit string) (string, bool) {
		if field == "*" {
			return "every " + unit, true
		}
		if n, ok := strings.CutPrefix(field, "*/"); ok {
			if _, err := strconv.Atoi(n); err == nil {
				return "every " + n + " " + unit + "s", true
			}
		}
		return "", false
	}
	num := func(s string) (int, bool) { n, err := strconv.Atoi(s); return n, err == nil }
	anyDay := dom == "*" && month == "*" && dow == "*"
	if anyDay && hour == "*" && min == "*" {
		if s, ok := every(sec, "second"); ok {
			return s
		}
	}
	if anyDay && hour == "*" && sec == "0" {
		if s, ok := every(min, "minute"); ok {
			return s
		}
		if m, ok := num(min); ok {
			if m == 0 {
				return "every hour, on the hour"
			}
			return fmt.Sprintf("every hour at %02d minutes past", m)
		}
	}
	if anyDay && sec == "0" && min == "0" {
		if s, ok := every(hour, "hour"); ok && hour != "*" {
			return s + ", on the hour" + zone
		}
	}
	h, hok := num(hour)
	m, mok := num(min)
	s, sok := num(sec)
	if !hok || !mok || !sok {
		return fmt.Sprintf("at second %s, minute %s, hour %s, day of month %s, month %s, day of week %s%s", sec, min, hour, dom, month, dow, zone)
	}
	at := fmt.Sprintf("%02d:%02d", h, m)
	if s != 0 {
		at += fmt.Sprintf(":%02d", s)
	}
	var days string
	switch {
	case anyDay:
		days = "every day"
	case dom == "*" && month == "*" && (dow == "1-5" || dow == "MON-FRI"):
		days = "every weekday (Monday to Friday)"
	case dom == "*" && month == "*" && (dow == "0,6" || dow == "6,0" || dow == "SAT,SUN"):
		days = "every Saturday and Sunday"
	case dom == "*" && month == "*":
		var names []string
		for _, d := range strings.Split(dow, ",") {
			n, ok := num(d)
			if !ok || n < 0 || n > 7 {
				names = nil
				break
			}
			names = append(names, dayNames[n%7])
		}
		if names == nil {
			days = "on days of the week " + dow
		} else {
			days = "every " + strings.Join(names, " and ")
		}
	case month == "*" && dow == "*":
		if d, ok := num(dom); ok {
			days = fmt.Sprintf("on day %d of every month", d)
		} else {
			days = "on days of the month " + dom
		}
	default:
		days = fmt.Sprintf("on day of month %s, month %s, day of week %s", dom, month, dow)
	}
	return days + " at " + at + zone
}
