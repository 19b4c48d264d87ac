package npm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// marker is written into an install's folder last, before the folder is
// renamed into place: a folder without it is never used.
const marker = ".millrun-complete"

// Tool is what installs packages.
type Tool int

const (
	// ToolNPM installs with npm (jobs on Node).
	ToolNPM Tool = iota
	// ToolBun installs with `bun install` (jobs on Bun).
	ToolBun
)

func (t Tool) String() string {
	if t == ToolBun {
		return "bun"
	}
	return "npm"
}

// Cache holds installed locks, one folder per lock:
// <Root>/npm/<lock hash>/node_modules.
//
// The cache belongs to one data folder and so to one millrun process:
// in-process coordination is enough. A lock's folder only ever appears by
// the rename of a finished install, so a job never sees half of one, and
// an install killed with millrun leaves a temporary folder that the next
// install of that lock removes.
type Cache struct {
	// Root is the cache folder; its npm/ folder is created 0700.
	Root string
	// NPM and Bun are the tools' executables ("" when not installed).
	NPM, Bun string
	// Env is the tools' environment: PATH, HOME (for ~/.npmrc) and the
	// user's npm_config_* and proxy variables, so a company mirror and
	// its credentials work as they do for npm itself.
	Env []string

	mu      sync.Mutex
	flights map[string]*flight
	offline map[string]offlineNote // by install or resolution: a recent failure to reach the registry
}

type flight struct {
	done chan struct{}
	err  error
}

type offlineNote struct {
	err   error
	until time.Time
}

// offlineMemory is how long an install or resolution that found the
// registry unreachable is not tried again: each try costs npm's start
// and its retries, on every run of a script while offline.
const offlineMemory = time.Minute

func (c *Cache) npmRoot() string { return filepath.Join(c.Root, "npm") }

// Dir is the lock's folder (holding node_modules once installed).
func (c *Cache) Dir(l Lock) string { return filepath.Join(c.npmRoot(), l.Hash()) }

// Cached returns the lock's node_modules when it is installed. It costs
// one stat and makes no network call.
func (c *Cache) Cached(l Lock) (nodeModules string, ok bool) {
	dir := c.Dir(l)
	if complete(dir) {
		return filepath.Join(dir, "node_modules"), true
	}
	return "", false
}

func complete(dir string) bool {
	_, err := os.Lstat(filepath.Join(dir, marker))
	return err == nil
}

// Install makes sure the lock is installed and returns its node_modules
// ("" for a lock without packages). A lock is installed once however many
// jobs ask for it at the same time; an installed lock costs a stat.
func (c *Cache) Install(ctx context.Context, l Lock, tool Tool, log io.Writer) (string, error) {
	if l.Empty() {
		return "", nil
	}
	if nm, ok := c.Cached(l); ok {
		return nm, nil
	}
	if log == nil {
		log = io.Discard
	}
	key := "install:" + l.Hash()
	if err := c.recentlyOffline(key); err != nil {
		return "", err
	}
	err := c.once(ctx, key, func() error {
		if _, ok := c.Cached(l); ok {
			return nil
		}
		return c.install(ctx, l, tool, log)
	})
	if err != nil {
		c.noteOffline(key, err)
		return "", err
	}
	nm, _ := c.Cached(l)
	return nm, nil
}

