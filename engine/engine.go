// Package engine composes millrun's job engine: storage, scripts, the job
// queue and runtimes, tokens, and the HTTP surface. It has no knowledge of
// Wails and builds without cgo.
package engine

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/millrun/millrun/engine/alerts"
	"github.com/millrun/millrun/engine/api"
	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/audit"
	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/autostart"
	"github.com/millrun/millrun/engine/execute"
	"github.com/millrun/millrun/engine/flows"
	"github.com/millrun/millrun/engine/folders"
	"github.com/millrun/millrun/engine/guard"
	"github.com/millrun/millrun/engine/inspector"
	"github.com/millrun/millrun/engine/instance"
	"github.com/millrun/millrun/engine/jobs"
	"github.com/millrun/millrun/engine/kept"
	"github.com/millrun/millrun/engine/lifecycle"
	"github.com/millrun/millrun/engine/reqctx"
	"github.com/millrun/millrun/engine/resources"
	"github.com/millrun/millrun/engine/runnable"
	"github.com/millrun/millrun/engine/runtime"
	"github.com/millrun/millrun/engine/schedules"
	"github.com/millrun/millrun/engine/scripts"
	"github.com/millrun/millrun/engine/settings"
	"github.com/millrun/millrun/engine/store"
	"github.com/millrun/millrun/engine/triggers"
	"github.com/millrun/millrun/engine/tunnel"
	"github.com/millrun/millrun/engine/webhook"
	"github.com/millrun/millrun/engine/webui"
	"github.com/millrun/millrun/engine/wshook"
)

// Config is everything the engine needs, filled from flags and the
// environment by main. Zero values mean the defaults.
type Config struct {
	DataDir   string // required
	Workspace string // default "local"
	// BaseURL is where jobs can reach this server (WM_BASE_URL); set by
	// whoever knows the listen address.
	BaseURL string
	// Workers overrides the stored worker count setting (0: use it).
	Workers int
	// UI serves the frontend at /; nil serves a short text page.
	UI     http.Handler
	Logger *slog.Logger
	// Notifier shows desktop notifications (alerts.NewSender in the app and
	// serve); nil shows none (tests, embedders).
	Notifier alerts.Sender
	// StartCommand is the command line that starts this millrun at login
	// (the start_at_login setting writes it into the platform's autostart
	// entry); nil makes the setting unavailable.
	StartCommand []string
	// StartService runs this engine in the foreground, for a supervisor
	// that starts it again after a crash (a systemd user service, where
	// systemd runs the session); nil: start at login uses StartCommand.
	StartService []string
	// NoForkServer spawns an interpreter for every cold Python job instead
	// of forking it from a pre-started one (tests compare the two).
	NoForkServer bool
	// Clock is the wall clock schedules read; nil is the system's (tests
	// move a fake one).
	Clock schedules.Clock
	// FlowClock is the time flows wait by (sleeps, retry delays); nil is
	// the system's (tests move a fake one).
	FlowClock flows.Clock
	// FlowWaitInline is the longest wait a flow spends holding its worker
	// (default 5 s); a longer one frees it until the flow is due.
	FlowWaitInline time.Duration
	// ShutdownGrace bounds how long running jobs may finish on Close.
	ShutdownGrace time.Duration
	// AllowedHosts are Host names accepted on management routes besides
	// the loopback names (the address of an --allow-remote listener).
	AllowedHosts []string
	// TunnelBackend publishes the webhooks; nil means ngrok.
	TunnelBackend tunnel.Backend
	// Version is millrun's: GET /api/version and the session report it,
	// and the tunnel provider is told it (default "dev").
	Version string
	// RequestBodyBudget bounds the request inspector's bodies together
	// (0: 512 MiB).
	RequestBodyBudget int64
	// BodyReadTimeout bounds how long a webhook caller may take to send
	// its request body (0: 60 s).
	BodyReadTimeout time.Duration
	// SettleMemory is called once a burst of large request bodies is over
	// and their memory free: a process that owns its memory (serve, the
	// desktop's engine) hands it back to the system there
	// (debug.FreeOSMemory); nil does nothing.
	SettleMemory func()
	// IncludeHeaders are the request headers jobs get by default (main
	// reads Windmill's INCLUDE_HEADERS).
	IncludeHeaders []string
	// NgrokAuthtoken is $NGROK_AUTHTOKEN (main reads it): the tunnel's
	// authtoken when none is saved.
	NgrokAuthtoken string
	// Notice is shown atop the UI: something the user should know about
	// how this millrun was started (a port it could not have).
	Notice string
	// PackageEnv is the environment pip and uv (and npm and bun, for
	// TypeScript) resolve and install packages with: the user's own
	// (index, pip.conf, .npmrc, npm_config_*, proxies); nil is this
	// process's. Tests point it at a loopback index.
	PackageEnv []string
	// OtherDataDirs are data folders a token that fails to log in is
	// looked for in (main passes the default one, where 'millrun token
	// create' without --data writes), so the login says where it belongs.
	OtherDataDirs []string
	// Lock is the data directory's lock when the caller took it already
	// (the desktop app does, to find a running instance before opening a
	// window); nil makes Open take it. Either way Close releases it.
	Lock *instance.Lock
}

