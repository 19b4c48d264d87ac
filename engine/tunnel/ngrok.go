package tunnel

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"golang.ngrok.com/ngrok/v2"
)

// Ngrok is the ngrok backend: the SDK in-process, no ngrok binary.
type Ngrok struct {
	Version string
	Log     *slog.Logger
}

type ngrokListener struct {
	ngrok.EndpointListener
	agent ngrok.Agent
}

func (l *ngrokListener) URL() string { return l.EndpointListener.URL().String() }

func (l *ngrokListener) Close() error {
	err := l.EndpointListener.Close()
	_ = l.agent.Disconnect()
	return err
}

// Listen builds an agent from cfg (never from NGROK_AUTHTOKEN behind the
// app's back) and opens one HTTPS endpoint.
func (n *Ngrok) Listen(ctx context.Context, cfg Config, onState func(State, error)) (Listener, error) {
	// The SDK retries forever and logs every failed attempt; keep only the
	// last error, to say why a start timed out.
	last := &lastError{}
	agent, err := ngrok.NewAgent(
		ngrok.WithAuthtoken(cfg.Authtoken),
		ngrok.WithClientInfo("millrun", n.Version),
		ngrok.WithLogger(slog.New(last)),
		ngrok.WithEventHandler(func(ev ngrok.Event) {
			switch e := ev.(type) {
			case *ngrok.EventAgentConnectSucceeded:
				onState(Online, nil)
			case *ngrok.EventAgentDisconnected:
				onState(Reconnecting, e.Error)
			}
		}),
	)
	if err != nil {
		return nil, err
	}
	var opts []ngrok.EndpointOption
	if cfg.Domain != "" {
		opts = append(opts, ngrok.WithURL(cfg.Domain))
	}
	if policy := TrafficPolicy(cfg.AllowCIDRs); policy != "" {
		opts = append(opts, ngrok.WithTrafficPolicy(policy))
	}
	ln, err := agent.Listen(ctx, opts...)
	if err != nil {
		_ = agent.Disconnect()
		if ctx.Err() != nil {
			if le := last.get(); le != "" {
				return nil, fmt.Errorf("%w: %s", ctx.Err(), le)
			}
		}
		return nil, err
	}
	return &ngrokListener{EndpointListener: ln, agent: agent}, nil
}

// lastError is a slog handler that keeps the last error an SDK log line carried.
type lastError struct {
	mu  sync.Mutex
	msg string
}

func (l *lastError) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelError }

func (l *lastError) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" || a.Key == "error" {
			msg = a.Value.String()
		}
		return true
	})
	l.mu.Lock()
	l.msg = msg
	l.mu.Unlock()
	return nil
}

func (l *lastError) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *lastError) WithGroup(string) slog.Handler      { return l }

func (l *lastError) get() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.msg
}
