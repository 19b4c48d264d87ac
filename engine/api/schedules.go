package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/millrun/millrun/engine/api/answers"
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
func (s *Server) registerSchedules(mux Mux) {
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
func (s *Server) scheduleJSON(sc *store.Schedule) answers.Schedule {
	out := answers.Schedule{
		WorkspaceID: sc.Workspace, Path: sc.Path, EditedBy: sc.EditedBy, EditedAt: sc.UpdatedAt.Format(time.RFC3339Nano),
		Schedule: sc.Schedule, Timezone: sc.Timezone, Enabled: sc.Enabled, ScriptPath: sc.ScriptPath, IsFlow: sc.IsFlow,
		Args: json.RawMessage(sc.Args), ExtraPerms: answers.ExtraPerms{}, Email: s.email(), Error: sc.Error,
		OnFailure: sc.OnFailure, OnFailureTimes: 1, Summary: sc.Summary, Description: sc.Description,
		CronVersion: "v2", Missed: sc.Missed,
	}
	if !sc.NextDue.IsZero() {
		next := sc.NextDue.UTC().Format(time.RFC3339)
		out.NextRun = &next
	}
	if c, err := schedules.Parse(sc.Schedule, sc.Timezone); err == nil {
		out.DescriptionWords = c.Describe()
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

func (s *Server) putSchedule(create bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.checkWorkspace(w, r) || !requireFull(w, r, s.Log, "schedules:write") {
			return
		}
		var b scheduleBody
		if err := s.decodeBody(r, &b); err != nil {
			s.fail(w, err)
			return
		}
		sc := &store.Schedule{Workspace: s.Workspace, Path: b.Path, ScriptPath: b.ScriptPath, IsFlow: b.IsFlow,
			Args: "{}", Enabled: true, Missed: schedules.MissedSkip}
		if !create {
			// An update keeps what it does not name; what a schedule runs
			// stays fixed, as in Windmill (delete and create to change it).
			cur, err := s.DB.GetSchedule(r.Context(), s.Workspace, r.PathValue("path"))
			if err != nil {
				s.fail(w, scheduleErr(err, r.PathValue("path")))
				return
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
			s.fail(w, apierr.BadRequest("schedule path: %s", err))
			return
		}
		if create {
			if err := s.checkRunnable(r, sc.IsFlow, sc.ScriptPath); err != nil {
				s.fail(w, err)
				return
			}
		}
		c, err := schedules.Parse(b.Schedule, b.Timezone)
		if err != nil {
			s.fail(w, err)
			return
		}
		sc.Schedule, sc.Timezone = c.Expr, c.Location.String()
		if len(b.Args) > 0 && string(b.Args) != "null" {
			var obj map[string]any
			if json.Unmarshal(b.Args, &obj) != nil {
				s.fail(w, apierr.BadRequest("args must be a JSON object of the arguments by name"))
				return
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
					s.fail(w, apierr.BadRequest("on_failure: %s", err))
					return
				}
			}
		}
		if b.Missed != nil {
			if *b.Missed != schedules.MissedSkip && *b.Missed != schedules.MissedRunOnce {
				s.fail(w, apierr.BadRequest("missed must be %q (runs missed while the computer slept are skipped) or %q (one run on waking)", schedules.MissedSkip, schedules.MissedRunOnce))
				return
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
			s.fail(w, scheduleErr(err, sc.Path))
			return
		}
		s.Schedules.Changed()
		s.changed(r, "schedule.save", sc.Path, sc.Schedule+" "+sc.Timezone, nil)
		status := http.StatusOK
		if create {
			status = http.StatusCreated
		}
		writeText(w, status, sc.Path)
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

func (s *Server) getSchedule(w http.ResponseWriter, r *http.Request) {
	if !s.checkWorkspace(w, r) || !requireFull(w, r, s.Log, "schedules:read") {
		return
	}
	sc, err := s.DB.GetSchedule(r.Context(), s.Workspace, r.PathValue("path"))
	if err != nil {
		s.fail(w, scheduleErr(err, r.PathValue("path")))
		return
	}
	httpx.JSON(w, http.StatusOK, s.scheduleJSON(sc))
}

// listSchedules takes Windmill's path and is_flow filters (the schedules
// of one script or flow).
func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request) {
	if !s.checkWorkspace(w, r) || !requireFull(w, r, s.Log, "schedules:read") {
		return
	}
	list, err := s.DB.ListSchedules(r.Context(), s.Workspace)
	if err != nil {
		s.fail(w, err)
		return
	}
	q := r.URL.Query()
	out := []answers.Schedule{}
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
}

func (s *Server) deleteSchedule(w http.ResponseWriter, r *http.Request) {
	if !s.checkWorkspace(w, r) || !requireFull(w, r, s.Log, "schedules:write") {
		return
	}
	if err := s.DB.DeleteSchedule(r.Context(), s.Workspace, r.PathValue("path")); err != nil {
		s.fail(w, scheduleErr(err, r.PathValue("path")))
		return
	}
	s.changed(r, "schedule.delete", r.PathValue("path"), "", nil)
	writeText(w, http.StatusOK, "schedule "+r.PathValue("path")+" deleted")
}

// setScheduleEnabled turns a schedule on (its next due time counted from
// now: the time it was off is not caught up) or off.
func (s *Server) setScheduleEnabled(w http.ResponseWriter, r *http.Request) {
	if !s.checkWorkspace(w, r) || !requireFull(w, r, s.Log, "schedules:write") {
		return
	}
	var b struct {
		Enabled *bool `json:"enabled"`
	}
	if err := s.decodeBody(r, &b); err != nil {
		s.fail(w, err)
		return
	}
	if b.Enabled == nil {
		s.fail(w, apierr.BadRequest("enabled is required (true or false)"))
		return
	}
	path := r.PathValue("path")
	sc, err := s.DB.GetSchedule(r.Context(), s.Workspace, path)
	if err != nil {
		s.fail(w, scheduleErr(err, path))
		return
	}
	var next time.Time
	if *b.Enabled {
		c, err := schedules.Parse(sc.Schedule, sc.Timezone)
		if err != nil {
			s.fail(w, apierr.BadRequest("%s", err))
			return
		}
		next = c.Next(s.Schedules.Now())
	}
	if err := s.DB.SetScheduleEnabled(r.Context(), s.Workspace, path, *b.Enabled, next); err != nil {
		s.fail(w, scheduleErr(err, path))
		return
	}
	s.Schedules.Changed()
	s.changed(r, "schedule.setenabled", path, map[bool]string{true: "on", false: "off"}[*b.Enabled], nil)
	writeText(w, http.StatusOK, path)
}

func (s *Server) parseCronBody(w http.ResponseWriter, r *http.Request) *schedules.Cron {
	var b struct {
		Schedule string `json:"schedule"`
		Timezone string `json:"timezone"`
	}
	if err := s.decodeBody(r, &b); err != nil {
		s.fail(w, err)
		return nil
	}
	c, err := schedules.Parse(b.Schedule, b.Timezone)
	if err != nil {
		s.fail(w, err)
		return nil
	}
	return c
}

// previewSchedule is Windmill's (outside any workspace): the next due times.
func (s *Server) previewSchedule(w http.ResponseWriter, r *http.Request) {
	if !requireFull(w, r, s.Log, "schedules:read") {
		return
	}
	if c := s.parseCronBody(w, r); c != nil {
		out := []string{}
		for _, t := range c.Upcoming(s.Schedules.Now(), 10) {
			out = append(out, t.UTC().Format(time.RFC3339))
		}
		httpx.JSON(w, http.StatusOK, out)
	}
}

// explainSchedule is what the UI shows under the cron field.
func (s *Server) explainSchedule(w http.ResponseWriter, r *http.Request) {
	if !requireFull(w, r, s.Log, "schedules:read") {
		return
	}
	if c := s.parseCronBody(w, r); c != nil {
		next := []string{}
		for _, t := range c.Upcoming(s.Schedules.Now(), 5) {
			next = append(next, t.Format(time.RFC3339))
		}
		httpx.JSON(w, http.StatusOK, answers.CronExplained{Schedule: c.Expr, Timezone: c.Location.String(), Description: c.Describe(), Next: next})
	}
}
