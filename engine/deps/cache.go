package deps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// marker is written into a package's folder last, before the folder is
// renamed into place: a folder without it is never used.
const marker = ".millrun-complete"

// tmpPrefix starts the name of a folder being installed.
const tmpPrefix = ".tmp-"

// Cache holds installed packages, one folder per interpreter minor
// version and locked requirement: <Root>/python_3_11/requests==2.32.3/.
//
// The cache belongs to one data folder, and so to one millrun process
// (engine/instance holds the data folder's lock): in-process
// coordination is then enough, and Clear or a crash cleanup never pulls a
// folder from under another process's job. Two millruns on two data
// folders share nothing, which costs disk but never correctness. Even if
// two processes did share it, a package folder only ever appears by an
// atomic rename of a finished install, so neither could see half a
// package; at worst both would install it.
type Cache struct {
	// Root is the cache folder, created 0700 (packages may embed
	// credentials from a private index in their metadata, and jobs of
	// this user are the only readers).
	Root string
	// Tools installs packages.
	Tools Tools
	// Parallel bounds concurrent installs per Install call; 0 means 4.
	// Each pip install is a Python process of its own.
	Parallel int

	// clearing excludes Clear while installs write into the cache.
	clearing sync.RWMutex
	mu       sync.Mutex
	flights  map[string]*flight
}

type flight struct {
	done chan struct{}
	err  error
}

// NewCache returns a cache in root, installing with tools.
func NewCache(root string, tools Tools) *Cache {
	return &Cache{Root: root, Tools: tools}
}

func (c *Cache) versionDir(py Python) string {
	return filepath.Join(c.Root, "python_"+strings.ReplaceAll(py.Minor(), ".", "_"))
}

// Paths returns the lock's package folders, in lock order, when every one
// is installed, for the job's PYTHONPATH; ok is false when any is missing.
// It costs one stat per package and makes no network call.
func (c *Cache) Paths(py Python, lock Lock) (paths []string, ok bool) {
	dir := c.versionDir(py)
	ok = true
	for _, p := range lock.pins {
		path := filepath.Join(dir, p.folder())
		if !complete(path) {
			ok = false
		}
		paths = append(paths, path)
	}
	return paths, ok
}

func complete(path string) bool {
	_, err := os.Lstat(filepath.Join(path, marker))
	return err == nil
}

// Install makes sure every package of the lock is in the cache and
// returns their folders in lock order, to be listed in PYTHONPATH before
// the interpreter's own site-packages. Cached packages cost a stat each
// and no network call; missing ones are installed in parallel, each
// package once however many jobs ask for it at the same time.
//
// When some installs fail the others are kept, and the error is an
// *Error per failed package (joined with errors.Join): FailedFor tells
// whether wmill alone failed.
func (c *Cache) Install(ctx context.Context, py Python, lock Lock, log io.Writer) ([]string, error) {
	paths, ok := c.Paths(py, lock)
	if ok {
		return paths, nil
	}
	if log == nil {
		log = io.Discard
	}
	c.clearing.RLock()
	defer c.clearing.RUnlock()
	dir := c.versionDir(py)
	if err := c.mkdirs(dir); err != nil {
		return nil, err
	}
	var missing []int
	for i := range paths {
		if !complete(paths[i]) {
			missing = append(missing, i)
		}
	}
	if len(missing) < len(paths) {
		fmt.Fprintf(log, "%d of %d packages are in the cache\n", len(paths)-len(missing), len(paths))
	}
	par := c.Parallel
	if par <= 0 {
		par = 4
	}
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, par)
		errs = make([]error, len(missing))
		lmu  sync.Mutex
	)
	logf := func(format string, args ...any) {
		lmu.Lock()
		defer lmu.Unlock()
		fmt.Fprintf(log, format, args...)
	}
	pins := lock.pins
	for k, i := range missing {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[k] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			errs[k] = c.installOnce(ctx, py, paths[i], pins[i], logf)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return paths, nil
}

// installOnce installs a pin unless another goroutine is already doing
// so, in which case it waits for that one. A waiter whose leader was
// cancelled (its job ended) tries again itself.
func (c *Cache) installOnce(ctx context.Context, py Python, path string, pin Pin, logf func(string, ...any)) error {
	for {
		c.mu.Lock()
		if c.flights == nil {
			c.flights = map[string]*flight{}
		}
		if f, ok := c.flights[path]; ok {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			if f.err != nil && (errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded)) && ctx.Err() == nil {
				continue
			}
			return f.err
		}
		f := &flight{done: make(chan struct{})}
		c.flights[path] = f
		c.mu.Unlock()

		f.err = c.install(ctx, py, path, pin, logf)

		c.mu.Lock()
		delete(c.flights, path)
		c.mu.Unlock()
		close(f.done)
		return f.err
	}
}