// once runs fn for key unless a run is under way, whose outcome it then
// shares. When the job that ran it was cancelled, a waiting job that is
// still alive runs it itself.
func (c *Cache) once(ctx context.Context, key string, fn func() error) error {
	for {
		c.mu.Lock()
		if c.flights == nil {
			c.flights = map[string]*flight{}
		}
		f, running := c.flights[key]
		if !running {
			f = &flight{done: make(chan struct{})}
			c.flights[key] = f
		}
		c.mu.Unlock()
		if !running {
			f.err = fn()
			c.mu.Lock()
			delete(c.flights, key)
			c.mu.Unlock()
			close(f.done)
			return f.err
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if isCancel(f.err) && ctx.Err() == nil {
			continue
		}
		return f.err
	}
}

func isCancel(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// begin makes a temporary folder for an install of name, after removing
// what an earlier install of it left (killed with millrun): no other
// install of name runs, this process holding the data folder.
func (c *Cache) begin(name string) (string, error) {
	root := c.npmRoot()
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", fmt.Errorf("cannot create the package cache: %w", err)
	}
	if old, _ := filepath.Glob(filepath.Join(root, ".tmp-"+name+"-*")); len(old) > 0 {
		for _, o := range old {
			os.RemoveAll(o)
		}
	}
	return os.MkdirTemp(root, ".tmp-"+name+"-")
}

// commit marks tmp complete and renames it to the lock's folder. A
// folder already there without a marker (left by something else than
// an install) is replaced; a complete one wins and tmp is dropped.
func (c *Cache) commit(tmp string, l Lock) error {
	if err := os.WriteFile(filepath.Join(tmp, marker), nil, 0o600); err != nil {
		return err
	}
	dir := c.Dir(l)
	if complete(dir) {
		os.RemoveAll(tmp)
		return nil
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("cannot move the install into the cache: %w", err)
	}
	return nil
}

func (c *Cache) install(ctx context.Context, l Lock, tool Tool, log io.Writer) error {
	tmp, err := c.begin(l.Hash())
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.WriteFile(filepath.Join(tmp, "package.json"), []byte(l.PackageJSON), 0o600); err != nil {
		return err
	}
	deps := exactDeps(l)
	start := time.Now()
	var args []string
	switch tool {
	case ToolBun:
		if l.LockText != "" {
			name, data := "bun.lock", []byte(l.LockText)
			if l.Binary {
				if data, err = base64.StdEncoding.DecodeString(strings.TrimSpace(l.LockText)); err != nil {
					return &Error{Kind: ErrLock, Msg: "the lock's bun.lockb is not base64: " + err.Error()}
				}
				name = "bun.lockb"
			}
			if err := os.WriteFile(filepath.Join(tmp, name), data, 0o600); err != nil {
				return err
			}
		}
		// Bun runs no dependency's install scripts unless trusted, which
		// is what --ignore-scripts gives npm below.
		args = []string{"install", "--no-save"}
		fmt.Fprintf(log, "bun: installing the lock's packages (%s) into the cache, once\n", summary(deps))
	default:
		args = []string{"install"}
		if l.LockText != "" && !l.Binary {
			pl, err := lockForNPM(l)
			if err == nil {
				err = os.WriteFile(filepath.Join(tmp, "package-lock.json"), pl, 0o600)
			}
			if err != nil {
				return err
			}
			// A locked install: the lock's exact versions and integrity,
			// tarballs npm already has taken from its own cache.
			args = []string{"ci", "--prefer-offline"}
			fmt.Fprintf(log, "npm: installing the lock's packages (%s) into the cache, once\n", summary(deps))
		} else {
			fmt.Fprintf(log, "npm: the lock has no bun.lock npm can read: installing package.json's ranges (%s) into the cache, once\n", summary(deps))
		}
	}
	if err := c.run(ctx, tool, tmp, args, deps); err != nil {
		return err
	}
	if err := c.commit(tmp, l); err != nil {
		return err
	}
	ok = true
	fmt.Fprintf(log, "%s: installed in %.1fs\n", tool, time.Since(start).Seconds())
	if u := unchecked(l); len(u) > 0 {
		// npm and Bun check each tarball against the lock's integrity,
		// and install one the lock gives none for as it comes.
		fmt.Fprintf(log, "%s: installed WITHOUT an integrity check (the lock has none for them): %s\n", tool, strings.Join(u, ", "))
	}
	return nil
}

// unchecked lists the packages of the lock's bun.lock that have no
// integrity, as name@version.
func unchecked(l Lock) []string {
	if l.LockText == "" || l.Binary {
		return nil
	}
	b, err := parseBunLock(l.LockText)
	if err != nil {
		return nil
	}
	var out []string
	for _, p := range b.packages {
		if p.integrity == "" {
			out = append(out, p.name+"@"+p.version)
		}
	}
	return out
}

// exactDeps are the lock's direct dependencies at the versions its
// bun.lock pins (package.json's ranges where it pins none): what an
// error names.
func exactDeps(l Lock) []Dep {
	deps, _ := l.Deps()
	versions := l.Versions()
	for i, d := range deps {
		if v, ok := versions[d.Name]; ok {
			deps[i].Version = v
		}
	}
	return deps
}

func lockForNPM(l Lock) ([]byte, error) {
	b, err := parseBunLock(l.LockText)
	if err != nil {
		if errors.Is(err, errUnsupportedLock) {
			return nil, &Error{Kind: ErrLock, Msg: "the lock's bun.lock has packages from git, a tarball URL or a folder, or a newer format; npm cannot install it as locked"}
		}
		return nil, &Error{Kind: ErrLock, Msg: err.Error()}
	}
	return b.packageLock(l.PackageJSON)
}

func summary(deps []Dep) string {
	var names []string
	for i, d := range deps {
		if i == 4 {
			names = append(names, fmt.Sprintf("and %d more", len(deps)-4))
			break
		}
		names = append(names, d.String())
	}
	return strings.Join(names, ", ")
}

// Resolve makes the lock for deps (no lock yet: the script's imports,
// "latest" where unpinned) by installing them, then reads the exact
// versions back into a bun.lock, and leaves that install in the cache as
// the lock's. The result is remembered by package.json, so the next run
// of the same imports makes no network call either.
func (c *Cache) Resolve(ctx context.Context, deps []Dep, tool Tool, log io.Writer) (Lock, string, error) {
	for _, d := range deps {
		if err := d.Check(); err != nil {
			return Lock{}, "", err
		}
	}
	pj := PackageJSON(deps)
	if len(deps) == 0 {
		return NewLock(pj, ""), "", nil
	}
	if log == nil {
		log = io.Discard
	}
	sum := sha256.Sum256([]byte(pj))
	key := hex.EncodeToString(sum[:16])
	memo := filepath.Join(c.npmRoot(), "resolved", key+".lock")
	if l, nm, ok := c.remembered(memo); ok {
		return l, nm, nil
	}
	if err := c.recentlyOffline("resolve:" + key); err != nil {
		return Lock{}, "", err
	}
	err := c.once(ctx, "resolve:"+key, func() error {
		if _, _, ok := c.remembered(memo); ok {
			return nil
		}
		l, err := c.resolve(ctx, pj, deps, key, tool, log)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(memo), 0o700); err != nil {
			return err
		}
		return writeAtomic(memo, []byte(l.String()))
	})
	if err != nil {
		c.noteOffline("resolve:"+key, err)
		return Lock{}, "", err
	}
	// Whoever resolved it, the outcome is on disk.
	l, nm, ok := c.remembered(memo)
	if !ok {
		return Lock{}, "", &Error{Kind: ErrTool, Msg: "the resolved packages are no longer in the cache"}
	}
	return l, nm, nil
}

