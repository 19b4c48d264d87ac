package deps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Environment markers are evaluated here rather than left to pip: a
// lock's line whose marker excludes this interpreter then gets no folder
// at all, instead of an empty "installed" one under a name other locks
// share, and the folders a job gets are known before pip runs.

// markerExpr is a parsed PEP 508 marker.
type markerExpr interface {
	eval(env map[string]string) (bool, error)
}

type markerBool struct {
	and         bool
	left, right markerExpr
}

type markerCmp struct {
	// Exactly one side is a variable: lvar or rvar names it, the other
	// side's value is in lval or rval.
	lvar, rvar string
	lval, rval string
	op         string
}

// markerVars are the variables PEP 508 defines, and the dotted spellings
// older packaging still reads, by the name they stand for.
var markerVars = map[string]string{
	"python_version":                 "python_version",
	"python_full_version":            "python_full_version",
	"os_name":                        "os_name",
	"sys_platform":                   "sys_platform",
	"platform_release":               "platform_release",
	"platform_system":                "platform_system",
	"platform_version":               "platform_version",
	"platform_machine":               "platform_machine",
	"platform_python_implementation": "platform_python_implementation",
	"implementation_name":            "implementation_name",
	"implementation_version":         "implementation_version",
	"extra":                          "extra",
	"os.name":                        "os_name",
	"sys.platform":                   "sys_platform",
	"platform.version":               "platform_version",
	"platform.machine":               "platform_machine",
	"platform.python_implementation": "platform_python_implementation",
	"python_implementation":          "platform_python_implementation",
}

// parseMarker reads a marker: comparisons joined by `and` / `or`,
// parenthesized as needed.
func parseMarker(s string) (markerExpr, error) {
	p := &markerParser{s: s}
	e, err := p.or(0)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i < len(p.s) {
		return nil, fmt.Errorf("%q is not part of a marker", p.s[p.i:])
	}
	return e, nil
}

type markerParser struct {
	s string
	i int
}

func (p *markerParser) ws() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// word consumes a keyword followed by a non-name character.
func (p *markerParser) word(w string) bool {
	p.ws()
	if !strings.HasPrefix(p.s[p.i:], w) {
		return false
	}
	end := p.i + len(w)
	if end < len(p.s) && (isNameByte(p.s[end]) || p.s[end] == '.') {
		return false
	}
	p.i = end
	return true
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *markerParser) or(depth int) (markerExpr, error) {
	left, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.word("or") {
		right, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		left = markerBool{left: left, right: right}
	}
	return left, nil
}

func (p *markerParser) and(depth int) (markerExpr, error) {
	left, err := p.atom(depth)
	if err != nil {
		return nil, err
	}
	for p.word("and") {
		right, err := p.atom(depth)
		if err != nil {
			return nil, err
		}
		left = markerBool{and: true, left: left, right: right}
	}
	return left, nil
}

func (p *markerParser) atom(depth int) (markerExpr, error) {
	p.ws()
	if depth > 32 {
		return nil, errors.New("it is nested too deeply")
	}
	if p.i < len(p.s) && p.s[p.i] == '(' {
		p.i++
		e, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return nil, errors.New("a '(' is not closed")
		}
		p.i++
		return e, nil
	}
	var c markerCmp
	var lok, rok bool
	c.lvar, c.lval, lok = p.value()
	if !lok {
		return nil, fmt.Errorf("%q is not a marker variable or a quoted string", p.s[p.i:])
	}
	p.ws()
	switch {
	case p.word("in"):
		c.op = "in"
	case p.word("not"):
		if !p.word("in") {
			return nil, errors.New("'not' must be followed by 'in'")
		}
		c.op = "not in"
	default:
		for _, o := range specOps {
			if strings.HasPrefix(p.s[p.i:], o) {
				c.op = o
				p.i += len(o)
				break
			}
		}
		if c.op == "" {
			return nil, fmt.Errorf("%q is not a comparison", p.s[p.i:])
		}
	}
	p.ws()
	c.rvar, c.rval, rok = p.value()
	if !rok {
		return nil, fmt.Errorf("%q is not a marker variable or a quoted string", p.s[p.i:])
	}
	if (c.lvar == "") == (c.rvar == "") {
		return nil, errors.New("a comparison must set one variable against one quoted string")
	}
	return c, nil
}

// value reads a variable (its canonical name in v) or a quoted string
// (its content in s).
func (p *markerParser) value() (v, s string, ok bool) {
	p.ws()
	if p.i >= len(p.s) {
		return "", "", false
	}
	if q := p.s[p.i]; q == '"' || q == '\'' {
		end := strings.IndexByte(p.s[p.i+1:], q)
		if end < 0 {
			return "", "", false
		}
		s = p.s[p.i+1 : p.i+1+end]
		p.i += end + 2
		return "", s, true
	}
	start := p.i
	for p.i < len(p.s) && (isNameByte(p.s[p.i]) || p.s[p.i] == '.') {
		p.i++
	}
	name, known := markerVars[p.s[start:p.i]]
	if !known {
		p.i = start
		return "", "", false
	}
	return name, "", true
}

