package api

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/millrun/millrun/engine/api/answers"
	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/runtime"
	"github.com/millrun/millrun/engine/schedules"
)

// The routes `wmill sync pull` reads before it writes a folder: which
// items are workspace-specific (none: millrun has one workspace), which
// resource types are files (none), and the workspace as an archive.
func (s *Server) registerWorkspace(mux routes) {
	mux.full("GET /api/w/{ws}/workspaces/list_ws_specific", "workspaces:read", func(w http.ResponseWriter, r *http.Request) error {
		httpx.JSON(w, http.StatusOK, []any{})
		return nil
	})
	mux.full("GET /api/w/{ws}/resources/file_resource_type_to_file_ext_map", "resources:read", func(w http.ResponseWriter, r *http.Request) error {
		m, err := s.fileResourceTypes(r)
		if err != nil {
			return err
		}
		httpx.JSON(w, http.StatusOK, m)
		return nil
	})
	mux.full("GET /api/w/{ws}/workspaces/tarball", "workspaces:read", s.tarball)
}

// ScriptFileExt is the extension Windmill's export gives a script of lang,
// with TypeScript named after the CLI's default_ts.
func ScriptFileExt(lang, defaultTS string) string { return runtime.ExportExt(lang, defaultTS) }

// checkEntryName refuses an archive entry name that `wmill sync pull` (or
// any unzip) would write outside the folder it unpacks into: absolute,
// with a "." or ".." or empty segment, or with what Windows reads as a
// separator or a drive. Item paths are checked when items are saved; this
// catches what an older millrun stored before those checks, so that no
// archive millrun serves is a zip-slip.
func checkEntryName(name string) error {
	if !fs.ValidPath(name) || name == "." || strings.ContainsAny(name, "\\:") || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 }) {
		return apierr.Conflict("the export would hold the file name %q, which leads outside the folder it is written to: rename or delete that item (in its URL, write each dot of those segments as %%2E), then export again", name)
	}
	return nil
}