// Resolved returns an earlier resolution of deps whose install is in
// place, without a network call.
func (c *Cache) Resolved(deps []Dep) (Lock, string, bool) {
	sum := sha256.Sum256([]byte(PackageJSON(deps)))
	return c.remembered(filepath.Join(c.npmRoot(), "resolved", hex.EncodeToString(sum[:16])+".lock"))
}

func (c *Cache) recentlyOffline(key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.offline[key]; ok && time.Now().Before(n.until) {
		return n.err
	}
	return nil
}

func (c *Cache) noteOffline(key string, err error) {
	var e *Error
	if !errors.As(err, &e) || e.Kind != ErrOffline {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.offline == nil {
		c.offline = map[string]offlineNote{}
	}
	c.offline[key] = offlineNote{err: err, until: time.Now().Add(offlineMemory)}
}

// remembered returns an earlier resolution whose install is in place.
func (c *Cache) remembered(memo string) (Lock, string, bool) {
	b, err := os.ReadFile(memo)
	if err != nil {
		return Lock{}, "", false
	}
	l, err := ParseLock(string(b))
	if err != nil {
		return Lock{}, "", false
	}
	nm, ok := c.Cached(l)
	return l, nm, ok
}

func (c *Cache) resolve(ctx context.Context, pj string, deps []Dep, key string, tool Tool, log io.Writer) (Lock, error) {
	tmp, err := c.begin("resolve-" + key)
	if err != nil {
		return Lock{}, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.WriteFile(filepath.Join(tmp, "package.json"), []byte(pj), 0o600); err != nil {
		return Lock{}, err
	}
	start := time.Now()
	fmt.Fprintf(log, "%s: no lock yet: resolving %s (once for these imports)\n", tool, summary(deps))
	var text string
	switch tool {
	case ToolBun:
		if err := c.run(ctx, tool, tmp, []string{"install", "--save-text-lockfile"}, deps); err != nil {
			return Lock{}, err
		}
		b, err := os.ReadFile(filepath.Join(tmp, "bun.lock"))
		if err != nil {
			return Lock{}, &Error{Kind: ErrTool, Msg: "bun install wrote no bun.lock"}
		}
		text = string(b)
	default:
		if err := c.run(ctx, tool, tmp, []string{"install"}, deps); err != nil {
			return Lock{}, err
		}
		b, err := os.ReadFile(filepath.Join(tmp, "package-lock.json"))
		if err != nil {
			return Lock{}, &Error{Kind: ErrTool, Msg: "npm install wrote no package-lock.json (is package-lock disabled in your npm config?)"}
		}
		if text, err = bunLockFromNPM(pj, b); err != nil {
			return Lock{}, &Error{Kind: ErrLock, Msg: err.Error()}
		}
	}
	l := NewLock(pj, text)
	if err := c.commit(tmp, l); err != nil {
		return Lock{}, err
	}
	ok = true
	fmt.Fprintf(log, "%s: resolved and installed in %.1fs\n", tool, time.Since(start).Seconds())
	return l, nil
}

func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-memo-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// run runs npm or bun in dir; its output is kept for the error.
func (c *Cache) run(ctx context.Context, tool Tool, dir string, args []string, deps []Dep) error {
	exe := c.NPM
	if tool == ToolBun {
		exe = c.Bun
	} else {
		// Install scripts are code from the internet run as the user;
		// Bun (Windmill's default) runs none but a few trusted ones, and
		// so millrun runs none with npm either. Retries are kept short:
		// a job is waiting, and an unreachable registry must say so in
		// seconds rather than after npm's minute of retries.
		args = append(args, "--no-audit", "--no-fund", "--ignore-scripts", "--no-update-notifier",
			"--fetch-retries=1", "--fetch-retry-mintimeout=1000", "--fetch-retry-maxtimeout=5000")
	}
	if exe == "" {
		return &Error{Kind: ErrTool, Msg: tool.String() + " is not installed: it installs the script's npm packages"}
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Dir = dir
	cmd.Env = c.toolEnv(exe)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	setProcessGroup(cmd)
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return c.classify(tool, out.String(), err, deps)
	}
	return nil
}

// toolEnv is Env with the tool's own folder first on PATH: npm is a Node
// script that finds node there, and the node chosen in Settings need not
// be the one on PATH.
func (c *Cache) toolEnv(exe string) []string {
	env := make([]string, 0, len(c.Env)+1)
	dir := filepath.Dir(exe)
	hasPath := false
	for _, kv := range c.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.EqualFold(k, "PATH") {
			kv = k + "=" + dir + string(os.PathListSeparator) + v
			hasPath = true
		}
		env = append(env, kv)
	}
	if !hasPath {
		env = append(env, "PATH="+dir)
	}
	return env
}
