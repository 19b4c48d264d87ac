package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/flows"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/schedules"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/store"
)

// Windmill's schedule routes, plus millrun's explain (the plain-words
// reading and the next runs the UI shows as the cron is typed).
func (s *Server) registerSchedules(mux routes) {
	mux.HandleFunc("POST /api/w/{ws}/schedules/create", s.putSchedule(true))
	mux.HandleFunc("POST /api/w/{ws}/schedules/update/{path...}", s.putSchedule(false))
	mux.HandleFunc("GET /api/w/{ws}/schedules/get/{path...}", s.getSchedule)
	mux.HandleFunc("GET /api/w/{ws}/schedules/exists/{path...}", s.exists("schedules:read", func(r *http.Request) bool {
		_, err := s.DB.GetSchedule(r.Context(), s.Workspace, r.PathValue("path"))
		return err == nil
	}))
	mux.HandleFunc("GET /api/w/{ws}/schedules/list", s.listSchedules)
	mux.HandleFunc("DELETE /api/w/{ws}/schedules/delete/{path...}", s.deleteSchedule)
	mux.HandleFunc("POST /api/w/{ws}/schedules/setenabled/{path...}", s.setScheduleEnabled)
	mux.HandleFunc("POST /api/schedules/preview", s.previewSchedule)
	mux.HandleFunc("POST /api/millrun/schedules/explain", s.explainSchedule)
}

// scheduleJSON is Windmill's Schedule, with millrun's next_run, missed
// and the plain-words reading of the cron.
func (s *Server) scheduleJSON(sc *store.Schedule) map[string]any {
	out := map[string]any{
		"workspace_id": sc.Workspace, "path": sc.Path, "edited_by": sc.EditedBy, "edited_at": sc.UpdatedAt.Format(time.RFC3339Nano),
		"schedule": sc.Schedule, "timezone": sc.Timezone, "enabled": sc.Enabled, "script_path": sc.ScriptPath, "is_flow": sc.IsFlow,
		"args": json.RawMessage(sc.Args), "extra_perms": map[string]any{}, "email": s.email(), "error": sc.Error,
		"on_failure": sc.OnFailure, "on_failure_times": 1, "on_failure_exact": false, "on_failure_extra_args": nil,
		"on_recovery": nil, "on_success": nil, "ws_error_handler_muted": false, "retry": nil, "summary": sc.Summary,
		"description": sc.Description, "no_flow_overlap": false, "tag": nil, "paused_until": nil, "cron_version": "v2",
		"missed": sc.Missed, "next_run": nil,
	}
	if !sc.NextDue.IsZero() {
		out["next_run"] = sc.NextDue.UTC().Format(time.RFC3339)
	}
	if c, err := schedules.Parse(sc.Schedule, sc.Timezone); err == nil {
		out["description_words"] = c.Describe()
	}
	return out
}

type scheduleBody struct {
	Path        string          `json:"path"`
	Schedule    string          `json:"schedule"`
	Timezone    string          `json:"timezone"`
	ScriptPath  string          `json:"script_path"`
	IsFlow      bool            `json:"is_flow"`
	Args        json.RawMessage `json:"args"`
	Enabled     *bool           `json:"enabled"`
	Summary     *string         `json:"summary"`
	Description *string         `json:"description"`
	OnFailure   *string         `json:"on_failure"`
	Missed      *string         `json:"missed"`
}

