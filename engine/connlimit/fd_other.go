//go:build !unix

package connlimit

// fdLimit is unknown here (Windows has no per-process descriptor limit
// that connections would run into first).
func fdLimit() int { return 0 }