// Engine is a running millrun engine.
type Engine struct {
	cfg      Config
	db       *store.DB
	catalog  *scripts.Catalog
	flowCat  *flows.Catalog
	flows    *flows.Executor
	executor *execute.Executor
	queue    *jobs.Queue
	sched    *schedules.Scheduler
	schedule *schedules.Service // the schedules' rules: saves, due runs, failure handlers
	alerts   *alerts.Alerter
	presence *alerts.Presence // where the UI's windows look, so notices skip what is in sight
	tokens   *auth.Tokens
	audit    *audit.Log // the audit log and the workspace webhook's events
	runner   *runtime.Runner
	warm     *runtime.WarmPool
	settings atomic.Pointer[settings.Settings]
	log      *slog.Logger
	limiter  *auth.RateLimiter
	wshook   *wshook.Notifier
	tunnel   *tunnel.Manager
	// user is the person running millrun (the u/<user>/ in paths, the
	// trigger of scheduled runs' state paths).
	user string
	// services are what Open started, in order; Close stops them.
	services lifecycle.Stack
	closing  sync.Once
	closeErr error // the database's, set as it closes
	// lastFailure is the newest run that failed since Open, for Status.
	lastFailure atomic.Pointer[Failure]
	lock        *instance.Lock

	authtoken    *tunnel.Authtoken
	startAtLogin autostart.Setting

	resources *resources.Store
	triggers  *triggers.Service
	requests  *inspector.Recorder

	handler        http.Handler // every route, each behind its group's protection
	webhookHandler http.Handler // the routes the tunnel serves, and no others
	tunnelHandler  http.Handler // webhookHandler, its requests marked as the tunnel's

	routes []mountedRoute // every route, as mounted (the route test walks them)
	// bodies bounds the request body bytes being read at once: anonymous
	// callers cannot make millrun hold unbounded memory by sending many
	// large bodies together.
	bodies *guard.Bodies
}

