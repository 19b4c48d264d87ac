// Package alerts tells the person at the computer, through the desktop's
// notifications, when something they rely on broke while they were not
// looking: a run failed (a webhook's, a schedule's), the tunnel went
// offline or ngrok refused the authtoken. It runs in the engine, so it
// works with the window closed. A flood gives one summary, not hundreds.
package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/millrun/millrun/engine/store"
)

// Levels of the notifications setting.
const (
	Off      = "off"
	Failures = "failures" // the default
	All      = "all"
)

// Notice is one notification. Open is the UI path clicking it opens
// ("/runs/<id>", "/tunnel").
type Notice struct {
	Title, Body, Open string
}

// Sender shows notices; ok is false where the desktop has no notification
// service (a server, a session without D-Bus).
type Sender interface {
	Send(n Notice) (ok bool, err error)
}

// Config is what an Alerter needs.
type Config struct {
	Sender Sender
	Level  func() string // the setting, read at each event
	Log    *slog.Logger
	// Window is how long after a notice others of its kind wait; what
	// comes in between is summed up in one notice when it ends (default 10 s).
	Window time.Duration
	Now    func() time.Time
	// Watching reports whether the user is looking at the page a notice
	// opens (Presence.Watching); such a notice is not shown. Nil: never.
	Watching func(open string) bool
}

// Alerter turns engine events into notices.
type Alerter struct {
	cfg Config

	mu      sync.Mutex
	kinds   map[string]*burst
	warned  bool
	stopped bool
}

// burst is a kind of notice being rate-limited.
type burst struct {
	until  time.Time
	held   int    // notices held back since the last one shown
	last   Notice // the newest held back
	timerd bool
}

// New returns an alerter.
func New(cfg Config) *Alerter {
	if cfg.Window <= 0 {
		cfg.Window = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Alerter{cfg: cfg, kinds: map[string]*burst{}}
}

// Start lets a stopped alerter show notices again. A new one needs no
// Start: a job the queue recovers may finish before anything is started.
func (a *Alerter) Start(context.Context) error {
	a.mu.Lock()
	a.stopped = false
	a.mu.Unlock()
	return nil
}

// Stop drops what is held back, and what comes until Start.
func (a *Alerter) Stop(context.Context) {
	a.mu.Lock()
	a.stopped = true
	for _, b := range a.kinds {
		b.held = 0 // not shown after a Start either
	}
	a.mu.Unlock()
}

// JobFinished notices a finished run: failures at the failures level,
// every run at all. Flow steps are told through their flow.
func (a *Alerter) JobFinished(j *store.Job) {
	if j.ParentJob != "" || j.Status == store.StatusCanceled {
		return
	}
	level := a.cfg.Level()
	failed := j.Status == store.StatusFailure
	if level == Off || (!failed && level != All) {
		return
	}
	what := j.ScriptPath
	if j.SchedulePath != "" {
		what += " (schedule " + j.SchedulePath + ")"
	}
	n := Notice{Title: "millrun: " + j.ScriptPath + " succeeded", Body: what + " finished in " + fmt.Sprintf("%d ms", j.DurationMs), Open: "/runs/" + j.ID}
	kind := "success"
	if failed {
		kind = "failure"
		n.Title = "millrun: " + j.ScriptPath + " failed"
		n.Body = what + ": " + Reason(j.Result)
	}
	a.notify(kind, n)
}

// Reason is a failed run's error in one line.
func Reason(result string) string {
	var r struct {
		Error struct{ Name, Message string } `json:"error"`
	}
	if json.Unmarshal([]byte(result), &r) == nil && r.Error.Message != "" {
		msg := r.Error.Message
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		if r.Error.Name != "" {
			return r.Error.Name + ": " + msg
		}
		return msg
	}
	return "it failed (open the run for its logs)"
}

// TunnelChanged notices the tunnel going from online to anything else, or
// failing to start (a refused authtoken among the reasons).
func (a *Alerter) TunnelChanged(was, now, errMsg string) {
	if a.cfg.Level() == Off {
		return
	}
	switch {
	case now == "error":
		a.notify("tunnel", Notice{Title: "millrun: the tunnel failed", Body: errMsg + " Webhooks from the internet do not reach this computer.", Open: "/tunnel"})
	case was == "online" && now != "online" && now != "off":
		a.notify("tunnel", Notice{Title: "millrun: the tunnel is offline", Body: "Reconnecting. Until it is back, Slack, Discord and GitHub cannot reach this computer.", Open: "/tunnel"})
	}
}

// notify shows n unless one of its kind was shown within the window;
// those are counted and shown as one summary when the window ends.
func (a *Alerter) notify(kind string, n Notice) {
	if a.cfg.Watching != nil && a.cfg.Watching(n.Open) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return
	}
	now := a.cfg.Now()
	b := a.kinds[kind]
	if b == nil {
		b = &burst{}
		a.kinds[kind] = b
	}
	if now.Before(b.until) {
		b.held++
		b.last = n
		if !b.timerd {
			b.timerd = true
			time.AfterFunc(b.until.Sub(now), func() { a.flush(kind) })
		}
		return
	}
	b.until = now.Add(a.cfg.Window)
	a.sendLocked(n)
}

// flush shows the summary of what a window held back.
func (a *Alerter) flush(kind string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.kinds[kind]
	b.timerd = false
	if b.held == 0 || a.stopped {
		return
	}
	n := b.last
	if b.held > 1 {
		n = Notice{Title: fmt.Sprintf("millrun: %d more like this", b.held), Body: "The last: " + b.last.Title + ". " + b.last.Body, Open: b.last.Open}
		if kind == "failure" {
			n.Title = fmt.Sprintf("millrun: %d more runs failed", b.held)
			n.Open = "/runs"
		}
	}
	b.held = 0
	b.until = a.cfg.Now().Add(a.cfg.Window)
	a.sendLocked(n)
}

// sendLocked hands n to the sender off the caller's goroutine (a worker
// finishing a job): a slow notification service must not hold it.
func (a *Alerter) sendLocked(n Notice) {
	if a.cfg.Sender == nil {
		return
	}
	go func() {
		ok, err := a.cfg.Sender.Send(n)
		if ok && err == nil {
			return
		}
		a.mu.Lock()
		warn := !a.warned
		a.warned = true
		a.mu.Unlock()
		if warn {
			a.cfg.Log.Info("desktop notifications are not available here", "err", err)
		}
	}()
}
