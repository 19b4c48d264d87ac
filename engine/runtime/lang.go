package runtime

// Languages the runtime runs, by millrun's names for them (scripts maps
// Windmill's names onto these). They live here, the leaf, so that the
// runtime needs nothing of the packages that store scripts.
const (
	Python     = "python3"
	TypeScript = "bun" // Windmill's default TypeScript flavour; run on Bun, Deno or Node
	Bash       = "bash"
)

// IsTypeScript reports whether lang is one of the TypeScript flavours.
func IsTypeScript(lang string) bool {
	return lang == "bun" || lang == "deno" || lang == "nativets"
}

// SyntaxError is the first syntax error found in a script.
type SyntaxError struct {
	Line    int    `json:"line"` // 1-based; 0 when the checker named none
	Message string `json:"message"`
}
