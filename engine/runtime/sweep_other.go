//go:build !linux

package runtime

// Elsewhere there is no subreaper: a job's process group (or, on Windows,
// its process tree) is killed, and a process that left both escapes.
func (p *procs) sweep(int) {}

// exitedUnreaped needs /proc: elsewhere a fork server that stops
// answering is found only when its job is cancelled or times out.
func exitedUnreaped(int) bool { return false }

// KillLeftovers needs /proc to find a dead millrun's jobs; elsewhere they
// end with their own work, or when their pipes to the dead millrun fail.
func KillLeftovers(string) int { return 0 }

func becomeSubreaper() bool { return false }

// killChildren has no /proc to list them from: a Bash server's waiting
// child ends when its control socket closes.
func killChildren(int) {}
