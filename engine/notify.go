package engine

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// notifier POSTs workspace events to the workspace webhook URL setting, in
// Windmill's shape ({"type": ..., "workspace": ..., ...}), signed so the
// receiver can verify them, with a few retries. Delivery is best effort:
// events queue in memory and the oldest are dropped past a bound.
type notifier struct {
	e      *Engine
	mu     sync.Mutex
	queue  []map[string]any
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	client *http.Client
	// retryDelays are the waits before each retry.
	retryDelays []time.Duration
}

func newNotifier(e *Engine) *notifier {
	n := &notifier{e: e, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		client: &http.Client{Timeout: 5 * time.Second}, retryDelays: []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}}
	go n.loop()
	return n
}

func (n *notifier) send(event map[string]any) {
	if n.e.settings.Load().WorkspaceWebhookURL == "" {
		return
	}
	event["workspace"] = n.e.cfg.Workspace
	n.mu.Lock()
	if len(n.queue) >= 1000 {
		n.queue = n.queue[1:]
	}
	n.queue = append(n.queue, event)
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

func (n *notifier) close() {
	close(n.stop)
	<-n.done
}

func (n *notifier) loop() {
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

func (n *notifier) deliver(ev map[string]any) {
	body, _ := json.Marshal(ev)
	for attempt := 0; ; attempt++ {
		set := n.e.settings.Load()
		if set.WorkspaceWebhookURL == "" {
			return
		}
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, set.WorkspaceWebhookURL, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("User-Agent", "millrun")
			req.Header.Set("X-Millrun-Timestamp", ts)
			req.Header.Set("X-Millrun-Signature", Sign(set.WorkspaceWebhookSecret, ts, body))
			var res *http.Response
			if res, err = n.client.Do(req); err == nil {
				res.Body.Close()
				if res.StatusCode < 500 {
					cancel()
					return // delivered (a 4xx will not improve with retries)
				}
			}
		}
		cancel()
		if attempt >= len(n.retryDelays) {
			n.e.log.Warn("workspace webhook gave up", "type", ev["type"], "err", err)
			return
		}
		select {
		case <-n.stop:
			return
		case <-time.After(n.retryDelays[attempt]):
		}
	}
}
