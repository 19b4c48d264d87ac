//go:build !windows

package runtime

// resolveWindows is Windows' own discovery; elsewhere PATH is enough.
func resolveWindows(*Interpreters, map[string]string) {}
