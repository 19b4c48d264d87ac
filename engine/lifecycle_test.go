// Windmill's lifecycle routes and the workspace export `wmill sync` uses.
package engine

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The workspace archive holds each script as its code file and its
// .script.json, flows as .flow.json, resources and variables; a secret is
// sealed unless plain secrets are asked for, and what pull sealed pushes
// back to the same value.
func TestWorkspaceTarball(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const secret = "xoxb-TARBALL-SECRET"
	f.createScript("u/me/hello", "python3", "def main(name: str = 'world'):\n    return 'hi ' + name\n", "summary", "Greets")
	f.createScript("u/me/shout", "bash", "name=\"${1:-x}\"\necho \"$name\"\n")
	f.createScript("f/tools/ts", "bun", "export async function main(n: number) { return n * 2 }\n")
	f.mustDo(201, "POST", "/api/w/local/flows/create", "application/json",
		`{"path":"u/me/flow","summary":"F","value":{"modules":[{"id":"a","value":{"type":"script","path":"u/me/hello"}}]}}`)
	f.mustDo(201, "POST", "/api/w/local/variables/create", "application/json", `{"path":"u/me/token","value":"`+secret+`","is_secret":true}`)
	f.mustDo(201, "POST", "/api/w/local/variables/create", "application/json", `{"path":"u/me/plain","value":"visible","is_secret":false}`)
	f.mustDo(201, "POST", "/api/w/local/resources/create", "application/json", `{"path":"u/me/slack","resource_type":"slack","value":{"token":"$var:u/me/token"}}`)

	read := func(query string) map[string]string {
		t.Helper()
		r := f.mustDo(200, "GET", "/api/w/local/workspaces/tarball?archive_type=zip&default_ts=bun"+query, "", "")
		zr, err := zip.NewReader(bytes.NewReader([]byte(r.body)), int64(len(r.body)))
		if err != nil {
			t.Fatalf("not a zip: %v", err)
		}
		files := map[string]string{}
		for _, zf := range zr.File {
			rc, _ := zf.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			files[zf.Name] = string(b)
		}
		return files
	}
	files := read("")
	for _, name := range []string{"u/me/hello.py", "u/me/hello.script.json", "u/me/shout.sh", "f/tools/ts.ts", "u/me/flow.flow.json",
		"u/me/token.variable.json", "u/me/plain.variable.json", "u/me/slack.resource.json"} {
		if _, ok := files[name]; !ok {
			t.Fatalf("archive lacks %s; has %v", name, keys(files))
		}
	}
	if !strings.Contains(files["u/me/hello.py"], "return 'hi ' + name") {
		t.Fatalf("script content: %q", files["u/me/hello.py"])
	}
	var meta map[string]any
	json.Unmarshal([]byte(files["u/me/hello.script.json"]), &meta)
	if meta["summary"] != "Greets" || meta["kind"] != "script" || meta["schema"] == nil {
		t.Fatalf("script metadata: %s", files["u/me/hello.script.json"])
	}
	var flow map[string]any
	json.Unmarshal([]byte(files["u/me/flow.flow.json"]), &flow)
	if flow["summary"] != "F" || flow["value"] == nil || flow["path"] != nil {
		t.Fatalf("flow: %s", files["u/me/flow.flow.json"])
	}
	for name, content := range files {
		if strings.Contains(content, secret) {
			t.Fatalf("%s carries the secret in clear", name)
		}
	}
	var sealed map[string]any
	json.Unmarshal([]byte(files["u/me/token.variable.json"]), &sealed)
	if sealed["is_secret"] != true || !strings.HasPrefix(sealed["value"].(string), "millrun:v1:") {
		t.Fatalf("secret variable: %s", files["u/me/token.variable.json"])
	}
	if again := read(""); again["u/me/token.variable.json"] != files["u/me/token.variable.json"] {
		t.Fatal("two pulls sealed the same secret differently: every pull would show a change")
	}
	// What get tells push to compare with is the sealed text, never the value.
	var got map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/variables/get/u/me/token?decrypt_secret=false&include_encrypted=true", "", "").body), &got)
	if got["value"] != sealed["value"] {
		t.Fatalf("get with include_encrypted: %v, want the archive's %v", got["value"], sealed["value"])
	}
	if plain := read("&plain_secret=true"); !strings.Contains(plain["u/me/token.variable.json"], secret) {
		t.Fatalf("plain_secret export: %s", plain["u/me/token.variable.json"])
	}

	// Push sends the sealed text back with already_encrypted.
	f.mustDo(200, "POST", "/api/w/local/variables/update/u/me/token?already_encrypted=true", "application/json",
		`{"value":"`+sealed["value"].(string)+`","is_secret":true}`)
	if v := f.mustDo(200, "GET", "/api/w/local/variables/get_value/u/me/token", "", "").body; v != `"`+secret+`"` {
		t.Fatalf("after pushing the sealed value back: %s", v)
	}
	f.mustDo(201, "POST", "/api/w/local/variables/create?already_encrypted=true", "application/json",
		`{"path":"u/me/moved","value":"`+sealed["value"].(string)+`","is_secret":true}`)
	if v := f.mustDo(200, "GET", "/api/w/local/variables/get_value/u/me/moved", "", "").body; v != `"`+secret+`"` {
		t.Fatalf("a sealed value pushed to a new path: %s", v)
	}
	// A Windmill cluster's ciphertext cannot be opened here: refused, saying why.
	r := f.mustDo(400, "POST", "/api/w/local/variables/create?already_encrypted=true", "application/json", `{"path":"u/me/foreign","value":"aGVsbG8gd2luZG1pbGw=","is_secret":true}`)
	if !strings.Contains(r.body, "--plain-secrets") {
		t.Fatalf("foreign ciphertext: %s", r.body)
	}
	f.mustDo(400, "GET", "/api/w/local/workspaces/tarball?archive_type=rar", "", "")

	// The database never holds the secret in clear, archive or not.
	for _, name := range []string{"millrun.db", "millrun.db-wal"} {
		if b, err := os.ReadFile(filepath.Join(f.dir, name)); err == nil && bytes.Contains(b, []byte(secret)) {
			t.Fatalf("%s holds the secret in clear", name)
		}
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Archive hides a script from lists and runs by path while its versions
// still run by hash; saving at the path or unarchiving brings it back.
// Delete by hash removes one version and the path falls back to the one
// before. A parent that is no longer the latest is a path conflict.
func TestArchiveAndDeleteByHash(t *testing.T) {
	t.Parallel()
	f := setup(t)
	h1 := f.createScript("u/me/old", "bash", "echo one\n")
	h2 := f.createScript("u/me/old", "bash", "echo two\n")
	if r := f.do("POST", "/api/w/local/scripts/create", "application/json", `{"path":"u/me/old","language":"bash","content":"echo three\n","parent_hash":"`+h1+`"}`); r.status != 400 || !strings.Contains(r.body, "Path conflict for u/me/old with non-archived hash "+h2) {
		t.Fatalf("stale parent: %d %s", r.status, r.body)
	}

	f.mustDo(200, "POST", "/api/w/local/scripts/archive/p/u/me/old", "", "")
	if list := f.mustDo(200, "GET", "/api/w/local/scripts/list", "", "").body; strings.Contains(list, "u/me/old") {
		t.Fatalf("an archived script is listed: %s", list)
	}
	if list := f.mustDo(200, "GET", "/api/w/local/scripts/list?show_archived=true", "", "").body; !strings.Contains(list, `"archived":true`) {
		t.Fatalf("show_archived: %s", list)
	}
	f.mustDo(404, "GET", "/api/w/local/scripts/get/p/u/me/old", "", "")
	f.mustDo(404, "POST", "/api/w/local/jobs/run_wait_result/p/u/me/old", "application/json", "{}")
	if r := f.mustDo(200, "POST", "/api/w/local/jobs/run_wait_result/h/"+h2, "application/json", "{}"); r.body != `"two"` {
		t.Fatalf("an archived version by hash: %s", r.body)
	}
	// An archived path takes a new version without a parent, as Windmill's.
	h3 := f.createScript("u/me/old", "bash", "echo three\n")
	if r := f.mustDo(200, "POST", "/api/w/local/jobs/run_wait_result/p/u/me/old", "application/json", "{}"); r.body != `"three"` {
		t.Fatalf("after saving at the archived path: %s", r.body)
	}
	f.mustDo(200, "POST", "/api/w/local/scripts/archive/h/"+h3, "", "")
	f.mustDo(404, "GET", "/api/w/local/scripts/get/p/u/me/old", "", "")
	f.mustDo(200, "POST", "/api/w/local/scripts/archive/p/u/me/old", "application/json", `{"archived":false}`)
	f.mustDo(200, "GET", "/api/w/local/scripts/get/p/u/me/old", "", "")

	f.mustDo(200, "POST", "/api/w/local/scripts/delete/h/"+h3, "", "")
	var latest map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/scripts/get/p/u/me/old", "", "").body), &latest)
	if latest["hash"] != h2 {
		t.Fatalf("after deleting the latest version the path points at %v, want %s", latest["hash"], h2)
	}
	f.mustDo(404, "POST", "/api/w/local/jobs/run_wait_result/h/"+h3, "application/json", "{}")
	f.mustDo(200, "POST", "/api/w/local/scripts/delete/h/"+h2, "", "")
	f.mustDo(200, "POST", "/api/w/local/scripts/delete/h/"+h1, "", "")
	f.mustDo(404, "GET", "/api/w/local/scripts/get/p/u/me/old", "", "")
	f.mustDo(404, "POST", "/api/w/local/scripts/delete/h/"+h1, "", "")

	// Flows: archive, restore, and flows/update.
	f.createScript("u/me/step", "bash", "echo step\n")
	body := `{"path":"u/me/f","value":{"modules":[{"id":"a","value":{"type":"script","path":"u/me/step"}}]}}`
	f.mustDo(201, "POST", "/api/w/local/flows/create", "application/json", body)
	f.mustDo(200, "POST", "/api/w/local/flows/archive/u/me/f", "application/json", `{"archived":true}`)
	if list := f.mustDo(200, "GET", "/api/w/local/flows/list", "", "").body; strings.Contains(list, "u/me/f") {
		t.Fatalf("an archived flow is listed: %s", list)
	}
	f.mustDo(404, "POST", "/api/w/local/jobs/run_wait_result/f/u/me/f", "application/json", "{}")
	f.mustDo(200, "POST", "/api/w/local/flows/archive/u/me/f", "application/json", `{"archived":false}`)
	f.mustDo(201, "POST", "/api/w/local/flows/update/u/me/f", "application/json", `{"path":"u/me/f","summary":"renamed","value":{"modules":[{"id":"a","value":{"type":"script","path":"u/me/step"}}]}}`)
	if g := f.mustDo(200, "GET", "/api/w/local/flows/get/u/me/f", "", "").body; !strings.Contains(g, `"summary":"renamed"`) {
		t.Fatalf("flows/update: %s", g)
	}
	f.mustDo(404, "POST", "/api/w/local/flows/update/u/me/nope", "application/json", body)
}

// Folders keep their metadata; the archive has a folder.meta for every
// folder an item lives in, stored or not, as a Windmill workspace needs.
func TestFolders(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.mustDo(201, "POST", "/api/w/local/folders/create", "application/json", `{"name":"team","summary":"Team things","owners":["me"],"extra_perms":{}}`)
	f.mustDo(400, "POST", "/api/w/local/folders/create", "application/json", `{"name":"team"}`)
	f.mustDo(400, "POST", "/api/w/local/folders/create", "application/json", `{"name":"../x"}`)
	f.mustDo(200, "POST", "/api/w/local/folders/update/team", "application/json", `{"summary":"Team"}`)
	var got map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/folders/get/team", "", "").body), &got)
	if got["summary"] != "Team" || got["display_name"] != "team" || len(got["owners"].([]any)) != 1 {
		t.Fatalf("folder: %v", got)
	}
	f.createScript("f/other/x", "bash", "echo x\n")
	r := f.mustDo(200, "GET", "/api/w/local/workspaces/tarball?archive_type=zip", "", "")
	zr, _ := zip.NewReader(bytes.NewReader([]byte(r.body)), int64(len(r.body)))
	names := map[string]bool{}
	for _, zf := range zr.File {
		names[zf.Name] = true
	}
	if !names["f/team/folder.meta.json"] || !names["f/other/folder.meta.json"] {
		t.Fatalf("archive folders: %v", names)
	}
	f.mustDo(200, "DELETE", "/api/w/local/folders/delete/team", "", "")
	f.mustDo(404, "GET", "/api/w/local/folders/get/team", "", "")
}

// jobs/queue/list lists what has not finished, in Windmill's QueuedJob
// shape; jobs carry the fields Windmill's always do.
func TestQueueList(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createScript("u/me/slow", "bash", "sleep 5\n")
	f.createScript("u/me/quick", "bash", "echo done\n")
	id := f.mustDo(201, "POST", "/api/w/local/jobs/run/p/u/me/slow", "application/json", "{}").body
	f.mustDo(200, "POST", "/api/w/local/jobs/run_wait_result/p/u/me/quick", "application/json", "{}")
	var queued []map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/jobs/queue/list", "", "").body), &queued)
	if len(queued) != 1 || queued[0]["id"] != id || queued[0]["type"] != "QueuedJob" {
		t.Fatalf("queue/list: %v", queued)
	}
	if _, ok := queued[0]["script_entrypoint_override"]; !ok {
		t.Fatalf("a QueuedJob without script_entrypoint_override: %v", queued[0])
	}
	var done []map[string]any
	json.Unmarshal([]byte(f.mustDo(200, "GET", "/api/w/local/jobs/completed/list", "", "").body), &done)
	if len(done) != 1 || done[0]["script_path"] != "u/me/quick" {
		t.Fatalf("completed/list: %v", done)
	}
	if _, ok := done[0]["result_columns"]; !ok {
		t.Fatalf("a CompletedJob without result_columns: %v", done[0])
	}
	f.mustDo(200, "POST", "/api/w/local/jobs_u/queue/cancel/"+id, "application/json", "{}")
}
