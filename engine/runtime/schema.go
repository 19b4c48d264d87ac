package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Schema is the JSON Schema of a script's arguments, as Windmill stores it.
type Schema struct {
	Schema     string               `json:"$schema"`
	Type       string               `json:"type"`
	Properties map[string]*Property `json:"properties"`
	Required   []string             `json:"required"`
	Order      []string             `json:"order"`
}

// Property describes one argument.
type Property struct {
	Type        string          `json:"type,omitempty"`
	Description string          `json:"description"`
	Default     json.RawMessage `json:"default,omitempty"`
	Items       *Property       `json:"items,omitempty"`
	Format      string          `json:"format,omitempty"`
}

// EmptySchema is the schema of a script that takes no arguments (and of
// a library).
func EmptySchema() *Schema { return newSchema() }

func newSchema() *Schema {
	return &Schema{Schema: "https://json-schema.org/draft/2020-12/schema", Type: "object", Properties: map[string]*Property{}, Required: []string{}, Order: []string{}}
}

// ErrNoMain is what InferSchema's error wraps when a Python or TypeScript
// script has no main function: saved on its own, such a script is a
// library (Windmill's no_main_func); inline in a flow, it is a mistake.
var ErrNoMain = errors.New("no main function")

// InferSchema reads main's signature (or, for Bash, the positional
// assignments) and returns the argument schema. A script without a main
// function gets an error wrapping ErrNoMain that says what is expected.
func InferSchema(language, content string) (*Schema, error) {
	l := LanguageNamed(language)
	if l == nil || l.schema == nil {
		return nil, fmt.Errorf("unsupported language %q", language)
	}
	return l.schema(content)
}

// PreprocessorAsMain makes a flow's preprocessor step runnable by
// millrun's runtimes, which call main: its preprocessor function becomes
// main (a script that has both keeps its own main, which runs).
func PreprocessorAsMain(lang, content string) string {
	l := LanguageNamed(lang)
	if l == nil || l.preprocessor == nil {
		return content
	}
	if _, err := InferSchema(lang, content); err == nil {
		return content
	}
	return l.preprocessor.ReplaceAllString(content, "${1}main${2}")
}

var pyMainRE = regexp.MustCompile(`(?m)^(?:async\s+)?def\s+main\s*\(`)

var pyPreprocessorRE = regexp.MustCompile(`(?m)^(\s*(?:async\s+)?def\s+)preprocessor(\s*\()`)

func inferPython(src string) (*Schema, error) {
	loc := pyMainRE.FindStringIndex(src)
	if loc == nil {
		return nil, fmt.Errorf("%w: a Python script needs `def main(...)` at the top level", ErrNoMain)
	}
	params, err := splitParams(src[loc[1]:])
	if err != nil {
		return nil, fmt.Errorf("main's parameters: %w", err)
	}
	s := newSchema()
	for _, p := range params {
		p = strings.TrimSpace(p)
		if p == "" || p == "*" || p == "/" || strings.HasPrefix(p, "*") {
			continue
		}
		name, typ, def := splitParam(p, ":", "=")
		if name == "" {
			continue
		}
		prop := &Property{}
		pyType(typ, prop)
		if def != "" {
			if v, ok := pyLiteral(def); ok {
				prop.Default = v
			}
			if prop.Type == "" {
				prop.Type = typeOfJSON(prop.Default)
			}
		} else {
			s.Required = append(s.Required, name)
		}
		s.Properties[name] = prop
		s.Order = append(s.Order, name)
	}
	return s, nil
}

func pyType(t string, p *Property) {
	t = strings.TrimSpace(t)
	if inner, ok := strings.CutPrefix(t, "Optional["); ok {
		t = strings.TrimSuffix(inner, "]")
	}
	if a, b, ok := strings.Cut(t, "|"); ok {
		if strings.TrimSpace(b) == "None" {
			t = strings.TrimSpace(a)
		} else if strings.TrimSpace(a) == "None" {
			t = strings.TrimSpace(b)
		}
	}
	base, inner, _ := strings.Cut(t, "[")
	inner = strings.TrimSuffix(inner, "]")
	switch strings.TrimSpace(base) {
	case "int":
		p.Type = "integer"
	case "float":
		p.Type = "number"
	case "str":
		p.Type = "string"
	case "bool":
		p.Type = "boolean"
	case "dict", "Dict", "typing.Dict":
		p.Type = "object"
	case "list", "List", "typing.List", "tuple", "Tuple":
		p.Type = "array"
		if inner != "" {
			item := &Property{}
			pyType(inner, item)
			if item.Type != "" {
				p.Items = item
			}
		}
	case "bytes":
		p.Type = "string"
		p.Format = "base64"
	case "datetime", "datetime.datetime":
		p.Type = "string"
		p.Format = "date-time"
	}
}

