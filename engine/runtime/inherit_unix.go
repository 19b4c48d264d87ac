//go:build linux || darwin

package runtime

import (
	"os"
	"strconv"
	"syscall"
)

// keepInheritedFromJobs marks every descriptor millrun was started with,
// beyond stdin, stdout and stderr, close-on-exec. Go opens its own that
// way, but not what a launcher, terminal or IDE left open in millrun: each
// job (and each fork server, and so each forked job) would hold those, a
// pipe a terminal waits on included.
func keepInheritedFromJobs() {
	if closeRangeOnExec() == nil {
		return
	}
	dir := "/proc/self/fd"
	if _, err := os.Stat(dir); err != nil {
		dir = "/dev/fd"
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}
