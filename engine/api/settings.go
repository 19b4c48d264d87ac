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

func (s *Server) registerSettings(mux routes) {
	mux.full("GET /api/millrun/settings", "settings:read", func(w http.ResponseWriter, r *http.Request) error {
		in := s.Runner.Interpreters()
		httpx.JSON(w, http.StatusOK, answers.SettingsView{Settings: s.Control.Settings(), Interpreters: in, StartMs: s.Runner.StartTimes(), InstallHints: installHints(in), Queue: s.Queue.Stats(), Workspace: s.Workspace,
			StartAtLogin: answers.StartAtLogin{Available: s.StartCommand != nil, Entry: autostart.Where(), Command: s.StartCommand}})
		return nil
	})
	mux.full("POST /api/millrun/settings", "settings:write", func(w http.ResponseWriter, r *http.Request) error {
		set := s.Control.Settings()
		if err := decodeJSON(r, &set, bodyRules{limit: 1 << 20, strict: true}); err != nil {
			return err
		}
		if err := s.Control.UpdateSettings(r.Context(), set); err != nil {
			return apierr.BadRequest("%s", err)
		}
		s.changed(r, "settings.update", "", "", nil)
		httpx.JSON(w, http.StatusOK, answers.SettingsSaved{Settings: s.Control.Settings()})
		return nil
	})
	mux.full("GET /api/millrun/packages", "settings:read", func(w http.ResponseWriter, r *http.Request) error {
		p := s.Runner.Packages
		if p == nil {
			return apierr.NotFound("this millrun installs no packages")
		}
		size, err := p.Cache.Size()
		if err != nil {
			return err
		}
		tool := "pip"
		if p.Tools.UV != "" {
			tool = "uv (" + p.Tools.UV + ")"
		}
		httpx.JSON(w, http.StatusOK, answers.PackagesView{Location: p.Cache.Root, Bytes: size, IndexURL: p.Tools.IndexURL(), Tool: tool})
		return nil
	})
	mux.full("POST /api/millrun/packages/clear", "settings:write", func(w http.ResponseWriter, r *http.Request) error {
		p := s.Runner.Packages
		if p == nil {
			return apierr.NotFound("this millrun installs no packages")
		}
		if err := p.Cache.Clear(); err != nil {
			return err
		}
		s.changed(r, "packages.clear", "", "", nil)
		writeText(w, http.StatusOK, "the package cache is empty; the next run of each script installs its packages again")
		return nil
	})
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
