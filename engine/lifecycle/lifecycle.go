// Package lifecycle is the one way millrun's long-running parts (the job
// queue, the scheduler, the runtimes' helpers, the recorders and
// notifiers, the tunnel) start and stop, and the ordered list the engine
// keeps them in, so that what Open started and what Close stops cannot
// drift apart.
package lifecycle

import (
	"context"
	"sync"
)

// Service is a part that runs between Start and Stop. Stop returns once
// the part has stopped; calling it twice, or before Start, does nothing.
// Start after Stop runs the part again where that makes sense (each
// service says when it does not).
type Service interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context)
}

// Switch gives a service the contract's guarantees: starts and stops are
// taken one at a time, a start while running and a stop while stopped do
// nothing. Holding the lock through the whole start or stop is what
// makes a concurrent Stop return only once the service has stopped.
type Switch struct {
	mu      sync.Mutex
	running bool
}

// Start runs start unless the service is running already; the service
// counts as running only if start succeeded.
func (s *Switch) Start(ctx context.Context, start func(context.Context) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return nil
	}
	if err := start(ctx); err != nil {
		return err
	}
	s.running = true
	return nil
}

// Stop runs stop if the service is running.
func (s *Switch) Stop(ctx context.Context, stop func(context.Context)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return
	}
	stop(ctx)
	s.running = false
}

// Running reports whether the service is started.
func (s *Switch) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// Stack is the ordered list of a composition's services: each starts
// after the ones before it, and they stop newest first, so a service
// stops before what it uses does.
type Stack struct {
	mu      sync.Mutex
	started []Service
}

// Start starts s and puts it on top of the stack. On an error nothing is
// added; the caller decides whether to stop the rest (Open does).
func (st *Stack) Start(ctx context.Context, s Service) error {
	if err := s.Start(ctx); err != nil {
		return err
	}
	st.mu.Lock()
	st.started = append(st.started, s)
	st.mu.Unlock()
	return nil
}

// Services returns the started services, oldest first.
func (st *Stack) Services() []Service {
	st.mu.Lock()
	defer st.mu.Unlock()
	return append([]Service(nil), st.started...)
}

// Stop stops every started service, newest first. The stack is empty
// afterwards, so a second Stop does nothing.
func (st *Stack) Stop(ctx context.Context) {
	st.mu.Lock()
	started := st.started
	st.started = nil
	st.mu.Unlock()
	for i := len(started) - 1; i >= 0; i-- {
		started[i].Stop(ctx)
	}
}

// Funcs makes a service of two functions, for what opens when built and
// only needs closing (a database, a lock) or a goroutine the composition
// runs itself. Either may be nil.
type Funcs struct {
	OnStart func(context.Context) error
	OnStop  func(context.Context)
	sw      Switch
}

// Start runs OnStart.
func (f *Funcs) Start(ctx context.Context) error {
	return f.sw.Start(ctx, func(ctx context.Context) error {
		if f.OnStart == nil {
			return nil
		}
		return f.OnStart(ctx)
	})
}

// Stop runs OnStop.
func (f *Funcs) Stop(ctx context.Context) {
	f.sw.Stop(ctx, func(ctx context.Context) {
		if f.OnStop != nil {
			f.OnStop(ctx)
		}
	})
}