// Open opens the data directory, recovers jobs interrupted by a crash and
// starts the workers.
func Open(cfg Config) (*Engine, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("no data directory given")
	}
	if cfg.Workspace == "" {
		cfg.Workspace = "local"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	lock := cfg.Lock
	if lock == nil {
		var err error
		if lock, err = instance.Acquire(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	dataDir := cfg.DataDir
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	e := &Engine{cfg: cfg, log: cfg.Logger, lock: lock, user: api.OSUser(),
		authtoken:    &tunnel.Authtoken{Path: filepath.Join(cfg.DataDir, "ngrok-authtoken"), Env: cfg.NgrokAuthtoken},
		startAtLogin: autostart.Setting{Entry: autostart.Entry{Command: cfg.StartCommand, Service: cfg.StartService, DataDir: dataDir}}}
	// One way out when a start fails: what started so far stops, newest
	// first, as Close stops it all. The lock and the database are the
	// first two: every other service uses them.
	ctx := context.Background()
	fail := func(err error) (*Engine, error) {
		e.services.Stop(ctx)
		return nil, err
	}
	_ = e.services.Start(ctx, &lifecycle.Funcs{OnStop: func(context.Context) { lock.Release() }})
	db, err := store.Open(filepath.Join(cfg.DataDir, "millrun.db"))
	if err != nil {
		return fail(err)
	}
	e.db = db
	_ = e.services.Start(ctx, &lifecycle.Funcs{OnStop: func(context.Context) { e.closeErr = db.Close() }})
	// Before the settings: they seal their secret with the resources' key.
	if e.resources, err = resources.Open(db, cfg.DataDir); err != nil {
		return fail(err)
	}
	set, err := settings.Open(ctx, db, settings.Defaults(cfg.IncludeHeaders), e.resources, e.log)
	if err != nil {
		return fail(err)
	}
	e.settings.Store(set)
	e.requests = inspector.New(inspector.Config{DB: db, Log: cfg.Logger, Budget: cfg.RequestBodyBudget,
		Body: guard.Received,
		Retention: func() (time.Duration, int) {
			s := e.settings.Load()
			return time.Duration(s.RetentionDays) * 24 * time.Hour, s.RetentionMaxJobs
		},
		Serve: func(w http.ResponseWriter, r *http.Request, as *auth.Identity) {
			e.handler.ServeHTTP(w, r.WithContext(reqctx.Trusted(r.Context(), as)))
		}})
	// Before the queue starts: a job it recovers may finish at once.
	e.presence = alerts.NewPresence(nil)
	e.alerts = alerts.New(alerts.Config{Sender: cfg.Notifier, Level: func() string { return e.settings.Load().Notifications }, Log: cfg.Logger,
		Watching: e.presence.Watching})
	e.limiter = auth.NewRateLimiter(set.RateLimitPerSecond, set.RateLimitBurst)
	e.wshook = wshook.New(wshook.Config{Workspace: cfg.Workspace, Log: cfg.Logger, Target: func() wshook.Target {
		s := e.settings.Load()
		return wshook.Target{URL: s.WorkspaceWebhookURL, Secret: s.WorkspaceWebhookSecret}
	}})
	e.triggers = &triggers.Service{DB: db, Resources: e.resources}
	if err := e.triggers.Load(context.Background()); err != nil {
		return fail(err)
	}
	e.triggers.RedactOldKeysOnce(ctx, e.log)
	e.catalog = scripts.NewCatalog(db)
	e.audit = &audit.Log{DB: db, Send: e.wshook.Send, Log: cfg.Logger}
	e.tokens = auth.New(db)
	e.tokens.Changed = e.audit.Record
	e.runner = runtime.New(runtime.Resolve(context.Background(), set.InterpreterPaths))
	e.runner.MaxResult = func() int64 { return e.settings.Load().MaxResultBytes }
	e.runner.NoForkServer = cfg.NoForkServer
	if err := e.runner.UseDataDir(cfg.DataDir, cfg.PackageEnv, cfg.Logger); err != nil {
		return fail(err)
	}
	e.warm = runtime.NewWarmPool(e.runner, set.WarmWorkers, time.Duration(set.WarmIdleTimeoutS)*time.Second)
	e.flowCat = flows.NewCatalog(db, e.catalog)
	e.executor = &execute.Executor{Workspace: cfg.Workspace, DB: db, Scripts: e.catalog, Runner: e.runner, Warm: e.warm, Tokens: e.tokens,
		Log: cfg.Logger, User: e.user, BaseURL: cfg.BaseURL,
		DefaultTimeout: func() time.Duration { return time.Duration(e.settings.Load().DefaultTimeoutS) * time.Second }}
	e.flows = &flows.Executor{DB: db, Flows: e.flowCat, Scripts: e.catalog, Runner: e.runner, Env: e.executor.Env, StepLogLimit: set.LogLimitBytes,
		Secrets: resources.FlowSecrets{Store: e.resources}, Clock: cfg.FlowClock, WaitInline: cfg.FlowWaitInline}
	e.executor.Flows = e.flows
	workers := set.Workers
	if cfg.Workers > 0 {
		workers = cfg.Workers
	}
	e.queue = jobs.New(db, e.executor, jobs.Config{
		Workers: workers, MaxQueued: set.MaxQueued, DefaultTimeout: time.Duration(set.DefaultTimeoutS) * time.Second,
		LogLimit: set.LogLimitBytes, RetentionAge: time.Duration(set.RetentionDays) * 24 * time.Hour, RetentionMax: set.RetentionMaxJobs,
		ShutdownGrace: cfg.ShutdownGrace, Logger: cfg.Logger, StartLogDir: cfg.DataDir, OnFinish: e.jobFinished,
	})
	e.flows.Slots = e.queue
	e.executor.Queue = e.queue
	// Before the queue starts: a recovered scheduled run may finish at once.
	e.schedule = &schedules.Service{DB: db, Targets: runnable.Resolver{Scripts: e.catalog, Flows: e.flowCat}, Queue: e.queue, Log: cfg.Logger}
	e.sched = schedules.New(schedules.Config{DB: db, Enqueue: e.schedule.EnqueueDue, Clock: cfg.Clock, Log: cfg.Logger,
		IDKey: e.resources.Subkey("schedule run job ids")})
	e.schedule.Scheduler = e.sched
	e.sched.SetPaused(set.SchedulesPaused)
	e.bodies = &guard.Bodies{Budget: guard.BudgetFor(set.MaxBodyBytes), Timeout: cfg.BodyReadTimeout, Settle: cfg.SettleMemory, Caller: guard.BodyCaller}
	backend := cfg.TunnelBackend
	if backend == nil {
		backend = &tunnel.Ngrok{Version: cfg.Version, Log: cfg.Logger}
	}
	// The tunnel serves the webhook routes only, built just below.
	e.tunnel = tunnel.NewManager(backend, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.tunnelHandler.ServeHTTP(w, r)
	}), cfg.Logger)
	e.buildHandlers()
	// Started in this order, stopped in reverse.
	for _, s := range []lifecycle.Service{
		e.requests, // stops after all that answers requests: one ending meanwhile is still recorded
		e.wshook,
		// The packages' compiles write into the data folder: they end
		// before it is released.
		&lifecycle.Funcs{OnStop: func(context.Context) { e.runner.Packages.Cache.Close() }},
		e.runner,
		e.warm,
		e.queue,
		e.alerts, // stops before the queue: the runs its shutdown fails are not news
		e.sched,
		e.tunnel,
		e.alerts.WatchTunnel(e.tunnel), // stops before the tunnel: its going offline at exit is not news
	} {
		if err := e.services.Start(ctx, s); err != nil {
			return fail(err)
		}
	}
	if set.TunnelAutostart {
		if err := e.StartTunnel(); err != nil {
			e.log.Warn("tunnel autostart", "err", err)
		}
	}
	return e, nil
}

