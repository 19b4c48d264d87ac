//go:build !(linux || windows)

package statusicon

import "log/slog"

// Elsewhere (macOS, where systray needs cgo and its own main thread, and
// the BSDs) millrun shows no status icon yet.
func start(Actions, *slog.Logger) Icon { return none{} }
