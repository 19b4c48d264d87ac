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
// renamed into place: a folder without it is never used. Its name
// changed when folders began to be checked against their pins: one made
// before may hold another line's wheel, or nothing, so it counts as
// unfinished and is installed again (and removed by Sweep).
const marker = ".millrun-verified"

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
	// Compile byte-compiles each package once it is installed, in the
	// background, so that the run that installed it does not wait; Close
	// stops it. Jobs run with PYTHONDONTWRITEBYTECODE, so a module not
	// compiled here is compiled from source by every run that imports it:
	// for real packages, about half of their import time.
	Compile bool

	// clearing excludes Clear while installs write into the cache.
	clearing sync.RWMutex
	mu       sync.Mutex
	flights  map[string]*flight

	compiling sync.WaitGroup
	stop      context.CancelFunc // ends the compiles; set with bg
	bg        context.Context
	closed    bool
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
// is installed, for the job's PYTHONPATH; ok is false when any is missing
// or the lock cannot be installed (Install says why). Lines whose
// environment markers exclude this interpreter have no folder. It costs
// one stat per package and makes no network call.
func (c *Cache) Paths(py Python, lock Lock) (paths []string, ok bool) {
	items, err := c.plan(py, lock)
	if err != nil {
		return nil, false
	}
	ok = true
	for _, it := range items {
		if !complete(it.path) {
			ok = false
		}
		paths = append(paths, it.path)
	}
	return paths, ok
}

// plan is the lock's pins that apply to this interpreter, each with its
// folder, in lock order and without repeats. A line whose marker is
// false here gets no folder (pip would skip it; a folder would say
// "installed" to every other lock pinning the same version). Two lines
// for one project that both apply are refused: only one can be
// imported, and which one would depend on the path's order.
func (c *Cache) plan(py Python, lock Lock) ([]item, error) {
	if err := lock.Err(); err != nil {
		return nil, err
	}
	dir := c.versionDir(py)
	var (
		env   map[string]string
		items []item
	)
	byName := map[string]item{}
	for _, p := range lock.pins {
		if p.req.marker != nil {
			if env == nil {
				var err error
				if env, err = c.Tools.markerEnv(py); err != nil {
					return nil, &Error{Kind: ErrTool, Package: p.Line, Msg: err.Error()}
				}
			}
			ok, err := p.req.marker.eval(env)
			if err != nil {
				return nil, &Error{Kind: ErrInvalid, Package: p.Line, Msg: fmt.Sprintf("the lock's line %d %+q cannot be installed: its marker: %v", p.lines[0]+1, p.Line, err)}
			}
			if !ok {
				continue
			}
		}
		it := item{path: filepath.Join(dir, p.folder()), pin: p}
		if prev, seen := byName[p.Name]; seen {
			if prev.path == it.path {
				continue
			}
			return nil, &Error{Kind: ErrInvalid, Package: p.Line, Msg: fmt.Sprintf("the lock's lines %d %+q and %d %+q both apply to Python %s: a script can import one %s only; keep one, or give each a marker", prev.pin.lines[0]+1, prev.pin.Line, p.lines[0]+1, p.Line, py.Version, p.Name)}
		}
		byName[p.Name] = it
		items = append(items, it)
	}
	return items, nil
}

func complete(path string) bool {
	_, err := os.Lstat(filepath.Join(path, marker))
	return err == nil
}