func (b markerBool) eval(env map[string]string) (bool, error) {
	l, err := b.left.eval(env)
	if err != nil {
		return false, err
	}
	r, err := b.right.eval(env)
	if err != nil {
		return false, err
	}
	if b.and {
		return l && r, nil
	}
	return l || r, nil
}

func (c markerCmp) eval(env map[string]string) (bool, error) {
	lhs, rhs := c.lval, c.rval
	name := c.lvar + c.rvar
	val, ok := env[name]
	if !ok {
		return false, fmt.Errorf("the marker variable %s is not known for this interpreter", name)
	}
	if c.lvar != "" {
		lhs = val
	} else {
		rhs = val
	}
	if name == "extra" {
		lhs, rhs = NormalizeName(lhs), NormalizeName(rhs)
	}
	switch c.op {
	case "in":
		return strings.Contains(rhs, lhs), nil
	case "not in":
		return !strings.Contains(rhs, lhs), nil
	}
	// As packaging: a version comparison when the quoted side reads as
	// a specifier and the other as a version, else one of strings.
	if res, ok := specContains(c.op, rhs, lhs); ok {
		return res, nil
	}
	switch c.op {
	case "==":
		return lhs == rhs, nil
	case "!=":
		return lhs != rhs, nil
	case "<":
		return lhs < rhs, nil
	case "<=":
		return lhs <= rhs, nil
	case ">":
		return lhs > rhs, nil
	case ">=":
		return lhs >= rhs, nil
	}
	return false, fmt.Errorf("%q %s %q compares no versions", lhs, c.op, rhs)
}

// markerEnvScript prints the interpreter's marker environment as
// packaging's default_environment() computes it.
const markerEnvScript = `import json, os, platform, sys
def v(i):
    s = "%d.%d.%d" % (i.major, i.minor, i.micro)
    if i.releaselevel != "final":
        s += i.releaselevel[0] + str(i.serial)
    return s
print(json.dumps({"implementation_name": sys.implementation.name,
 "implementation_version": v(sys.implementation.version), "os_name": os.name,
 "platform_machine": platform.machine(), "platform_release": platform.release(),
 "platform_system": platform.system(), "platform_version": platform.version(),
 "python_full_version": platform.python_version(),
 "platform_python_implementation": platform.python_implementation(),
 "python_version": ".".join(platform.python_version_tuple()[:2]), "sys_platform": sys.platform}))`

type envKey struct{ path, version string }

// markerEnvs remembers each interpreter's marker environment
// (map[string]string) by path and version: it never changes for one
// executable, and asking costs a Python start.
var markerEnvs sync.Map

// markerEnv is the interpreter's marker environment, with extra "" as pip
// evaluates a lock's top-level lines.
func (t Tools) markerEnv(py Python) (map[string]string, error) {
	key := envKey{py.Path, py.Version}
	if v, ok := markerEnvs.Load(key); ok {
		return v.(map[string]string), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py.Path, "-I", "-c", markerEnvScript)
	cmd.Env = t.env()
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s cannot tell its environment markers: %v", py.Path, err)
	}
	env := map[string]string{}
	if err := json.Unmarshal(out, &env); err != nil || env["python_version"] == "" {
		return nil, fmt.Errorf("%s does not answer like Python: %q", py.Path, strings.TrimSpace(string(out)))
	}
	env["extra"] = ""
	markerEnvs.Store(key, env)
	return env, nil
}

// tagsScript prints the wheel tags the interpreter's pip accepts, most
// specific first.
const tagsScript = `from pip._vendor.packaging import tags
print("\n".join(str(t) for t in tags.sys_tags()))`

// wheelTags remembers each interpreter's supported wheel tags
// (map[string]bool) by path and version.
var wheelTags sync.Map

// supportedTags are the wheel tags the interpreter accepts, for checking
// a wheel pip left before it fills a folder every script shares.
func (t Tools) supportedTags(ctx context.Context, py Python) (map[string]bool, error) {
	key := envKey{py.Path, py.Version}
	if v, ok := wheelTags.Load(key); ok {
		return v.(map[string]bool), nil
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py.Path, "-I", "-c", tagsScript)
	cmd.Env = t.env()
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s cannot list the wheel tags it accepts: %v", py.Path, err)
	}
	set := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		set[l] = true
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("%s lists no wheel tags", py.Path)
	}
	wheelTags.Store(key, set)
	return set, nil
}
