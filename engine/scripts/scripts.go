// Package scripts holds what a script is: its path rules, version hash
// and versions. What differs by language (names, the argument schema read
// from main, ...) is the runtime's language table (runtime/languages.go).
package scripts

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/millrun/millrun/engine/runtime"
)

// Languages millrun runs (the runtime's names). Windmill's names map onto
// them via NormalizeLanguage.
const (
	Python     = runtime.Python
	TypeScript = runtime.TypeScript
	Bash       = runtime.Bash
)

// NormalizeLanguage maps the language names Windmill and users write onto
// millrun's runtimes (runtime's language table).
func NormalizeLanguage(lang string) (string, error) { return runtime.NormalizeLanguage(lang) }

var pathRE = regexp.MustCompile(`^[uf]/[A-Za-z0-9_\-.]+(/[A-Za-z0-9_\-.]+)+$`)

// ValidatePath checks a script or flow path: u/<user>/<name> or f/<folder>/<name>.
func ValidatePath(p string) error {
	if !pathRE.MatchString(p) || strings.Contains(p, "/./") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..") {
		return fmt.Errorf("invalid path %q: a path is u/<user>/<name> or f/<folder>/<name>, using letters, digits, '_', '-' and '.'", p)
	}
	return nil
}

// Hash derives a version's 16-hex-char hash. The path takes part so two
// scripts with the same content still have distinct /h/ URLs.
func Hash(workspace, path, language, content string) string {
	h := sha256.New()
	for _, part := range []string{workspace, path, language, content} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

var hashRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

// ValidHash reports whether s looks like a version hash.
func ValidHash(s string) bool { return hashRE.MatchString(s) }
