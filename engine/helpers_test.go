package engine

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
)

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// insertRaw writes a job row as a crashed process would have left it.
func insertRaw(t *testing.T, e *Engine, id, status string) {
	t.Helper()
	hash, _, err := e.catalog.Save(t.Context(), "local", scriptsReq("u/me/crash", "bash", "echo ok\n"))
	if v, lerr := e.catalog.Latest(t.Context(), "local", "u/me/crash"); lerr == nil {
		hash, err = v.Hash, nil // saved by an earlier call
	}
	if err != nil {
		t.Fatal(err)
	}
	j := &store.Job{ID: id, Workspace: "local", Kind: "script", ScriptPath: "u/me/crash", ScriptHash: hash, Language: "bash",
		Args: "{}", Status: "queued", CreatedAt: time.Now(), ScheduledFor: time.Now()}
	if err := e.db.InsertJob(t.Context(), j); err != nil {
		t.Fatal(err)
	}
	if status == "running" {
		j.StartedAt = time.Now()
		if err := e.db.MarkRunning(t.Context(), j); err != nil {
			t.Fatal(err)
		}
	}
}

func scriptsReq(path, lang, content string) scripts.CreateRequest {
	return scripts.CreateRequest{Path: path, Language: lang, Content: content}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
