package npm

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/deps/npm/npmtest"
)

// npm is part of what millrun needs (build/setup.sh installs it): a
// machine without it must fail these tests, not skip them.
func npmPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("npm")
	if err != nil {
		t.Fatal("npm is not installed: build/setup.sh test installs it")
	}
	return p
}

var testPackages = []npmtest.Package{
	{Name: "left", Version: "1.0.0"},
	{Name: "left", Version: "1.1.0"},
	{Name: "left", Version: "1.2.0"},
	{Name: "right", Version: "2.0.0", Deps: map[string]string{"left": "^1.1.0"}},
	{Name: "right", Version: "2.1.0", Deps: map[string]string{"left": "^1.1.0"}},
	{Name: "@acme/util", Version: "0.3.0", Deps: map[string]string{"left": "1.0.0"}},
}

func newCache(t *testing.T, reg *npmtest.Registry, root string) *Cache {
	t.Helper()
	env := append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, reg.Env(t.TempDir())...)
	return &Cache{Root: root, NPM: npmPath(t), Env: env}
}

func readVersion(t *testing.T, nm, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(nm, name, "package.json"))
	if err != nil {
		t.Fatalf("%s is not installed: %v", name, err)
	}
	var v struct{ Version string }
	_ = jsonUnmarshal(b, &v)
	return v.Version
}

