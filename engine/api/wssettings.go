package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/millrun/millrun/engine/api/answers"
	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/store"
)

// settingsOrder is Windmill's workspace settings (the grouped form its
// export writes, settings_version v2), in its order.
var settingsOrder = []string{
	"auto_invite", "webhook", "error_handler", "success_handler", "ai_config", "large_file_storage", "git_sync",
	"default_app", "default_scripts", "name", "mute_critical_alerts", "color", "operator_settings", "datatable",
	"slack_team_id", "slack_name", "slack_command_script", "slack_oauth_client_id", "slack_oauth_client_secret",
}

// settingsAlwaysWritten are written by Windmill's export even when null:
// null there means "clear it" when the file is pushed.
var settingsAlwaysWritten = map[string]bool{
	"error_handler": true, "success_handler": true, "slack_oauth_client_id": true, "slack_oauth_client_secret": true, "name": true,
}

// workspaceSettings is the workspace's settings document: kept as pushed,
// with the one millrun has (webhook: the workspace webhook it calls on
// every change) read from and written to millrun's own setting.
func (s *Server) workspaceSettings(r *http.Request) (doc, error) {
	d, err := s.getDoc(r, keptSettings, "")
	if errors.Is(err, store.ErrNotFound) {
		d, err = doc{}, nil
	}
	if err != nil {
		return nil, err
	}
	if s.Control != nil {
		d["webhook"] = raw(nullIfEmpty(s.Control.Settings().WorkspaceWebhookURL))
	}
	d["name"] = raw(s.Workspace)
	return d, nil
}

// settingsExport is settings.json in a workspace export.
func settingsExport(d doc) object {
	var o object
	for _, k := range settingsOrder {
		v := d[k]
		if isNull(v) {
			if !settingsAlwaysWritten[k] {
				continue
			}
			v = json.RawMessage("null")
		}
		o.add(k, v)
	}
	return o
}

var workspaceKeyRE = regexp.MustCompile(`^[a-zA-Z0-9]{64}$`)

