// Package triggers serves custom HTTP routes (Windmill's HTTP-route
// triggers) at /api/r/...: each names a script or flow, a method and an
// authentication method, and millrun checks the caller (tokens, API keys,
// basic auth, or the provider's signature over the raw body) before any
// job exists. Slack's url_verification and Discord's PING are answered here.
package triggers

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/millrun/millrun/engine/errs"
	"github.com/millrun/millrun/engine/resources"
	"github.com/millrun/millrun/engine/store"
)

// Authentication methods.
const (
	AuthNone      = "none"
	AuthWindmill  = "windmill"
	AuthAPIKey    = "api_key"
	AuthBasic     = "basic_http"
	AuthSignature = "signature"
	AuthCustom    = "custom_script"
)

// Trigger is an HTTP route in Windmill's shape.
type Trigger struct {
	WorkspaceID                string    `json:"workspace_id"`
	Path                       string    `json:"path"`
	ScriptPath                 string    `json:"script_path"`
	IsFlow                     bool      `json:"is_flow"`
	RoutePath                  string    `json:"route_path"`
	HTTPMethod                 string    `json:"http_method"`
	IsAsync                    bool      `json:"is_async"`
	RequestType                string    `json:"request_type"`
	AuthenticationMethod       string    `json:"authentication_method"`
	AuthenticationResourcePath string    `json:"authentication_resource_path,omitempty"`
	WrapBody                   bool      `json:"wrap_body"`
	RawString                  bool      `json:"raw_string"`
	WorkspacedRoute            bool      `json:"workspaced_route"`
	IsStaticWebsite            bool      `json:"is_static_website"`
	Summary                    string    `json:"summary"`
	Description                string    `json:"description"`
	EditedBy                   string    `json:"edited_by"`
	EditedAt                   time.Time `json:"edited_at"`
}

// invalid is an input error (errs.Invalid: a 400 that names the rule).
func invalid(format string, a ...any) error { return errs.Invalidf(format, a...) }

var (
	pathSeg   = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	staticSeg = regexp.MustCompile(`^[A-Za-z0-9_.~-]+$`)
	paramSeg  = regexp.MustCompile(`^:[A-Za-z_][A-Za-z0-9_]*$`)
	methods   = map[string]bool{"get": true, "post": true, "put": true, "patch": true, "delete": true}
)

// Normalize checks t and fills defaults (post, sync, windmill auth).
func (t *Trigger) Normalize() error {
	if err := checkPath(t.Path); err != nil {
		return err
	}
	if t.ScriptPath == "" {
		return invalid("script_path is required: the script or flow the route runs")
	}
	if t.HTTPMethod == "" {
		t.HTTPMethod = "post"
	}
	t.HTTPMethod = strings.ToLower(t.HTTPMethod)
	if !methods[t.HTTPMethod] {
		return invalid("http_method %q is not one of get, post, put, patch, delete", t.HTTPMethod)
	}
	if err := checkRoutePath(t.RoutePath); err != nil {
		return err
	}
	switch t.RequestType {
	case "":
		t.RequestType = "sync"
		if t.IsAsync {
			t.RequestType = "async"
		}
	case "async":
		t.IsAsync = true
	case "sync", "sync_sse":
		t.IsAsync = false
	default:
		return invalid("request_type %q is not one of sync, async", t.RequestType)
	}
	if t.AuthenticationMethod == "" {
		t.AuthenticationMethod = AuthWindmill
	}
	switch t.AuthenticationMethod {
	case AuthNone, AuthWindmill:
	case AuthAPIKey, AuthBasic, AuthSignature:
		if t.AuthenticationResourcePath == "" {
			return invalid("authentication_method %s needs authentication_resource_path: the resource holding its credentials", t.AuthenticationMethod)
		}
	case AuthCustom:
		return invalid("authentication_method custom_script is not supported by millrun: use signature (slack, discord, github, standard, hmac), api_key or basic_http")
	default:
		return invalid("authentication_method %q is not one of none, windmill, api_key, basic_http, signature", t.AuthenticationMethod)
	}
	if t.IsStaticWebsite {
		return invalid("is_static_website is not supported by millrun: routes run scripts and flows")
	}
	return nil
}

// checkPath checks a route's own path. It names the route's file in a
// workspace export, and so the place `wmill sync pull` writes it: a "." or
// ".." segment would lead out of that folder.
func checkPath(p string) error {
	const shape = "must look like u/<user>/<name> or f/<folder>/<name> (the route's own path, not its URL)"
	segs := strings.Split(p, "/")
	if len(p) > 255 || len(segs) < 3 || segs[0] != "u" && segs[0] != "f" {
		return invalid("path %q %s", p, shape)
	}
	for _, seg := range segs[1:] {
		switch {
		case seg == "":
			return invalid("path %q has an empty segment (a double or trailing /): it %s", p, shape)
		case seg == "." || seg == "..":
			return invalid("path %q may not have a %q segment: it %s", p, seg, shape)
		case !pathSeg.MatchString(seg):
			return invalid("path %q: segment %q may hold only letters, digits and - _ .", p, seg)
		}
	}
	return nil
}