// pyLiteral turns a Python default value into JSON where it is a plain literal.
func pyLiteral(s string) (json.RawMessage, bool) {
	s = strings.TrimSpace(s)
	switch s {
	case "None":
		return json.RawMessage("null"), true
	case "True":
		return json.RawMessage("true"), true
	case "False":
		return json.RawMessage("false"), true
	}
	if v, ok := quotedString(s); ok {
		b, _ := json.Marshal(v)
		return b, true
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil && json.Valid([]byte(s)) {
		return json.RawMessage(s), true
	}
	if strings.HasPrefix(s, "[") || strings.HasPrefix(s, "{") {
		r := strings.NewReplacer("True", "true", "False", "false", "None", "null", "'", `"`).Replace(s)
		if json.Valid([]byte(r)) {
			return json.RawMessage(r), true
		}
	}
	return nil, false
}

func quotedString(s string) (string, bool) {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		if s[0] == '"' {
			if v, err := strconv.Unquote(s); err == nil {
				return v, true
			}
		}
		return s[1 : len(s)-1], true
	}
	return "", false
}

func typeOfJSON(v json.RawMessage) string {
	if len(v) == 0 {
		return ""
	}
	switch v[0] {
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case '[':
		return "array"
	case '{':
		return "object"
	case 'n':
		return ""
	}
	if strings.ContainsAny(string(v), ".eE") {
		return "number"
	}
	return "integer"
}

var tsPreprocessorRE = regexp.MustCompile(`(?m)(function\s*\*?\s*)preprocessor(\s*(?:<[^>]*>)?\s*\()`)

var tsMainRE = regexp.MustCompile(`(?m)export\s+(?:default\s+)?(?:async\s+)?function\s*\*?\s*main\s*(?:<[^>]*>)?\s*\(`)

func inferTypeScript(src string) (*Schema, error) {
	loc := tsMainRE.FindStringIndex(src)
	if loc == nil {
		return nil, fmt.Errorf("%w: a TypeScript script needs `export async function main(...)`", ErrNoMain)
	}
	params, err := splitParams(src[loc[1]:])
	if err != nil {
		return nil, fmt.Errorf("main's parameters: %w", err)
	}
	s := newSchema()
	for _, p := range params {
		p = strings.TrimSpace(p)
		if p == "" || strings.HasPrefix(p, "...") || strings.HasPrefix(p, "{") || strings.HasPrefix(p, "[") {
			continue
		}
		name, typ, def := splitParam(p, ":", "=")
		optional := strings.HasSuffix(name, "?")
		name = strings.TrimSuffix(name, "?")
		prop := &Property{}
		tsType(typ, prop)
		if def != "" {
			if v, ok := jsLiteral(def); ok {
				prop.Default = v
				if prop.Type == "" {
					prop.Type = typeOfJSON(v)
				}
			}
		} else if !optional && !strings.Contains(typ, "undefined") {
			s.Required = append(s.Required, name)
		}
		s.Properties[name] = prop
		s.Order = append(s.Order, name)
	}
	return s, nil
}

func tsType(t string, p *Property) {
	t = strings.TrimSpace(t)
	for _, suffix := range []string{"| undefined", "| null"} {
		t = strings.TrimSpace(strings.TrimSuffix(t, suffix))
	}
	switch {
	case t == "number":
		p.Type = "number"
	case t == "string":
		p.Type = "string"
	case t == "boolean":
		p.Type = "boolean"
	case t == "Date":
		p.Type = "string"
		p.Format = "date-time"
	case strings.HasSuffix(t, "[]"):
		p.Type = "array"
		item := &Property{}
		tsType(strings.TrimSuffix(t, "[]"), item)
		if item.Type != "" {
			p.Items = item
		}
	case strings.HasPrefix(t, "Array<"):
		p.Type = "array"
		item := &Property{}
		tsType(strings.TrimSuffix(strings.TrimPrefix(t, "Array<"), ">"), item)
		if item.Type != "" {
			p.Items = item
		}
	case t == "object" || strings.HasPrefix(t, "Record<") || strings.HasPrefix(t, "{"):
		p.Type = "object"
	}
}

