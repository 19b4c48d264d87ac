//go:build linux || windows

package statusicon

import (
	"log/slog"
	"sync"

	"fyne.io/systray"
)

// menu is the icon's menu through fyne.io/systray, the same on the
// StatusNotifierItem and the notification area. systray keeps one icon per
// process, in globals: Start is called once, by the engine.
type menu struct {
	a   Actions
	log *slog.Logger

	mu                      sync.Mutex
	shown                   State
	status, tunnel, failure *systray.MenuItem
	open, pause, quit       *systray.MenuItem
	failurePage             string
	closed                  chan struct{}
	closeOnce               sync.Once
}

func newMenu(a Actions, log *slog.Logger) *menu {
	m := &menu{a: a, log: log, closed: make(chan struct{})}
	systray.SetTitle("millrun")
	systray.SetTooltip("millrun is running")
	m.status = systray.AddMenuItem("millrun is running", "")
	m.status.Disable()
	m.tunnel = systray.AddMenuItem(tunnelLine(State{}), "")
	m.tunnel.Disable()
	m.failure = systray.AddMenuItem(failureLine(State{}), "Open the run")
	m.failure.Disable()
	systray.AddSeparator()
	m.open = systray.AddMenuItem("Open millrun", "")
	m.pause = systray.AddMenuItemCheckbox("Pause schedules", "No schedule starts a run while paused; due times pass", false)
	systray.AddSeparator()
	m.quit = systray.AddMenuItem("Quit millrun", "Stop the webhooks, the schedules and the tunnel")
	systray.SetOnTapped(func() { m.do(func() { m.a.Open("") }) })
	go m.clicks()
	return m
}

// clicks runs what the menu's items ask, one at a time.
func (m *menu) clicks() {
	for {
		select {
		case <-m.closed:
			return
		case <-m.open.ClickedCh:
			m.do(func() { m.a.Open("") })
		case <-m.failure.ClickedCh:
			m.mu.Lock()
			page := m.failurePage
			m.mu.Unlock()
			m.do(func() { m.a.Open(page) })
		case <-m.pause.ClickedCh:
			m.mu.Lock()
			paused := !m.shown.Paused
			m.mu.Unlock()
			m.do(func() { m.a.Pause(paused) })
		case <-m.quit.ClickedCh:
			m.do(m.a.Quit)
		}
	}
}

func (m *menu) do(f func()) {
	defer func() {
		if p := recover(); p != nil {
			m.log.Error("status icon: a menu action failed", "panic", p)
		}
	}()
	f()
}

// Update changes only the lines whose text changed: every change is a
// signal to the desktop.
func (m *menu) Update(s State) {
	m.mu.Lock()
	defer m.mu.Unlock()
	was := m.shown
	m.shown = s
	m.failurePage = s.LastFailurePage
	if statusLine(s) != statusLine(was) {
		m.status.SetTitle(statusLine(s))
	}
	if tunnelLine(s) != tunnelLine(was) {
		m.tunnel.SetTitle(tunnelLine(s))
	}
	if failureLine(s) != failureLine(was) {
		m.failure.SetTitle(failureLine(s))
		if s.LastFailurePage != "" {
			m.failure.Enable()
		}
	}
	if s.Paused != was.Paused {
		if s.Paused {
			m.pause.Check()
		} else {
			m.pause.Uncheck()
		}
	}
	if tooltip(s) != tooltip(was) {
		systray.SetTooltip(tooltip(s))
	}
}

func (m *menu) stop() { m.closeOnce.Do(func() { close(m.closed) }) }
