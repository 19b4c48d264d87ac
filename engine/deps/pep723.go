package deps

import (
	"strconv"
	"strings"
)

// pep723 reads the body of a `# /// script` block (the lines after the
// opening one): each line is `#` or `# ` plus TOML, up to a line `# ///`.
// ok is false when the block is not closed or is not that shape, and the
// block is then ignored, as PEP 723 says of a malformed one.
//
// Only top-level `dependencies` (an array of strings) and
// `requires-python` (a string) matter, so the TOML reader here knows just
// enough to find them and skip the rest ([tool.*] tables, other keys).
// go.mod has no TOML module, and these two keys do not justify adding one.
func pep723(lines []string) (deps []string, requiresPython string, ok bool) {
	var body strings.Builder
	closed := false
	for _, l := range lines {
		if l == "# ///" {
			closed = true
			break
		}
		switch {
		case l == "#":
			body.WriteByte('\n')
		case strings.HasPrefix(l, "# "):
			body.WriteString(l[2:])
			body.WriteByte('\n')
		default:
			return nil, "", false
		}
	}
	if !closed {
		return nil, "", false
	}
	t := &tomlReader{s: body.String()}
	for _, kv := range t.topLevel() {
		switch kv.key {
		case "dependencies":
			if arr, ok := kv.value.([]any); ok {
				for _, v := range arr {
					if s, ok := v.(string); ok && strings.TrimSpace(s) != "" {
						deps = append(deps, strings.TrimSpace(s))
					}
				}
			}
		case "requires-python":
			if s, ok := kv.value.(string); ok {
				requiresPython = strings.TrimSpace(s)
			}
		}
	}
	return deps, requiresPython, true
}

type tomlKV struct {
	key   string
	value any // string, []any, or nil for anything else
}

// tomlReader reads the subset of TOML a PEP 723 block's top level uses:
// `key = value` lines with string and array values, comments, and tables
// (whose contents it skips).
type tomlReader struct {
	s string
	i int
}

func (t *tomlReader) topLevel() []tomlKV {
	var out []tomlKV
	for t.i < len(t.s) {
		t.skipSpaceAndComments()
		if t.i >= len(t.s) {
			break
		}
		if t.s[t.i] == '[' {
			// The first table header ends the top level.
			break
		}
		key := t.key()
		t.skipInline()
		if key == "" || t.i >= len(t.s) || t.s[t.i] != '=' {
			t.skipLine()
			continue
		}
		t.i++
		t.skipInline()
		out = append(out, tomlKV{key: key, value: t.value(0)})
		t.skipLine()
	}
	return out
}

func (t *tomlReader) skipInline() {
	for t.i < len(t.s) && (t.s[t.i] == ' ' || t.s[t.i] == '\t') {
		t.i++
	}
}

func (t *tomlReader) skipLine() {
	for t.i < len(t.s) && t.s[t.i] != '\n' {
		t.i++
	}
}

func (t *tomlReader) skipSpaceAndComments() {
	for t.i < len(t.s) {
		switch t.s[t.i] {
		case ' ', '\t', '\n', '\r':
			t.i++
		case '#':
			t.skipLine()
		default:
			return
		}
	}
}

func (t *tomlReader) key() string {
	if t.i < len(t.s) && (t.s[t.i] == '"' || t.s[t.i] == '\'') {
		s, _ := t.str()
		return s
	}
	start := t.i
	for t.i < len(t.s) {
		c := t.s[t.i]
		if c == '-' || c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			t.i++
			continue
		}
		break
	}
	return t.s[start:t.i]
}

// value reads a string or an array of values; anything else (numbers,
// booleans, inline tables) is skipped and read as nil. depth bounds
// nesting so hostile input cannot exhaust the stack.
func (t *tomlReader) value(depth int) any {
	if t.i >= len(t.s) || depth > 32 {
		return nil
	}
	switch t.s[t.i] {
	case '"', '\'':
		s, _ := t.str()
		return s
	case '[':
		t.i++
		var arr []any
		for {
			t.skipSpaceAndComments()
			if t.i >= len(t.s) {
				return arr
			}
			if t.s[t.i] == ']' {
				t.i++
				return arr
			}
			if t.s[t.i] == ',' {
				t.i++
				continue
			}
			start := t.i
			arr = append(arr, t.value(depth+1))
			if t.i == start {
				t.i++ // never loop on a character no rule reads
			}
		}
	case '{':
		level := 0
	table:
		for t.i < len(t.s) {
			switch t.s[t.i] {
			case '{':
				level++
			case '}':
				level--
			case '"', '\'':
				t.str()
				continue
			}
			t.i++
			if level == 0 {
				break table
			}
		}
		return nil
	default:
		for t.i < len(t.s) && !strings.ContainsRune(",]\n#", rune(t.s[t.i])) {
			t.i++
		}
		return nil
	}
}

// str reads a basic or literal string, single- or triple-quoted.
func (t *tomlReader) str() (string, bool) {
	q := t.s[t.i]
	if strings.HasPrefix(t.s[t.i:], strings.Repeat(string(q), 3)) {
		t.i += 3
		// A newline right after the opening delimiter is not content.
		if strings.HasPrefix(t.s[t.i:], "\n") {
			t.i++
		}
		end := strings.Index(t.s[t.i:], strings.Repeat(string(q), 3))
		if end < 0 {
			t.i = len(t.s)
			return "", false
		}
		raw := t.s[t.i : t.i+end]
		t.i += end + 3
		if q == '\'' {
			return raw, true
		}
		return unescapeTOML(raw), true
	}
	t.i++
	start := t.i
	for t.i < len(t.s) {
		c := t.s[t.i]
		switch {
		case c == '\\' && q == '"':
			t.i += 2
		case c == q:
			raw := t.s[start:t.i]
			t.i++
			if q == '\'' {
				return raw, true
			}
			return unescapeTOML(raw), true
		case c == '\n':
			return "", false
		default:
			t.i++
		}
	}
	t.i = len(t.s)
	return "", false
}

func unescapeTOML(raw string) string {
	if !strings.Contains(raw, `\`) {
		return raw
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 >= len(raw) {
			b.WriteByte(raw[i])
			continue
		}
		i++
		switch raw[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case '"', '\\':
			b.WriteByte(raw[i])
		case 'u', 'U':
			n := 4
			if raw[i] == 'U' {
				n = 8
			}
			if i+n < len(raw) {
				if r, err := strconv.ParseUint(raw[i+1:i+1+n], 16, 32); err == nil {
					b.WriteRune(rune(r))
					i += n
					continue
				}
			}
			b.WriteByte('\\')
			b.WriteByte(raw[i])
		default:
			b.WriteByte('\\')
			b.WriteByte(raw[i])
		}
	}
	return b.String()
}