// Install makes sure every package of the lock is in the cache and
// returns their folders in lock order, to be listed in PYTHONPATH before
// the interpreter's own site-packages. Cached packages cost a stat each
// and no network call; missing ones are installed, each package once
// however many jobs ask for it at the same time.
//
// With uv each package is a `uv pip install --no-deps --target` of its
// own, several at once. With pip, one `pip wheel --no-deps` fetches (or
// builds) all the missing packages' wheels and each is unpacked into its
// folder here: a pip process per package would cost its start (about
// 0.3 s) per package.
//
// When some installs fail the others are kept, and the error is an
// *Error per failed package (joined with errors.Join): FailedFor tells
// whether wmill alone failed.
func (c *Cache) Install(ctx context.Context, py Python, lock Lock, log io.Writer) ([]string, error) {
	items, err := c.plan(py, lock)
	if err != nil {
		return nil, err
	}
	var paths []string
	ok := true
	for _, it := range items {
		paths = append(paths, it.path)
		ok = ok && complete(it.path)
	}
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
	var lmu sync.Mutex
	logf := func(format string, args ...any) {
		lmu.Lock()
		defer lmu.Unlock()
		fmt.Fprintf(log, format, args...)
	}
	var (
		mine    []item
		waits   []item
		flights = map[string]*flight{}
	)
	for _, it := range items {
		if complete(it.path) {
			continue
		}
		f, leader := c.claim(it.path)
		flights[it.path] = f
		if leader {
			mine = append(mine, it)
		} else {
			waits = append(waits, it)
		}
	}
	if n := len(mine) + len(waits); n < len(paths) {
		logf("%d of %d packages are in the cache\n", len(paths)-n, len(paths))
	}
	lockNotes(lock, items, logf)
	errs := c.installAll(ctx, py, mine, logf)
	for k, it := range mine {
		c.finish(it.path, flights[it.path], errs[k])
	}
	for _, it := range waits {
		f := flights[it.path]
		var err error
		select {
		case <-f.done:
			err = f.err
		case <-ctx.Done():
			err = ctx.Err()
		}
		if isCancel(err) && ctx.Err() == nil {
			// The job that was installing it ended; this one goes on.
			err = c.installOnce(ctx, py, it, logf)
		}
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return paths, nil
}

type item struct {
	path string
	pin  Pin
}

func isCancel(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// claim registers an install of path; leader is false when one is
// already under way, and f is then the one to wait for.
func (c *Cache) claim(path string) (f *flight, leader bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.flights == nil {
		c.flights = map[string]*flight{}
	}
	if f, ok := c.flights[path]; ok {
		return f, false
	}
	f = &flight{done: make(chan struct{})}
	c.flights[path] = f
	return f, true
}

func (c *Cache) finish(path string, f *flight, err error) {
	c.mu.Lock()
	delete(c.flights, path)
	c.mu.Unlock()
	f.err = err
	close(f.done)
}

// installOnce installs one package as the leader, or waits for the
// leader, retrying when the leader was cancelled.
func (c *Cache) installOnce(ctx context.Context, py Python, it item, logf func(string, ...any)) error {
	for {
		f, leader := c.claim(it.path)
		if leader {
			err := c.installAll(ctx, py, []item{it}, logf)[0]
			c.finish(it.path, f, err)
			return err
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

// lockNotes says in the install log what of the lock is not applied as
// written: index options, and, in a lock with hashes, the packages
// installed without a check.
func lockNotes(lock Lock, items []item, logf func(string, ...any)) {
	for _, s := range lock.skipped {
		logf("the lock's %s is not used: packages come from the index your pip/uv configuration names\n", s)
	}
	var hashed int
	var unhashed []string
	for _, it := range items {
		if len(it.pin.Hashes) > 0 {
			hashed++
		} else {
			unhashed = append(unhashed, it.pin.Line)
		}
	}
	if hashed > 0 {
		logf("%d packages are installed only if what is downloaded matches the lock's --hash values\n", hashed)
		if len(unhashed) > 0 {
			logf("NOT checked against any hash (the lock has no --hash for them): %s\n", strings.Join(unhashed, ", "))
		}
	}
}

// installAll installs the items this goroutine leads; one error (or nil)
// per item.
func (c *Cache) installAll(ctx context.Context, py Python, items []item, logf func(string, ...any)) []error {
	errs := make([]error, len(items))
	var todo []int
	for k, it := range items {
		if !complete(it.path) { // finished meanwhile by a leader now gone
			todo = append(todo, k)
		}
	}
	if len(todo) == 0 {
		return errs
	}
	if c.Tools.UV == "" {
		// `name==version` lines go in one pip run, those with hashes in
		// another (pip checks hashes for every line of a run or none).
		// plan left at most one line per project, so each wheel pip
		// leaves has one line to fill. Other lines (URLs, ranges) are
		// each a pip install of their own: what they fetch is known only
		// once fetched.
		var rest []int
		for _, hashed := range []bool{false, true} {
			var batch []item
			var ks []int
			for _, k := range todo {
				p := items[k].pin
				if p.Version != "" && (len(p.Hashes) > 0) == hashed {
					batch, ks = append(batch, items[k]), append(ks, k)
				}
			}
			if len(batch) == 0 {
				continue
			}
			for j, err := range c.installWheels(ctx, py, batch, logf) {
				errs[ks[j]] = err
			}
		}
		for _, k := range todo {
			if items[k].pin.Version == "" {
				rest = append(rest, k)
			}
		}
		todo = rest
	}
	par := c.Parallel
	if par <= 0 {
		par = 4
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, par)
	for _, k := range todo {
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
			errs[k] = c.install(ctx, py, items[k], logf)
		}()
	}
	wg.Wait()
	return errs
}

// prepare clears what an interrupted install of the item left and makes
// its temporary folder.
func (c *Cache) prepare(it item) (tmp string, err error) {
	dir, base := filepath.Split(it.path)
	c.sweep(dir, base)
	if _, err := os.Lstat(it.path); err == nil {
		if err := removeAll(it.path); err != nil {
			return "", err
		}
	}
	return os.MkdirTemp(dir, tmpPrefix+base+"-")
}

// publish marks a finished install complete and moves it into place in
// one rename: a crash or kill -9 at any point before leaves either
// nothing at path or the whole package, and what it leaves behind (a
// temporary folder, a folder without marker) is removed by the next
// install of that package or by Sweep.
func (c *Cache) publish(tmp string, it item, synced bool) error {
	text := it.pin.req.install() + "\n"
	for _, h := range it.pin.Hashes {
		text += "--hash=" + h + "\n"
	}
	if err := os.WriteFile(filepath.Join(tmp, marker), []byte(text), 0o600); err != nil {
		return err
	}
	if !synced {
		// What the rename publishes must be on disk first, or a power
		// cut could leave a marked folder with empty files.
		syncTree(tmp)
	}
	if err := os.Rename(tmp, it.path); err != nil {
		if complete(it.path) {
			return nil
		}
		return err
	}
	syncDir(filepath.Dir(it.path))
	return nil
}

// requirementsFile writes hash-pinned lines for `-r`: hashes can be
// given to pip and uv only in a file. Every line is built from a pin
// parseRequirement accepted, so it is one requirement and its hashes.
func requirementsFile(dir string, pins []Pin) (string, error) {
	var b strings.Builder
	for _, p := range pins {
		b.WriteString(p.req.install())
		for _, h := range p.Hashes {
			b.WriteString(" --hash=" + h)
		}
		b.WriteByte('\n')
	}
	f := filepath.Join(dir, "hashed-requirements.txt")
	return f, os.WriteFile(f, []byte(b.String()), 0o600)
}

// install installs one package with the tool itself (uv; pip for a line
// that pins no version), then checks that what it installed is the
// package the line names before the folder is published.
func (c *Cache) install(ctx context.Context, py Python, it item, logf func(string, ...any)) error {
	tmp, err := c.prepare(it)
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	start := time.Now()
	logf("installing %s\n", it.pin.Line)
	t := c.Tools
	var argv []string
	if t.UV != "" {
		argv = []string{t.UV, "pip", "install", "--no-deps", "--link-mode=copy", "--target", tmp, "--python", py.Path}
	} else {
		// --no-compile, as uv: compileLater compiles once the package
		// is in place, without the waiting job.
		argv = []string{py.Path, "-m", "pip", "install", "--no-deps", "--no-compile", "--target", tmp}
	}
	if len(it.pin.Hashes) > 0 {
		reqs, err := os.MkdirTemp(filepath.Dir(it.path), tmpPrefix+"reqs-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(reqs)
		f, err := requirementsFile(reqs, []Pin{it.pin})
		if err != nil {
			return err
		}
		argv = append(argv, "--require-hashes", "-r", f)
	} else {
		// `--`: whatever the line says, it is not an option.
		argv = append(argv, "--", it.pin.req.install())
	}
	out, err := t.run(ctx, argv, nil)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return t.failure(ctx, out, err, it.pin.Line, nil)
	}
	d, err := installedMetadata(tmp)
	if err == nil {
		err = d.check(it.pin)
	}
	if err != nil {
		return &Error{Kind: ErrTool, Package: it.pin.Line, Index: t.IndexURL(), Msg: fmt.Sprintf("%s installed something else than %s (%v): it is not used", t.name(), it.pin.Line, err), Tail: tail(out, 10)}
	}
	if err := c.publish(tmp, it, false); err != nil {
		return err
	}
	c.compileLater(py, []string{it.path})
	logf("installed %s in %s\n", it.pin.Line, time.Since(start).Round(time.Millisecond))
	return nil
}

// installWheels installs `name==version` packages with one `pip wheel
// --no-deps` for all, then unpacks each wheel into its folder. When pip
// fails for a batch of several, each package is tried alone, so the ones
// that can be installed are, and each failure names its package.
func (c *Cache) installWheels(ctx context.Context, py Python, items []item, logf func(string, ...any)) []error {
	errs := make([]error, len(items))
	t := c.Tools
	wheels, err := os.MkdirTemp(filepath.Dir(items[0].path), tmpPrefix+"wheels-")
	if err != nil {
		for k := range errs {
			errs[k] = err
		}
		return errs
	}
	defer os.RemoveAll(wheels)
	start := time.Now()
	var lines []string
	var pins []Pin
	for _, it := range items {
		lines, pins = append(lines, it.pin.Line), append(pins, it.pin)
	}
	logf("fetching %s\n", summary(lines))
	argv := []string{py.Path, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", filepath.Join(wheels, "w")}
	if len(pins[0].Hashes) > 0 {
		f, err := requirementsFile(wheels, pins)
		if err != nil {
			for k := range errs {
				errs[k] = err
			}
			return errs
		}
		argv = append(argv, "--require-hashes", "-r", f)
	} else {
		argv = append(argv, "--")
		for _, p := range pins {
			argv = append(argv, p.req.install())
		}
	}
	out, err := t.run(ctx, argv, func(line string) {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "Downloading") || strings.HasPrefix(l, "Building wheel") || strings.HasPrefix(l, "Using cached") {
			logf("  %s\n", l)
		}
	})
	if err != nil {
		if ctx.Err() != nil {
			for k := range errs {
				errs[k] = ctx.Err()
			}
			return errs
		}
		if len(items) == 1 {
			errs[0] = t.failure(ctx, out, err, items[0].pin.Line, nil)
			return errs
		}
		for k, it := range items {
			errs[k] = c.installWheels(ctx, py, []item{it}, logf)[0]
		}
		return errs
	}
	errs = c.unpackAll(ctx, py, items, wheelFiles(filepath.Join(wheels, "w")), out)
	logf("installed %s in %s\n", summary(lines), time.Since(start).Round(time.Millisecond))
	return errs
}

// wheelFiles maps the normalized project names of the wheels in dir to
// their files.
func wheelFiles(dir string) map[string][]string {
	byName := map[string][]string{}
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			if n := wheelName(e.Name()); n != "" {
				byName[n] = append(byName[n], filepath.Join(dir, e.Name()))
			}
		}
	}
	return byName
}

// unpackAll unpacks each item's wheel (byName: wheelFiles) into its
// folder and publishes it; one error (or nil) per item. Only a wheel
// whose file name and metadata say the pin's name and version, and
// whose tags this interpreter accepts, fills the folder: other locks
// pinning the same `name==version` use it as it is. out is pip's output,
// for the error of a package it fetched no wheel for.
func (c *Cache) unpackAll(ctx context.Context, py Python, items []item, byName map[string][]string, out string) []error {
	errs := make([]error, len(items))
	if len(items) == 0 {
		return errs
	}
	tmps := make([]string, len(items))
	tags, terr := c.Tools.supportedTags(ctx, py)
	// Several at once: creating files is most of an unpack (about 0.1 ms
	// each on the development VM), and each package is its own folder.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for k, it := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			fail := func(msg string) {
				errs[k] = &Error{Kind: ErrTool, Package: it.pin.Line, Index: c.Tools.IndexURL(), Msg: msg, Tail: tail(out, 10)}
			}
			whls := byName[it.pin.Name]
			switch {
			case terr != nil:
				fail(terr.Error())
				return
			case len(whls) == 0:
				fail(fmt.Sprintf("pip fetched no wheel for %s", it.pin.Line))
				return
			case len(whls) > 1:
				fail(fmt.Sprintf("pip fetched %d wheels for %s, not one", len(whls), it.pin.Line))
				return
			}
			if err := checkWheel(whls[0], it.pin, tags); err != nil {
				fail(fmt.Sprintf("pip's wheel for %s is not that package: %v; it is not used", it.pin.Line, err))
				return
			}
			tmp, err := c.prepare(it)
			if err != nil {
				errs[k] = err
				return
			}
			tmps[k] = tmp
			errs[k] = unpackWheel(whls[0], tmp, py.Path)
		}()
	}
	wg.Wait()
	for _, tmp := range tmps {
		if tmp != "" {
			defer os.RemoveAll(tmp) // a no-op once published
		}
	}
	syncTree(tmps...)
	var published []string
	for k, it := range items {
		if errs[k] != nil || tmps[k] == "" {
			continue
		}
		if errs[k] = c.publish(tmps[k], it, true); errs[k] == nil {
			published = append(published, it.path)
		}
	}
	c.compileLater(py, published)
	return errs
}

