package lifecycle_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/millrun/millrun/engine/lifecycle"
	"github.com/millrun/millrun/engine/lifecycle/lifecycletest"
)

func TestStackStopsNewestFirstAndOnce(t *testing.T) {
	ctx := context.Background()
	var log []string
	named := func(name string) lifecycle.Service {
		return &lifecycle.Funcs{
			OnStart: func(context.Context) error { log = append(log, "start "+name); return nil },
			OnStop:  func(context.Context) { log = append(log, "stop "+name) },
		}
	}
	var st lifecycle.Stack
	for _, name := range []string{"store", "queue", "scheduler"} {
		if err := st.Start(ctx, named(name)); err != nil {
			t.Fatal(err)
		}
	}
	st.Stop(ctx)
	st.Stop(ctx)
	want := []string{"start store", "start queue", "start scheduler", "stop scheduler", "stop queue", "stop store"}
	if !slices.Equal(log, want) {
		t.Fatalf("got %q, want %q", log, want)
	}
}

func TestStackLeavesOutAServiceThatFailedToStart(t *testing.T) {
	ctx := context.Background()
	stopped := 0
	var st lifecycle.Stack
	refused := errors.New("refused")
	failing := &lifecycle.Funcs{OnStart: func(context.Context) error { return refused }, OnStop: func(context.Context) { stopped++ }}
	if err := st.Start(ctx, failing); !errors.Is(err, refused) {
		t.Fatalf("start: %v", err)
	}
	st.Stop(ctx)
	failing.Stop(ctx)
	if stopped != 0 {
		t.Fatalf("a service that never started was stopped %d times", stopped)
	}
	if got := st.Services(); len(got) != 0 {
		t.Fatalf("the stack holds %d services", len(got))
	}
}

func TestFuncsKeepTheContract(t *testing.T) {
	running := 0
	lifecycletest.Stress(t, &lifecycle.Funcs{
		OnStart: func(context.Context) error { running++; return nil },
		OnStop:  func(context.Context) { running-- },
	})
	if running != 0 {
		t.Fatalf("%d starts more than stops", running)
	}
}
