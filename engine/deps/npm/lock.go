package npm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Windmill's TypeScript lock is package.json, a separator line naming the
// lock file, then that file's text (bun_executor.rs split_lockfile). A
// lock is stored and handed back byte for byte: wmill sync must get back
// exactly what it pushed.
const (
	splitLock      = "\n//bun.lock\n"
	splitLockb     = "\n//bun.lockb\n"
	splitLockCRLF  = "\r\n//bun.lock\r\n"
	splitLockbCRLF = "\r\n//bun.lockb\r\n"
	// EmptyLockText stands for "no lock file" after the separator.
	EmptyLockText = "<empty>"
)

// Lock is a TypeScript lock in Windmill's format.
type Lock struct {
	raw string
	// PackageJSON is the package.json text.
	PackageJSON string
	// LockText is the lock file's text after the separator: bun.lock's
	// text, or bun.lockb's bytes in base64 when Binary; "" when the lock
	// has no lock file (EmptyLockText, or package.json alone as //npm
	// locks are).
	LockText string
	Binary   bool
}

// ParseLock reads a lock as Windmill stores it.
func ParseLock(s string) (Lock, error) {
	l := Lock{raw: s, PackageJSON: s}
	for _, sep := range []string{splitLock, splitLockb, splitLockCRLF, splitLockbCRLF} {
		if i := strings.Index(s, sep); i >= 0 {
			l.PackageJSON, l.LockText = s[:i], s[i+len(sep):]
			l.Binary = strings.Contains(sep, "lockb")
			break
		}
	}
	if l.LockText == EmptyLockText {
		l.LockText = ""
	}
	if _, err := l.Deps(); err != nil {
		return Lock{}, err
	}
	return l, nil
}

// NewLock makes a lock from a package.json and a bun.lock text ("" when
// there is none).
func NewLock(packageJSON, bunLock string) Lock {
	text := bunLock
	if text == "" {
		text = EmptyLockText
	}
	return Lock{raw: packageJSON + splitLock + text, PackageJSON: packageJSON, LockText: bunLock}
}

// String is the lock as Windmill stores it.
func (l Lock) String() string { return l.raw }

// Hash names the lock's folder in the cache.
func (l Lock) Hash() string {
	sum := sha256.Sum256([]byte(l.raw))
	return hex.EncodeToString(sum[:16])
}

// Deps are package.json's dependencies (then optional, then dev ones), in
// the file's order.
func (l Lock) Deps() ([]Dep, error) {
	return packageJSONDeps(l.PackageJSON)
}

// Empty reports whether the lock installs nothing.
func (l Lock) Empty() bool {
	deps, err := l.Deps()
	return err == nil && len(deps) == 0
}

// PackageJSON writes deps as Windmill's lock generation does
// (JSON.stringify({dependencies}, null, 2): two-space indent, no final
// newline).
func PackageJSON(deps []Dep) string {
	if len(deps) == 0 {
		return "{\n  \"dependencies\": {}\n}"
	}
	var b strings.Builder
	b.WriteString("{\n  \"dependencies\": {\n")
	for i, d := range deps {
		b.WriteString("    ")
		b.WriteString(jsString(d.Name))
		b.WriteString(": ")
		b.WriteString(jsString(d.Version))
		if i < len(deps)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("  }\n}")
	return b.String()
}

// jsString is JSON.stringify of a string: no HTML escaping, unlike Go's
// default.
func jsString(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(buf.String(), "\n")
}

// packageJSONDeps reads the dependency fields of a package.json keeping
// their order (Go maps would lose it, and the order is what the user
// wrote).
func packageJSONDeps(text string) ([]Dep, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &top); err != nil {
		return nil, fmt.Errorf("the lock's package.json is not JSON: %v", err)
	}
	var out []Dep
	for _, field := range []string{"dependencies", "optionalDependencies", "devDependencies"} {
		raw, ok := top[field]
		if !ok || string(raw) == "null" {
			continue
		}
		deps, err := orderedStrings(raw)
		if err != nil {
			return nil, fmt.Errorf("the lock's package.json: %s: %v", field, err)
		}
		for _, d := range deps {
			out = append(out, Dep{Name: d[0], Version: d[1]})
		}
	}
	return out, nil
}

// orderedStrings reads a JSON object of strings as key/value pairs in
// order.
func orderedStrings(raw json.RawMessage) ([][2]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not an object")
	}
	var out [][2]string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v string
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%v: not a string", k)
		}
		out = append(out, [2]string{k.(string), v})
	}
	return out, nil
}