func (s *Server) putSchedule(create bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := s.checkAccess(r, "schedules:write"); err != nil {
			return err
		}
		var b scheduleBody
		if err := s.decodeBody(r, &b); err != nil {
			return err
		}
		sc := &store.Schedule{Workspace: s.Workspace, Path: b.Path, ScriptPath: b.ScriptPath, IsFlow: b.IsFlow,
			Args: "{}", Enabled: true, Missed: schedules.MissedSkip}
		if !create {
			// An update keeps what it does not name; what a schedule runs
			// stays fixed, as in Windmill (delete and create to change it).
			cur, err := s.DB.GetSchedule(r.Context(), s.Workspace, r.PathValue("path"))
			if err != nil {
				return scheduleErr(err, r.PathValue("path"))
			}
			sc = cur
			if b.Schedule == "" {
				b.Schedule = cur.Schedule
			}
			if b.Timezone == "" {
				b.Timezone = cur.Timezone
			}
		}
		if err := scripts.ValidatePath(sc.Path); err != nil {
			return apierr.BadRequest("schedule path: %s", err)
		}
		if create {
			if err := s.checkRunnable(r, sc.IsFlow, sc.ScriptPath); err != nil {
				return err
			}
		}
		c, err := schedules.Parse(b.Schedule, b.Timezone)
		if err != nil {
			return err
		}
		sc.Schedule, sc.Timezone = c.Expr, c.Location.String()
		if len(b.Args) > 0 && string(b.Args) != "null" {
			var obj map[string]any
			if json.Unmarshal(b.Args, &obj) != nil {
				return apierr.BadRequest("args must be a JSON object of the arguments by name")
			}
			sc.Args = string(b.Args)
		}
		if b.Enabled != nil {
			sc.Enabled = *b.Enabled
		}
		if b.Summary != nil {
			sc.Summary = b.Summary
		}
		if b.Description != nil {
			sc.Description = *b.Description
		}
		if b.OnFailure != nil {
			sc.OnFailure = b.OnFailure
			if *b.OnFailure != "" {
				target := strings.TrimPrefix(strings.TrimPrefix(*b.OnFailure, "script/"), "flow/")
				if err := s.checkRunnable(r, strings.HasPrefix(*b.OnFailure, "flow/"), target); err != nil {
					return apierr.BadRequest("on_failure: %s", err)
				}
			}
		}
		if b.Missed != nil {
			if *b.Missed != schedules.MissedSkip && *b.Missed != schedules.MissedRunOnce {
				return apierr.BadRequest("missed must be %q (runs missed while the computer slept are skipped) or %q (one run on waking)", schedules.MissedSkip, schedules.MissedRunOnce)
			}
			sc.Missed = *b.Missed
		}
		sc.NextDue = time.Time{}
		if sc.Enabled {
			sc.NextDue = c.Next(s.Schedules.Now())
		}
		if id := auth.FromContext(r.Context()); id != nil {
			sc.EditedBy = id.Label
		}
		if err := s.DB.PutSchedule(r.Context(), *sc, create); err != nil {
			return scheduleErr(err, sc.Path)
		}
		s.Schedules.Changed()
		s.changed(r, "schedule.save", sc.Path, sc.Schedule+" "+sc.Timezone, nil)
		status := http.StatusOK
		if create {
			status = http.StatusCreated
		}
		writeText(w, status, sc.Path)
		return nil
	}
}

// checkRunnable answers 400 when no script or flow is at path, or when it
// cannot run (a library, or a flow with a library as a step).
func (s *Server) checkRunnable(r *http.Request, isFlow bool, path string) error {
	var err error
	kind := "script"
	if isFlow {
		kind = "flow"
		var f *flows.Flow
		if f, err = s.Flows.Latest(r.Context(), s.Workspace, path); err == nil {
			err = s.Flows.Runnable(r.Context(), f)
		}
	} else {
		var v *scripts.Version
		if v, err = s.Catalog.Latest(r.Context(), s.Workspace, path); err == nil {
			err = v.Runnable()
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return apierr.BadRequest("there is no %s at %q to schedule", kind, path)
	}
	return err
}

func scheduleErr(err error, path string) error {
	switch err {
	case store.ErrNotFound:
		return apierr.NotFound("schedule %s", path)
	case store.ErrDuplicate:
		return apierr.BadRequest("a schedule already exists at %s", path)
	}
	return err
}

func (s *Server) getSchedule(w http.ResponseWriter, r *http.Request) error {
	if err := s.checkAccess(r, "schedules:read"); err != nil {
		return err
	}
	sc, err := s.DB.GetSchedule(r.Context(), s.Workspace, r.PathValue("path"))
	if err != nil {
		return scheduleErr(err, r.PathValue("path"))
	}
	httpx.JSON(w, http.StatusOK, s.scheduleJSON(sc))
	return nil
}

// listSchedules takes Windmill's path and is_flow filters (the schedules
// of one script or flow).
func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request) error {
	if err := s.checkAccess(r, "schedules:read"); err != nil {
		return err
	}
	list, err := s.DB.ListSchedules(r.Context(), s.Workspace)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	out := []map[string]any{}
	for _, sc := range list {
		if p := q.Get("path"); p != "" && sc.ScriptPath != p {
			continue
		}
		if f := q.Get("is_flow"); f != "" && (f == "true") != sc.IsFlow {
			continue
		}
		out = append(out, s.scheduleJSON(sc))
	}
	httpx.JSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) deleteSchedule(w http.ResponseWriter, r *http.Request) error {
	if err := s.checkAccess(r, "schedules:write"); err != nil {
		return err
	}
	if err := s.DB.DeleteSchedule(r.Context(), s.Workspace, r.PathValue("path")); err != nil {
		return scheduleErr(err, r.PathValue("path"))
	}
	s.changed(r, "schedule.delete", r.PathValue("path"), "", nil)
	writeText(w, http.StatusOK, "schedule "+r.PathValue("path")+" deleted")
	return nil
}

