package deps

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

var pyLine = regexp.MustCompile(`^[0-9]+(\.[0-9]+){0,2}$`)

// Lock is a Python lock in Windmill's format: a `# py: X.Y` line, then
// one `name==version` line per package, every transitive dependency
// included. It keeps the text it was read from, so a lock that came with
// `wmill sync` goes back out byte for byte, unknown lines included.
type Lock struct {
	text   string
	python string
	pins   []Pin
	// bad are the lines no installer may be given, each an *Error that
	// names its line; Install refuses a lock with any (Err).
	bad []error
	// skipped are index option lines left out, for the install log.
	skipped []string
}

// Pin is one package line of a lock.
type Pin struct {
	// Line is the requirement as the lock wrote it: "requests==2.32.3",
	// possibly with extras, a URL or environment markers; its hashes are
	// in Hashes.
	Line string
	// Name is the PEP 503 normalized project name.
	Name string
	// Version is the version a `name==version` line pins, "" for any
	// other line (a URL, a range).
	Version string
	// Hashes are the line's --hash values ("sha256:…"), which the
	// installer checks the downloaded file against.
	Hashes []string
	// lines are the text's line numbers this pin was read from (several
	// when continued with a backslash).
	lines []int
	req   requirement
}

// indexOptions are the pip options a lock made with a private index may
// carry (pip-compile writes --index-url when one is configured). Windmill
// skips them, and so does Install, saying so: the index is the user's
// configuration, whatever a lock says.
var indexOptions = []string{"--index-url", "-i", "--extra-index-url", "--find-links", "-f", "--trusted-host", "--no-index", "--pre", "--prefer-binary"}