// install puts one package into path: into a temporary sibling first,
// then the completion marker, then one rename. A crash or kill -9 at any
// point leaves either nothing at path or the whole package; what it
// leaves behind (a temporary folder, a folder without marker) is removed
// by the next install of that package.
func (c *Cache) install(ctx context.Context, py Python, path string, pin Pin, logf func(string, ...any)) error {
	if complete(path) {
		return nil
	}
	dir, base := filepath.Split(path)
	c.sweep(dir, base)
	if _, err := os.Lstat(path); err == nil {
		if err := os.RemoveAll(path); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp(dir, tmpPrefix+base+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	start := time.Now()
	logf("installing %s\n", pin.Line)
	t := c.Tools
	var argv []string
	if t.UV != "" {
		argv = []string{t.UV, "pip", "install", "--no-deps", "--link-mode=copy", "--target", tmp, "--python", py.Path, pin.Line}
	} else {
		// --no-compile: byte-compiling every module at install time costs
		// more than the first import compiling the modules it uses (into
		// this folder, which the job's user owns), and uv does not
		// compile either.
		argv = []string{py.Path, "-m", "pip", "install", "--no-deps", "--no-compile", "--target", tmp, pin.Line}
	}
	out, err := t.run(ctx, argv, nil)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return t.failure(ctx, out, err, pin.Line, nil)
	}
	if err := os.WriteFile(filepath.Join(tmp, marker), []byte(pin.Line+"\n"), 0o600); err != nil {
		return err
	}
	// What the rename publishes must be on disk first, or a power cut
	// could leave a marked folder with empty files.
	syncTree(tmp)
	if err := os.Rename(tmp, path); err != nil {
		if complete(path) {
			return nil
		}
		return err
	}
	syncDir(dir)
	logf("installed %s in %s\n", pin.Line, time.Since(start).Round(time.Millisecond))
	return nil
}

// sweep removes what an interrupted install of base left in dir.
func (c *Cache) sweep(dir, base string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, tmpPrefix+base+"-") {
			os.RemoveAll(filepath.Join(dir, n))
		}
	}
}

// Sweep removes every interrupted install (temporary folders, folders
// without a marker). Run it at start, before any install.
func (c *Cache) Sweep() error {
	c.clearing.Lock()
	defer c.clearing.Unlock()
	// A Clear interrupted after its rename left the old cache aside.
	if aside, _ := filepath.Glob(c.Root + ".clearing-*"); len(aside) > 0 {
		for _, a := range aside {
			os.RemoveAll(a)
		}
	}
	vers, err := os.ReadDir(c.Root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, v := range vers {
		if !v.IsDir() || !strings.HasPrefix(v.Name(), "python_") {
			continue
		}
		dir := filepath.Join(c.Root, v.Name())
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			if strings.HasPrefix(e.Name(), tmpPrefix) || !complete(p) {
				os.RemoveAll(p)
			}
		}
	}
	return nil
}

func (c *Cache) mkdirs(dir string) error {
	if err := os.MkdirAll(c.Root, 0o700); err != nil {
		return err
	}
	// MkdirAll leaves an existing folder's mode alone, and the umask may
	// have widened a new one.
	if runtime.GOOS != "windows" {
		if err := os.Chmod(c.Root, 0o700); err != nil {
			return err
		}
	}
	return os.MkdirAll(dir, 0o700)
}

// Size is the cache's size on disk in bytes, for Settings.
func (c *Cache) Size() (int64, error) {
	var n int64
	err := filepath.WalkDir(c.Root, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n, err
}

// Clear empties the cache, for Settings; the next run of each script
// installs what it needs again. It waits for installs in progress. The
// folder is first renamed aside, so a job starting meanwhile finds
// nothing rather than half a package.
func (c *Cache) Clear() error {
	c.clearing.Lock()
	defer c.clearing.Unlock()
	if _, err := os.Lstat(c.Root); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	aside := fmt.Sprintf("%s.clearing-%d", c.Root, time.Now().UnixNano())
	if err := os.Rename(c.Root, aside); err != nil {
		return err
	}
	return os.RemoveAll(aside)
}
