package deps_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/deps"
	"github.com/millrun/millrun/engine/deps/depstest"
)

// A cached run costs one stat per package: the price every job with
// dependencies pays before it starts.
func BenchmarkCachedInstall(b *testing.B) {
	root := b.TempDir()
	py := deps.Python{Path: "/usr/bin/python3", Version: "3.11.2"}
	var lines []string
	for i := range 20 {
		name := fmt.Sprintf("pkg%02d==1.0", i)
		lines = append(lines, name)
		dir := filepath.Join(root, "python_3_11", name)
		os.MkdirAll(dir, 0o700)
		os.WriteFile(filepath.Join(dir, ".millrun-verified"), nil, 0o600)
	}
	lock := deps.ParseLock("# py: 3.11\n" + strings.Join(lines, "\n"))
	cache := deps.NewCache(root, deps.Tools{})
	b.ResetTimer()
	for b.Loop() {
		if _, err := cache.Install(context.Background(), py, lock, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// bulky is a package of n modules of some size, like a mid-sized
// library.
func bulky(name string, n int) depstest.Dist {
	extra := map[string]string{}
	mod := strings.ReplaceAll(name, "-", "_")
	for i := range n {
		var b strings.Builder
		for j := range 40 {
			fmt.Fprintf(&b, "def f%d(x):\n    return [i * x for i in range(%d)]\n\n", j, j)
		}
		extra[fmt.Sprintf("%s/m%03d.py", mod, i)] = b.String()
	}
	return depstest.Dist{Name: name, Version: "1.0", Extra: extra}
}

// TestTimings compares the cache's first install with pip by hand and
// prints the figures (DEPS_TIMINGS=1; not run by default).
func TestTimings(t *testing.T) {
	if os.Getenv("DEPS_TIMINGS") == "" {
		t.Skip("set DEPS_TIMINGS=1")
	}
	py := python3(t)
	var dists []depstest.Dist
	var pins []string
	for i := range 5 {
		name := fmt.Sprintf("bulk%d", i)
		dists = append(dists, bulky(name, 60))
		pins = append(pins, name+"==1.0")
	}
	ix := depstest.Serve(t, dists...)
	tools := toolsFor(t, ix.URL)
	pip := func(args ...string) time.Duration {
		start := time.Now()
		cmd := exec.Command(py.Path, append([]string{"-m", "pip", "install", "-q"}, args...)...)
		cmd.Env = tools.Env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return time.Since(start)
	}
	byHand := pip(append([]string{"--no-deps", "--target", tempDir(t)}, pins...)...)
	byHandNoCompile := pip(append([]string{"--no-deps", "--no-compile", "--target", tempDir(t)}, pins...)...)
	one := pip("--no-deps", "--target", tempDir(t), pins[0])
	oneNoCompile := pip("--no-deps", "--no-compile", "--target", tempDir(t), pins[0])

	lock := deps.ParseLock("# py: " + py.Minor() + "\n" + strings.Join(pins, "\n"))
	cache := deps.NewCache(tempDir(t), tools)
	start := time.Now()
	paths, err := cache.Install(context.Background(), py, lock, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := time.Since(start)
	start = time.Now()
	for range 1000 {
		cache.Install(context.Background(), py, lock, nil)
	}
	cached := time.Since(start) / 1000

	imp := func() time.Duration {
		start := time.Now()
		importFrom(t, py, paths, "import importlib\nfor i in range(5):\n    for m in range(60):\n        importlib.import_module('bulk%d.m%03d' % (i, m))")
		return time.Since(start)
	}
	firstImport, secondImport := imp(), imp()
	t.Logf("5 packages × 60 modules:\n"+
		"  pip by hand, one process:            %v (--no-compile: %v)\n"+
		"  pip by hand, one package:            %v (--no-compile: %v)\n"+
		"  Cache.Install first (pip wheel+unpack): %v\n"+
		"  Cache.Install cached:                %v\n"+
		"  importing all 300 modules: first %v (writes .pyc), then %v",
		byHand, byHandNoCompile, one, oneNoCompile, first, cached, firstImport, secondImport)
}
