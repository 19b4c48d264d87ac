//go:build !windows

package main

// Elsewhere a program started from a terminal has it already.
func attachConsole([]string) {}
