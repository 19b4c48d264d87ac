package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/millrun/millrun/engine/api/answers"
	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/httpx"
	"github.com/millrun/millrun/engine/schedules"
	"github.com/millrun/millrun/engine/store"
)

// Windmill's schedule routes, plus millrun's explain (the plain-words
// reading and the next runs the UI shows as the cron is typed).
func (s *Server) registerSchedules(mux routes) {
	mux.full("POST /api/w/{ws}/schedules/create", "schedules:write", s.putSchedule(true))
	mux.full("POST /api/w/{ws}/schedules/update/{path...}", "schedules:write", s.putSchedule(false))
	mux.full("GET /api/w/{ws}/schedules/get/{path...}", "schedules:read", s.getSchedule)
	mux.full("GET /api/w/{ws}/schedules/exists/{path...}", "schedules:read", s.exists(func(r *http.Request) bool {
		return s.Schedules.Exists(r.Context(), s.Workspace, r.PathValue("path"))
	}))
	mux.full("GET /api/w/{ws}/schedules/list", "schedules:read", s.listSchedules)
	mux.full("DELETE /api/w/{ws}/schedules/delete/{path...}", "schedules:write", s.deleteSchedule)
	mux.full("POST /api/w/{ws}/schedules/setenabled/{path...}", "schedules:write", s.setScheduleEnabled)
	mux.full("POST /api/schedules/preview", "schedules:read", s.previewSchedule)
	mux.full("POST /api/millrun/schedules/explain", "schedules:read", s.explainSchedule)
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

func (s *Server) putSchedule(create bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in schedules.Input
		if err := s.decodeBody(r, &in); err != nil {
			return err
		}
		var sc *store.Schedule
		var err error
		if create {
			sc, err = s.Schedules.Create(r.Context(), s.Workspace, in, actorOf(r))
		} else {
			sc, err = s.Schedules.Update(r.Context(), s.Workspace, r.PathValue("path"), in, actorOf(r))
		}
		if err != nil {
			return err
		}
		s.changed(r, "schedule.save", sc.Path, sc.Schedule+" "+sc.Timezone, nil)
		status := http.StatusOK
		if create {
			status = http.StatusCreated
		}
		writeText(w, status, sc.Path)
		return nil
	}
}

func (s *Server) getSchedule(w http.ResponseWriter, r *http.Request) error {
	sc, err := s.Schedules.Get(r.Context(), s.Workspace, r.PathValue("path"))
	if err != nil {
		return err
	}
	httpx.JSON(w, http.StatusOK, s.scheduleJSON(sc))
	return nil
}

// listSchedules takes Windmill's path and is_flow filters (the schedules
// of one script or flow).
func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := schedules.Filter{ScriptPath: q.Get("path")}
	if v := q.Get("is_flow"); v != "" {
		isFlow := v == "true"
		f.IsFlow = &isFlow
	}
	list, err := s.Schedules.List(r.Context(), s.Workspace, f)
	if err != nil {
		return err
	}
	out := []answers.Schedule{}
	for _, sc := range list {
		out = append(out, s.scheduleJSON(sc))
	}
	httpx.JSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) deleteSchedule(w http.ResponseWriter, r *http.Request) error {
	if err := s.Schedules.Delete(r.Context(), s.Workspace, r.PathValue("path")); err != nil {
		return err
	}
	s.changed(r, "schedule.delete", r.PathValue("path"), "", nil)
	writeText(w, http.StatusOK, "schedule "+r.PathValue("path")+" deleted")
	return nil
}

// setScheduleEnabled turns a schedule on (its next due time counted from
// now: the time it was off is not caught up) or off.
func (s *Server) setScheduleEnabled(w http.ResponseWriter, r *http.Request) error {
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
	if err := s.Schedules.SetEnabled(r.Context(), s.Workspace, path, *b.Enabled); err != nil {
		return err
	}
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
	c, err := s.parseCronBody(r)
	if err != nil {
		return err
	}
	next := []string{}
	for _, t := range c.Upcoming(s.Schedules.Now(), 5) {
		next = append(next, t.Format(time.RFC3339))
	}
	httpx.JSON(w, http.StatusOK, answers.CronExplained{Schedule: c.Expr, Timezone: c.Location.String(), Description: c.Describe(), Next: next})
	return nil
}
