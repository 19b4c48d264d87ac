// Package engine composes millrun's job engine: storage, scripts, the job
// queue and runtimes, tokens, and the HTTP surface. It has no knowledge of
// Wails and builds without cgo.
package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
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
	"github.com/millrun/millrun/engine/flows"
	"github.com/millrun/millrun/engine/folders"
	"github.com/millrun/millrun/engine/guard"
	"github.com/millrun/millrun/engine/inspector"
	"github.com/millrun/millrun/engine/instance"
	"github.com/millrun/millrun/engine/jobs"
	"github.com/millrun/millrun/engine/kept"
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
	// Version is reported to the tunnel provider.
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
	user     string
	closing  sync.Once
	closeErr error
	// lastFailure is the newest run that failed since Open, for Status.
	lastFailure atomic.Pointer[Failure]
	lock        *instance.Lock

	authtoken *tunnel.Authtoken

	resources *resources.Store
	triggers  *triggers.Service
	requests  *inspector.Recorder
	stop      chan struct{}

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
	// One way out when a start fails: what was opened or started so far is
	// closed or stopped, newest first, and nothing is left running.
	var undo []func()
	fail := func(err error) (*Engine, error) {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		return nil, err
	}
	lock := cfg.Lock
	if lock == nil {
		var err error
		if lock, err = instance.Acquire(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	undo = append(undo, func() { lock.Release() })
	db, err := store.Open(filepath.Join(cfg.DataDir, "millrun.db"))
	if err != nil {
		return fail(err)
	}
	undo = append(undo, func() { db.Close() })
	e := &Engine{cfg: cfg, db: db, log: cfg.Logger, lock: lock, user: api.OSUser(),
		authtoken: &tunnel.Authtoken{Path: filepath.Join(cfg.DataDir, "ngrok-authtoken"), Env: cfg.NgrokAuthtoken}}
	// Before the settings: they seal their secret with the resources' key.
	if e.resources, err = resources.Open(db, cfg.DataDir); err != nil {
		return fail(err)
	}
	set, err := settings.Load(context.Background(), db, settings.Defaults(cfg.IncludeHeaders), e.resources)
	if errors.Is(err, settings.ErrSecretUnreadable) && set != nil {
		// Not worth refusing to start over: the receiver is given a new
		// secret to check, and the user copies it from the settings.
		e.log.Warn("workspace webhook: a new signing secret replaces one this data folder's key cannot open; copy it to the receiver from the settings", "err", err)
		if set.WorkspaceWebhookURL != "" {
			set.WorkspaceWebhookSecret = newWebhookSecret()
			err = settings.Save(context.Background(), db, *set, e.resources)
		} else {
			err = nil
		}
	}
	if err != nil {
		return fail(err)
	}
	e.settings.Store(set)
	// Before the queue starts: a job it recovers may finish at once.
	e.presence = alerts.NewPresence(nil)
	e.alerts = alerts.New(alerts.Config{Sender: cfg.Notifier, Level: func() string { return e.settings.Load().Notifications }, Log: cfg.Logger,
		Watching: e.presence.Watching})
	e.limiter = auth.NewRateLimiter(set.RateLimitPerSecond, set.RateLimitBurst)
	e.wshook = wshook.New(wshook.Config{Workspace: cfg.Workspace, Log: cfg.Logger, Target: func() wshook.Target {
		s := e.settings.Load()
		return wshook.Target{URL: s.WorkspaceWebhookURL, Secret: s.WorkspaceWebhookSecret}
	}})
	e.wshook.Start()
	undo = append(undo, e.wshook.Stop)
	e.triggers = &triggers.Service{DB: db, Resources: e.resources}
	if err := e.triggers.Load(context.Background()); err != nil {
		return fail(err)
	}
	e.redactOldRouteKeys()
	e.catalog = scripts.NewCatalog(db)
	e.audit = &audit.Log{DB: db, Send: e.wshook.Send, Log: cfg.Logger}
	e.tokens = auth.New(db)
	e.tokens.Changed = e.audit.Record
	e.runner = runtime.New(runtime.Resolve(context.Background(), set.InterpreterPaths))
	e.runner.MaxResult = func() int64 { return e.settings.Load().MaxResultBytes }
	e.runner.NoForkServer = cfg.NoForkServer
	undo = append(undo, e.runner.Close)
	if err := e.cleanUpAfterCrash(); err != nil {
		return fail(err)
	}
	if err := e.openPackages(cfg.DataDir); err != nil {
		return fail(err)
	}
	e.warm = runtime.NewWarmPool(e.runner, set.WarmWorkers, time.Duration(set.WarmIdleTimeoutS)*time.Second)
	e.warm.Start()
	undo = append(undo, e.warm.Close)
	e.flowCat = flows.NewCatalog(db, e.catalog)
	e.flows = &flows.Executor{DB: db, Flows: e.flowCat, Scripts: e.catalog, Runner: e.runner, Env: e.jobEnv, StepLogLimit: set.LogLimitBytes,
		Secrets: flowSecrets{e.resources}, Clock: cfg.FlowClock, WaitInline: cfg.FlowWaitInline}
	workers := set.Workers
	if cfg.Workers > 0 {
		workers = cfg.Workers
	}
	e.queue = jobs.New(db, &executor{e: e}, jobs.Config{
		Workers: workers, MaxQueued: set.MaxQueued, DefaultTimeout: time.Duration(set.DefaultTimeoutS) * time.Second,
		LogLimit: set.LogLimitBytes, RetentionAge: time.Duration(set.RetentionDays) * 24 * time.Hour, RetentionMax: set.RetentionMaxJobs,
		ShutdownGrace: cfg.ShutdownGrace, Logger: cfg.Logger, StartLogDir: cfg.DataDir, OnFinish: e.jobFinished,
	})
	e.flows.Slots = e.queue
	// Before the queue starts: a recovered scheduled run may finish at once.
	e.schedule = &schedules.Service{DB: db, Targets: runnable.Resolver{Scripts: e.catalog, Flows: e.flowCat}, Queue: e.queue, Log: cfg.Logger}
	if err := e.queue.Start(context.Background()); err != nil {
		return fail(err)
	}
	e.sched = schedules.New(schedules.Config{DB: db, Enqueue: e.schedule.EnqueueDue, Clock: cfg.Clock, Log: cfg.Logger,
		IDKey: e.resources.Subkey("schedule run job ids")})
	e.schedule.Scheduler = e.sched
	e.sched.SetPaused(set.SchedulesPaused)
	e.sched.Start()
	e.bodies = &guard.Bodies{Budget: bodyBudget(set.MaxBodyBytes), Timeout: cfg.BodyReadTimeout, Settle: cfg.SettleMemory, Caller: bodyCaller}
	e.requests = inspector.New(inspector.Config{DB: db, Log: cfg.Logger, Budget: cfg.RequestBodyBudget,
		Body: guard.Received,
		Retention: func() (time.Duration, int) {
			s := e.settings.Load()
			return time.Duration(s.RetentionDays) * 24 * time.Hour, s.RetentionMaxJobs
		},
		Serve: func(w http.ResponseWriter, r *http.Request, as *auth.Identity) {
			e.handler.ServeHTTP(w, r.WithContext(reqctx.Trusted(r.Context(), as)))
		}})
	backend := cfg.TunnelBackend
	if backend == nil {
		backend = &tunnel.Ngrok{Version: cfg.Version, Log: cfg.Logger}
	}
	// The tunnel serves the webhook routes only, built just below.
	e.tunnel = tunnel.NewManager(backend, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.tunnelHandler.ServeHTTP(w, r)
	}), cfg.Logger)
	e.buildHandlers()
	e.stop = make(chan struct{})
	e.requests.Start()
	go e.alertTunnel(e.stop)
	if set.TunnelAutostart {
		if err := e.StartTunnel(); err != nil {
			e.log.Warn("tunnel autostart", "err", err)
		}
	}
	return e, nil
}

