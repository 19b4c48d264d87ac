package audit

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/millrun/millrun/engine/store"
)

func TestRecordWritesTheLogAndSendsTheEvent(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "millrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sent []map[string]any
	l := &Log{DB: db, Send: func(ev map[string]any) { sent = append(sent, ev) }}
	ctx := context.Background()
	l.Record(ctx, "me", "folder.save", "ops", "", nil)
	l.Record(ctx, "cli", "token.create", "ci", "abc", map[string]any{"type": "CreateToken"})
	list, err := l.List(ctx, 0, 0)
	if err != nil || len(list) != 2 || list[0].Action != "token.create" || list[0].Actor != "cli" || list[1].Target != "ops" {
		t.Fatalf("log: %+v %v", list, err)
	}
	if len(sent) != 1 || sent[0]["type"] != "CreateToken" {
		t.Fatalf("events: %v", sent)
	}
	if older, _ := l.List(ctx, list[0].ID, 10); len(older) != 1 || older[0].Target != "ops" {
		t.Fatalf("the page before the newest: %+v", older)
	}
}
