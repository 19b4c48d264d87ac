package deps

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"
)

// PyPI is the index pip and uv use when nothing else is configured.
const PyPI = "https://pypi.org/simple"

// Tools says how to run the packaging tools: uv when it is installed
// (fast), else the interpreter's own pip.
type Tools struct {
	// UV is uv's path; "" means pip (`python -m pip`).
	UV string
	// Env is the environment pip, uv and interpreter probes run with;
	// nil means this process's. It should be the user's own, not a
	// job's scrubbed one: the index (PIP_INDEX_URL, UV_INDEX_URL,
	// pip.conf found through HOME), proxies and certificates come from
	// it, so a company mirror works as it does in the user's shell.
	Env []string
}

// FindTools looks for uv on the environment's PATH (nil env: this
// process's).
func FindTools(env []string) Tools {
	t := Tools{Env: env}
	t.UV = t.lookPath("uv")
	return t
}

func (t Tools) env() []string {
	if t.Env == nil {
		return os.Environ()
	}
	return t.Env
}

func (t Tools) getenv(key string) string {
	env := t.env()
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && (k == key || runtime.GOOS == "windows" && strings.EqualFold(k, key)) {
			return v
		}
	}
	return ""
}

// lookPath finds an executable on the environment's PATH; "" if none.
func (t Tools) lookPath(name string) string {
	exts := []string{""}
	if runtime.GOOS == "windows" {
		exts = []string{".exe", ".bat", ".cmd", ""}
	}
	for _, dir := range filepath.SplitList(t.getenv("PATH")) {
		if dir == "" {
			continue
		}
		for _, ext := range exts {
			p := filepath.Join(dir, name+ext)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() && (runtime.GOOS == "windows" || fi.Mode()&0o111 != 0) {
				return p
			}
		}
	}
	return ""
}

func (t Tools) name() string {
	if t.UV != "" {
		return "uv"
	}
	return "pip"
}

// IndexURL is the index the tool in use will ask, as its configuration
// says (environment, then pip's config files; uv: UV_DEFAULT_INDEX or
// UV_INDEX_URL), with any credentials removed: it is for messages.
func (t Tools) IndexURL() string { return redact(t.indexURL()) }

func (t Tools) indexURL() string {
	if t.UV != "" {
		for _, k := range []string{"UV_DEFAULT_INDEX", "UV_INDEX_URL"} {
			if v := strings.TrimSpace(t.getenv(k)); v != "" {
				return v
			}
		}
		return PyPI
	}
	if v := strings.TrimSpace(t.getenv("PIP_INDEX_URL")); v != "" {
		return v
	}
	if v := t.pipConfig("index-url"); v != "" {
		return v
	}
	return PyPI
}

// pipConfig reads a key from pip's configuration files, in pip's order
// (global, user, then PIP_CONFIG_FILE; [install] over [global]), without
// running pip: `pip config get` costs a Python start.
func (t Tools) pipConfig(key string) string {
	envFile := t.getenv("PIP_CONFIG_FILE")
	if envFile == os.DevNull {
		return ""
	}
	home := t.getenv("HOME")
	if runtime.GOOS == "windows" {
		home = t.getenv("USERPROFILE")
	}
	var files []string
	switch runtime.GOOS {
	case "windows":
		files = append(files, filepath.Join(t.getenv("ProgramData"), "pip", "pip.ini"))
	case "darwin":
		files = append(files, "/Library/Application Support/pip/pip.conf")
	default:
		xdgDirs := t.getenv("XDG_CONFIG_DIRS")
		if xdgDirs == "" {
			xdgDirs = "/etc/xdg"
		}
		for _, d := range filepath.SplitList(xdgDirs) {
			files = append(files, filepath.Join(d, "pip", "pip.conf"))
		}
		files = append(files, "/etc/pip.conf")
	}
	envFileExists := false
	if envFile != "" {
		_, err := os.Stat(envFile)
		envFileExists = err == nil
	}
	if !envFileExists {
		switch runtime.GOOS {
		case "windows":
			files = append(files, filepath.Join(t.getenv("APPDATA"), "pip", "pip.ini"))
		case "darwin":
			files = append(files, filepath.Join(home, ".pip", "pip.conf"), filepath.Join(home, "Library", "Application Support", "pip", "pip.conf"))
		default:
			files = append(files, filepath.Join(home, ".pip", "pip.conf"))
		}
		if runtime.GOOS != "windows" {
			xdg := t.getenv("XDG_CONFIG_HOME")
			if xdg == "" {
				xdg = filepath.Join(home, ".config")
			}
			files = append(files, filepath.Join(xdg, "pip", "pip.conf"))
		}
	}
	if envFile != "" {
		files = append(files, envFile)
	}
	var val string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		g, i := iniValue(string(data), key)
		if i != "" {
			val = i
		} else if g != "" {
			val = g
		}
	}
	return val
}

