package triggers

import (
	"strings"
	"testing"
)

// A route's own path names a file in a workspace export (and the folder
// `wmill sync pull` writes it to), so "." and ".." segments, which would
// climb out of that folder, and empty ones are refused with the rule.
func TestTriggerPathSegments(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]string{
		"u/me/../x":      `"..`,
		"u/../../etc/x":  `"..`,
		"u/me/..":        `"..`,
		"f/x/..":         `"..`,
		"u/./x":          `"."`,
		"u/me/.":         `"."`,
		"u//x":           "empty segment",
		"u/me/":          "empty segment",
		"u/me//x":        "empty segment",
		"/u/me/x":        "u/<user>/<name>",
		"x/me/y":         "u/<user>/<name>",
		"u/me":           "u/<user>/<name>",
		"u/me/a b":       "letters, digits",
		`u/me/a\..\..\x`: "letters, digits",
	} {
		tr := Trigger{Path: path, ScriptPath: "u/me/s", RoutePath: "x"}
		err := tr.Normalize()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("path %q: %v (want an error saying %s)", path, err, want)
		}
	}
	for _, path := range []string{"u/me/x", "f/ops/deploy.v2", "u/me/a/b/c", "u/me/..x", "u/me/x.."} {
		tr := Trigger{Path: path, ScriptPath: "u/me/s", RoutePath: "x"}
		if err := tr.Normalize(); err != nil {
			t.Errorf("path %q refused: %v", path, err)
		}
	}
}