// tarball answers Windmill's workspace export in the layout `wmill sync
// pull` reads: each script as its code file beside a .script.json, each
// flow as a .flow.json (the CLI splits it into a .flow folder), resources,
// variables and, when asked, HTTP routes. A secret variable's value, and
// each secret field of a resource (a route's signing secret, API key or
// password), is sealed with this millrun's key unless plain_secret is set,
// as Windmill seals secrets with the workspace key; pushed back to this
// millrun they open again, and another installation refuses them, asking
// for the secret to be entered again.
func (s *Server) tarball(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	flag := func(name string) bool { b, _ := strconv.ParseBool(q.Get(name)); return b }
	switch t := q.Get("archive_type"); t {
	case "zip":
	case "", "tar":
		// Windmill's answer when it cannot give this type: the CLI then
		// asks for a zip.
		return apierr.BadRequest("Invalid Archive Type %s: millrun exports zip archives", t)
	default:
		return apierr.BadRequest("Invalid Archive Type %s", t)
	}
	defaultTS := q.Get("default_ts")
	if defaultTS == "" {
		defaultTS = "bun"
	}
	ctx := r.Context()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var werr error
	put := func(name string, content []byte) {
		if werr != nil {
			return
		}
		if err := checkEntryName(name); err != nil {
			werr = err
			return
		}
		f, err := zw.Create(name)
		if err == nil {
			_, err = f.Write(content)
		}
		werr = err
	}
	putJSON := func(name string, v any) {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			werr = err
			return
		}
		put(name, b)
	}

	// Every folder an item lives in gets its folder.meta, stored or not:
	// a Windmill workspace refuses f/<name>/ items whose folder is missing.
	folders := map[string]bool{}
	used := func(path string) {
		if rest, ok := strings.CutPrefix(path, "f/"); ok {
			if name, _, ok := strings.Cut(rest, "/"); ok {
				folders[name] = true
			}
		}
	}
	list, err := s.Catalog.List(ctx, s.Workspace, false)
	if err != nil {
		return err
	}
	for _, sum := range list {
		v := sum.Latest // the list carries each latest version whole
		used(v.Path)
		put(v.Path+"."+ScriptFileExt(v.Language, defaultTS), []byte(v.Content))
		meta := scriptExport(v)
		if perms := s.acl(r, "script", v.Path); len(perms) > 0 {
			meta.add("extra_perms", perms)
		}
		putJSON(v.Path+".script.json", meta)
	}

	flowList, err := s.Flows.List(ctx, s.Workspace, false)
	if err != nil {
		return err
	}
	for _, f := range flowList {
		used(f.Path)
		meta := flowExport(f)
		if perms := s.acl(r, "flow", f.Path); len(perms) > 0 {
			meta.add("extra_perms", perms)
		}
		putJSON(f.Path+".flow.json", meta)
	}

	plain := flag("plain_secret") || flag("plain_secrets")
	if plain {
		s.changed(r, "variable.read", "*", "workspace export with plain secrets", nil)
	}
	if !flag("skip_resources") {
		rs, err := s.Resources.ListFull(ctx, s.Workspace)
		if err != nil {
			return err
		}
		for _, full := range rs {
			used(full.Path)
			value := full.Value
			if !plain {
				// Route credentials (signing secrets, API keys, passwords)
				// are sealed as secret variables are.
				value = s.Resources.ExportValue(s.Workspace, value)
			}
			putJSON(full.Path+".resource.json", answers.ResourceFile{Value: value, Description: full.Description, ResourceType: full.ResourceType})
		}
	}

	if !flag("skip_variables") {
		vars, err := s.Resources.ListVariablesWhole(ctx, s.Workspace)
		if err != nil {
			return err
		}
		for _, v := range vars {
			if v.IsSecret && flag("skip_secrets") {
				continue
			}
			value := v.Plain
			if v.IsSecret && !plain {
				value = s.Resources.ExportSecret(s.Workspace, value)
			}
			used(v.Path)
			putJSON(v.Path+".variable.json", answers.VariableFile{Value: value, IsSecret: v.IsSecret, Description: v.Description})
		}
	}

	if flag("include_triggers") {
		for _, t := range s.Triggers.List(s.Workspace) {
			b, _ := json.Marshal(t)
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			for _, k := range []string{"workspace_id", "path", "edited_by", "edited_at"} {
				delete(m, k)
			}
			used(t.Path)
			putJSON(t.Path+".http_trigger.json", m)
		}
	}

	if flag("include_schedules") {
		list, err := s.Schedules.List(ctx, s.Workspace, schedules.Filter{})
		if err != nil {
			return err
		}
		for _, sc := range list {
			used(sc.Path)
			putJSON(sc.Path+".schedule.json", s.scheduleJSON(sc).File())
		}
	}

	if werr == nil {
		werr = s.exportKept(r, put, putJSON, used, flag)
	}

	stored, err := s.Folders.List(ctx, s.Workspace)
	if err != nil {
		return err
	}
	for _, f := range stored {
		delete(folders, f.Name)
		putJSON("f/"+f.Name+"/folder.meta.json", answers.FolderFile{
			DisplayName: f.DisplayName, Owners: json.RawMessage(f.Owners), ExtraPerms: json.RawMessage(f.ExtraPerms), Summary: f.Summary,
		})
	}
	for _, name := range slices.Sorted(maps.Keys(folders)) {
		putJSON("f/"+name+"/folder.meta.json", answers.FolderFile{DisplayName: name, Owners: json.RawMessage("[]"), ExtraPerms: json.RawMessage("{}")})
	}

	if werr == nil {
		werr = zw.Close()
	}
	if werr != nil {
		if _, unsafe := werr.(*apierr.Error); unsafe {
			return werr
		}
		return fmt.Errorf("build the workspace archive: %w", werr)
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="windmill-`+s.Workspace+`.zip"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
	return nil
}