// iniValue reads key (or its '_' spelling) from the [global] and
// [install] sections of a pip config file.
func iniValue(text, key string) (global, install string) {
	section := ""
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			section = strings.ToLower(strings.Trim(line, "[] "))
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			k, v, ok = strings.Cut(line, ":")
		}
		if !ok || strings.ReplaceAll(strings.TrimSpace(k), "_", "-") != key {
			continue
		}
		switch section {
		case "global":
			global = strings.TrimSpace(v)
		case "install":
			install = strings.TrimSpace(v)
		}
	}
	return global, install
}

// redact removes credentials from a URL: company mirrors often carry a
// token in it, and messages end up in job logs.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return u
	}
	p.User = nil
	return p.String()
}

// reachable says whether the index's host (or the proxy that would carry
// the request) accepts a TCP connection. pip reports an unreachable index
// as "no matching distribution" when it does not retry, so a failed
// resolve or install asks this before telling the user a package does
// not exist.
func (t Tools) reachable(ctx context.Context) bool {
	target := t.indexURL()
	if p := t.proxyFor(target); p != "" {
		target = p
	}
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return u != nil && u.Scheme == "file"
	}
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", host)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// proxyFor is the proxy pip would use for a URL, from the usual
// environment variables or pip's config; "" for none. Loopback is never
// proxied.
func (t Tools) proxyFor(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return ""
	}
	h := u.Hostname()
	if h == "localhost" || net.ParseIP(h) != nil && net.ParseIP(h).IsLoopback() {
		return ""
	}
	noProxy := t.getenv("NO_PROXY") + "," + t.getenv("no_proxy")
	for _, np := range strings.Split(noProxy, ",") {
		np = strings.TrimPrefix(strings.TrimSpace(np), ".")
		if np == "*" || np != "" && (h == np || strings.HasSuffix(h, "."+np)) {
			return ""
		}
	}
	var keys []string
	if u.Scheme == "https" {
		keys = []string{"HTTPS_PROXY", "https_proxy"}
	} else {
		keys = []string{"HTTP_PROXY", "http_proxy"}
	}
	for _, k := range append(keys, "ALL_PROXY", "all_proxy") {
		if v := t.getenv(k); v != "" {
			return v
		}
	}
	if t.UV == "" {
		return t.pipConfig("proxy")
	}
	return ""
}

// toolEnv is the tools' environment plus what keeps pip quiet and
// non-interactive, and off the user's own site-packages: --target and
// --user cannot be combined, and a require-virtualenv setting would
// refuse an install that touches no environment.
func (t Tools) toolEnv() []string {
	e := t.env()
	return append(e[:len(e):len(e)],
		"PIP_DISABLE_PIP_VERSION_CHECK=1",
		"PIP_NO_INPUT=1",
		"PIP_REQUIRE_VIRTUALENV=0",
		"PIP_USER=0",
		"PIP_ROOT_USER_ACTION=ignore",
		"PIP_NO_WARN_SCRIPT_LOCATION=1",
		"UV_NO_PROGRESS=1",
	)
}

// run runs a tool and returns its combined output; each output line also
// goes to progress (nil: nowhere). The process group is killed when ctx
// ends, so a cancelled dependency job leaves no build behind.
func (t Tools) run(ctx context.Context, argv []string, progress func(string)) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = t.toolEnv()
	setProcessGroup(cmd)
	cmd.WaitDelay = 5 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return "", err
	}
	var out strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			// Keep the output bounded: only its end is ever shown.
			if out.Len() > 4<<20 {
				s := out.String()
				out.Reset()
				out.WriteString(s[len(s)/2:])
			}
			out.WriteString(line)
			out.WriteByte('\n')
			if progress != nil {
				progress(line)
			}
		}
		io.Copy(io.Discard, pr)
	}()
	err := cmd.Wait()
	pw.Close()
	<-done
	if ctx.Err() != nil {
		return out.String(), ctx.Err()
	}
	return out.String(), err
}

var (
	pipNoMatch     = regexp.MustCompile(`No matching distribution found for (\S+)`)
	pipVersions    = regexp.MustCompile(`Could not find a version that satisfies the requirement (.+?) \(from versions: ([^)]*)\)`)
	pipOtherPython = regexp.MustCompile(`Ignored the following versions that require a different python version: (.*)`)
	pipCollecting  = regexp.MustCompile(`(?m)^Collecting (\S+)`)
	pipBuildFor    = regexp.MustCompile(`(?:Failed building wheel for|Failed to build) (\S+)`)
	uvNotFound     = regexp.MustCompile(`Because (\S+) was not found in the package registry`)
	uvNoVersion    = regexp.MustCompile(`there is no version of (\S+?)(?:,| and|\n|$)`)
	uvBuild        = regexp.MustCompile("Failed to (?:build|download and build)(?: `([^`]+)`|:\\s*`?([^`\\s]+))")
	noPip          = regexp.MustCompile(`No module named pip`)
)

var offlineMarks = []string{
	"NewConnectionError", "Failed to establish a new connection", "Name or service not known",
	"Temporary failure in name resolution", "nodename nor servname", "getaddrinfo failed",
	"ConnectTimeoutError", "Network is unreachable", "ProxyError", "Connection refused",
	"error sending request", "dns error", "tcp connect error", "failed to lookup address",
	"client error (Connect)", "operation timed out",
}

