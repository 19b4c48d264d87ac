//go:build !unix

package instance

import "os"

// Windows has no signal one process can send another's console-less
// program: the holder is ended without its grace period (its running
// jobs are marked failed at the next start, as after a crash).
func terminate(p *os.Process) error { return p.Kill() }
