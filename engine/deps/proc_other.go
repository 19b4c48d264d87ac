//go:build !unix

package deps

import "os/exec"

// setProcessGroup leaves the default: cancellation kills the tool itself.
func setProcessGroup(cmd *exec.Cmd) {}
