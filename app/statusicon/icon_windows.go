//go:build windows

package statusicon

import (
	"log/slog"
	"runtime"
	"sync"
	"time"

	"fyne.io/systray"
)

// winIcon is an icon in the notification area. Its hidden window and the
// message loop must share one OS thread, which the goroutine holds.
type winIcon struct {
	*menu
	once sync.Once
}

func start(a Actions, log *slog.Logger) Icon {
	ic := &winIcon{}
	ready := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		systray.Run(func() {
			systray.SetIcon(icoFromPNG(icon32, 32))
			ic.menu = newMenu(a, log)
			close(ready)
		}, nil)
	}()
	select {
	case <-ready:
		return ic
	case <-time.After(10 * time.Second):
		// No notification area answered (a session without Explorer).
		log.Info("no status icon: the notification area did not answer")
		return none{}
	}
}

func (ic *winIcon) Close() {
	ic.once.Do(func() {
		ic.menu.stop()
		systray.Quit()
	})
}
