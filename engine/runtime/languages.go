package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"

	"github.com/millrun/millrun/engine/errs"
)

// Languages the runtime runs, by millrun's names for them (Windmill's).
// They live here, the leaf, so that the runtime needs nothing of the
// packages that store scripts.
const (
	Python     = "python3"
	TypeScript = "bun" // Windmill's default TypeScript flavour; run on Bun, Deno or Node
	Bash       = "bash"
)

// Language is everything that differs between languages, in one entry
// per language: the names a script's language is written with, the file
// Windmill's export writes it to, and each step millrun takes with a
// script in it, from save to run. A step a language does not have is
// nil; a language millrun keeps but cannot run (so that a workspace moves
// through millrun whole) has a name and an extension and no steps.
type Language struct {
	Name string // as stored, Windmill's name
	// aliases are the other names users and Windmill's tools write for it.
	aliases []string
	// ext is the extension of its file in Windmill's export; a
	// TypeScript flavour's depends on the export's default (ExportExt).
	ext        string
	typeScript bool
	// depsFile is the file of Windmill's workspace dependencies for it
	// (dependencies/requirements.in...): kept and given back, not read.
	depsFile string

	// schema reads main's parameters: the arguments' schema.
	schema func(content string) (*Schema, error)
	// preprocessor finds the declaration of a flow's preprocessor
	// function: ${1}preprocessor${2} becomes ${1}main${2}.
	preprocessor *regexp.Regexp
	// check finds the first syntax error, on save.
	check func(r *Runner, ctx context.Context, content string) (*SyntaxError, error)
	// imports lists the workspace scripts (f/…, u/…) a script imports.
	imports func(path, content string) []string
	// needsLock reports whether a script imports packages or workspace
	// scripts: whether saving it starts a dependency job.
	needsLock func(r *Runner, spec Spec) bool
	// lock infers a script's requirements, resolves them into the lock
	// its version keeps and installs what the lock pins (a dependency
	// job).
	lock func(r *Runner, ctx context.Context, spec Spec, logs io.Writer) (string, error)
	// emptyLock is the lock Windmill's dependency job writes for a
	// script that needs no packages; nil: none.
	emptyLock func(r *Runner) string
	// flowStepLock: a flow's inline script gets a lock of its own in
	// Windmill's flow dependency job.
	flowStepLock bool
	// forked runs a job on a fork server before any folder is made for
	// it; ok is false when it did not (then start runs it).
	forked func(r *Runner, ctx context.Context, spec Spec, logs io.Writer) (o Outcome, ok bool)
	// start prepares a job's folder (the script, its arguments, its
	// packages) and gives the command that runs it; or, with no
	// command, the outcome, ran telling whether the job ran (on a fork
	// server) or failed before it started.
	start func(r *Runner, ctx context.Context, job *coldJob) (cmd *exec.Cmd, o Outcome, ran bool)
	// warm prepares a warm worker's folder and gives the command that
	// starts the worker and what it adds to its environment; with no
	// command, the outcome that says why not.
	warm func(r *Runner, ctx context.Context, dir string, spec Spec, logs io.Writer) (*exec.Cmd, []string, Outcome)
	// outcome reads what a finished run left; nil: the result or error
	// file the wrapper wrote in the job's private folder (MILLRUN_OUT).
	outcome func(r *Runner, dir string, runErr error, tail string) Outcome
}

// coldJob is a run being prepared in a folder of its own.
type coldJob struct {
	spec Spec
	dir  string // the job's folder, the script's working directory
	out  string // its private .millrun folder: arguments, result
	args map[string]json.RawMessage
	env  []string // the job's environment; start adds the language's
	live *liveJob
	logs io.Writer
	// amend, when start sets it, changes the outcome once known.
	amend func(Outcome) Outcome
}

// languages is the table: the languages millrun runs, then Windmill's
// that it keeps.
var languages = []*Language{
	{
		Name: Python, aliases: []string{"python", "py"}, ext: "py", depsFile: "requirements.in",
		schema: inferPython, preprocessor: pyPreprocessorRE, check: (*Runner).checkPython,
		imports: pythonImports, needsLock: (*Runner).needsPythonLock, lock: (*Runner).lockPython,
		emptyLock: (*Runner).emptyPythonLock, flowStepLock: true,
		start: (*Runner).startPython, warm: (*Runner).warmPython,
	},
	{
		Name: Bash, aliases: []string{"sh", "shell"}, ext: "sh",
		schema: inferBash, check: (*Runner).checkBash,
		forked: (*Runner).bashOnServer, start: (*Runner).startBash, outcome: (*Runner).bashOutcome,
	},
	tsFlavour(Language{Name: "bun", aliases: []string{"typescript", "ts", ""}, depsFile: "package.json", flowStepLock: true}),
	tsFlavour(Language{Name: "deno", flowStepLock: true}),
	// Windmill's REST-only TypeScript: run as the other flavours are; its
	// inline flow steps get no lock.
	tsFlavour(Language{Name: "nativets", ext: "fetch.ts"}),

	kept("go", "go", "go.mod"), kept("postgresql", "pg.sql", ""), kept("mysql", "my.sql", ""),
	kept("bigquery", "bq.sql", ""), kept("snowflake", "sf.sql", ""), kept("mssql", "ms.sql", ""),
	kept("oracledb", "odb.sql", ""), kept("duckdb", "duckdb.sql", ""), kept("graphql", "gql", ""),
	kept("powershell", "ps1", "modules.json"), kept("php", "php", "composer.json"), kept("rust", "rs", ""),
	kept("ansible", "playbook.yml", ""), kept("csharp", "cs", ""), kept("nu", "nu", ""), kept("java", "java", ""),
	kept("ruby", "rb", ""), kept("rlang", "r", ""),
}

