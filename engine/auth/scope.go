package auth

import "strings"

// Scope kinds a webhook-scoped token can carry.
const (
	KindScript = "scripts"
	KindFlow   = "flows"
)

// RunScope is the scope string Windmill requires to run kind at path.
func RunScope(kind, path string) string { return "jobs:run:" + kind + ":" + path }

// normalizeScope rewrites Windmill's older scope forms to the current one.
func normalizeScope(s string) string {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "run:script/"); ok {
		return RunScope(KindScript, rest)
	}
	if rest, ok := strings.CutPrefix(s, "run:flow/"); ok {
		return RunScope(KindFlow, rest)
	}
	return s
}

// matchScope reports whether granted covers required. "*" covers all;
// a trailing "/*" or "*" covers what starts with the part before it.
func matchScope(granted, required string) bool {
	granted = normalizeScope(granted)
	if granted == "*" || granted == required {
		return true
	}
	if prefix, ok := strings.CutSuffix(granted, "*"); ok {
		return strings.HasPrefix(required, prefix)
	}
	return false
}

// CanRun reports whether the identity may run kind (scripts or flows) at path.
func (i *Identity) CanRun(kind, path string) bool {
	if i.FullAccess() {
		return true
	}
	required := RunScope(kind, path)
	for _, g := range i.Scopes {
		if matchScope(g, required) {
			return true
		}
	}
	return false
}

// ValidScope reports whether s is a scope millrun understands.
func ValidScope(s string) bool {
	s = normalizeScope(s)
	if s == "*" {
		return true
	}
	for _, kind := range []string{KindScript, KindFlow} {
		if rest, ok := strings.CutPrefix(s, "jobs:run:"+kind+":"); ok && rest != "" {
			return true
		}
	}
	return false
}
