// Package schedules runs scripts and flows on Windmill's cron schedules:
// six fields with seconds, in a time zone, with the next due time persisted
// so a restart neither repeats nor forgets a run, and a choice of what a
// laptop that slept through due times does on waking.
package schedules

import (
	"fmt"
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
	// readings matches the fields against clock readings (local times
	// held as zone-less UTC values), so the calendar arithmetic never meets
	// a clock change; Next and Last then place each reading in time.
	readings *cron.SpecSchedule
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
	spec.Location = time.UTC
	c := &Cron{Expr: norm, Location: loc, readings: spec}
	if c.Next(time.Now()).IsZero() {
		return nil, errs.Invalidf("%q never comes (such as 30 February)", norm)
	}
	return c, nil
}

// Clock changes. A schedule names local times, and each named time runs
// once: a time the clocks skip when they go forward (02:30 in Paris on the
// last Sunday of March, 02:15 on Lord Howe's 30-minute jump, 02:00 on
// Troll's 2-hour one) runs at the instant they jump past it; a time the
// clocks show twice when they go back runs the first time only, also for
// schedules that run every hour or second (they pause while the clocks
// repeat). Windmill reads a cron as local times too; its cron crate loses
// a skipped time and runs a repeated one twice, which for a laptop's
// "every day at 02:30" means a missing backup or two of them. One
// definition covers every shift in the tz database, whatever its size or
// direction: a named reading is due at the first instant the clocks show
// it or a later one.

// Next is the first due time strictly after after, or zero when none
// comes.
func (c *Cron) Next(after time.Time) time.Time {
	for i := 0; i < 4; i++ {
		r := c.readings.Next(c.shown(after).Add(-time.Nanosecond))
		if r.IsZero() {
			return r
		}
		t := c.firstShowing(r)
		if t.After(after) {
			return t
		}
		after = t // not reached: shown and firstShowing agree by construction
	}
	return time.Time{}
}

// Last is the latest due time at or before t, or zero when none came
// within the years a search looks back.
func (c *Cron) Last(t time.Time) time.Time {
	r := c.readings.Prev(c.shown(t))
	if r.IsZero() {
		return r
	}
	return c.firstShowing(r)
}

// wallClock is t's reading on the clocks of loc, as a zone-less time.
func wallClock(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}

// maxShift bounds how far any zone's clocks stand from UTC (local mean
// times of the 19th century reach 15 h), so how far apart two offsets of
// one zone can be.
const maxShift = 31 * time.Hour

// shown is the first whole-second reading the clocks of loc have not yet
// shown by instant t. Usually that is the second after t's reading; while
// the clocks repeat a stretch after going back, it is where they stood
// before going back, since every reading up to there came already.
func (c *Cron) shown(t time.Time) time.Time {
	next := wallClock(t, c.Location).Truncate(time.Second).Add(time.Second)
	at := t
	for i := 0; i < 16; i++ {
		start, _ := at.In(c.Location).ZoneBounds()
		if start.IsZero() || t.Sub(start) > maxShift {
			break
		}
		// The previous zone's clocks ran up to start's instant under their
		// own offset.
		before := start.Add(-time.Nanosecond)
		_, off := before.In(c.Location).Zone()
		if reached := start.UTC().Add(time.Duration(off) * time.Second); reached.After(next) {
			next = reached
		}
		at = before
	}
	return next
}

// firstShowing is the first instant the clocks of loc show reading r or a
// later one: r's own instant, the first of two when the clocks repeat it,
// or the instant they jump past it when they skip it.
func (c *Cron) firstShowing(r time.Time) time.Time {
	// Before r-maxShift no clock of loc reads r yet; walk the zones from
	// there.
	at := time.Unix(r.Unix(), 0).Add(-maxShift)
	for i := 0; i < 64; i++ {
		_, off := at.In(c.Location).Zone()
		shift := time.Duration(off) * time.Second
		if !at.Add(shift).Before(time.Unix(r.Unix(), 0)) { // jumped to r or past it
			return at.In(c.Location)
		}
		_, end := at.In(c.Location).ZoneBounds()
		t := time.Unix(r.Unix(), 0).Add(-shift)
		if end.IsZero() || t.Before(end) {
			return t.In(c.Location)
		}
		at = end
	}
	return time.Unix(r.Unix(), 0).In(c.Location) // no zone changes that often
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
