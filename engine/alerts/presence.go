package alerts

import (
	"strings"
	"sync"
	"time"
)

// presenceTTL is how long a window's report counts: the UI repeats it
// while focused, so a window that went away stops counting soon.
const presenceTTL = 45 * time.Second

// Presence is where the user is looking: each UI window (a browser tab,
// the desktop window) reports whether it has focus and which page it
// shows. Notices are for when the user is not looking.
type Presence struct {
	now func() time.Time

	mu      sync.Mutex
	windows map[string]view
}

type view struct {
	path    string
	focused bool
	at      time.Time
}

// NewPresence returns an empty presence; now is the clock (nil: time.Now).
func NewPresence(now func() time.Time) *Presence {
	if now == nil {
		now = time.Now
	}
	return &Presence{now: now, windows: map[string]view{}}
}

// Report records what the window named client shows (a UI path, such as
// "/runs/<id>") and whether it has focus.
func (p *Presence) Report(client, path string, focused bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	for k, v := range p.windows {
		if now.Sub(v.at) > presenceTTL {
			delete(p.windows, k)
		}
	}
	if len(p.windows) >= 64 {
		return // a handful of windows at most; more is not a person
	}
	p.windows[client] = view{path: path, focused: focused, at: now}
}

// Watching reports whether a focused window shows the page a notice opens,
// or, for a run, the Runs list where it appears live.
func (p *Presence) Watching(open string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	for _, v := range p.windows {
		if !v.focused || now.Sub(v.at) > presenceTTL {
			continue
		}
		page, _, _ := strings.Cut(v.path, "?")
		if page == open || (page == "/runs" && strings.HasPrefix(open, "/runs/")) {
			return true
		}
	}
	return false
}