// Resolution without a lock: the imports' package.json is installed, its
// exact versions read back into a Windmill lock, the install kept as that
// lock's; the same imports again make no network call, even in a new
// process (the resolution is remembered on disk).
func TestNpmResolveThenRunFromCache(t *testing.T) {
	reg := npmtest.New(t, testPackages...)
	root := t.TempDir()
	c := newCache(t, reg, root)
	var log strings.Builder
	deps := []Dep{{"right", "latest"}, {"@acme/util", "0.3.0"}}
	start := time.Now()
	lock, nm, err := c.Resolve(context.Background(), deps, ToolNPM, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	t.Logf("resolve + install: %v", time.Since(start))
	if !strings.HasPrefix(lock.String(), PackageJSON(deps)+"\n//bun.lock\n{\n  \"lockfileVersion\": 1,") {
		t.Errorf("lock:\n%s", lock)
	}
	for _, want := range []string{
		`"right": ["right@2.1.0", "", { "dependencies": { "left": "^1.1.0" } }, "` + reg.Integrity("right", "2.1.0") + `"],`,
		`"@acme/util": ["@acme/util@0.3.0", "", { "dependencies": { "left": "1.0.0" } }, "` + reg.Integrity("@acme/util", "0.3.0") + `"],`,
		`["left@1.2.0", "", {}, "` + reg.Integrity("left", "1.2.0") + `"],`,
		`["left@1.0.0", "", {}, "` + reg.Integrity("left", "1.0.0") + `"],`,
		"      \"dependencies\": {\n        \"right\": \"latest\",\n        \"@acme/util\": \"0.3.0\",\n      },",
	} {
		if !strings.Contains(lock.String(), want) {
			t.Errorf("lock lacks %s:\n%s", want, lock)
		}
	}
	// Every package of the lock is where the lock says, at its version
	// (left twice: one hoisted, one nested).
	bl, err := parseBunLock(lock.LockText)
	if err != nil || len(bl.packages) != 4 {
		t.Fatalf("bun.lock: %v %v", bl, err)
	}
	for _, p := range bl.packages {
		dir := filepath.Join(nm, strings.Join(p.path, "/node_modules/"))
		if got := readVersion(t, filepath.Dir(dir), filepath.Base(dir)); got != p.version {
			t.Errorf("%s: installed %s, locked %s", p.key, got, p.version)
		}
	}
	if v := lock.Versions(); v["right"] != "2.1.0" || v["@acme/util"] != "0.3.0" {
		t.Errorf("Versions: %v", v)
	}
	// The lock parses back as it was made, and names the same folder.
	again, err := ParseLock(lock.String())
	if err != nil || again.Hash() != lock.Hash() {
		t.Fatalf("reparse: %v", err)
	}
	if got, ok := c.Cached(again); !ok || got != nm {
		t.Errorf("Cached: %q %v", got, ok)
	}

	// Elsewhere (another data folder, another machine) the same lock
	// installs the same tree, through npm ci.
	fresh := newCache(t, reg, t.TempDir())
	nm3, err := fresh.Install(context.Background(), again, ToolNPM, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range bl.packages {
		dir := filepath.Join(nm3, strings.Join(p.path, "/node_modules/"))
		if got := readVersion(t, filepath.Dir(dir), filepath.Base(dir)); got != p.version {
			t.Errorf("elsewhere %s: installed %s, locked %s", p.key, got, p.version)
		}
	}

	reg.Stop()
	hits := reg.Hits("")
	c2 := newCache(t, reg, root) // a new process on the same data folder
	start = time.Now()
	l2, nm2, err := c2.Resolve(context.Background(), deps, ToolNPM, nil)
	if err != nil || l2.String() != lock.String() || nm2 != nm {
		t.Fatalf("second resolve: %v", err)
	}
	if _, err := c2.Install(context.Background(), again, ToolNPM, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("cached resolve + install: %v", time.Since(start))
	if reg.Hits("") != hits {
		t.Error("a cached run reached the registry")
	}
}

// Two first runs of the same imports at once resolve once and get the
// same lock.
func TestNpmConcurrentResolveOnce(t *testing.T) {
	reg := npmtest.New(t, testPackages...)
	c := newCache(t, reg, t.TempDir())
	release := reg.Hold()
	deps := []Dep{{"right", "latest"}}
	var wg sync.WaitGroup
	locks := make([]Lock, 2)
	nms := make([]string, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			locks[i], nms[i], errs[i] = c.Resolve(context.Background(), deps, ToolNPM, nil)
		}()
		if i == 0 {
			<-reg.Held()
		}
	}
	time.Sleep(200 * time.Millisecond)
	release()
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil || nms[i] == "" || locks[i].String() != locks[0].String() || nms[i] != nms[0] {
			t.Fatalf("resolve %d: %q %v", i, nms[i], errs[i])
		}
	}
	if n := reg.TarballHits("right"); n != 1 {
		t.Errorf("right fetched %d times", n)
	}
}

// A lock pushed by wmill sync (made by Bun, exact versions and
// integrity) installs those versions under npm, not the newest ones its
// ranges allow.
func TestNpmInstallsPushedLockExactly(t *testing.T) {
	reg := npmtest.New(t, testPackages...)
	c := newCache(t, reg, t.TempDir())
	lock := pushedLock(reg)
	nm, err := c.Install(context.Background(), lock, ToolNPM, nil)
	if err != nil {
		t.Fatal(err)
	}
	if readVersion(t, nm, "right") != "2.0.0" || readVersion(t, nm, "left") != "1.1.0" {
		t.Errorf("installed right %s, left %s: want the locked 2.0.0 and 1.1.0", readVersion(t, nm, "right"), readVersion(t, nm, "left"))
	}
	if _, err := os.Stat(filepath.Join(c.Dir(lock), marker)); err != nil {
		t.Error("no completion marker")
	}
	if lock.String() != pushedLock(reg).String() {
		t.Error("installing changed the lock")
	}
}

// pushedLock is an older lock: right 2.0.0 and left 1.1.0, where the
// ranges (^2.0.0, ^1.1.0) would now take 2.1.0 and 1.2.0.
func pushedLock(reg *npmtest.Registry) Lock {
	s := `{
  "dependencies": {
    "right": "^2.0.0"
  }
}
//bun.lock
{
  "lockfileVersion": 1,
  "workspaces": {
    "": {
      "dependencies": {
        "right": "^2.0.0",
      },
    },
  },
  "packages": {
    "left": ["left@1.1.0", "", {}, "` + reg.Integrity("left", "1.1.0") + `"],

    "right": ["right@2.0.0", "", { "dependencies": { "left": "^1.1.0" } }, "` + reg.Integrity("right", "2.0.0") + `"],
  }
}
`
	l, err := ParseLock(s)
	if err != nil {
		panic(err)
	}
	return l
}

// Two jobs needing the same new lock at once: one install, the other
// waits for it; each tarball is fetched once.
func TestNpmConcurrentFirstRunsInstallOnce(t *testing.T) {
	reg := npmtest.New(t, testPackages...)
	c := newCache(t, reg, t.TempDir())
	lock := pushedLock(reg)
	release := reg.Hold()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	nms := make([]string, 2)
	wg.Add(1)
	go func() { defer wg.Done(); nms[0], errs[0] = c.Install(context.Background(), lock, ToolNPM, nil) }()
	select {
	case <-reg.Held():
	case <-time.After(30 * time.Second):
		t.Fatal("the install never fetched a tarball")
	}
	wg.Add(1)
	go func() { defer wg.Done(); nms[1], errs[1] = c.Install(context.Background(), lock, ToolNPM, nil) }()
	time.Sleep(300 * time.Millisecond)
	release()
	wg.Wait()
	for i, err := range errs {
		if err != nil || nms[i] == "" || nms[i] != nms[0] {
			t.Fatalf("install %d: %q %v", i, nms[i], err)
		}
	}
	if n := reg.TarballHits("left") + reg.TarballHits("right"); n != 2 {
		t.Errorf("%d tarball fetches, want 2 (one install)", n)
	}
}

// Offline with an empty cache: the error says which package and which
// registry, in a few seconds rather than after npm's minute of retries;
// the same resolution is not retried at once.
func TestNpmOfflineEmptyCache(t *testing.T) {
	reg := npmtest.New(t, testPackages...)
	c := newCache(t, reg, t.TempDir())
	lock := pushedLock(reg)
	reg.Stop()
	start := time.Now()
	_, err := c.Install(context.Background(), lock, ToolNPM, nil)
	want := "offline: right@2.0.0 is not in the cache and the registry " + reg.URL + " cannot be reached"
	var e *Error
	if !errors.As(err, &e) || e.Kind != ErrOffline || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("took %v", d)
	}
	if _, ok := c.Cached(lock); ok {
		t.Error("a failed install is in the cache")
	}
	if left, _ := filepath.Glob(filepath.Join(c.Root, "npm", ".tmp-*")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	_, _, err = c.Resolve(context.Background(), []Dep{{"left", "latest"}}, ToolNPM, nil)
	if !errors.As(err, &e) || e.Kind != ErrOffline || !strings.HasPrefix(err.Error(), "offline: left@latest is not in the cache") {
		t.Fatalf("resolve: %v", err)
	}
	start = time.Now()
	_, _, err2 := c.Resolve(context.Background(), []Dep{{"left", "latest"}}, ToolNPM, nil)
	if err2 == nil || err2.Error() != err.Error() || time.Since(start) > 100*time.Millisecond {
		t.Errorf("a recent offline resolution was tried again: %v", err2)
	}
}

func TestNpmNotFound(t *testing.T) {
	reg := npmtest.New(t, testPackages...)
	c := newCache(t, reg, t.TempDir())
	_, _, err := c.Resolve(context.Background(), []Dep{{"nope", "latest"}}, ToolNPM, nil)
	var e *Error
	if !errors.As(err, &e) || e.Kind != ErrNotFound || err.Error() != "npm: the registry "+reg.URL+" has no package nope" {
		t.Fatalf("got %v", err)
	}
	_, _, err = c.Resolve(context.Background(), []Dep{{"left", "9.9.9"}}, ToolNPM, nil)
	if !errors.As(err, &e) || e.Kind != ErrNotFound || err.Error() != "npm: the registry "+reg.URL+" has no version of left@9.9.9" {
		t.Fatalf("got %v", err)
	}
}

// A cancelled install (the job timed out) leaves nothing that a later
// run would use, and the next run installs.
func TestNpmCancelledInstallLeavesNothing(t *testing.T) {
	reg := npmtest.New(t, testPackages...)
	c := newCache(t, reg, t.TempDir())
	lock := pushedLock(reg)
	release := reg.Hold()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := c.Install(ctx, lock, ToolNPM, nil); done <- err }()
	<-reg.Held()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	release()
	if _, ok := c.Cached(lock); ok {
		t.Fatal("a cancelled install is in the cache")
	}
	if left, _ := filepath.Glob(filepath.Join(c.Root, "npm", ".tmp-*")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	if _, err := c.Install(context.Background(), lock, ToolNPM, nil); err != nil {
		t.Fatal(err)
	}
}

// What a crash leaves (a temporary folder; a lock folder without its
// marker) is never used, and the next install replaces it.
func TestNpmLeftoversAreNotUsed(t *testing.T) {
	reg := npmtest.New(t, testPackages...)
	c := newCache(t, reg, t.TempDir())
	lock := pushedLock(reg)
	tmp := filepath.Join(c.Root, "npm", ".tmp-"+lock.Hash()+"-123")
	half := filepath.Join(c.Dir(lock), "node_modules", "right")
	for _, d := range []string{tmp, half} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := c.Cached(lock); ok {
		t.Fatal("a folder without its marker counts as installed")
	}
	nm, err := c.Install(context.Background(), lock, ToolNPM, nil)
	if err != nil {
		t.Fatal(err)
	}
	if readVersion(t, nm, "right") != "2.0.0" {
		t.Error("not reinstalled")
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Error("the crashed install's folder is still there")
	}
}

func TestNpmMissingTool(t *testing.T) {
	c := &Cache{Root: t.TempDir()}
	_, err := c.Install(context.Background(), pushedLock(npmtest.New(t)), ToolNPM, nil)
	if err == nil || err.Error() != "npm is not installed: it installs the script's npm packages" {
		t.Errorf("got %v", err)
	}
	if nm, err := c.Install(context.Background(), NewLock(PackageJSON(nil), ""), ToolNPM, nil); nm != "" || err != nil {
		t.Errorf("empty lock: %q %v", nm, err)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