func (s *Server) registerWorkspaceSettings(mux routes) {
	mux.full("GET /api/w/{ws}/workspaces/get_settings", "workspaces:read", func(w http.ResponseWriter, r *http.Request) error {
		d, err := s.workspaceSettings(r)
		if err != nil {
			return err
		}
		out := map[string]any{"workspace_id": s.Workspace}
		for _, k := range settingsOrder {
			out[k] = json.RawMessage("null") // wmill compares with null, not with absent
			if v, ok := d[k]; ok && len(v) > 0 {
				out[k] = v
			}
		}
		httpx.JSON(w, http.StatusOK, out)
		return nil
	})
	mux.full("GET /api/w/{ws}/workspaces/get_workspace_name", "workspaces:read", func(w http.ResponseWriter, r *http.Request) error {
		writeText(w, http.StatusOK, s.Workspace)
		return nil
	})

	// edit sets one setting from what the route's body says of it.
	edit := func(key string, value func(body doc, old json.RawMessage) (json.RawMessage, error)) handlerFunc {
		return func(w http.ResponseWriter, r *http.Request) error {
			if err := s.editSetting(r, key, value); err != nil {
				return err
			}
			writeText(w, http.StatusOK, "workspace settings updated: "+key)
			return nil
		}
	}
	field := func(name string) func(doc, json.RawMessage) (json.RawMessage, error) {
		return func(body doc, _ json.RawMessage) (json.RawMessage, error) { return body[name], nil }
	}
	whole := func(body doc, _ json.RawMessage) (json.RawMessage, error) {
		if len(body) == 0 {
			return nil, nil
		}
		return raw(body), nil
	}
	mux.full("POST /api/w/{ws}/workspaces/edit_webhook", "workspaces:write", func(w http.ResponseWriter, r *http.Request) error {
		var body struct {
			Webhook *string `json:"webhook"`
		}
		if err := s.decodeOptionalBody(r, &body); err != nil {
			return err
		}
		url := ""
		if body.Webhook != nil {
			url = *body.Webhook
		}
		if s.Control == nil {
			return apierr.BadRequest("this millrun has no workspace webhook setting")
		}
		set := s.Control.Settings()
		set.WorkspaceWebhookURL = url
		if err := s.Control.UpdateSettings(r.Context(), set); err != nil {
			return apierr.BadRequest("%s", err)
		}
		s.changed(r, "settings.update", "workspace_webhook_url", "", nil)
		writeText(w, http.StatusOK, "webhook updated")
		return nil
	})
	mux.full("POST /api/w/{ws}/workspaces/edit_auto_invite", "workspaces:write", edit("auto_invite", func(body doc, old json.RawMessage) (json.RawMessage, error) {
		prev := map[string]json.RawMessage{}
		_ = json.Unmarshal(old, &prev)
		var b struct {
			Operator bool `json:"operator"`
			AutoAdd  bool `json:"auto_add"`
		}
		_ = json.Unmarshal(raw(body), &b)
		out := map[string]any{}
		for k, v := range prev {
			out[k] = v // instance groups stay
		}
		// An empty body turns auto-invite off; the rest of the setting
		// stays as it was.
		out["enabled"] = len(body) > 0
		if len(body) > 0 {
			out["operator"] = b.Operator
			out["mode"] = map[bool]string{true: "add", false: "invite"}[b.AutoAdd]
		} else {
			if _, ok := prev["operator"]; !ok {
				out["operator"] = false
			}
			if _, ok := prev["mode"]; !ok {
				out["mode"] = "invite"
			}
		}
		return raw(out), nil
	}))
	mux.full("POST /api/w/{ws}/workspaces/edit_instance_groups", "workspaces:write", edit("auto_invite", func(body doc, old json.RawMessage) (json.RawMessage, error) {
		prev := map[string]json.RawMessage{}
		_ = json.Unmarshal(old, &prev)
		prev["instance_groups"] = body["groups"]
		prev["instance_groups_roles"] = body["roles"]
		return raw(prev), nil
	}))
	mux.full("POST /api/w/{ws}/workspaces/edit_copilot_config", "workspaces:write", edit("ai_config", whole))
	mux.full("POST /api/w/{ws}/workspaces/edit_error_handler", "workspaces:write", edit("error_handler", func(body doc, _ json.RawMessage) (json.RawMessage, error) {
		return handlerSetting(body, true), nil
	}))
	mux.full("POST /api/w/{ws}/workspaces/edit_success_handler", "workspaces:write", edit("success_handler", func(body doc, _ json.RawMessage) (json.RawMessage, error) {
		return handlerSetting(body, false), nil
	}))
	mux.full("POST /api/w/{ws}/workspaces/edit_large_file_storage_config", "workspaces:write", edit("large_file_storage", field("large_file_storage")))
	mux.full("POST /api/w/{ws}/workspaces/edit_git_sync_config", "workspaces:write", edit("git_sync", field("git_sync_settings")))
	mux.full("POST /api/w/{ws}/workspaces/default_scripts", "workspaces:write", edit("default_scripts", whole))
	mux.full("POST /api/w/{ws}/workspaces/edit_default_app", "workspaces:write", edit("default_app", field("default_app_path")))
	mux.full("POST /api/w/{ws}/workspaces/critical_alerts/mute", "workspaces:write", edit("mute_critical_alerts", field("mute_critical_alerts")))
	mux.full("POST /api/w/{ws}/workspaces/change_workspace_color", "workspaces:write", edit("color", field("color")))
	mux.full("POST /api/w/{ws}/workspaces/operator_settings", "workspaces:write", edit("operator_settings", whole))
	mux.full("POST /api/w/{ws}/workspaces/edit_datatable_config", "workspaces:write", func(w http.ResponseWriter, r *http.Request) error {
		err := s.editSetting(r, "datatable", func(body doc, _ json.RawMessage) (json.RawMessage, error) {
			var set struct {
				Datatables map[string]json.RawMessage `json:"datatables"`
			}
			_ = json.Unmarshal(body["settings"], &set)
			if len(set.Datatables) == 0 {
				return nil, nil // what wmill sends for "none"
			}
			return body["settings"], nil
		})
		if err != nil {
			return err
		}
		httpx.JSON(w, http.StatusOK, answers.StrandedReferences{StrandedReferences: []string{}}) // wmill reads it
		return nil
	})
	mux.full("POST /api/w/{ws}/workspaces/edit_slack_command", "workspaces:write", edit("slack_command_script", field("slack_command_script")))
	mux.full("POST /api/w/{ws}/workspaces/slack_oauth_config", "workspaces:write", func(w http.ResponseWriter, r *http.Request) error {
		body := doc{}
		if err := s.decodeBody(r, &body); err != nil {
			return err
		}
		if err := s.setSettings(r, map[string]json.RawMessage{
			"slack_oauth_client_id": body["slack_oauth_client_id"], "slack_oauth_client_secret": body["slack_oauth_client_secret"]}); err != nil {
			return err
		}
		writeText(w, http.StatusOK, "slack oauth config updated")
		return nil
	})
	mux.full("DELETE /api/w/{ws}/workspaces/slack_oauth_config", "workspaces:write", func(w http.ResponseWriter, r *http.Request) error {
		if err := s.setSettings(r, map[string]json.RawMessage{"slack_oauth_client_id": nil, "slack_oauth_client_secret": nil}); err != nil {
			return err
		}
		writeText(w, http.StatusOK, "slack oauth config deleted")
		return nil
	})

	// The workspace encryption key: kept and given back. millrun seals its
	// secrets with its own key (its data folder's), so this one seals
	// nothing here and a change re-encrypts nothing.
	mux.full("GET /api/w/{ws}/workspaces/encryption_key", "workspaces:read", func(w http.ResponseWriter, r *http.Request) error {
		key := ""
		if it, err := s.Kept.Get(r.Context(), s.Workspace, keptKey, ""); err == nil {
			_ = json.Unmarshal([]byte(it.Value), &key)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		httpx.JSON(w, http.StatusOK, answers.EncryptionKey{Key: key})
		return nil
	})
	mux.full("POST /api/w/{ws}/workspaces/encryption_key", "workspaces:write", func(w http.ResponseWriter, r *http.Request) error {
		var body struct {
			NewKey string `json:"new_key"`
		}
		if err := s.decodeBody(r, &body); err != nil {
			return err
		}
		if !workspaceKeyRE.MatchString(body.NewKey) {
			return apierr.BadRequest("the workspace encryption key must be 64 letters and digits")
		}
		if err := s.putDoc(r, keptKey, "", body.NewKey); err != nil {
			return err
		}
		s.changed(r, "workspace_key.update", "", "", nil)
		writeText(w, http.StatusOK, "encryption key updated (kept; millrun seals its secrets with its own key)")
		return nil
	})
}

// editSetting sets one setting from the request's body.
func (s *Server) editSetting(r *http.Request, key string, value func(body doc, old json.RawMessage) (json.RawMessage, error)) error {
	body := doc{}
	if err := s.decodeOptionalBody(r, &body); err != nil {
		return err
	}
	d, err := s.getDoc(r, keptSettings, "")
	if errors.Is(err, store.ErrNotFound) {
		d, err = doc{}, nil
	}
	if err != nil {
		return err
	}
	v, err := value(body, d[key])
	if err != nil {
		return err
	}
	if isNull(v) {
		delete(d, key)
	} else {
		d[key] = v
	}
	if err := s.putDoc(r, keptSettings, "", d); err != nil {
		return err
	}
	s.changed(r, "workspace_settings.update", key, "", nil)
	return nil
}

// setSettings sets several settings at once (nil clears one).
func (s *Server) setSettings(r *http.Request, set map[string]json.RawMessage) error {
	d, err := s.getDoc(r, keptSettings, "")
	if errors.Is(err, store.ErrNotFound) {
		d, err = doc{}, nil
	}
	if err != nil {
		return err
	}
	for k, v := range set {
		if isNull(v) {
			delete(d, k)
		} else {
			d[k] = v
		}
	}
	return s.putDoc(r, keptSettings, "", d)
}

// handlerSetting is an error or success handler setting as wmill's edit
// route body gives it: none without a path; muted_on_user_path only when
// set, as the edit route always sends it.
func handlerSetting(body doc, isError bool) json.RawMessage {
	var path string
	if json.Unmarshal(body["path"], &path) != nil || strings.TrimSpace(path) == "" {
		return nil
	}
	var o object
	o.add("path", path)
	if v, ok := body["extra_args"]; ok && !isNull(v) {
		o.add("extra_args", v)
	}
	if isError {
		muted := body["muted_on_cancel"]
		if isNull(muted) {
			muted = json.RawMessage("false")
		}
		o.add("muted_on_cancel", muted)
		if string(body["muted_on_user_path"]) == "true" {
			o.add("muted_on_user_path", true)
		}
	}
	return raw(o)
}