func checkRoutePath(p string) error {
	if p == "" {
		return invalid("route_path is required, e.g. slack/deploy or github/:repo")
	}
	if strings.HasPrefix(p, "/") {
		return invalid("route_path %q must not start with /", p)
	}
	if len(p) > 255 {
		return invalid("route_path is longer than 255 characters")
	}
	seen := map[string]bool{}
	for _, seg := range strings.Split(p, "/") {
		switch {
		case seg == "":
			return invalid("route_path %q has an empty segment (a double or trailing /)", p)
		case seg == "." || seg == "..":
			return invalid("route_path %q may not contain . or .. segments", p)
		case strings.HasPrefix(seg, ":"):
			if !paramSeg.MatchString(seg) {
				return invalid("route_path parameter %q must be : then a name of letters, digits and _", seg)
			}
			if seen[seg] {
				return invalid("route_path parameter %s appears twice", seg)
			}
			seen[seg] = true
		case !staticSeg.MatchString(seg):
			return invalid("route_path segment %q may hold only letters, digits and - _ . ~", seg)
		}
	}
	return nil
}

// shape is what two conflicting routes share: method and URL pattern with
// parameter names erased.
func (t *Trigger) shape() string {
	return t.HTTPMethod + " " + t.urlWith(":")
}

// urlWith is the route's URL under /api/r/ with every :parameter replaced
// by value.
func (t *Trigger) urlWith(value string) string {
	segs := strings.Split(t.RoutePath, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, ":") {
			segs[i] = value
		}
	}
	prefix := ""
	if t.WorkspacedRoute {
		prefix = t.WorkspaceID + "/"
	}
	return prefix + strings.Join(segs, "/")
}

// Service stores routes and keeps a table of them for matching.
type Service struct {
	DB        *store.DB
	Resources *resources.Store
	table     atomic.Pointer[[]*Trigger]
}

// Load reads every route into the matching table.
func (s *Service) Load(ctx context.Context) error {
	stored, err := s.DB.ListTriggers(ctx)
	if err != nil {
		return err
	}
	list := make([]*Trigger, 0, len(stored))
	for _, st := range stored {
		var t Trigger
		if err := json.Unmarshal([]byte(st.Definition), &t); err != nil {
			return fmt.Errorf("route %s: %w", st.Path, err)
		}
		t.EditedAt = st.UpdatedAt
		list = append(list, &t)
	}
	// Static segments win over parameters where two routes could match.
	sort.SliceStable(list, func(i, j int) bool { return staticCount(list[i]) > staticCount(list[j]) })
	s.table.Store(&list)
	return nil
}

func staticCount(t *Trigger) int {
	n := 0
	for _, seg := range strings.Split(t.RoutePath, "/") {
		if !strings.HasPrefix(seg, ":") {
			n++
		}
	}
	return n
}

// Save creates (create=true) or replaces a route, refusing one whose
// method and URL another route already answers.
func (s *Service) Save(ctx context.Context, t *Trigger, create bool) error {
	if err := t.Normalize(); err != nil {
		return err
	}
	def, err := json.Marshal(t)
	if err != nil {
		return err
	}
	err = s.DB.PutTrigger(ctx, store.StoredTrigger{Workspace: t.WorkspaceID, Path: t.Path, Definition: string(def)}, create, func(others []store.StoredTrigger) error {
		for _, o := range others {
			var ot Trigger
			if json.Unmarshal([]byte(o.Definition), &ot) == nil && ot.shape() == t.shape() {
				return errs.Conflictf("route %s already answers %s /api/r/%s", ot.Path, strings.ToUpper(ot.HTTPMethod), ot.routeURL())
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.Load(ctx)
}

func (t *Trigger) routeURL() string {
	if t.WorkspacedRoute {
		return t.WorkspaceID + "/" + t.RoutePath
	}
	return t.RoutePath
}

// Get returns one route.
func (s *Service) Get(workspace, path string) (*Trigger, bool) {
	for _, t := range *s.table.Load() {
		if t.WorkspaceID == workspace && t.Path == path {
			c := *t
			return &c, true
		}
	}
	return nil, false
}

// List returns a workspace's routes by path.
func (s *Service) List(workspace string) []Trigger {
	out := []Trigger{}
	for _, t := range *s.table.Load() {
		if t.WorkspaceID == workspace {
			out = append(out, *t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Delete removes a route.
func (s *Service) Delete(ctx context.Context, workspace, path string) error {
	if err := s.DB.DeleteTrigger(ctx, workspace, path); err != nil {
		return err
	}
	return s.Load(ctx)
}

// Match finds the route for a method and the URL path after /api/r/, with
// its parameters.
func (s *Service) Match(method, rest string) (*Trigger, map[string]string) {
	method = strings.ToLower(method)
	if method == "head" {
		method = "get"
	}
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	for _, t := range *s.table.Load() {
		if t.HTTPMethod != method {
			continue
		}
		candidate := segs
		if t.WorkspacedRoute {
			if len(segs) == 0 || segs[0] != t.WorkspaceID {
				continue
			}
			candidate = segs[1:]
		}
		if params, ok := matchSegments(strings.Split(t.RoutePath, "/"), candidate); ok {
			return t, params
		}
	}
	return nil, nil
}

func matchSegments(pattern, segs []string) (map[string]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var params map[string]string
	for i, p := range pattern {
		if strings.HasPrefix(p, ":") {
			if segs[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[p[1:]] = segs[i]
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// Anywhere answers whether any route has this URL (for 405 vs 404).
func (s *Service) Anywhere(rest string) bool {
	for _, m := range []string{"get", "post", "put", "patch", "delete"} {
		if t, _ := s.Match(m, rest); t != nil {
			return true
		}
	}
	return false
}