// failure turns a tool's failed output into an Error. what is the
// requirement being installed ("" when resolving); reqs is the resolve's
// input, for the offline message.
func (t Tools) failure(ctx context.Context, out string, runErr error, what string, reqs []string) error {
	idx := t.IndexURL()
	e := &Error{Index: idx, Package: what}
	offline := func() error {
		e.Kind = ErrOffline
		if what != "" {
			e.Msg = fmt.Sprintf("offline: %s is not in the cache and the index %s cannot be reached", what, idx)
		} else {
			e.Msg = fmt.Sprintf("offline: cannot resolve %s: the index %s cannot be reached", summary(reqs), idx)
		}
		return e
	}
	tool := t.name()
	switch {
	case noPip.MatchString(out):
		e.Kind = ErrTool
		e.Msg = "this Python has no pip: install pip for it (Debian: apt install python3-pip), or install uv"
		return e
	case strings.Contains(out, "ResolutionImpossible") || strings.Contains(out, "conflicting dependencies") ||
		(t.UV != "" && strings.Contains(out, "No solution found") && !uvNotFound.MatchString(out) && !uvNoVersion.MatchString(out)):
		e.Kind = ErrConflict
		e.Msg = "the requirements conflict: no set of versions satisfies them all"
		e.Tail = tail(out, 20)
		return e
	case pipBuildFor.MatchString(out) || uvBuild.MatchString(out) ||
		strings.Contains(out, "subprocess-exited-with-error") || strings.Contains(out, "metadata-generation-failed"):
		e.Kind = ErrBuild
		if e.Package == "" {
			if m := pipBuildFor.FindStringSubmatch(out); m != nil {
				e.Package = m[1]
			} else if m := uvBuild.FindStringSubmatch(out); m != nil {
				e.Package = m[1] + m[2]
			} else if ms := pipCollecting.FindAllStringSubmatch(out, -1); ms != nil {
				e.Package = ms[len(ms)-1][1]
			}
		}
		name := e.Package
		if name == "" {
			name = "a package"
		}
		e.Msg = fmt.Sprintf("%s failed to build from source; the end of its build log:", name)
		e.Tail = buildLog(out)
		return e
	}
	for _, m := range offlineMarks {
		if strings.Contains(out, m) {
			return offline()
		}
	}
	var missing, versions string
	if m := pipVersions.FindStringSubmatch(out); m != nil {
		missing, versions = m[1], strings.TrimSpace(m[2])
	} else if m := pipNoMatch.FindStringSubmatch(out); m != nil {
		missing = m[1]
	} else if m := uvNotFound.FindStringSubmatch(out); m != nil {
		missing = m[1]
	} else if m := uvNoVersion.FindStringSubmatch(out); m != nil {
		missing, versions = m[1], "?"
	}
	if missing != "" {
		if !t.reachable(ctx) {
			return offline()
		}
		e.Kind = ErrNotFound
		e.Package = missing
		name := missing
		if m := reqName.FindStringSubmatch(missing); m != nil {
			name = m[1]
		}
		if versions == "" || versions == "none" {
			e.Msg = fmt.Sprintf("no package named '%s' on the index %s: name it in #requirements:", name, idx)
		} else {
			e.Msg = fmt.Sprintf("no version of '%s' matches %s on the index %s", name, missing, idx)
			if versions != "?" {
				e.Msg += " (it has " + lastItems(versions, 8) + ")"
			}
		}
		if m := pipOtherPython.FindStringSubmatch(out); m != nil {
			e.Msg += "; some versions need another Python: " + strings.TrimSpace(m[1])
		}
		return e
	}
	e.Kind = ErrTool
	e.Msg = fmt.Sprintf("%s failed (%v)", tool, runErr)
	e.Tail = tail(out, 20)
	return e
}

// buildLog is the end of the failed build's own output: pip frames it
// between "[N lines of output]" and "[end of output]" and follows it
// with advice about pip itself, which says nothing about the package.
func buildLog(out string) string {
	end := strings.LastIndex(out, "[end of output]")
	if end < 0 {
		return tail(out, 25)
	}
	start := strings.LastIndex(out[:end], "lines of output]")
	if start < 0 {
		return tail(out, 25)
	}
	start += len("lines of output]")
	var lines []string
	for _, l := range strings.Split(out[start:end], "\n") {
		lines = append(lines, strings.TrimSpace(l))
	}
	return tail(strings.Join(lines, "\n"), 25)
}

func summary(reqs []string) string {
	if len(reqs) <= 4 {
		return strings.Join(reqs, ", ")
	}
	return strings.Join(reqs[:4], ", ") + fmt.Sprintf(" and %d more", len(reqs)-4)
}

func lastItems(list string, n int) string {
	items := strings.Split(list, ", ")
	if len(items) > n {
		return "…, " + strings.Join(items[len(items)-n:], ", ")
	}
	return list
}
