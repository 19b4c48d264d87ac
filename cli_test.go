package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/millrun/millrun/engine/resources"
	"github.com/millrun/millrun/engine/settings"
	"github.com/millrun/millrun/engine/store"
	"github.com/millrun/millrun/engine/wshook"
)

// A token created or revoked with the CLI is told to the workspace
// webhook, signed, as one created in the UI is, and written to the audit
// log.
func TestCLITokensTellTheWorkspaceWebhook(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var events []map[string]any
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-Millrun-Signature") != wshook.Sign("s3cret", r.Header.Get("X-Millrun-Timestamp"), b) {
			w.WriteHeader(400)
			return
		}
		var ev map[string]any
		json.Unmarshal(b, &ev)
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}))
	defer recv.Close()

	data := t.TempDir()
	db, err := store.Open(filepath.Join(data, "millrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := resources.Open(db, data)
	if err != nil {
		t.Fatal(err)
	}
	set := settings.Defaults(nil)
	set.WorkspaceWebhookURL, set.WorkspaceWebhookSecret = recv.URL, "s3cret"
	if err := settings.Save(context.Background(), db, set, sealer); err != nil {
		t.Fatal(err)
	}
	db.Close()

	var out, errb bytes.Buffer
	if code := run([]string{"token", "create", "--data", data, "--label", "ci", "--scope", "jobs:run:scripts:u/me/hook"}, &out, &errb); code != 0 {
		t.Fatalf("token create exit %d: %s", code, errb.String())
	}
	prefix := strings.TrimSpace(out.String())[:10]
	if code := run([]string{"token", "revoke", "--data", data, prefix}, &out, &errb); code != 0 {
		t.Fatalf("token revoke exit %d: %s", code, errb.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 || events[0]["type"] != "CreateToken" || events[0]["label"] != "ci" || events[0]["workspace"] != "local" ||
		events[1]["type"] != "DeleteToken" || events[1]["token_prefix"] != prefix {
		t.Fatalf("events: %v (stderr %s)", events, errb.String())
	}
	db, err = store.Open(filepath.Join(data, "millrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	audit, err := db.ListAudit(context.Background(), 0, 10)
	if err != nil || len(audit) != 2 || audit[1].Actor != "cli" || audit[1].Action != "token.create" || audit[1].Target != "ci" ||
		audit[0].Action != "token.revoke" || audit[0].Target != prefix {
		t.Fatalf("audit: %+v, %v", audit, err)
	}
}

// A mistyped flag is refused before the data folder is touched, and the
// CLI never makes the folder's key (the engine does, at its first start:
// a key made by the CLI run as another user would lock the engine out).
func TestCLITokenCreateTouchesNothingItNeedNot(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "fresh")
	var out, errb bytes.Buffer
	if code := run([]string{"token", "create", "--data", data, "--scope", "jobs:run:nothing"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `unknown scope "jobs:run:nothing"`) {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Fatalf("a refused token create made the data folder: %v", err)
	}
	if code := run([]string{"token", "create", "--data", data, "--label", "first"}, &out, &errb); code != 0 {
		t.Fatalf("token create exit %d: %s", code, errb.String())
	}
	if _, err := os.Stat(filepath.Join(data, resources.KeyFile)); !os.IsNotExist(err) {
		t.Fatalf("the CLI made the data folder's key: %v", err)
	}
}
