// Package wshook delivers workspace events to the workspace webhook URL
// setting, in Windmill's shape ({"type": ..., "workspace": ..., ...}),
// signed so the receiver can verify them, with a few retries. Delivery is
// best effort: events queue in memory and the oldest are dropped past a
// bound.
package wshook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Target is where events go, read from the settings at each delivery; an
// empty URL sends nothing.
type Target struct{ URL, Secret string }

// Config is what a Notifier needs. Zero values mean the defaults.
type Config struct {
	Workspace string
	Target    func() Target
	Log       *slog.Logger
	// RetryDelays are the waits before each retry (default 1 s, 5 s, 30 s).
	RetryDelays []time.Duration
	Client      *http.Client // default: a 5 s timeout
}

// Notifier queues and delivers events; Start runs its delivery loop.
type Notifier struct {
	cfg   Config
	mu    sync.Mutex
	queue []map[string]any
	wake  chan struct{}
	stop  chan struct{}
	done  chan struct{}
}

const maxQueued = 1000

// New returns a stopped notifier.
func New(cfg Config) *Notifier {
	if cfg.RetryDelays == nil {
		cfg.RetryDelays = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{cfg: cfg, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// Start delivers queued events until Stop.
func (n *Notifier) Start() { go n.loop() }

// Stop ends delivery (an event being retried is dropped) and waits for it.
func (n *Notifier) Stop() {
	close(n.stop)
	<-n.done
}

// Send queues event for delivery, when a URL is set.
func (n *Notifier) Send(event map[string]any) {
	if n.cfg.Target().URL == "" {
		return
	}
	event["workspace"] = n.cfg.Workspace
	n.mu.Lock()
	if len(n.queue) >= maxQueued {
		n.queue = n.queue[1:]
	}
	n.queue = append(n.queue, event)
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

func (n *Notifier) loop() {
	defer close(n.done)
	for {
		select {
		case <-n.stop:
			return
		case <-n.wake:
		}
		for {
			n.mu.Lock()
			if len(n.queue) == 0 {
				n.mu.Unlock()
				break
			}
			ev := n.queue[0]
			n.queue = n.queue[1:]
			n.mu.Unlock()
			n.deliver(ev)
		}
	}
}

// Sign returns the signature header value for body: "sha256=" and the hex
// HMAC-SHA256 of "<timestamp>.<body>" with the workspace webhook secret.
func Sign(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp + "."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (n *Notifier) deliver(ev map[string]any) {
	body, _ := json.Marshal(ev)
	for attempt := 0; ; attempt++ {
		target := n.cfg.Target()
		if target.URL == "" {
			return
		}
		err := post(n.cfg.Client, target, body)
		if err == nil {
			return
		}
		if attempt >= len(n.cfg.RetryDelays) {
			n.cfg.Log.Warn("workspace webhook gave up", "type", ev["type"], "err", err)
			return
		}
		select {
		case <-n.stop:
			return
		case <-time.After(n.cfg.RetryDelays[attempt]):
		}
	}
}

// errRetry: the receiver answered with a server error.
type errRetry struct{ status int }

func (e errRetry) Error() string { return "the receiver answered " + strconv.Itoa(e.status) }

// Deliver posts one event to target now, once, without the queue: for a
// process that exits next (the CLI), which has no loop to retry from.
func Deliver(workspace string, target Target, event map[string]any) error {
	if target.URL == "" {
		return nil
	}
	event["workspace"] = workspace
	body, err := json.Marshal(event)
	if err != nil {
		return err
	}
	return post(&http.Client{Timeout: 5 * time.Second}, target, body)
}

// post delivers body once; a 4xx counts as delivered (it will not improve
// with retries).
func post(client *http.Client, target Target, body []byte) error {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "millrun")
	req.Header.Set("X-Millrun-Timestamp", ts)
	req.Header.Set("X-Millrun-Signature", Sign(target.Secret, ts, body))
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode >= 500 {
		return errRetry{res.StatusCode}
	}
	return nil
}
