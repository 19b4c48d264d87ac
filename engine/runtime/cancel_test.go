//go:build linux || darwin

package runtime

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A run whose context is done before its process starts (a cancel or a
// timeout while the job was being prepared) starts nothing: not one line
// of the script runs, forked, spawned or on a warm worker, and a warm
// worker that was handed no job stays.
func TestNothingStartsOnceCancelled(t *testing.T) {
	t.Parallel()
	forked, spawned := newRunner(t, true), newRunner(t, false)
	bashForkReady(t, forked)
	waitForked(t, forked)
	_, pool := newWarmPool(t)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	// Cold scripts mark their first line; a warm worker imported its
	// script already, so there the job's own code is main.
	cold := map[string]func(mark string) string{
		Python: func(m string) string { return "open('" + m + "', 'w').close()\ndef main():\n    return 1\n" },
		Bash:   func(m string) string { return ": > '" + m + "'\n" },
		TypeScript: func(m string) string {
			return "import { writeFileSync } from 'node:fs'\nwriteFileSync('" + m + "', '')\nexport function main() { return 1 }\n"
		},
	}
	warm := map[string]string{
		Python:     "def main(m: str):\n    open(m, 'w').close()\n    return 1\n",
		TypeScript: "import { writeFileSync } from 'node:fs'\nexport function main(m: string) { writeFileSync(m, ''); return 1 }\n",
	}
	type mode struct {
		name string
		run  func(ctx context.Context, mark string) Outcome
	}
	coldOn := func(r *Runner, lang string) func(context.Context, string) Outcome {
		return func(ctx context.Context, mark string) Outcome {
			return r.Run(ctx, jobSpec(lang, cold[lang](mark), `{}`), io.Discard)
		}
	}
	warmOn := func(lang string) func(context.Context, string) Outcome {
		return func(ctx context.Context, mark string) Outcome {
			spec := jobSpec(lang, warm[lang], `{"m": "`+mark+`"}`, "m")
			return pool.Run(ctx, WarmSpec{Spec: spec, Path: "u/me/" + lang, Hash: lang}, io.Discard)
		}
	}
	modes := []mode{
		{"python forked", coldOn(forked, Python)},
		{"python spawned", coldOn(spawned, Python)},
		{"bash forked", coldOn(forked, Bash)},
		{"bash spawned", coldOn(spawned, Bash)},
		{"typescript", coldOn(spawned, TypeScript)},
		{"python warm", warmOn(Python)},
		{"typescript warm", warmOn(TypeScript)},
	}
	for _, m := range modes {
		dir := t.TempDir()
		if strings.HasSuffix(m.name, "warm") {
			// A worker ready and idle: the cancelled run would take it.
			if out := m.run(context.Background(), filepath.Join(dir, "first")); !out.Success {
				t.Fatalf("%s: the first run: %s", m.name, out.Result)
			}
		}
		for i := range 10 {
			mark := filepath.Join(dir, "ran")
			if out := m.run(done, mark); len(out.Result) != 0 || out.Success {
				t.Errorf("%s, run %d: a cancelled run answered %v %s", m.name, i, out.Success, out.Result)
			}
			time.Sleep(50 * time.Millisecond) // what started would have written by now
			if _, err := os.Stat(mark); err == nil {
				t.Errorf("%s, run %d: the script ran although its run was cancelled before it started", m.name, i)
				os.Remove(mark)
			}
		}
	}
}
