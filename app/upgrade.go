package app

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"time"
)

// An upgrade (a reinstalled or upgraded .deb, a new build copied over)
// replaces the engine's program file under the running engine, which
// would otherwise serve the old UI and code until it is quit; a removal
// (apt remove) leaves it serving webhooks from deleted files. The engine
// watches its program: replaced, it finishes its running jobs and starts
// again as the new program; removed, it finishes them and stops. The
// package's maintainer scripts send SIGHUP to running engines so they
// look at once rather than at the next check.

// Restart says the engine's program was replaced: run Program anew.
type Restart struct{ Program string }

func (r *Restart) Error() string {
	return "millrun's program was replaced: restarting into " + r.Program
}

// errRemoved says the engine's program was removed: stop.
var errRemoved = errors.New("millrun's program was removed: stopping")

// programChange waits until the file at path is no longer the one it was
// at the start, and says how it changed; nil when ctx ended first.
func programChange(ctx context.Context, path string, every time.Duration, wake <-chan os.Signal) error {
	was, err := os.Stat(path)
	if err != nil {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-wake:
		}
		now, err := os.Stat(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return errRemoved
		case err != nil:
			continue // being written, say
		case !os.SameFile(was, now):
			// A package manager renames the new file into place; wait for
			// one that is whole and runs (a copy being written is not).
			if now.Mode()&0o111 == 0 || now.Size() == 0 {
				continue
			}
			return &Restart{Program: path}
		}
	}
}

// watchProgram asks the app to stop for a restart or a removal once the
// program changed and no job runs.
func (a *App) watchProgram(ctx context.Context) {
	if a.opts.Program == "" {
		return
	}
	wake := make(chan os.Signal, 1)
	notifyUpgrade(wake)
	defer signal.Stop(wake)
	change := programChange(ctx, a.opts.Program, 5*time.Second, wake)
	if change == nil {
		return
	}
	a.opts.Logger.Info("millrun's program changed; finishing the running jobs first", "program", a.opts.Program, "change", change.Error())
	// Running jobs finish first (no deadline: a long one is the user's);
	// queued ones wait on disk for the next start.
	for {
		a.mu.Lock()
		e := a.eng
		a.mu.Unlock()
		if e == nil || e.Status().Running == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	a.mu.Lock()
	a.change = change
	a.mu.Unlock()
	a.requestQuit()
}

func (a *App) dropStartAtLogin() error {
	a.mu.Lock()
	e := a.eng
	a.mu.Unlock()
	if e == nil {
		return nil
	}
	return e.DropStartAtLogin()
}
