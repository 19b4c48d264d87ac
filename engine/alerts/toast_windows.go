//go:build windows

package alerts

import (
	"sync"

	toast "git.sr.ht/~jackmordaunt/go-toast/v2"
)

// Toast shows notices as Windows toasts through the Windows Runtime (the
// package Wails' own notifications use, pure Go). A click comes back to
// this process through the COM activator SetAppData registers for the
// user, and opens the notice's page.
type Toast struct {
	Open func(path string)

	once     sync.Once
	setupErr error
}

// toastActivator is millrun's COM activation class: fixed, so every start
// registers the same one instead of piling up registry keys.
const toastActivator = "{CBA46EE8-C0D3-5574-9A01-A877CE61481B}"

func (t *Toast) setup() error {
	t.once.Do(func() {
		t.setupErr = toast.SetAppData(toast.AppData{AppID: "millrun", GUID: toastActivator})
		toast.SetActivationCallback(func(args string, _ []toast.UserData) {
			if t.Open != nil && args != "" {
				t.Open(args)
			}
		})
	})
	return t.setupErr
}

// Send pushes n as a toast; its page travels as the activation argument.
func (t *Toast) Send(n Notice) (bool, error) {
	if err := t.setup(); err != nil {
		return false, err
	}
	note := toast.Notification{AppID: "millrun", Title: n.Title, Body: n.Body, ActivationArguments: n.Open}
	if err := note.Push(); err != nil {
		return false, err
	}
	return true, nil
}

// Close has nothing to release: the toasts stay in the Action Center.
func (t *Toast) Close() {}

// NewSender returns the platform's sender.
func NewSender(open func(path string)) interface {
	Sender
	Close()
} {
	return &Toast{Open: open}
}
