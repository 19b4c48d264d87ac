//go:build !(linux || freebsd || openbsd || netbsd || windows)

package alerts

import "errors"

// noSender stands where millrun has no notification service of its own
// yet (macOS' notification center).
type noSender struct{}

func (noSender) Send(Notice) (bool, error) {
	return false, errors.New("desktop notifications are not implemented on this platform yet")
}

func (noSender) Close() {}

// NewSender returns the platform's sender.
func NewSender(func(path string)) interface {
	Sender
	Close()
} {
	return noSender{}
}