// cleanUpAfterCrash marks this millrun's job processes and gives them a
// temp folder of their own, and clears what a previous millrun on the same
// data folder left behind if it was killed: its job processes (which would
// otherwise finish their side effects while their jobs read failed) and
// its jobs' folders. Holding the data folder's lock, nothing else uses
// either.
func (e *Engine) cleanUpAfterCrash() error {
	abs, err := filepath.Abs(e.cfg.DataDir)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(abs))
	e.runner.Owner = hex.EncodeToString(sum[:8])
	if n := runtime.KillLeftovers(e.runner.Owner); n > 0 {
		e.log.Warn("killed job processes a previous millrun left running", "count", n)
	}
	e.runner.TempRoot = filepath.Join(abs, "tmp")
	if err := os.RemoveAll(e.runner.TempRoot); err != nil {
		// A process left from before may hold a file there (Windows will
		// not delete an open file; Wine showed it). That is no reason to
		// stop serving webhooks: jobs get a fresh folder inside, and the
		// next start tries again.
		e.log.Warn("could not empty the jobs' temp folder (a process left from before may hold a file in it); jobs use a fresh folder inside it", "folder", e.runner.TempRoot, "err", err)
		if err := os.MkdirAll(e.runner.TempRoot, 0o700); err != nil {
			return fmt.Errorf("the jobs' temp folder: %w", err)
		}
		fresh, err := os.MkdirTemp(e.runner.TempRoot, "start-")
		if err != nil {
			return fmt.Errorf("the jobs' temp folder: %w", err)
		}
		e.runner.TempRoot = fresh
		return nil
	}
	return os.Mkdir(e.runner.TempRoot, 0o700)
}

