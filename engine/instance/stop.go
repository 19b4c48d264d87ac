package instance

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// StopHolder asks the millrun holding dir to stop (as Ctrl-C or a logout
// would: running jobs get their grace period) and waits up to timeout for
// the folder to be free. It refuses when the holder is no longer the one
// who was described to the user.
func StopHolder(dir string, who *Info, timeout time.Duration) error {
	now, err := Read(dir)
	if err != nil || now.PID != who.PID || now.Kind != who.Kind {
		if l, err := Acquire(dir); err == nil {
			return l.Release() // it stopped meanwhile
		}
		return errors.New("the millrun that held the data folder changed; try again")
	}
	p, err := os.FindProcess(who.PID)
	if err != nil {
		return err
	}
	if err := terminate(p); err != nil {
		return fmt.Errorf("stop pid %d: %w", who.PID, err)
	}
	deadline := time.Now().Add(timeout)
	for {
		l, err := Acquire(dir)
		if err == nil {
			return l.Release()
		}
		var inUse *InUseError
		if !errors.As(err, &inUse) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not stop within %s", who.Describe(), timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