// compileLater byte-compiles published package folders in the
// background, with the interpreter that will import them, one process
// for all, then makes them read-only (at once when nothing compiles). A
// module that does not compile (a Python 2 leftover, a template) is left
// as it is, as pip leaves it; the import says why. The .pyc files appear
// by atomic renames, so a job importing meanwhile reads either none or a
// whole one.
func (c *Cache) compileLater(py Python, dirs []string) {
	if len(dirs) == 0 {
		return
	}
	c.mu.Lock()
	if !c.Compile || c.closed {
		c.mu.Unlock()
		readOnly(dirs...)
		return
	}
	if c.bg == nil {
		c.bg, c.stop = context.WithCancel(context.Background())
	}
	ctx := c.bg
	c.compiling.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.compiling.Done()
		c.clearing.RLock()
		defer c.clearing.RUnlock()
		c.Tools.run(ctx, append([]string{py.Path, "-m", "compileall", "-q", "-q"}, dirs...), nil)
		// A .pyc torn by a power cut with a valid header fails the
		// import instead of falling back to the source.
		syncTree(dirs...)
		readOnly(dirs...)
	}()
}

// readOnly takes the write bits off everything in installed package
// folders (directories 0500, files 0400, or 0500 when executable). The
// folders are shared by every job pinning the package and sit ahead of
// the standard library on those jobs' path, as Windmill puts them: a job
// that writes there by accident (a file beside __file__, a module saved
// into the first folder on sys.path) then fails instead of changing the
// jobs after it. A job that means to can still chmod them back: it runs
// as the user, who owns them.
func readOnly(dirs ...string) {
	if runtime.GOOS == "windows" {
		return // a read-only attribute there would keep Clear from removing them
	}
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink != 0 { // Chmod would follow it
				return nil
			}
			if fi, err := d.Info(); err == nil {
				// The owner's read and execute bits only: a wider mode
				// is tightened, to 0600, at the next start.
				os.Chmod(path, fi.Mode().Perm()&0o500)
			}
			return nil
		})
	}
}

