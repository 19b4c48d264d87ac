package deps

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// requirement is one PEP 508 requirement, read strictly. Every line a
// script or a lock gives pip or uv goes through parseRequirement first:
// pip reads its requirements with str.splitlines() (which breaks on
// U+2028, \v, \x1c…, not only \n), joins backslash continuations, reads
// a token starting with '-' as an option and expands ${VAR}, so anything
// beyond PEP 508's shape could smuggle an option (--index-url) or another
// requirement past us.
type requirement struct {
	// name as written, and key its PEP 503 normalized form.
	name, key string
	extras    []string
	// specs are the version clauses, each op+version ("==2.0", ">=1").
	specs []string
	url   string
	// marker is the parsed environment marker; nil for none.
	marker markerExpr
	// markerText is the marker as written, trimmed.
	markerText string
}

var (
	reqNameRe = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?`)
	urlRe     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9._~:/?#\[\]@!&()*+,;=%-]+$`)
	hashRe    = regexp.MustCompile(`^(sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})$`)
)

// lineProblem says why a line cannot be given to pip at all, before any
// parsing: "" when every character is one PEP 508 allows there.
func lineProblem(s string) string {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			return "it is not valid UTF-8"
		case r == '\n' || r == '\r' || r == '\v' || r == '\f' || r == 0x1c || r == 0x1d || r == 0x1e || r == 0x85 || r == 0x2028 || r == 0x2029:
			return fmt.Sprintf("it holds a line break (%U), which would start another line for pip", r)
		case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
			return fmt.Sprintf("it holds a control character (%U)", r)
		case r >= 0x80:
			return fmt.Sprintf("it holds %q (%U): a requirement is plain ASCII", r, r)
		case r == '\\':
			return `it holds a backslash, which continues a line for pip`
		case r == '$':
			return "it holds '$': pip and uv would expand ${…} from the environment"
		}
	}
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "-") {
		return "it is a pip option, not a requirement: packages come from the index your pip/uv configuration names (PIP_INDEX_URL, pip.conf, UV_INDEX_URL)"
	}
	for _, f := range strings.Fields(t) {
		if strings.HasPrefix(f, "-") {
			return fmt.Sprintf("%q would be read by pip as an option", f)
		}
		if strings.HasPrefix(f, "#") {
			return "' #' starts a comment for pip, which would drop the rest"
		}
	}
	return ""
}