func jsLiteral(s string) (json.RawMessage, bool) {
	s = strings.TrimSpace(s)
	if s == "undefined" {
		return nil, false
	}
	if v, ok := quotedString(s); ok {
		b, _ := json.Marshal(v)
		return b, true
	}
	if len(s) >= 2 && s[0] == '`' && s[len(s)-1] == '`' && !strings.Contains(s, "${") {
		b, _ := json.Marshal(s[1 : len(s)-1])
		return b, true
	}
	if json.Valid([]byte(s)) {
		return json.RawMessage(s), true
	}
	r := strings.ReplaceAll(s, "'", `"`)
	if json.Valid([]byte(r)) {
		return json.RawMessage(r), true
	}
	return nil, false
}

// Bash arguments are the `name="$1"` / `name="${1:-default}"` assignments.
var bashArgRE = regexp.MustCompile(`(?m)^\s*(?:local\s+|declare\s+)?([A-Za-z_][A-Za-z0-9_]*)=["']?\$\{?([1-9][0-9]*)(?::-([^}"']*))?\}?["']?\s*(?:#.*)?$`)

func inferBash(src string) (*Schema, error) {
	s := newSchema()
	type arg struct {
		name string
		pos  int
		def  string
		has  bool
	}
	var args []arg
	seen := map[string]bool{}
	for _, m := range bashArgRE.FindAllStringSubmatch(src, -1) {
		if seen[m[1]] {
			continue
		}
		seen[m[1]] = true
		pos, _ := strconv.Atoi(m[2])
		args = append(args, arg{m[1], pos, m[3], strings.Contains(m[0], ":-")})
	}
	sort.SliceStable(args, func(i, j int) bool { return args[i].pos < args[j].pos })
	for _, a := range args {
		p := &Property{Type: "string"}
		if a.has {
			b, _ := json.Marshal(a.def)
			p.Default = b
		} else {
			s.Required = append(s.Required, a.name)
		}
		s.Properties[a.name] = p
		s.Order = append(s.Order, a.name)
	}
	return s, nil
}

// splitParams reads from just after main's "(" to the matching ")" and
// splits the text on top-level commas, skipping strings and comments.
func splitParams(s string) ([]string, error) {
	var out []string
	depth := 0
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"', '\'', '`':
			end := closingQuote(s, i)
			if end < 0 {
				return nil, fmt.Errorf("unterminated string")
			}
			i = end
		case '#':
			if nl := strings.IndexByte(s[i:], '\n'); nl >= 0 {
				s = s[:i] + strings.Repeat(" ", nl) + s[i+nl:]
			}
		case '/':
			if i+1 < len(s) && s[i+1] == '/' {
				if nl := strings.IndexByte(s[i:], '\n'); nl >= 0 {
					s = s[:i] + strings.Repeat(" ", nl) + s[i+nl:]
				}
			}
		case '(', '[', '{', '<':
			depth++
		case ']', '}', '>':
			if c == '>' && i > 0 && s[i-1] == '=' {
				continue // => in a default arrow function
			}
			depth--
		case ')':
			if depth == 0 {
				out = append(out, s[start:i])
				if len(out) == 1 && strings.TrimSpace(out[0]) == "" {
					return nil, nil
				}
				return out, nil
			}
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return nil, fmt.Errorf("no closing parenthesis")
}

func closingQuote(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		if s[j] == '\\' {
			j++
			continue
		}
		if s[j] == q {
			return j
		}
	}
	return -1
}

// splitParam splits "name: type = default" at the first top-level
// typeSep and defSep.
func splitParam(p, typeSep, defSep string) (name, typ, def string) {
	eq := topLevelIndex(p, defSep)
	if eq >= 0 {
		def = strings.TrimSpace(p[eq+1:])
		p = p[:eq]
	}
	if c := strings.Index(p, typeSep); c >= 0 {
		typ = strings.TrimSpace(p[c+1:])
		p = p[:c]
	}
	return strings.TrimSpace(p), typ, def
}

func topLevelIndex(s, sep string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(', '[', '{', '<':
			depth++
		case ')', ']', '}':
			depth--
		case '>':
			if i == 0 || s[i-1] != '=' {
				depth--
			}
		case '"', '\'', '`':
			if end := closingQuote(s, i); end > 0 {
				i = end
			}
		default:
			if depth == 0 && strings.HasPrefix(s[i:], sep) && !(sep == "=" && i+1 < len(s) && s[i+1] == '>') {
				return i
			}
		}
	}
	return -1
}
