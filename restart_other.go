//go:build !unix

package main

import (
	"fmt"
	"os"
	"os/exec"
)

// restartAs starts program with this process's arguments, then this
// process ends (Windows has no exec).
func restartAs(program string) error {
	cmd := exec.Command(program, os.Args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("restart as %s: %w", program, err)
	}
	return nil
}