// tsFlavour is a TypeScript flavour with its steps: every flavour runs on
// whichever of Bun, Deno and Node is installed (tsTarget).
func tsFlavour(l Language) *Language {
	l.typeScript = true
	l.schema, l.preprocessor, l.check = inferTypeScript, tsPreprocessorRE, (*Runner).checkTypeScript
	l.imports = typeScriptWorkspaceImports
	l.needsLock = func(_ *Runner, spec Spec) bool { return typeScriptNeedsDependencies(spec) }
	l.lock = (*Runner).typeScriptDependencies
	l.start, l.warm = (*Runner).startTypeScript, (*Runner).warmTypeScript
	return &l
}

// kept is a Windmill language millrun saves and gives back but cannot run.
func kept(name, ext, depsFile string) *Language {
	return &Language{Name: name, ext: ext, depsFile: depsFile}
}

// LanguageNamed is the entry of a stored language name, nil for a name
// millrun does not know.
func LanguageNamed(name string) *Language {
	for _, l := range languages {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// NormalizeLanguage maps the language names Windmill and users write onto
// a language millrun runs. TypeScript flavours keep their own name (so a
// script round-trips to Windmill unchanged) but all run the same way here.
func NormalizeLanguage(lang string) (string, error) {
	name := strings.ToLower(strings.TrimSpace(lang))
	for _, l := range languages {
		if l.start != nil && (l.Name == name || contains(l.aliases, name)) {
			return l.Name, nil
		}
	}
	return "", fmt.Errorf("unsupported language %q: use python3, bash or a TypeScript flavour (bun, deno, nativets)", lang)
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// IsTypeScript reports whether lang is one of the TypeScript flavours.
func IsTypeScript(lang string) bool {
	l := LanguageNamed(lang)
	return l != nil && l.typeScript
}

// KeptLanguageExt is the export file extension of a Windmill language
// millrun keeps but cannot run; "" when lang is not one.
func KeptLanguageExt(lang string) string {
	if l := LanguageNamed(lang); l != nil && l.start == nil {
		return l.ext
	}
	return ""
}

// CannotRun is the error for running a script in a language millrun
// keeps but cannot run (a 400 on the run routes).
func CannotRun(lang string) error {
	return errs.Invalidf("millrun cannot run %s scripts: this script is kept so that a pull and push to Windmill lose nothing", lang)
}

// ExportExt is the extension Windmill's export gives a script of lang,
// a TypeScript flavour's named after the CLI's default_ts: the default
// flavour's files are plain .ts, the other's .<flavour>.ts. An unknown
// language is taken for Bun's, Windmill's default.
func ExportExt(lang, defaultTS string) string {
	l := LanguageNamed(lang)
	if l == nil {
		l = LanguageNamed(TypeScript)
	}
	if l.ext != "" {
		return l.ext
	}
	// wmill's default_ts is bun or deno: anything but bun is deno's.
	if (l.Name == "bun") == (defaultTS == "bun") {
		return "ts"
	}
	return l.Name + ".ts"
}

// LocksFlowSteps reports whether Windmill's flow dependency job gives a
// flow's inline script in lang a lock of its own.
func LocksFlowSteps(lang string) bool {
	l := LanguageNamed(lang)
	return l != nil && l.flowStepLock
}

// EmptyLock is the lock Windmill's dependency job writes for a script of
// lang that needs no packages ("" for none).
func (r *Runner) EmptyLock(lang string) string {
	if l := LanguageNamed(lang); l != nil && l.emptyLock != nil {
		return l.emptyLock(r)
	}
	return ""
}

// WorkspaceDepsFiles are the files of Windmill's workspace dependencies,
// by language.
func WorkspaceDepsFiles() map[string]string {
	files := map[string]string{}
	for _, l := range languages {
		if l.depsFile != "" {
			files[l.Name] = l.depsFile
		}
	}
	return files
}

// SyntaxError is the first syntax error found in a script.
type SyntaxError struct {
	Line    int    `json:"line"` // 1-based; 0 when the checker named none
	Message string `json:"message"`
}
