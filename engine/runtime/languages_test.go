package runtime

import (
	"errors"
	"testing"

	"github.com/millrun/millrun/engine/errs"
)

// The names a script's language arrives with (Windmill's, the CLI's,
// what a user types) land on the language millrun runs it as.
func TestNormalizeLanguage(t *testing.T) {
	for in, want := range map[string]string{
		"python3": Python, "Python": Python, " py ": Python,
		"bash": Bash, "sh": Bash, "shell": Bash,
		"bun": "bun", "typescript": "bun", "TS": "bun", "": "bun",
		"deno": "deno", "nativets": "nativets",
	} {
		got, err := NormalizeLanguage(in)
		if err != nil || got != want {
			t.Errorf("NormalizeLanguage(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"rust", "postgresql", "cobol"} {
		if _, err := NormalizeLanguage(in); err == nil {
			t.Errorf("NormalizeLanguage(%q) accepted a language millrun cannot run", in)
		}
	}
}

// A wmill sync pull writes each script under the extension Windmill's
// own export gives it, so that a push back to Windmill finds it.
func TestExportExt(t *testing.T) {
	for _, c := range []struct{ lang, defaultTS, want string }{
		{Python, "bun", "py"}, {Bash, "deno", "sh"},
		{"bun", "bun", "ts"}, {"bun", "deno", "bun.ts"},
		{"deno", "bun", "deno.ts"}, {"deno", "deno", "ts"},
		{"nativets", "bun", "fetch.ts"}, {"nativets", "deno", "fetch.ts"},
		{"rust", "bun", "rs"}, {"postgresql", "bun", "pg.sql"}, {"ansible", "deno", "playbook.yml"},
	} {
		if got := ExportExt(c.lang, c.defaultTS); got != c.want {
			t.Errorf("ExportExt(%q, default_ts %q) = %q, want %q", c.lang, c.defaultTS, got, c.want)
		}
	}
}

// Windmill languages millrun cannot run are kept with their extension,
// and running one is a 400 that says why.
func TestKeptLanguages(t *testing.T) {
	if KeptLanguageExt("go") != "go" || KeptLanguageExt("rlang") != "r" {
		t.Errorf("kept languages lost their extension")
	}
	for _, runs := range []string{Python, Bash, "bun", "deno", "nativets", "cobol"} {
		if ext := KeptLanguageExt(runs); ext != "" {
			t.Errorf("KeptLanguageExt(%q) = %q: it is not a kept language", runs, ext)
		}
	}
	var invalid *errs.Invalid
	if err := CannotRun("rust"); !errors.As(err, &invalid) || err.Error() != "millrun cannot run rust scripts: this script is kept so that a pull and push to Windmill lose nothing" {
		t.Errorf("CannotRun(rust) = %v", err)
	}
}

// A flow's preprocessor step runs its preprocessor function as main, in
// each language that has one; a script with its own main runs that.
func TestPreprocessorAsMain(t *testing.T) {
	for _, c := range []struct{ lang, src, want string }{
		{Python, "def preprocessor(event):\n    return event\n", "def main(event):\n    return event\n"},
		{"deno", "export async function preprocessor<T>(e: T) { return e }", "export async function main<T>(e: T) { return e }"},
		{"bun", "export function main() {}\nexport function preprocessor() {}", "export function main() {}\nexport function preprocessor() {}"},
		{Bash, "preprocessor() { :; }", "preprocessor() { :; }"},
	} {
		if got := PreprocessorAsMain(c.lang, c.src); got != c.want {
			t.Errorf("%s: %q, want %q", c.lang, got, c.want)
		}
	}
}

// What wmill's dependency routes write and read per language: the lock
// of a script without packages, which inline flow steps are locked, and
// where a workspace's own dependency files go in an export.
func TestLanguageDependencyFacts(t *testing.T) {
	r := &Runner{interp: Interpreters{PythonVersion: "3.11.2"}}
	if got := r.EmptyLock(Python); got != "# py: 3.11" {
		t.Errorf("Python's empty lock: %q", got)
	}
	if got := r.EmptyLock("bun") + r.EmptyLock(Bash); got != "" {
		t.Errorf("TypeScript and Bash have no empty lock of their own: %q", got)
	}
	for lang, want := range map[string]bool{Python: true, "bun": true, "deno": true, "nativets": false, Bash: false, "go": false} {
		if LocksFlowSteps(lang) != want {
			t.Errorf("LocksFlowSteps(%q) = %v", lang, !want)
		}
	}
	want := map[string]string{"bun": "package.json", "python3": "requirements.in", "php": "composer.json", "go": "go.mod", "powershell": "modules.json"}
	got := WorkspaceDepsFiles()
	if len(got) != len(want) {
		t.Errorf("WorkspaceDepsFiles() = %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("WorkspaceDepsFiles()[%q] = %q, want %q", k, got[k], v)
		}
	}
}

// A language added to the table either runs, with every step a saved
// script goes through, or is only kept, with none: a half entry would
// save scripts that then fail in a way no one words.
func TestLanguageTableEntriesAreWhole(t *testing.T) {
	seen := map[string]bool{}
	for _, l := range languages {
		for _, name := range append([]string{l.Name}, l.aliases...) {
			if seen[name] {
				t.Errorf("%q names two languages", name)
			}
			seen[name] = true
		}
		runs := l.start != nil
		if runs && (l.schema == nil || l.check == nil) {
			t.Errorf("%s runs but has no schema or syntax check", l.Name)
		}
		if !runs && (l.schema != nil || l.check != nil || l.lock != nil || l.warm != nil || l.forked != nil || l.ext == "") {
			t.Errorf("%s is kept, not run: it has steps, or no export extension", l.Name)
		}
	}
}