// ParseLock reads a lock's text. It never fails, so that a lock always
// goes back out as it came: blank lines and comments are kept in the text
// and skipped at install, and a line no installer may be given (anything
// but a PEP 508 requirement with --hash options, and the index options
// pip-compile writes) makes Err say which line and why.
func ParseLock(text string) Lock {
	l := Lock{text: text}
	lines := strings.Split(text, "\n")
	bad := func(nums []int, line, why string) {
		where := fmt.Sprintf("line %d", nums[0]+1)
		if len(nums) > 1 {
			where = fmt.Sprintf("lines %d-%d", nums[0]+1, nums[len(nums)-1]+1)
		}
		l.bad = append(l.bad, &Error{Kind: ErrInvalid, Package: line,
			Msg: fmt.Sprintf("the lock's %s %+q cannot be installed: %s", where, line, why)})
	}
	for i := 0; i < len(lines); i++ {
		raw := strings.TrimSuffix(lines[i], "\r")
		// pip splits a file on more than "\n"; a lock whose every line
		// is one line for pip too is the only kind read further.
		if why := textProblem(raw); why != "" {
			bad([]int{i}, raw, why)
			continue
		}
		s := strings.TrimSpace(raw)
		if l.python == "" && (strings.HasPrefix(s, "#py") || strings.HasPrefix(s, "# py")) {
			l.python = lockPython(s)
			continue
		}
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		nums := []int{i}
		parts := []string{s}
		for strings.HasSuffix(s, `\`) && i+1 < len(lines) {
			i++
			nums = append(nums, i)
			s = strings.TrimSpace(strings.TrimSuffix(lines[i], "\r"))
			if why := textProblem(s); why != "" {
				bad([]int{i}, s, why)
				s = ""
			}
			parts = append(parts, s)
		}
		var fields []string
		for _, part := range parts {
			part = strings.TrimSpace(strings.TrimSuffix(part, `\`))
			if j := commentStart(part); j >= 0 {
				part = part[:j]
			}
			fields = append(fields, strings.Fields(part)...)
		}
		whole := strings.Join(fields, " ")
		// The requirement is what comes before the first option, as pip
		// splits a line; every option after it must be a --hash.
		k := slices.IndexFunc(fields, func(f string) bool { return strings.HasPrefix(f, "-") })
		if k < 0 {
			k = len(fields)
		}
		line := strings.Join(fields[:k], " ")
		hashes, why := hashOptions(fields[k:])
		if line == "" {
			if k == 0 && len(nums) == 1 && isIndexOption(fields) {
				l.skipped = append(l.skipped, fmt.Sprintf("line %d %+q", i+1, whole))
				continue
			}
			if whole == "" {
				bad(nums, strings.TrimSpace(raw), "a lone backslash continues onto the next line, which pip would then read as part of this one")
				continue
			}
			why := "it is a pip option, not a requirement: packages come from the index your pip/uv configuration names, and a lock holds only `name==version` lines (with --hash options)"
			if len(nums) > 1 {
				why = "a line of only a backslash joins it to the line before, and " + why
			}
			bad(nums, whole, why)
			continue
		}
		if why != "" {
			bad(nums, whole, why)
			continue
		}
		r, err := parseRequirement(line)
		if err != nil {
			bad(nums, line, err.Error())
			continue
		}
		l.pins = append(l.pins, Pin{Line: line, Name: r.key, Version: r.exact(), Hashes: hashes, lines: nums, req: r})
	}
	return l
}

// textProblem says why a line of a lock (comments included) is not one
// line for pip: a line break other than "\n", or a control character.
func textProblem(s string) string {
	for _, r := range s {
		switch {
		case r == '\r' || r == '\v' || r == '\f' || r == 0x1c || r == 0x1d || r == 0x1e || r == 0x85 || r == 0x2028 || r == 0x2029:
			return fmt.Sprintf("it holds a line break (%U), which would start another line for pip", r)
		case r < 0x20 && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0:
			return fmt.Sprintf("it holds a control character (%U)", r)
		}
	}
	return ""
}

// commentStart is where a comment starts in a requirement line, as pip
// reads one (`#` at the start or after a space); -1 when none.
func commentStart(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t') {
			return i
		}
	}
	return -1
}

func isIndexOption(fields []string) bool {
	name, _, _ := strings.Cut(fields[0], "=")
	return slices.Contains(indexOptions, name) && len(fields) <= 2
}

// hashOptions reads `--hash=sha256:…` options (also `--hash sha256:…`);
// why says what else is there.
func hashOptions(fields []string) (hashes []string, why string) {
	for i := 0; i < len(fields); i++ {
		v, ok := strings.CutPrefix(fields[i], "--hash=")
		if !ok && fields[i] == "--hash" && i+1 < len(fields) {
			i++
			v, ok = fields[i], true
		}
		if !ok {
			return nil, fmt.Sprintf("%q is not a --hash option: only hashes may follow a requirement in a lock", fields[i])
		}
		v = strings.ToLower(v)
		if !hashRe.MatchString(v) {
			return nil, fmt.Sprintf("--hash=%s is not a sha256, sha384 or sha512 hash in hex", v)
		}
		if !slices.Contains(hashes, v) {
			hashes = append(hashes, v)
		}
	}
	slices.Sort(hashes)
	return hashes, ""
}

// Err says which lines of the lock no installer may be given, and why;
// nil when there are none.
func (l Lock) Err() error { return errors.Join(l.bad...) }

// lockPython reads Windmill's `# py: 3.11` (`# py311` in older locks):
// "3.11", or "" when the line holds no version.
func lockPython(s string) string {
	s = strings.NewReplacer(" ", "", "\t", "", "#", "", ":", "", "py", "").Replace(s)
	if !strings.Contains(s, ".") && len(s) >= 2 && s[0] == '3' {
		s = "3." + s[1:]
	}
	if !pyLine.MatchString(s) {
		return ""
	}
	return s
}

// NewLock formats a lock as Windmill writes one: `# py: X.Y`, then the
// pins sorted by name, joined by newlines, no newline at the end.
func NewLock(python string, pins []Pin) Lock {
	pins = slices.Clone(pins)
	slices.SortStableFunc(pins, func(a, b Pin) int { return strings.Compare(a.Name, b.Name) })
	var lines []string
	if python != "" {
		lines = append(lines, "# py: "+python)
	}
	for _, p := range pins {
		lines = append(lines, p.Line)
	}
	return ParseLock(strings.Join(lines, "\n"))
}

// String is the lock's text, exactly as read or formatted.
func (l Lock) String() string { return l.text }

// Python is the interpreter version the lock was made for ("3.11"), ""
// when it does not say (then the default interpreter runs it).
func (l Lock) Python() string { return l.python }

// Pins are the packages to install, in the lock's order.
func (l Lock) Pins() []Pin { return slices.Clone(l.pins) }

// Empty says whether the lock installs nothing.
func (l Lock) Empty() bool { return len(l.pins) == 0 && len(l.bad) == 0 }

// Has says whether the lock installs the project (any spelling).
func (l Lock) Has(name string) bool {
	name = NormalizeName(name)
	return slices.ContainsFunc(l.pins, func(p Pin) bool { return p.Name == name })
}

// Without returns the lock without the named projects' lines, the other
// lines unchanged: for running with a fallback wmill when the index has
// none.
func (l Lock) Without(names ...string) Lock {
	drop := map[int]bool{}
	for _, n := range names {
		n = NormalizeName(n)
		for _, p := range l.pins {
			if p.Name == n {
				for _, i := range p.lines {
					drop[i] = true
				}
			}
		}
	}
	if len(drop) == 0 {
		return l
	}
	var kept []string
	for i, line := range strings.Split(l.text, "\n") {
		if !drop[i] {
			kept = append(kept, line)
		}
	}
	return ParseLock(strings.Join(kept, "\n"))
}

// folder names a pin's cache folder (see requirement.folder).
func (p Pin) folder() string { return p.req.folder(p.Hashes) }
