//go:build !unix

package npm

import "os/exec"

// setProcessGroup leaves the default: cancellation kills the tool itself.
func setProcessGroup(cmd *exec.Cmd) {}