// Close stops accepting jobs, lets running ones finish within the grace
// period and closes the database.
func (e *Engine) Close(ctx context.Context) error {
	e.closing.Do(func() {
		close(e.stop)
		e.tunnel.Stop()
		e.sched.Stop()
		e.alerts.Stop()
		e.queue.Close(ctx)
		e.warm.Close()
		e.runner.Close()
		if e.runner.Packages != nil {
			e.runner.Packages.Cache.Close() // its compiles write into the data folder
		}
		e.wshook.Stop()
		e.requests.Stop()
		e.closeErr = e.db.Close()
		e.lock.Release()
	})
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
// server). It is never reachable over a network, and the window is opened
// by the user on their own machine, so its requests act with full access
// without a token.
//
// The trust is for the UI's own pages only. The window never shows a page
// the API served (a script's HTML): once shown, everything it loaded would
// come here too and act with full access, sandbox or not (an image's
// request carries no Origin). And a request from a sandboxed page
// (Origin: null) is never the UI's.
func (e *Engine) DesktopHandler() http.Handler {
	id := &auth.Identity{Label: DesktopLabel}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") && auth.Navigation(r) {
			apierr.Write(w, e.log, apierr.Forbidden("millrun's window shows only its own pages: open %s in a web browser", r.URL.Path))
			return
		}
		if r.Header.Get("Origin") == "null" {
			e.handler.ServeHTTP(w, r)
			return
		}
		ctx := reqctx.WithWindow(reqctx.Trusted(r.Context(), id))
		e.handler.ServeHTTP(w, r.WithContext(ctx))
	})
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
	srv := &api.Server{Workspace: e.cfg.Workspace, Catalog: e.catalog, Flows: e.flowCat, Queue: e.queue, Tokens: e.tokens, Log: e.log,
		MaxBody: func() int64 { return e.settings.Load().MaxBodyBytes }, Changed: e.audit.Record, Audit: e.audit,
		Triggers: e.triggers, Schedules: e.schedule, Resources: e.resources, Kept: items,
		Folders: folders.New(e.db, e.catalog, e.flowCat, e.resources, items), CheckSyntax: e.runner.CheckSyntax, User: e.user,
		Notice: e.cfg.Notice, RootURL: strings.TrimSuffix(e.cfg.BaseURL, "/api"),
		Control: e, Runner: e.runner, Saved: e.scriptSaved, Tunnel: e.tunnel, Authtoken: e.authtoken, StartCommand: e.cfg.StartCommand,
		DataDir: e.cfg.DataDir, TokenElsewhere: e.tokenElsewhere, Presence: e.presence.Report,
		ApprovalKey: e.resources.Subkey("flow approval links, workspace " + e.cfg.Workspace), Limiter: e.limiter}
	routeServer := &triggers.Server{Service: e.triggers, Workspace: e.cfg.Workspace, Tokens: e.tokens, Limiter: e.limiter, Hooks: hooks, Log: e.log,
		Settings: hooks.Settings}

	full, tunnelMux := http.NewServeMux(), http.NewServeMux()
	t := e.newRouteTable(full, tunnelMux)

	srv.RegisterPublic(t.public)
	srv.RegisterLogin(t.public)
	ui := e.cfg.UI
	if ui == nil {
		ui = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintln(w, "millrun is running. This build has no UI; use the HTTP API under /api (see README.md).")
		})
	}
	t.public.Handle("/", ui)

	hooks.Register(t.webhooks)
	t.customRoutes.Handle("/api/r/", routeServer)
	srv.RegisterApprovalLinks(t.approvalLinks)
	srv.RegisterJobReads(t.jobReads)

	srv.Register(t.management, t.scoped)
	e.requests.Register(t.management.Scope("requests:read"))
	e.registerRouteTest(t.management.Scope("routes:test"), routeServer)
	t.scoped.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		apierr.Write(w, e.log, apierr.NotFound("no route %s %s", r.Method, r.URL.Path))
	})
	e.handler = full
	e.routes = t.mounted

	tunnelMux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		apierr.Write(w, e.log, apierr.NotFound("no route %s %s", r.Method, r.URL.Path))
	})
	e.webhookHandler = tunnelMux
	e.tunnelHandler = markTunnel(tunnelMux)
}

// bodyBudget is the memory the request bodies being handled may hold
// together: a dozen bodies of the 10 MiB default limit (128 MiB), or four
// of a larger limit. Anonymous callers can fill three quarters of it (a
// forged signature is known only once its body is read), each address at
// most an eighth or room for one body and its copy (22 MiB by default),
// and only with bytes they send: that is what a flood costs. Past it
// callers are told to retry.
func bodyBudget(maxBody int64) int64 { return max(128<<20, 4*maxBody) }

// MemoryLimit is the soft memory limit (debug.SetMemoryLimit) that suits
// this engine: the request body budget and as much again for everything
// else, at least 256 MiB. The garbage collector works harder near it, so
// a flood's garbage is collected before it adds up; it refuses nothing.
func (e *Engine) MemoryLimit() int64 { return max(256<<20, 2*e.bodies.Budget) }
