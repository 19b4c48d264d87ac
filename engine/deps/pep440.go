package deps

import (
	"cmp"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// pep440 is a parsed PEP 440 version. It exists so that a wheel is
// matched to its pin by the version the installer means (1.0 is 1.0.0),
// and so that environment markers compare python_version the way pip
// does.
type pep440 struct {
	epoch   int
	release []int
	// pre is the pre-release label (a, b, rc) and number; "" for none.
	preL string
	preN int
	post int // -1: none
	dev  int // -1: none
	// local is the local label's segments ("ubuntu", "1"); nil for none.
	local []string
}

// versionPattern is PEP 440's grammar (packaging's VERSION_PATTERN), with
// the leading "v" and every alternative spelling it allows.
var versionPattern = regexp.MustCompile(`^(?i:v?(?:(?:([0-9]+)!)?([0-9]+(?:\.[0-9]+)*)([-_.]?(alpha|a|beta|b|preview|pre|c|rc)[-_.]?([0-9]+)?)?((?:-([0-9]+))|(?:[-_.]?(post|rev|r)[-_.]?([0-9]+)?))?([-_.]?(dev)[-_.]?([0-9]+)?)?)(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?)$`)

// parsePEP440 reads a version; ok is false when it is not PEP 440 (a
// legacy version, a wildcard).
func parsePEP440(s string) (v pep440, ok bool) {
	m := versionPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return v, false
	}
	num := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			// Beyond int: no real version has such a number, and
			// refusing it keeps comparisons exact.
			ok = false
		}
		return n
	}
	ok = true
	if m[1] != "" {
		v.epoch = num(m[1])
	}
	for _, p := range strings.Split(m[2], ".") {
		v.release = append(v.release, num(p))
	}
	if m[3] != "" {
		switch strings.ToLower(m[4]) {
		case "alpha", "a":
			v.preL = "a"
		case "beta", "b":
			v.preL = "b"
		default:
			v.preL = "rc"
		}
		if m[5] != "" {
			v.preN = num(m[5])
		}
	}
	v.post = -1
	if m[7] != "" {
		v.post = num(m[7])
	} else if m[8] != "" {
		v.post = 0
		if m[9] != "" {
			v.post = num(m[9])
		}
	}
	v.dev = -1
	if m[11] != "" {
		v.dev = 0
		if m[12] != "" {
			v.dev = num(m[12])
		}
	}
	if m[13] != "" {
		v.local = strings.FieldsFunc(strings.ToLower(m[13]), func(r rune) bool { return r == '-' || r == '_' || r == '.' })
	}
	return v, ok
}

// String is the version's normalized form ("1.0rc1", "2.0.post1+ubuntu.1").
func (v pep440) String() string {
	var b strings.Builder
	if v.epoch != 0 {
		b.WriteString(strconv.Itoa(v.epoch) + "!")
	}
	b.WriteString(v.public())
	if len(v.local) > 0 {
		b.WriteString("+" + strings.Join(v.local, "."))
	}
	return b.String()
}

// public is the version without epoch or local label.
func (v pep440) public() string {
	var b strings.Builder
	for i, r := range v.release {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Itoa(r))
	}
	if v.preL != "" {
		b.WriteString(v.preL + strconv.Itoa(v.preN))
	}
	if v.post >= 0 {
		b.WriteString(".post" + strconv.Itoa(v.post))
	}
	if v.dev >= 0 {
		b.WriteString(".dev" + strconv.Itoa(v.dev))
	}
	return b.String()
}

func (v pep440) isPre() bool  { return v.preL != "" || v.dev >= 0 }
func (v pep440) isPost() bool { return v.post >= 0 }

// base is epoch and release only.
func (v pep440) base() pep440 { return pep440{epoch: v.epoch, release: v.release, post: -1, dev: -1} }

// withoutLocal drops the local label.
func (v pep440) withoutLocal() pep440 { v.local = nil; return v }

// compare orders versions as PEP 440 (and packaging) does.
func (v pep440) compare(w pep440) int {
	if c := cmp.Compare(v.epoch, w.epoch); c != 0 {
		return c
	}
	if c := slices.Compare(trimZeros(v.release), trimZeros(w.release)); c != 0 {
		return c
	}
	// A dev release of X sorts before X's pre-releases; no pre-release
	// sorts after every pre-release.
	rank := func(x pep440) (int, int) {
		switch {
		case x.preL == "" && x.post < 0 && x.dev >= 0:
			return -1, 0
		case x.preL == "":
			return 3, 0
		case x.preL == "a":
			return 0, x.preN
		case x.preL == "b":
			return 1, x.preN
		default:
			return 2, x.preN
		}
	}
	vr, vn := rank(v)
	wr, wn := rank(w)
	if c := cmp.Or(cmp.Compare(vr, wr), cmp.Compare(vn, wn)); c != 0 {
		return c
	}
	if c := cmp.Compare(v.post, w.post); c != 0 {
		return c
	}
	vd, wd := v.dev, w.dev
	if vd < 0 {
		vd = int(^uint(0) >> 1)
	}
	if wd < 0 {
		wd = int(^uint(0) >> 1)
	}
	if c := cmp.Compare(vd, wd); c != 0 {
		return c
	}
	return compareLocal(v.local, w.local)
}

