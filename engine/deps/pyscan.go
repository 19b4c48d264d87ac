package deps

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// pyStmt is one simple statement that starts at column 0.
type pyStmt struct {
	// text has continuation lines joined, comments removed and each
	// string literal replaced by "" (an import never holds one).
	text string
	// comment is the first comment on the statement's lines, without '#'.
	comment string
}

// topLevelStatements splits Python source into the simple statements
// written at column 0, the way the AST's module body would list them:
// statements inside a block (if/try/def/class bodies, one-line
// `if x: import y`) are not top level and are left out, as Windmill's
// parser leaves them out. It tracks strings, brackets, comments and
// backslash continuations, never fails, and reads invalid code as best it
// can.
func topLevelStatements(code string) []pyStmt {
	var (
		out       []pyStmt
		cur       strings.Builder
		comment   string
		depth     int
		lineStart = true
		topLevel  bool
		inStmt    bool
	)
	end := func() {
		if inStmt && topLevel {
			if t := strings.TrimSpace(cur.String()); t != "" {
				out = append(out, pyStmt{text: t, comment: comment})
			}
		}
		cur.Reset()
	}
	endLine := func() {
		end()
		inStmt, comment, depth, lineStart = false, "", 0, true
	}
	n := len(code)
	for i := 0; i < n; {
		c := code[i]
		if lineStart {
			j := i
			for j < n && (code[j] == ' ' || code[j] == '\t' || code[j] == '\f') {
				j++
			}
			if j >= n {
				break
			}
			if code[j] == '\n' || code[j] == '\r' || code[j] == '#' {
				// A blank or comment-only line starts nothing.
				i = j
				if code[j] == '#' {
					for i < n && code[i] != '\n' {
						i++
					}
				}
				if i < n {
					i++
				}
				continue
			}
			lineStart, inStmt, topLevel = false, true, j == i
			i = j
			continue
		}
		switch {
		case c == '#':
			k := i + 1
			for k < n && code[k] != '\n' && code[k] != '\r' {
				k++
			}
			if comment == "" {
				comment = code[i+1 : k]
			}
			i = k
		case c == '\\' && i+1 < n && (code[i+1] == '\n' || code[i+1] == '\r'):
			i += 2
			if code[i-1] == '\r' && i < n && code[i] == '\n' {
				i++
			}
			cur.WriteByte(' ')
		case c == '\n' || c == '\r':
			i++
			if depth > 0 {
				cur.WriteByte(' ')
				continue
			}
			endLine()
		case c == '\'' || c == '"':
			i = skipString(code, i)
			cur.WriteString(`""`)
		case c == '(' || c == '[' || c == '{':
			depth++
			cur.WriteByte(c)
			i++
		case c == ')' || c == ']' || c == '}':
			if depth > 0 {
				depth--
			}
			cur.WriteByte(c)
			i++
		case c == ';' && depth == 0:
			end()
			i++
		default:
			cur.WriteByte(c)
			i++
		}
	}
	end()
	return out
}

// skipString returns the index just past the string literal whose opening
// quote is at i (an unterminated one runs to the end of its line, or of
// the code for a triple-quoted one). A backslash always escapes the next
// character for the purpose of finding the end, raw strings included.
func skipString(code string, i int) int {
	q := code[i]
	n := len(code)
	triple := i+2 < n && code[i+1] == q && code[i+2] == q
	if triple {
		i += 3
		for i < n {
			switch {
			case code[i] == '\\':
				i += 2
			case code[i] == q && i+2 < n && code[i+1] == q && code[i+2] == q:
				return i + 3
			default:
				i++
			}
		}
		return n
	}
	i++
	for i < n {
		switch code[i] {
		case '\\':
			i += 2
		case q:
			return i + 1
		case '\n', '\r':
			return i
		default:
			i++
		}
	}
	return n
}

// pyImport is one imported module: `import a.b` gives {module: "a.b"},
// `from ..x import y, z` gives {level: 2, module: "x", names: [y z]}.
type pyImport struct {
	module string
	level  int
	names  []string
	from   bool
}

// parseImport reads an import statement; ok is false for any other
// statement.
func parseImport(stmt string) (imps []pyImport, ok bool) {
	toks := pyTokens(stmt)
	if len(toks) < 2 {
		return nil, false
	}
	switch toks[0] {
	case "import":
		for _, part := range splitTokens(toks[1:], ",") {
			if m := dotted(part); m != "" {
				imps = append(imps, pyImport{module: m})
			}
		}
		return imps, true
	case "from":
		rest := toks[1:]
		level := 0
		for len(rest) > 0 && (rest[0] == "." || rest[0] == "...") {
			level += len(rest[0])
			rest = rest[1:]
		}
		k := 0
		for k < len(rest) && rest[k] != "import" {
			k++
		}
		if k == len(rest) {
			return nil, false
		}
		imp := pyImport{module: dotted(rest[:k]), level: level, from: true}
		for _, part := range splitTokens(rest[k+1:], ",") {
			if len(part) > 0 && part[0] == "(" {
				part = part[1:]
			}
			if len(part) > 0 && part[len(part)-1] == ")" {
				part = part[:len(part)-1]
			}
			if len(part) > 0 && isIdent(part[0]) {
				imp.names = append(imp.names, part[0])
			}
		}
		if imp.module == "" && level == 0 {
			return nil, true
		}
		return []pyImport{imp}, true
	}
	return nil, false
}

// dotted joins a leading run of "name . name . name" tokens, ignoring a
// trailing "as alias".
func dotted(toks []string) string {
	var b strings.Builder
	wantName := true
	for _, t := range toks {
		switch {
		case wantName && isIdent(t) && t != "as":
			b.WriteString(t)
			wantName = false
		case !wantName && t == ".":
			b.WriteByte('.')
			wantName = true
		default:
			return strings.TrimSuffix(b.String(), ".")
		}
	}
	return strings.TrimSuffix(b.String(), ".")
}

func splitTokens(toks []string, sep string) [][]string {
	var out [][]string
	start := 0
	for i, t := range toks {
		if t == sep {
			out = append(out, toks[start:i])
			start = i + 1
		}
	}
	return append(out, toks[start:])
}

// pyTokens splits a statement into identifiers, runs of dots (".", "...")
// and single punctuation characters.
func pyTokens(s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(r):
			i += size
		case r == '.':
			j := i
			for j < len(s) && s[j] == '.' {
				j++
			}
			for k := i; k < j; {
				// "..." is one token in Python; two dots are two tokens.
				if j-k >= 3 {
					toks = append(toks, "...")
					k += 3
				} else {
					toks = append(toks, ".")
					k++
				}
			}
			i = j
		case r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			j := i
			for j < len(s) {
				r2, sz := utf8.DecodeRuneInString(s[j:])
				if r2 != '_' && !unicode.IsLetter(r2) && !unicode.IsDigit(r2) {
					break
				}
				j += sz
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			toks = append(toks, s[i:i+size])
			i += size
		}
	}
	return toks
}

func isIdent(t string) bool {
	r, _ := utf8.DecodeRuneInString(t)
	return r == '_' || unicode.IsLetter(r)
}
