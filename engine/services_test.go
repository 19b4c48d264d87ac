package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/alerts"
	"github.com/millrun/millrun/engine/inspector"
	"github.com/millrun/millrun/engine/jobs"
	"github.com/millrun/millrun/engine/lifecycle"
	"github.com/millrun/millrun/engine/lifecycle/lifecycletest"
	"github.com/millrun/millrun/engine/runtime"
	"github.com/millrun/millrun/engine/schedules"
	"github.com/millrun/millrun/engine/tunnel"
	"github.com/millrun/millrun/engine/wshook"
)

// Every part the engine starts and stops keeps the one contract: a stop
// before the start, two stops, a start after a stop, and starts and stops
// from many goroutines at once neither hang, panic nor race. Each is a
// fresh one built as Open builds it, on a running engine's store.
func TestEveryServiceKeepsTheStartStopContract(t *testing.T) {
	e := setup(t).e
	fresh := map[string]lifecycle.Service{
		"queue": jobs.New(e.db, e.executor, jobs.Config{Workers: 2, ShutdownGrace: time.Second, Logger: e.log}),
		"scheduler": schedules.New(schedules.Config{DB: e.db, Enqueue: e.schedule.EnqueueDue, Log: e.log,
			IDKey: e.resources.Subkey("schedule run job ids")}),
		"runner":    runtime.New(e.runner.Interpreters()),
		"warm pool": runtime.NewWarmPool(e.runner, 1, time.Minute),
		"recorder": inspector.New(inspector.Config{DB: e.db, Log: e.log,
			Retention: func() (time.Duration, int) { return time.Hour, 100 }}),
		"notifier":       wshook.New(wshook.Config{Workspace: "local", Log: e.log, Target: func() wshook.Target { return wshook.Target{} }}),
		"alerter":        alerts.New(alerts.Config{Level: func() string { return alerts.Off }, Log: e.log}),
		"tunnel manager": tunnel.NewManager(nil, nil, e.log),
		"tunnel alerts":  e.alerts.WatchTunnel(e.tunnel),
	}
	// What Open starts is stressed here too, or this says what is not.
	stressed := map[string]bool{}
	for _, s := range fresh {
		stressed[fmt.Sprintf("%T", s)] = true
	}
	for _, s := range e.services.Services() {
		if !stressed[fmt.Sprintf("%T", s)] {
			t.Errorf("the engine starts a %T this test does not stress", s)
		}
	}
	for name, s := range fresh {
		t.Run(name, func(t *testing.T) { lifecycletest.Stress(t, s) })
	}
}
