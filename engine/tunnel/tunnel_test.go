package tunnel

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

type codedErr struct{ code string }

func (e codedErr) Error() string { return "failed to start tunnel: something " + e.code }
func (e codedErr) Code() string  { return e.code }

func waitState(t *testing.T, ch <-chan Status, want State) Status {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case st := <-ch:
			if st.State == want {
				return st
			}
		case <-deadline:
			t.Fatalf("never reached %s", want)
		}
	}
}

var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello from "+r.URL.Path) })

func TestStateMachine(t *testing.T) {
	t.Parallel()
	fake := &Fake{Delay: 50 * time.Millisecond}
	m := NewManager(fake, hello, nil)
	ch, stop := m.Subscribe()
	defer stop()
	if st := <-ch; st.State != Off {
		t.Fatalf("initial state %s", st.State)
	}
	if err := m.Connect(Config{}); !errors.Is(err, ErrNoAuthtoken) {
		t.Fatalf("start without authtoken: %v", err)
	}
	if err := m.Connect(Config{Authtoken: "tok"}); err != nil {
		t.Fatal(err)
	}
	waitState(t, ch, Connecting)
	online := waitState(t, ch, Online)
	res, err := http.Get(online.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(b) != "hello from /x" {
		t.Fatalf("the tunnel does not serve the handler: %q", b)
	}
	fake.Drop(errors.New("connection reset by peer"))
	rec := waitState(t, ch, Reconnecting)
	if !strings.Contains(rec.Error, "connection reset") || rec.URL != online.URL {
		t.Fatalf("reconnecting: %+v", rec)
	}
	fake.Restore()
	if back := waitState(t, ch, Online); back.URL != online.URL || back.Error != "" {
		t.Fatalf("back online: %+v", back)
	}
	m.Disconnect()
	waitState(t, ch, Off)
	time.Sleep(50 * time.Millisecond)
	if _, err := http.Get(online.URL + "/x"); err == nil {
		t.Fatal("the public listener still answers after Stop")
	}
}

func TestStartFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		fake *Fake
		want string
	}{
		{"bad authtoken", &Fake{Err: codedErr{"ERR_NGROK_105"}}, "ngrok refused the authtoken"},
		{"revoked authtoken", &Fake{Err: codedErr{"ERR_NGROK_107"}}, "ngrok refused the authtoken"},
		{"domain not reserved", &Fake{Err: codedErr{"ERR_NGROK_7117"}}, "that domain is not reserved on this ngrok account"},
		{"session limit", &Fake{Err: codedErr{"ERR_NGROK_108"}}, "as many agents online as it allows"},
		{"other code", &Fake{Err: codedErr{"ERR_NGROK_9999"}}, "ngrok: failed to start tunnel"},
		{"offline", &Fake{Delay: time.Hour}, "could not reach ngrok within 200ms"},
	}
	for _, c := range cases {
		m := NewManager(c.fake, hello, nil)
		m.ConnectTimeout = 200 * time.Millisecond
		ch, stop := m.Subscribe()
		start := time.Now()
		m.Connect(Config{Authtoken: "tok"})
		st := waitState(t, ch, Failed)
		stop()
		if !strings.Contains(st.Error, c.want) {
			t.Errorf("%s: %q, want %q", c.name, st.Error, c.want)
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("%s: took %s to fail", c.name, time.Since(start))
		}
	}
}

func TestStopDuringConnect(t *testing.T) {
	t.Parallel()
	fake := &Fake{Delay: 300 * time.Millisecond}
	m := NewManager(fake, hello, nil)
	ch, stop := m.Subscribe()
	defer stop()
	m.Connect(Config{Authtoken: "tok"})
	waitState(t, ch, Connecting)
	m.Disconnect()
	waitState(t, ch, Off)
	time.Sleep(500 * time.Millisecond)
	if st := m.Status(); st.State != Off {
		t.Fatalf("a stopped start came back as %s", st.State)
	}
}

// Stop is the manager's end: it closes the tunnel, and no tunnel comes up
// again until Start (one asked for while millrun shuts down would serve a
// closed engine).
func TestStopClosesTheTunnelUntilStart(t *testing.T) {
	t.Parallel()
	m := NewManager(&Fake{}, hello, nil)
	ch, unsubscribe := m.Subscribe()
	defer unsubscribe()
	if err := m.Connect(Config{Authtoken: "tok"}); err != nil {
		t.Fatal(err)
	}
	waitState(t, ch, Online)
	m.Stop(context.Background())
	waitState(t, ch, Off)
	if err := m.Connect(Config{Authtoken: "tok"}); err == nil {
		t.Fatal("a stopped manager brought a tunnel up")
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.Connect(Config{Authtoken: "tok"}); err != nil {
		t.Fatal(err)
	}
	waitState(t, ch, Online)
	m.Stop(context.Background())
}