// setScheduleEnabled turns a schedule on (its next due time counted from
// now: the time it was off is not caught up) or off.
func (s *Server) setScheduleEnabled(w http.ResponseWriter, r *http.Request) error {
	if err := s.checkAccess(r, "schedules:write"); err != nil {
		return err
	}
	var b struct {
		Enabled *bool `json:"enabled"`
	}
	if err := s.decodeBody(r, &b); err != nil {
		return err
	}
	if b.Enabled == nil {
		return apierr.BadRequest("enabled is required (true or false)")
	}
	path := r.PathValue("path")
	sc, err := s.DB.GetSchedule(r.Context(), s.Workspace, path)
	if err != nil {
		return scheduleErr(err, path)
	}
	var next time.Time
	if *b.Enabled {
		c, err := schedules.Parse(sc.Schedule, sc.Timezone)
		if err != nil {
			return apierr.BadRequest("%s", err)
		}
		next = c.Next(s.Schedules.Now())
	}
	if err := s.DB.SetScheduleEnabled(r.Context(), s.Workspace, path, *b.Enabled, next); err != nil {
		return scheduleErr(err, path)
	}
	s.Schedules.Changed()
	s.changed(r, "schedule.setenabled", path, map[bool]string{true: "on", false: "off"}[*b.Enabled], nil)
	writeText(w, http.StatusOK, path)
	return nil
}

func (s *Server) parseCronBody(r *http.Request) (*schedules.Cron, error) {
	var b struct {
		Schedule string `json:"schedule"`
		Timezone string `json:"timezone"`
	}
	if err := s.decodeBody(r, &b); err != nil {
		return nil, err
	}
	return schedules.Parse(b.Schedule, b.Timezone)
}

// previewSchedule is Windmill's (outside any workspace): the next due times.
func (s *Server) previewSchedule(w http.ResponseWriter, r *http.Request) error {
	if err := requireFull(r, "schedules:read"); err != nil {
		return err
	}
	c, err := s.parseCronBody(r)
	if err != nil {
		return err
	}
	out := []string{}
	for _, t := range c.Upcoming(s.Schedules.Now(), 10) {
		out = append(out, t.UTC().Format(time.RFC3339))
	}
	httpx.JSON(w, http.StatusOK, out)
	return nil
}

// explainSchedule is what the UI shows under the cron field.
func (s *Server) explainSchedule(w http.ResponseWriter, r *http.Request) error {
	if err := requireFull(r, "schedules:read"); err != nil {
		return err
	}
	c, err := s.parseCronBody(r)
	if err != nil {
		return err
	}
	next := []string{}
	for _, t := range c.Upcoming(s.Schedules.Now(), 5) {
		next = append(next, t.Format(time.RFC3339))
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"schedule": c.Expr, "timezone": c.Location.String(), "description": c.Describe(), "next": next})
	return nil
}
