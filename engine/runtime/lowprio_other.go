//go:build !linux

package runtime

import "os/exec"

// startLow starts cmd and then lowers its priority where the system lets
// millrun (macOS: for the process, so its later children inherit it).
func startLow(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	lowerPriority(cmd.Process.Pid)
	return nil
}
