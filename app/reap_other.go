//go:build !linux

package app

import "os/exec"

// Only Linux has subreapers: a window's helpers go to the system when it
// exits, not to the engine.
type reaper struct{}

func (reaper) prepare(*exec.Cmd) {}
func (reaper) started(int)       {}
func (reaper) exited(int)        {}
