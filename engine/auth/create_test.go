package auth

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/store"
)

type change struct {
	actor, action, target, detail string
	event                         map[string]any
}

func newTokens(t *testing.T) (*Tokens, *[]change) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "millrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var got []change
	tokens := New(db)
	tokens.Changed = func(_ context.Context, actor, action, target, detail string, event map[string]any) {
		got = append(got, change{actor, action, target, detail, event})
	}
	return tokens, &got
}

// Every token a user creates (UI, API, CLI, engine) is recorded and told
// to the workspace webhook alike, scopes and all.
func TestCreateRecordsTheChangeAndTellsTheWebhook(t *testing.T) {
	tokens, got := newTokens(t)
	ctx := context.Background()
	secret, tok, err := tokens.Create(ctx, CreateOptions{Actor: "cli", Label: "ci", Scopes: []string{"jobs:run:scripts:u/me/hook"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(*got) != 1 {
		t.Fatalf("changes: %+v", *got)
	}
	c := (*got)[0]
	if c.actor != "cli" || c.action != "token.create" || c.target != "ci" || c.detail != tok.Prefix || !strings.HasPrefix(secret, tok.Prefix) {
		t.Fatalf("change: %+v", c)
	}
	if c.event["type"] != "CreateToken" || c.event["label"] != "ci" || c.event["token_prefix"] != tok.Prefix ||
		len(c.event["scopes"].([]string)) != 1 {
		t.Fatalf("event: %v", c.event)
	}
	id, err := tokens.Verify(ctx, secret)
	if err != nil || id.FullAccess() || !id.CanRun(KindScript, "u/me/hook") {
		t.Fatalf("the created token: %+v, %v", id, err)
	}
	// A full-access token's event says so with no scopes, not null.
	if _, _, err := tokens.Create(ctx, CreateOptions{Actor: "millrun", Label: "all"}); err != nil {
		t.Fatal(err)
	}
	if s, ok := (*got)[1].event["scopes"].([]string); !ok || len(s) != 0 {
		t.Fatalf("full-access event scopes: %#v", (*got)[1].event["scopes"])
	}
}

func TestCreateRefusesWhatItCannotIssue(t *testing.T) {
	tokens, got := newTokens(t)
	for opt, want := range map[*CreateOptions]string{
		{Scopes: []string{"admin"}}:                    `unknown scope "admin": use jobs:run:scripts:<path>, jobs:run:flows:<path> (a trailing * matches a prefix) or *`,
		{Label: strings.Repeat("x", 201)}:              "the label is longer than 200 characters",
		{ExpiresAt: time.Now().Add(-time.Hour)}:        "is in the past",
		{Scopes: []string{"jobs:run:scripts:u/a", ""}}: "unknown scope",
	} {
		_, _, err := tokens.Create(context.Background(), *opt)
		var inv *errs.Invalid
		if !errors.As(err, &inv) || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want an input error %q", *opt, err, want)
		}
	}
	if len(*got) != 0 {
		t.Fatalf("a refused token was recorded: %+v", *got)
	}
}

// The login link and the browser sessions it opens are not tokens the user
// manages: nothing is recorded for them.
func TestLoginLinkAndSessionsRecordNothing(t *testing.T) {
	tokens, got := newTokens(t)
	ctx := context.Background()
	link, err := tokens.CreateLoginLink(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Verify(ctx, link); err == nil {
		t.Fatal("a login link authorized a call")
	}
	session, id, err := tokens.Login(ctx, link)
	if err != nil || session == "" || id.Label != SessionLabel {
		t.Fatalf("login: %v %+v", err, id)
	}
	if _, _, err := tokens.Login(ctx, link); err == nil {
		t.Fatal("a login link worked twice")
	}
	if len(*got) != 0 {
		t.Fatalf("recorded: %+v", *got)
	}
}

func TestRevokePrefixRecordsTheChange(t *testing.T) {
	tokens, got := newTokens(t)
	ctx := context.Background()
	secret, tok, err := tokens.Create(ctx, CreateOptions{Actor: "me", Label: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := tokens.RevokePrefix(ctx, "you", tok.Prefix); err != nil || n != 1 {
		t.Fatalf("revoke: %d %v", n, err)
	}
	if _, err := tokens.Verify(ctx, secret); err == nil {
		t.Fatal("a revoked token still works")
	}
	if len(*got) != 2 || (*got)[1].actor != "you" || (*got)[1].action != "token.revoke" || (*got)[1].event["type"] != "DeleteToken" ||
		(*got)[1].event["token_prefix"] != tok.Prefix {
		t.Fatalf("changes: %+v", *got)
	}
	_, err = tokens.RevokePrefix(ctx, "you", tok.Prefix)
	var nf *errs.NotFound
	if !errors.As(err, &nf) || err.Error() != "token with prefix "+tok.Prefix || len(*got) != 2 {
		t.Fatalf("revoking nothing: %v", err)
	}
	if list, err := tokens.List(ctx); err != nil || len(list) != 0 {
		t.Fatalf("list: %v %v", list, err)
	}
}