// parseRequirement reads a PEP 508 requirement: a project name, extras,
// then version clauses or `@ URL`, then `; marker`. Bare URLs and paths
// are refused: a requirement names its project, so its folder in the
// cache can be named for it.
func parseRequirement(s string) (requirement, error) {
	if p := lineProblem(s); p != "" {
		return requirement{}, fmt.Errorf("%s", p)
	}
	p := &reqParser{s: strings.TrimSpace(s)}
	var r requirement
	r.name = reqNameRe.FindString(p.s)
	if r.name == "" {
		if strings.Contains(p.s, "://") || strings.HasPrefix(p.s, ".") || strings.HasPrefix(p.s, "~") {
			return r, fmt.Errorf("it names no project: write it as `name @ URL`")
		}
		return r, fmt.Errorf("it does not start with a project name")
	}
	r.key = NormalizeName(r.name)
	p.i = len(r.name)
	if strings.HasPrefix(p.rest(), ":") || strings.HasPrefix(p.rest(), "/") {
		return r, fmt.Errorf("it names no project: write it as `name @ URL`")
	}
	p.ws()
	if p.peek('[') {
		p.i++
		for {
			p.ws()
			if p.peek(']') {
				p.i++
				break
			}
			e := reqNameRe.FindString(p.s[p.i:])
			if e == "" {
				return r, fmt.Errorf("its extras are not a list of names")
			}
			r.extras = append(r.extras, e)
			p.i += len(e)
			p.ws()
			if p.peek(',') {
				p.i++
				continue
			}
			if !p.peek(']') {
				return r, fmt.Errorf("its extras are not a list of names")
			}
		}
		p.ws()
	}
	switch {
	case p.peek('@'):
		p.i++
		p.ws()
		end := strings.IndexAny(p.s[p.i:], " \t")
		if end < 0 {
			end = len(p.s) - p.i
		}
		r.url = p.s[p.i : p.i+end]
		p.i += end
		if !urlRe.MatchString(r.url) {
			return r, fmt.Errorf("%q is not a URL", r.url)
		}
		// A URL may hold ';', so a marker after it needs a space first.
		if p.ws() == 0 && p.i < len(p.s) {
			return r, fmt.Errorf("a space must separate the URL from what follows")
		}
	case p.i < len(p.s) && p.s[p.i] != ';':
		paren := p.peek('(')
		if paren {
			p.i++
		}
		for {
			p.ws()
			op := ""
			for _, o := range specOps {
				if strings.HasPrefix(p.s[p.i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return r, fmt.Errorf("%q is not a version clause (==, >=, ~=, …)", p.rest())
			}
			p.i += len(op)
			p.ws()
			start := p.i
			for p.i < len(p.s) && strings.IndexByte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._*+!-", p.s[p.i]) >= 0 {
				p.i++
			}
			ver := p.s[start:p.i]
			if !validSpec(op, ver) {
				return r, fmt.Errorf("%q is not a PEP 440 version clause", op+ver)
			}
			r.specs = append(r.specs, op+ver)
			p.ws()
			if p.peek(',') {
				p.i++
				continue
			}
			break
		}
		if paren {
			if !p.peek(')') {
				return r, fmt.Errorf("a '(' is not closed")
			}
			p.i++
			p.ws()
		}
	}
	if p.peek(';') {
		p.i++
		r.markerText = strings.TrimSpace(p.s[p.i:])
		m, err := parseMarker(r.markerText)
		if err != nil {
			return r, fmt.Errorf("its marker %q: %v", r.markerText, err)
		}
		r.marker = m
		p.i = len(p.s)
	}
	if p.i < len(p.s) {
		return r, fmt.Errorf("%q is not part of a requirement", p.rest())
	}
	return r, nil
}

// exact is the version an `name==V` requirement pins, "" for any other
// shape (ranges, wildcards, ===, URLs).
func (r requirement) exact() string {
	if r.url != "" || len(r.specs) != 1 || !strings.HasPrefix(r.specs[0], "==") || strings.HasPrefix(r.specs[0], "===") {
		return ""
	}
	v := strings.TrimPrefix(r.specs[0], "==")
	if strings.HasSuffix(v, ".*") {
		return ""
	}
	return v
}

// install is the line an installer gets for this requirement once its
// marker has been found true here: the marker is left out (pip would
// otherwise decide again, perhaps otherwise), and so are extras, which
// name only dependencies and every install is --no-deps.
func (r requirement) install() string {
	switch {
	case r.url != "":
		return r.key + " @ " + r.url
	case len(r.specs) > 0:
		return r.key + strings.Join(r.specs, ",")
	}
	return r.key
}

// String is the requirement in one canonical spelling.
func (r requirement) String() string {
	s := r.key
	if len(r.extras) > 0 {
		s += "[" + strings.Join(r.extras, ",") + "]"
	}
	switch {
	case r.url != "":
		s += " @ " + r.url
		if r.marker != nil {
			s += " "
		}
	case len(r.specs) > 0:
		s += strings.Join(r.specs, ",")
	}
	if r.marker != nil {
		s += "; " + r.markerText
	}
	return s
}

// folder names the cache folder for this requirement. Only `name==V`
// gets Windmill's shared `name==V` folder, and only then is the wheel
// that fills it checked to be that name and version. A URL's package is
// whatever the URL serves, so it is kept by the URL; other clauses by
// their text; hash-pinned lines by their hashes too. The hashed names
// hold '@', which no `name==V` folder can.
func (r requirement) folder(hashes []string) string {
	sum := func(s string) string {
		h := sha256.Sum256([]byte(s))
		return hex.EncodeToString(h[:8])
	}
	v := r.exact()
	switch {
	case v != "" && len(hashes) > 0:
		return r.key + "==" + v + "@hashes-" + sum(strings.Join(hashes, " "))
	case v != "":
		return r.key + "==" + v
	case r.url != "":
		return r.key + "@url-" + sum(r.url)
	}
	return r.key + "@spec-" + sum(r.install()+" "+strings.Join(hashes, " "))
}

type reqParser struct {
	s string
	i int
}

func (p *reqParser) ws() int {
	n := 0
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
		n++
	}
	return n
}

func (p *reqParser) peek(c byte) bool { return p.i < len(p.s) && p.s[p.i] == c }

func (p *reqParser) rest() string { return p.s[p.i:] }
