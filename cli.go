package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/millrun/millrun/engine/audit"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/resources"
	"github.com/millrun/millrun/engine/settings"
	"github.com/millrun/millrun/engine/store"
	"github.com/millrun/millrun/engine/wshook"
)

func defaultDataDir() string {
	if v := os.Getenv("MILLRUN_DATA"); v != "" {
		return v
	}
	if dir, err := os.UserConfigDir(); err == nil {
		return filepath.Join(dir, "millrun")
	}
	return ".millrun"
}

// newFlags builds a flag set whose help names the command and its purpose.
func newFlags(name, synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s\n\n%s\n\nFlags:\n", synopsis, about)
		fs.PrintDefaults()
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return &usageError{msg: err.Error() + " (see --help)"}
	}
	return nil
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func cmdToken(args []string, stdout, stderr io.Writer) error {
	const about = `Tokens guard the webhooks and the API. A token is shown once, when it is
created; millrun stores only its hash.

Commands:
  create   print a new token alone on the last line of stdout
  list     list tokens (label, prefix, scopes, dates), never the secrets
  revoke   revoke the token(s) with the given prefix (the first 10 characters)`
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stderr, "Usage: millrun token <create|list|revoke> [flags]\n\n%s\n\nRun 'millrun token <command> --help' for its flags.\n", about)
		if len(args) == 0 {
			return &usageError{msg: "token needs a command: create, list or revoke"}
		}
		return nil
	}
	switch args[0] {
	case "create":
		return tokenCreate(args[1:], stdout, stderr)
	case "list":
		return tokenList(args[1:], stdout, stderr)
	case "revoke":
		return tokenRevoke(args[1:], stdout, stderr)
	}
	return &usageError{msg: fmt.Sprintf("unknown token command %q: use create, list or revoke", args[0])}
}

func openStore(dataDir string) (*store.DB, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", dataDir, err)
	}
	return store.Open(filepath.Join(dataDir, "millrun.db"))
}

// parseExpiry accepts a duration with a day unit (30d), a Go duration
// (12h) or an RFC 3339 time.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n > 0 {
			return now.Add(time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--expires %q: use a number of days (30d), a duration (12h) or an RFC 3339 time", s)
}

func tokenCreate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("token create", "millrun token create --label NAME [--scope SCOPE]... [--expires 30d]",
		"Creates a token and prints it alone on the last line of stdout. Without --scope it has\nfull access; with --scope it may only run the named webhooks, e.g.\n  --scope jobs:run:scripts:u/me/hook   --scope 'jobs:run:flows:f/deploy/*'", stderr)
	data := fs.String("data", defaultDataDir(), "data directory")
	label := fs.String("label", "cli", "a name to recognise the token by")
	workspace := fs.String("workspace", "local", "workspace id the workspace webhook's event names (as serve's --workspace)")
	expires := fs.String("expires", "", "expiry: days (30d), a duration (12h) or an RFC 3339 time; empty never expires")
	var scopes stringList
	fs.Var(&scopes, "scope", "limit the token to a webhook scope (repeatable)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{msg: fmt.Sprintf("unexpected argument %q (see --help)", fs.Arg(0))}
	}
	exp, err := parseExpiry(*expires, time.Now())
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	opt := auth.CreateOptions{Actor: "cli", Label: *label, Scopes: scopes, ExpiresAt: exp}
	// Refused before the data folder is opened, so a mistyped flag
	// creates nothing.
	var inv *errs.Invalid
	if err := opt.Check(); errors.As(err, &inv) {
		return &usageError{msg: inv.Msg}
	}
	db, err := openStore(*data)
	if err != nil {
		return err
	}
	defer db.Close()
	tokens := auth.New(db)
	tokens.Changed = cliChanges(db, *data, *workspace, stderr)
	secret, tok, err := tokens.Create(context.Background(), opt)
	if err != nil {
		return err
	}
	scope := "full access"
	if len(scopes) > 0 {
		scope = "scopes " + strings.Join(scopes, ", ")
	}
	fmt.Fprintf(stderr, "Created token %q (%s, prefix %s). It is shown only now:\n", tok.Label, scope, tok.Prefix)
	fmt.Fprintln(stdout, secret)
	return nil
}

// cliChanges records a change the CLI makes as the engine does: in the
// audit log, and to the workspace webhook, posted at once since the CLI
// exits next. A millrun running on the same data folder does not see it.
func cliChanges(db *store.DB, dataDir, workspace string, stderr io.Writer) auth.ChangeFunc {
	changes := &audit.Log{DB: db, Send: func(event map[string]any) {
		if err := tellWorkspaceWebhook(db, dataDir, workspace, event); err != nil {
			fmt.Fprintf(stderr, "The workspace webhook was not told: %s\n", err)
		}
	}}
	return changes.Record
}

func tellWorkspaceWebhook(db *store.DB, dataDir, workspace string, event map[string]any) error {
	// The key seals the webhook's secret and is made at the engine's first
	// start: a data folder without one has no webhook to tell, and the CLI
	// must not make the key itself (run as another user, say with sudo,
	// it would leave a key the engine cannot read).
	if _, err := os.Stat(filepath.Join(dataDir, resources.KeyFile)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	sealer, err := resources.Open(db, dataDir)
	if err != nil {
		return err
	}
	set, err := settings.Load(context.Background(), db, settings.Defaults(nil), sealer)
	if err != nil {
		return err
	}
	return wshook.Deliver(workspace, wshook.Target{URL: set.WorkspaceWebhookURL, Secret: set.WorkspaceWebhookSecret}, event)
}

func tokenList(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("token list", "millrun token list [--data DIR]", "Lists tokens. Secrets are never shown: only their first 10 characters.", stderr)
	data := fs.String("data", defaultDataDir(), "data directory")
	if err := parse(fs, args); err != nil {
		return err
	}
	db, err := openStore(*data)
	if err != nil {
		return err
	}
	defer db.Close()
	list, err := auth.New(db).List(context.Background())
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "No tokens. Create one with: millrun token create --label NAME")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PREFIX\tLABEL\tSCOPES\tCREATED\tLAST USED\tEXPIRES")
	for _, t := range list {
		scopes := t.Scopes
		if scopes == "[]" {
			scopes = "full access"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Prefix, t.Label, scopes, day(t.CreatedAt), day(t.LastUsedAt), day(t.ExpiresAt))
	}
	return tw.Flush()
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func tokenRevoke(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("token revoke", "millrun token revoke [--data DIR] PREFIX", "Revokes the token whose first 10 characters are PREFIX (see 'millrun token list').\nIt stops working at once, also for a running millrun.", stderr)
	data := fs.String("data", defaultDataDir(), "data directory")
	workspace := fs.String("workspace", "local", "workspace id the workspace webhook's event names (as serve's --workspace)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &usageError{msg: "token revoke needs exactly one PREFIX (see 'millrun token list')"}
	}
	db, err := openStore(*data)
	if err != nil {
		return err
	}
	defer db.Close()
	tokens := auth.New(db)
	tokens.Changed = cliChanges(db, *data, *workspace, stderr)
	n, err := tokens.RevokePrefix(context.Background(), "cli", fs.Arg(0))
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no token has the prefix %q (see 'millrun token list')", fs.Arg(0))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Revoked %d token(s) with prefix %s.\n", n, fs.Arg(0))
	return nil
}