// Close stops accepting jobs, lets running ones finish within the grace
// period and closes the database: it stops what Open started, newest
// first.
func (e *Engine) Close(ctx context.Context) error {
	e.closing.Do(func() { e.services.Stop(ctx) })
	return e.closeErr
}

// Announce says who holds the data directory, so that a second launch can
// name this one (and, for the desktop app, ask it to show its window).
func (e *Engine) Announce(kind, url, secret string) error {
	return e.lock.Publish(instance.Info{PID: os.Getpid(), Kind: kind, URL: url, Secret: secret})
}

// Handler serves everything: webhooks, the management API and the UI.
func (e *Engine) Handler() http.Handler { return e.handler }

// DesktopLabel is who the desktop window acts as.
const DesktopLabel = "desktop app"

// DesktopHandler serves millrun's own window in-process (Wails' asset
// server), its requests acting with full access (guard.Window says why,
// and where that trust ends).
func (e *Engine) DesktopHandler() http.Handler {
	return guard.Window(e.log, &auth.Identity{Label: DesktopLabel}, e.handler)
}

// WebhookHandler serves only the webhook and job-read routes; the tunnel
// exposes this one, so management routes do not exist there.
func (e *Engine) WebhookHandler() http.Handler { return e.webhookHandler }

// Workspace returns the workspace id this engine serves.
func (e *Engine) Workspace() string { return e.cfg.Workspace }

// Interpreters returns the interpreters jobs run with.
func (e *Engine) Interpreters() runtime.Interpreters { return e.runner.Interpreters() }

// CreateToken issues a token (used by the CLI and tests).
func (e *Engine) CreateToken(ctx context.Context, label string, scopes []string, expires time.Time) (string, error) {
	secret, _, err := e.tokens.Create(ctx, auth.CreateOptions{Actor: "millrun", Label: label, Scopes: scopes, ExpiresAt: expires})
	return secret, err
}

