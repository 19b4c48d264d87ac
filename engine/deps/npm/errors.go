package npm

import (
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// ErrorKind sorts failures by what the user can do about them.
type ErrorKind int

const (
	// ErrOffline: the registry cannot be reached and the cache does not
	// have the lock installed.
	ErrOffline ErrorKind = iota + 1
	// ErrNotFound: the registry has no such package, or no version
	// matching the pin.
	ErrNotFound
	// ErrLock: the lock cannot be read or installed as locked.
	ErrLock
	// ErrTool: npm or bun is missing or failed some other way; Tail says
	// how.
	ErrTool
	// ErrInvalid: an import names a package npm would not take, or pins
	// something else than a version of the registry.
	ErrInvalid
)

// Error is a package failure worded for the script's author; Error() is
// what the job's log shows.
type Error struct {
	Kind ErrorKind
	// Package is "name@version" when one package is concerned.
	Package string
	// Registry is the registry in use, without credentials.
	Registry string
	Msg      string
	// Tail is the end of the tool's output, for ErrTool.
	Tail string
}

func (e *Error) Error() string {
	if e.Tail == "" {
		return e.Msg
	}
	return e.Msg + "\n" + e.Tail
}

var (
	// npm: "request to http://host/left failed, reason: connect ECONNREFUSED"
	failedRequest = regexp.MustCompile(`request to (\S+) failed`)
	// npm: "404 Not Found - GET http://host/nope - Not found";
	// bun: "error: GET http://host/nope - 404"
	notFound = regexp.MustCompile(`404 Not Found - GET (\S+)|GET (\S+) - 404`)
	// npm: "No matching version found for left@9.9.9."
	noVersion = regexp.MustCompile(`No matching version found for (\S+?)\.?\s`)
)

var offlineCodes = []string{"ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNRESET", "ENETUNREACH", "EHOSTUNREACH", "ConnectionRefused", "ConnectionClosed"}

// classify turns a failed install's output into an Error.
func (c *Cache) classify(tool Tool, out string, runErr error, deps []Dep) error {
	pkgOf := func(u string) string {
		name := packageFromURL(u)
		for _, d := range deps {
			if d.Name == name {
				return d.String()
			}
		}
		if name != "" {
			return name
		}
		if len(deps) > 0 {
			return deps[0].String()
		}
		return "a package"
	}
	if m := notFound.FindStringSubmatch(out); m != nil {
		reg := c.registry(tool)
		p := pkgOf(m[1] + m[2])
		return &Error{Kind: ErrNotFound, Package: p, Registry: reg,
			Msg: fmt.Sprintf("%s: the registry %s has no package %s", tool, reg, nameOf(p))}
	}
	if m := noVersion.FindStringSubmatch(out + " "); m != nil {
		reg := c.registry(tool)
		return &Error{Kind: ErrNotFound, Package: m[1], Registry: reg,
			Msg: fmt.Sprintf("%s: the registry %s has no version of %s", tool, reg, m[1])}
	}
	for _, code := range offlineCodes {
		if strings.Contains(out, code) {
			reg := c.registry(tool)
			p := "a package"
			if m := failedRequest.FindStringSubmatch(out); m != nil {
				p = pkgOf(m[1])
			} else if len(deps) > 0 {
				p = deps[0].String()
			}
			return &Error{Kind: ErrOffline, Package: p, Registry: reg,
				Msg: fmt.Sprintf("offline: %s is not in the cache and the registry %s cannot be reached", p, reg)}
		}
	}
	return &Error{Kind: ErrTool, Msg: fmt.Sprintf("%s install failed (%v)", tool, runErr), Tail: tail(out, 20)}
}

// nameOf is the name in "name@version" (scoped names start with '@').
func nameOf(p string) string {
	if strings.HasPrefix(p, "@") {
		name, _, _ := strings.Cut(p[1:], "@")
		return "@" + name
	}
	name, _, _ := strings.Cut(p, "@")
	return name
}

// packageFromURL reads the package name from a packument or tarball URL
// ("http://r/@s%2fx", "http://r/x/-/x-1.0.0.tgz").
func packageFromURL(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return ""
	}
	p := strings.TrimPrefix(pu.Path, "/")
	if d, err := url.PathUnescape(p); err == nil {
		p = d
	}
	p, _, _ = strings.Cut(p, "/-/")
	parts := strings.Split(p, "/")
	if len(parts) >= 2 && strings.HasPrefix(parts[len(parts)-2], "@") {
		return parts[len(parts)-2] + "/" + parts[len(parts)-1]
	}
	return parts[len(parts)-1]
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// registry is the registry the tool uses, as its config says (npm config
// get registry reads .npmrc and npm_config_registry), without
// credentials. It is only asked when something failed.
func (c *Cache) registry(tool Tool) string {
	reg := ""
	if c.NPM != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, c.NPM, "config", "get", "registry")
		cmd.Env = c.toolEnv(c.NPM)
		if out, err := cmd.Output(); err == nil {
			reg = strings.TrimSpace(string(out))
		}
	}
	if reg == "" {
		for _, kv := range c.Env {
			if k, v, ok := strings.Cut(kv, "="); ok && strings.EqualFold(k, "npm_config_registry") {
				reg = v
			}
		}
	}
	if reg == "" {
		reg = "https://registry.npmjs.org/"
	}
	if u, err := url.Parse(reg); err == nil && u.User != nil {
		u.User = nil
		reg = u.String()
	}
	return reg
}