// removeAll is os.RemoveAll for trees that may hold read-only folders
// (readOnly), whose entries cannot be removed until they are writable.
func removeAll(path string) error {
	filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(path)
}

// Close stops the compiles under way and waits for them to end; those
// packages run from source for the modules left uncompiled. Installs
// after Close are not compiled.
func (c *Cache) Close() {
	c.mu.Lock()
	c.closed = true
	if c.stop != nil {
		c.stop()
	}
	c.mu.Unlock()
	c.compiling.Wait()
}

// Resolve is Tools.Resolve for a caller that installs the lock next, as
// a run or a dependency job does, and installs its packages while at
// it. With pip, one `pip wheel` resolves and fetches every wheel, which
// are unpacked into the cache: resolving, then installing would start pip
// twice (its start alone is about 0.3 s) and fetch every wheel twice.
// uv starts in milliseconds, so with uv it only resolves. A package left
// uninstalled (one another job is installing, a wheel that cannot be
// unpacked, a package pinned by URL) is left to Install, which says why
// it cannot be had.
func (c *Cache) Resolve(ctx context.Context, py Python, reqs []string, log io.Writer) (Lock, error) {
	if c.Tools.UV != "" || len(reqs) == 0 {
		return c.Tools.Resolve(ctx, py, reqs, log)
	}
	if log == nil {
		log = io.Discard
	}
	c.clearing.RLock()
	defer c.clearing.RUnlock()
	dir := c.versionDir(py)
	if err := c.mkdirs(dir); err != nil {
		return Lock{}, err
	}
	wheels, err := os.MkdirTemp(dir, tmpPrefix+"wheels-")
	if err != nil {
		return Lock{}, err
	}
	defer os.RemoveAll(wheels)
	lock, err := c.Tools.resolve(ctx, py, reqs, wheels, log)
	if err != nil {
		return Lock{}, err
	}
	items, err := c.plan(py, lock)
	if err != nil {
		return Lock{}, err
	}
	start := time.Now()
	byName := wheelFiles(wheels)
	var (
		mine    []item
		flights []*flight
		lines   []string
	)
	for _, it := range items {
		// Only a `name==version` pin takes a wheel of this run: resolve
		// pinned every package fetched from a URL by that URL.
		if it.pin.Version == "" || len(byName[it.pin.Name]) == 0 || complete(it.path) {
			continue
		}
		if f, leader := c.claim(it.path); leader {
			mine, flights, lines = append(mine, it), append(flights, f), append(lines, it.pin.Line)
		}
	}
	errs := c.unpackAll(ctx, py, mine, byName, "")
	for k, it := range mine {
		c.finish(it.path, flights[k], errs[k])
	}
	if len(mine) > 0 && errors.Join(errs...) == nil {
		fmt.Fprintf(log, "installed %s in %s\n", summary(lines), time.Since(start).Round(time.Millisecond))
	}
	return lock, nil
}

// sweep removes what an interrupted install of base left in dir.
func (c *Cache) sweep(dir, base string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, tmpPrefix+base+"-") {
			removeAll(filepath.Join(dir, n))
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
			removeAll(a)
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
				removeAll(p)
			} else if st, err := os.Lstat(p); err == nil && st.Mode().Perm()&0o222 != 0 {
				// Its compile was cut short (millrun stopped or was
				// killed), or an older millrun installed it.
				readOnly(p)
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
	return removeAll(aside)
}
