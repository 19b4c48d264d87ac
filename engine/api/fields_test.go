package api

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// exportFiles reads a workspace export into its files' texts.
func (f *fixture) exportFiles(query string) map[string]string {
	f.t.Helper()
	code, body := f.do("GET", "/api/w/local/workspaces/tarball?archive_type=zip"+query, "")
	if code != 200 {
		f.t.Fatalf("tarball: %d %s", code, body)
	}
	zr, err := zip.NewReader(bytes.NewReader([]byte(body)), int64(len(body)))
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]string{}
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			f.t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		out[zf.Name] = string(b)
	}
	return out
}

// jsonEqual compares two JSON texts as values.
func jsonEqual(t *testing.T, what, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("%s: %v in %s", what, err, got)
	}
	_ = json.Unmarshal([]byte(want), &w)
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("%s:\n got %s\nwant %s", what, gb, wb)
	}
}

const sentSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"n":{"type":"integer","description":"how many","default":2,"originalType":"int"}},"required":[]}`

// Every field of Windmill's NewScript is kept and given back as sent, by
// get/p (wmill's "is up to date" check compares them) and by the export
// (what a pull writes), in Windmill's order; an update that names its
// parent gets Windmill's parent_hashes.
func TestScriptFieldsKept(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	sent := `{"path":"u/me/all","language":"python3","content":"def main(n: int = 2):\n    return n\n","summary":"s","description":"d",
		"schema":` + sentSchema + `,"kind":"script","tag":"gpu","envs":["REGION=eu","MODE=x"],"priority":7,"delete_after_use":true,
		"ws_error_handler_muted":true,"restart_unless_cancelled":false,"delete_after_secs":60,"dedicated_worker":false,
		"concurrent_limit":2,"concurrency_time_window_s":10,"concurrency_key":"k","debounce_key":"dk","debounce_delay_s":5,
		"cache_ttl":30,"timeout":45,"visible_to_runner_only":true,"has_preprocessor":false,"labels":["a"],
		"deployment_message":"first","is_template":false,"future_field":{"x":1}}`
	code, hash := f.do("POST", "/api/w/local/scripts/create", sent)
	if code != 201 {
		t.Fatalf("create: %d %s", code, hash)
	}
	_, body := f.do("GET", "/api/w/local/scripts/get/p/u/me/all", "")
	var got map[string]json.RawMessage
	json.Unmarshal([]byte(body), &got)
	for k, want := range map[string]string{
		"schema": sentSchema, "tag": `"gpu"`, "envs": `["REGION=eu","MODE=x"]`, "priority": "7", "delete_after_use": "true",
		"ws_error_handler_muted": "true", "restart_unless_cancelled": "false", "delete_after_secs": "60", "dedicated_worker": "false",
		"concurrent_limit": "2", "concurrency_time_window_s": "10", "concurrency_key": `"k"`, "debounce_key": `"dk"`,
		"debounce_delay_s": "5", "cache_ttl": "30", "timeout": "45", "visible_to_runner_only": "true", "labels": `["a"]`,
		"future_field": `{"x":1}`, "parent_hashes": "[]", "hash": `"` + hash + `"`, "path": `"u/me/all"`,
	} {
		jsonEqual(t, "get/p "+k, string(got[k]), want)
	}
	if _, ok := got["deployment_message"]; ok {
		t.Errorf("deployment_message is how a save is made, not part of the script: %s", body)
	}

	files := f.exportFiles("")
	meta := files["u/me/all.script.json"]
	jsonEqual(t, "export", meta, `{"summary":"s","description":"d","schema":`+sentSchema+`,"lock":"","kind":"script",
		"envs":["REGION=eu","MODE=x"],"cache_ttl":30,"dedicated_worker":false,"ws_error_handler_muted":true,"priority":7,"tag":"gpu",
		"timeout":45,"delete_after_secs":60,"restart_unless_cancelled":false,"visible_to_runner_only":true,"has_preprocessor":false,
		"concurrent_limit":2,"concurrency_time_window_s":10,"concurrency_key":"k","debounce_key":"dk","debounce_delay_s":5,"labels":["a"],
		"delete_after_use":true,"future_field":{"x":1}}`)
	if i, j := strings.Index(meta, `"summary"`), strings.Index(meta, `"envs"`); i < 0 || j < i || strings.Index(meta, `"labels"`) < j {
		t.Errorf("the export is not in Windmill's order: %s", meta)
	}

	code, next := f.do("POST", "/api/w/local/scripts/create", `{"path":"u/me/all","language":"python3","parent_hash":"`+hash+`","content":"def main():\n    return 3\n"}`)
	if code != 201 {
		t.Fatalf("update: %d %s", code, next)
	}
	f.do("POST", "/api/w/local/scripts/create", `{"path":"u/me/all","language":"python3","parent_hash":"`+next+`","content":"def main():\n    return 3\n","summary":"again"}`)
	_, body = f.do("GET", "/api/w/local/scripts/get/p/u/me/all", "")
	json.Unmarshal([]byte(body), &got)
	jsonEqual(t, "parent_hashes", string(got["parent_hashes"]), `["`+hash+`"]`)
	if _, ok := got["tag"]; ok && string(got["tag"]) != "null" {
		t.Errorf("a version saved without a tag has the old one's: %s", got["tag"])
	}
}

// A flow's fields besides its definition are kept and given back.
func TestFlowFieldsKept(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	value := `{"modules":[{"id":"a","value":{"type":"rawscript","language":"bash","content":"echo hi\n","input_transforms":{}}}]}`
	code, body := f.do("POST", "/api/w/local/flows/create", `{"path":"u/me/fl","summary":"s","description":"","value":`+value+`,
		"schema":`+sentSchema+`,"tag":"flowtag","timeout":120,"ws_error_handler_muted":true,"dedicated_worker":false,"deployment_message":"x"}`)
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	_, body = f.do("GET", "/api/w/local/flows/get/u/me/fl", "")
	var got map[string]json.RawMessage
	json.Unmarshal([]byte(body), &got)
	for k, want := range map[string]string{"tag": `"flowtag"`, "timeout": "120", "ws_error_handler_muted": "true", "dedicated_worker": "false", "schema": sentSchema} {
		jsonEqual(t, "get "+k, string(got[k]), want)
	}
	jsonEqual(t, "export", f.exportFiles("")["u/me/fl.flow.json"], `{"summary":"s","description":"","value":`+value+`,"schema":`+sentSchema+`,
		"dedicated_worker":false,"tag":"flowtag","timeout":120,"ws_error_handler_muted":true}`)
}

// A script in a language millrun cannot run is kept whole and exported
// with Windmill's file extension.
func TestScriptInAKeptLanguage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	code, body := f.do("POST", "/api/w/local/scripts/create", `{"path":"f/sql/report","language":"postgresql","content":"-- $1 n\nSELECT $1::int;\n",
		"summary":"","description":"","schema":{"type":"object","properties":{"n":{"type":"integer"}},"required":[]},"lock":"","kind":"script"}`)
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	_, body = f.do("GET", "/api/w/local/scripts/get/p/f/sql/report", "")
	if !strings.Contains(body, `"language":"postgresql"`) {
		t.Errorf("get: %s", body)
	}
	files := f.exportFiles("")
	if files["f/sql/report.pg.sql"] != "-- $1 n\nSELECT $1::int;\n" {
		t.Errorf("export: %v", files)
	}
	jsonEqual(t, "metadata", files["f/sql/report.script.json"], `{"summary":"","description":"","schema":{"type":"object","properties":{"n":{"type":"integer"}},"required":[]},"lock":"","kind":"script"}`)
	if code, body := f.do("POST", "/api/w/local/scripts/create", `{"path":"u/me/x","language":"cobol","content":"x"}`); code != 400 || !strings.Contains(body, "unsupported language") {
		t.Errorf("a language Windmill has not: %d %s", code, body)
	}
}
