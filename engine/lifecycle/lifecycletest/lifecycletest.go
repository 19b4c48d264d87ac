// Package lifecycletest checks that a service keeps the start/stop
// contract of package lifecycle, in the ways its callers use it and
// misuse it.
package lifecycletest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/millrun/millrun/engine/lifecycle"
)

// patience is how long one start or stop may take before the test calls
// it stuck; generous, as the race detector on two shared cores is slow.
const patience = 20 * time.Second

// Stress runs s, which must not have been started, through a stop before
// its start, a start, two stops, a start again, starts and stops from
// many goroutines at once and stops from many goroutines at once. It
// leaves s stopped. Run it with the race detector.
func Stress(t *testing.T, s lifecycle.Service) {
	t.Helper()
	ctx := context.Background()
	within(t, "a stop before the start", func() { s.Stop(ctx) })
	within(t, "the first start", func() { mustStart(t, s) })
	within(t, "the first stop", func() { s.Stop(ctx) })
	within(t, "a second stop", func() { s.Stop(ctx) })
	within(t, "a start after the stop", func() { mustStart(t, s) })
	within(t, "starts and stops from many goroutines", func() {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 10 {
					mustStart(t, s)
					s.Stop(ctx)
				}
			})
		}
		wg.Wait()
	})
	within(t, "stops from many goroutines", func() {
		mustStart(t, s)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() { s.Stop(ctx) })
		}
		wg.Wait()
	})
}

func mustStart(t *testing.T, s lifecycle.Service) {
	if err := s.Start(context.Background()); err != nil {
		t.Errorf("start: %v", err)
	}
}

func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(patience):
		t.Fatalf("%s did not return within %s", what, patience)
	}
}
