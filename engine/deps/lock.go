package deps

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
)

// Lock is a Python lock in Windmill's format: a `# py: X.Y` line, then
// one `name==version` line per package, every transitive dependency
// included. It keeps the text it was read from, so a lock that came with
// `wmill sync` goes back out byte for byte, unknown lines included.
type Lock struct {
	text   string
	python string
	pins   []Pin
}

// Pin is one package line of a lock.
type Pin struct {
	// Line is what the installer is given: "requests==2.32.3", possibly
	// with extras, a URL or environment markers as the lock wrote them.
	Line string
	// Name is the PEP 503 normalized project name ("" for a bare URL).
	Name string
	// Version is the pinned version, "" when the line pins none.
	Version string
	// lines are the text's line numbers this pin was read from (several
	// when continued with a backslash).
	lines []int
}

var (
	pinLine = regexp.MustCompile(`^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*===?\s*([A-Za-z0-9._+!-]+)\s*(?:;.*)?$`)
	urlReq  = regexp.MustCompile(`^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*@`)
	pyLine  = regexp.MustCompile(`^[0-9]+(\.[0-9]+){0,2}$`)
)

// ParseLock reads a lock's text. It never fails: lines it does not
// understand are kept in the text and skipped at install, as Windmill's
// worker skips them (blank lines, comments, `--` options).
func ParseLock(text string) Lock {
	l := Lock{text: text}
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		s := strings.TrimSpace(strings.TrimSuffix(lines[i], "\r"))
		if l.python == "" && (strings.HasPrefix(s, "#py") || strings.HasPrefix(s, "# py")) {
			l.python = lockPython(s)
			continue
		}
		if s == "" || strings.HasPrefix(s, "#") || strings.HasPrefix(s, "-") {
			continue
		}
		// `name==1.0 \` then `--hash=…` lines come from
		// --generate-hashes; a per-package install cannot check them
		// against one another, so only the requirement is kept.
		nums := []int{i}
		for strings.HasSuffix(s, `\`) && i+1 < len(lines) {
			i++
			nums = append(nums, i)
			s = strings.TrimSuffix(s, `\`) + " " + strings.TrimSpace(strings.TrimSuffix(lines[i], "\r"))
		}
		s = strings.TrimSpace(strings.TrimSuffix(s, `\`))
		if j := strings.Index(s, " #"); j >= 0 {
			s = strings.TrimSpace(s[:j])
		}
		if strings.Contains(s, "--hash") {
			s = strings.Join(slices.DeleteFunc(strings.Fields(s), func(f string) bool { return strings.HasPrefix(f, "--hash") }), " ")
		}
		p := Pin{Line: s, lines: nums}
		if m := pinLine.FindStringSubmatch(s); m != nil {
			p.Name, p.Version = NormalizeName(m[1]), m[2]
		} else if m := urlReq.FindStringSubmatch(s); m != nil {
			p.Name = NormalizeName(m[1])
		} else if m := reqName.FindStringSubmatch(s); m != nil && !strings.Contains(s, "://") {
			p.Name = NormalizeName(m[1])
		}
		l.pins = append(l.pins, p)
	}
	return l
}

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
func (l Lock) Empty() bool { return len(l.pins) == 0 }

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

// folder names a pin's cache folder: `name==version` as Windmill names
// it, with the name normalized so two spellings share one folder. Lines
// that pin no version are named by their text made safe for any file
// system, or by a hash when long.
func (p Pin) folder() string {
	if p.Name != "" && p.Version != "" {
		return p.Name + "==" + safeName(p.Version)
	}
	s := safeName(p.Line)
	if len(s) > 80 {
		sum := sha256.Sum256([]byte(p.Line))
		s = s[:40] + "-" + hex.EncodeToString(sum[:8])
	}
	return s
}

func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._+-=@", c) >= 0
		if !ok {
			b[i] = '_'
		}
	}
	out := strings.TrimLeft(string(b), ".")
	if out == "" {
		out = "_"
	}
	return out
}