// CreateLoginToken issues the one-time token of serve's login URL.
func (e *Engine) CreateLoginToken(ctx context.Context) (string, error) {
	return e.tokens.CreateLoginLink(ctx)
}

// TokenCount returns how many tokens exist (zero on a first start).
func (e *Engine) TokenCount(ctx context.Context) (int, error) { return e.db.CountTokens(ctx) }

func (e *Engine) buildHandlers() {
	hooks := &webhook.Service{Workspace: e.cfg.Workspace, Catalog: e.catalog, Flows: e.flowCat, Queue: e.queue, Log: e.log,
		Settings: func() webhook.Settings {
			s := e.settings.Load()
			return webhook.Settings{SyncTimeout: time.Duration(s.SyncTimeoutS) * time.Second, IncludeHeaders: s.IncludeHeaders, MaxBody: s.MaxBodyBytes}
		}}
	hooks.Limiter = e.limiter
	items := &kept.Items{DB: e.db}
	srv := &api.Server{Workspace: e.cfg.Workspace, Version: e.cfg.Version, Catalog: e.catalog, Flows: e.flowCat, Queue: e.queue, Tokens: e.tokens, Log: e.log,
		MaxBody: func() int64 { return e.settings.Load().MaxBodyBytes }, Changed: e.audit.Record, Audit: e.audit,
		Triggers: e.triggers, Schedules: e.schedule, Resources: e.resources, Kept: items,
		Folders: folders.New(e.db, e.catalog, e.flowCat, e.resources, items), CheckSyntax: e.runner.CheckSyntax, User: e.user,
		Notice: e.cfg.Notice, RootURL: strings.TrimSuffix(e.cfg.BaseURL, "/api"),
		Control: e, Runner: e.runner, Saved: e.executor.Saved, Tunnel: e.tunnel, Authtoken: e.authtoken, StartCommand: e.cfg.StartCommand,
		DataDir: e.cfg.DataDir, Presence: e.presence.Report,
		TokenElsewhere: func(ctx context.Context, secret string) string {
			return auth.Elsewhere(ctx, e.cfg.DataDir, e.cfg.OtherDataDirs, secret)
		},
		ApprovalKey: e.resources.Subkey("flow approval links, workspace " + e.cfg.Workspace), Limiter: e.limiter}
	routeServer := &triggers.Server{Service: e.triggers, Workspace: e.cfg.Workspace, Tokens: e.tokens, Limiter: e.limiter, Hooks: hooks, Log: e.log,
		Settings: hooks.Settings}

	full, tunnelMux := http.NewServeMux(), http.NewServeMux()
	t := e.newRouteTable(full, tunnelMux)

	srv.RegisterPublic(t.public)
	srv.RegisterLogin(t.public)
	ui := e.cfg.UI
	if ui == nil {
		ui = webui.Missing
	}
	t.public.Handle("/", ui)

	hooks.Register(t.webhooks)
	t.customRoutes.Handle("/api/r/", routeServer)
	srv.RegisterApprovalLinks(t.approvalLinks)
	srv.RegisterJobReads(t.jobReads)

	srv.Register(t.management, t.scoped)
	e.requests.Register(t.management.Scope("requests:read"))
	// Sent through every route, as a stranger's request would be.
	allRoutes := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.handler.ServeHTTP(w, r) })
	t.management.Scope("routes:test").HandleFunc("POST /api/millrun/routes/test/{path...}", routeServer.SendTest(allRoutes))
	t.scoped.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		apierr.Write(w, e.log, apierr.NotFound("no route %s %s", r.Method, r.URL.Path))
	})
	e.handler = full
	e.routes = t.mounted

	tunnelMux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		apierr.Write(w, e.log, apierr.NotFound("no route %s %s", r.Method, r.URL.Path))
	})
	e.webhookHandler = tunnelMux
	e.tunnelHandler = guard.MarkTunnel(tunnelMux)
}

// MemoryLimit is the soft memory limit (debug.SetMemoryLimit) that suits
// this engine.
func (e *Engine) MemoryLimit() int64 { return e.bodies.MemoryLimit() }