func trimZeros(r []int) []int {
	for len(r) > 0 && r[len(r)-1] == 0 {
		r = r[:len(r)-1]
	}
	return r
}

// compareLocal: no label sorts first; numeric segments sort after
// alphanumeric ones, and numerically among themselves.
func compareLocal(a, b []string) int {
	for i := 0; i < min(len(a), len(b)); i++ {
		an, aerr := strconv.Atoi(a[i])
		bn, berr := strconv.Atoi(b[i])
		var c int
		switch {
		case aerr == nil && berr == nil:
			c = cmp.Compare(an, bn)
		case aerr == nil:
			c = 1
		case berr == nil:
			c = -1
		default:
			c = strings.Compare(a[i], b[i])
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// sameVersion says whether two version strings name one version (as
// `==` compares them), falling back to a case-insensitive string match
// for versions that are not PEP 440.
func sameVersion(a, b string) bool {
	va, oka := parsePEP440(a)
	vb, okb := parsePEP440(b)
	if !oka || !okb {
		return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
	}
	return va.compare(vb) == 0
}

// specOps are PEP 440's comparison operators, longest first so that a
// prefix match finds the right one.
var specOps = []string{"===", "~=", "==", "!=", "<=", ">=", "<", ">"}

// validSpec says whether op and version form a PEP 440 specifier: a
// wildcard only after == and !=, a local label not after an ordered
// comparison, ~= with at least two release numbers; === takes any
// version-like text.
func validSpec(op, version string) bool {
	if op == "===" {
		return version != "" && strings.Trim(version, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+!-") == ""
	}
	if base, ok := strings.CutSuffix(version, ".*"); ok {
		if op != "==" && op != "!=" {
			return false
		}
		v, ok := parsePEP440(base)
		return ok && len(v.local) == 0
	}
	v, ok := parsePEP440(version)
	if !ok {
		return false
	}
	switch op {
	case "~=":
		return len(v.release) >= 2 && len(v.local) == 0
	case "<", ">", "<=", ">=":
		return len(v.local) == 0
	}
	return true
}

// specContains says whether a version meets one specifier, as
// packaging's Specifier.contains(version, prereleases=True) answers;
// ok is false when either side cannot be read as PEP 440.
func specContains(op, spec, version string) (result, ok bool) {
	if !validSpec(op, spec) {
		return false, false
	}
	if op == "===" {
		return strings.EqualFold(spec, strings.TrimSpace(version)), true
	}
	v, ok := parsePEP440(version)
	if !ok {
		return false, false
	}
	if base, wild := strings.CutSuffix(spec, ".*"); wild {
		s, _ := parsePEP440(base)
		match := prefixMatch(v, s)
		if op == "!=" {
			return !match, true
		}
		return match, true
	}
	s, _ := parsePEP440(spec)
	switch op {
	case "==", "!=":
		w := v
		if len(s.local) == 0 {
			w = v.withoutLocal()
		}
		eq := w.compare(s) == 0
		return eq == (op == "=="), true
	case "<=":
		return v.withoutLocal().compare(s) <= 0, true
	case ">=":
		return v.withoutLocal().compare(s) >= 0, true
	case "<":
		if v.compare(s) >= 0 {
			return false, true
		}
		// <3.0 does not admit 3.0's own pre-releases.
		if !s.isPre() && v.isPre() && v.base().compare(s.base()) == 0 {
			return false, true
		}
		return true, true
	case ">":
		if v.compare(s) <= 0 {
			return false, true
		}
		// >3.0 does not admit 3.0's post-releases or local builds.
		if !s.isPost() && v.isPost() && v.base().compare(s.base()) == 0 {
			return false, true
		}
		if len(v.local) > 0 && v.base().compare(s.base()) == 0 {
			return false, true
		}
		return true, true
	case "~=":
		// ~=2.2.1 is >=2.2.1, ==2.2.*
		prefix := pep440{epoch: s.epoch, release: s.release[:len(s.release)-1], post: -1, dev: -1}
		return v.withoutLocal().compare(s) >= 0 && prefixMatch(v, prefix), true
	}
	return false, false
}

// prefixMatch is `==prefix.*`: the version's epoch and leading release
// numbers (zero-padded) equal the prefix's, and a prefix with a
// pre/post/dev part matches on that too.
func prefixMatch(v, prefix pep440) bool {
	if v.epoch != prefix.epoch {
		return false
	}
	rel := v.release
	for len(rel) < len(prefix.release) {
		rel = append(slices.Clone(rel), 0)
	}
	if !slices.Equal(rel[:len(prefix.release)], prefix.release) {
		return false
	}
	if prefix.preL != "" || prefix.post >= 0 || prefix.dev >= 0 {
		return len(rel) == len(prefix.release) && v.preL == prefix.preL && v.preN == prefix.preN &&
			(prefix.post < 0 || v.post == prefix.post) && (prefix.dev < 0 || v.dev == prefix.dev)
	}
	return true
}
