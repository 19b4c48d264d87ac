package api

import (
	"context"
	"net/http"
	goruntime "runtime"

	"github.com/millrun/millrun/engine/api/answers"
	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/autostart"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/runtime"
	"github.com/millrun/millrun/engine/settings"
)

// Control is what the settings and tunnel routes change in the running
// engine, which applies it.
type Control interface {
	Settings() settings.Settings
	UpdateSettings(ctx context.Context, s settings.Settings) error
	// StartTunnel publishes the webhooks with the saved configuration.
	StartTunnel() error
}

func (s *Server) registerSettings(mux Mux) {
	mux.HandleFunc("GET /api/millrun/settings", FullAccess(s.Log, "settings:read", func(w http.ResponseWriter, r *http.Request) {
		in := s.Runner.Interpreters()
		httpx.JSON(w, http.StatusOK, answers.SettingsView{Settings: s.Control.Settings(), Interpreters: in, StartMs: s.Runner.StartTimes(), InstallHints: installHints(in), Queue: s.Queue.Stats(), Workspace: s.Workspace,
			StartAtLogin: answers.StartAtLogin{Available: s.StartCommand != nil, Entry: autostart.Where(), Command: s.StartCommand}})
	}))
	mux.HandleFunc("POST /api/millrun/settings", FullAccess(s.Log, "settings:write", func(w http.ResponseWriter, r *http.Request) {
		set := s.Control.Settings()
		if err := decodeJSON(r, &set, bodyRules{limit: 1 << 20, strict: true}); err != nil {
			apierr.Write(w, s.Log, err)
			return
		}
		if err := s.Control.UpdateSettings(r.Context(), set); err != nil {
			apierr.Write(w, s.Log, apierr.BadRequest("%s", err))
			return
		}
		s.changed(r, "settings.update", "", "", nil)
		httpx.JSON(w, http.StatusOK, answers.SettingsSaved{Settings: s.Control.Settings()})
	}))
	mux.HandleFunc("GET /api/millrun/packages", FullAccess(s.Log, "settings:read", func(w http.ResponseWriter, r *http.Request) {
		p := s.Runner.Packages
		if p == nil {
			apierr.Write(w, s.Log, apierr.NotFound("this millrun installs no packages"))
			return
		}
		size, err := p.Cache.Size()
		if err != nil {
			apierr.Write(w, s.Log, err)
			return
		}
		tool := "pip"
		if p.Tools.UV != "" {
			tool = "uv (" + p.Tools.UV + ")"
		}
		httpx.JSON(w, http.StatusOK, answers.PackagesView{Location: p.Cache.Root, Bytes: size, IndexURL: p.Tools.IndexURL(), Tool: tool})
	}))
	mux.HandleFunc("POST /api/millrun/packages/clear", FullAccess(s.Log, "settings:write", func(w http.ResponseWriter, r *http.Request) {
		p := s.Runner.Packages
		if p == nil {
			apierr.Write(w, s.Log, apierr.NotFound("this millrun installs no packages"))
			return
		}
		if err := p.Cache.Clear(); err != nil {
			apierr.Write(w, s.Log, err)
			return
		}
		s.changed(r, "packages.clear", "", "", nil)
		writeText(w, http.StatusOK, "the package cache is empty; the next run of each script installs its packages again")
	}))
}

// installHints say, for each language with no interpreter, how to get one
// on this system.
func installHints(in runtime.Interpreters) map[string]string {
	out := map[string]string{}
	for lang, path := range map[string]string{"python": in.Python, "node": in.Node, "bash": in.Bash} {
		if path == "" && (lang != "node" || in.Bun == "" && in.Deno == "") {
			out[lang] = runtime.InstallHint(goruntime.GOOS, lang)
		}
	}
	return out
}
