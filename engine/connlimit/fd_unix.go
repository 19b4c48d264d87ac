//go:build unix

package connlimit

import "syscall"

// fdLimit is the process's file descriptor limit (Go raises the soft
// limit to the hard one at start); 0 when unknown.
func fdLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur > 1<<30 {
		return 0
	}
	return int(r.Cur)
}
