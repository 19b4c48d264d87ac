package engine

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// A lock pushed with a script (wmill sync push's .script.lock) is kept
// with the version, shown on it, and given back by a pull.
func TestPushedLockIsKeptAndPulled(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const lock = "# py: 3.11\nanyio==4.5.0\nhttpx==0.28.1\nwmill==1.404.0"
	f.createScript("f/me/fetch", "python3", "import httpx\nimport wmill\n\ndef main():\n    return 1\n", "lock", lock)
	var got map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/scripts/get/p/f/me/fetch", "", "").body), &got)
	if got["lock"] != lock {
		t.Fatalf("the script's lock: %v", got["lock"])
	}
	// The same content pushed again without a lock keeps it.
	f.createScript("f/me/fetch", "python3", "import httpx\nimport wmill\n\ndef main():\n    return 1\n", "summary", "now with a summary")
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/scripts/get/p/f/me/fetch", "", "").body), &got)
	if got["lock"] != lock || got["summary"] != "now with a summary" {
		t.Fatalf("after a push without a lock: %v %v", got["lock"], got["summary"])
	}
	r := f.mustDo(200, "GET", "/api/w/local/workspaces/tarball?archive_type=zip", "", "")
	zr, err := zip.NewReader(bytes.NewReader([]byte(r.body)), int64(len(r.body)))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, file := range zr.File {
		if file.Name != "f/me/fetch.script.json" {
			continue
		}
		rc, _ := file.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		var meta map[string]any
		json.Unmarshal(b, &meta)
		found = meta["lock"] == lock
		if !found {
			t.Errorf("the pulled metadata's lock: %s", b)
		}
	}
	if !found && !t.Failed() {
		t.Errorf("no f/me/fetch.script.json in the pull: %v", strings.Join(names(zr), ", "))
	}
}

func names(zr *zip.Reader) []string {
	var out []string
	for _, f := range zr.File {
		out = append(out, f.Name)
	}
	return out
}
