package store

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Requests are written in batches; each must still come back under the id
// it was told, and none may be lost when the database closes.
func TestRequestBatchesKeepIDsAndFlushOnClose(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "millrun.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	const n = 300 // several batches and several statements per batch
	var mu sync.Mutex
	ids := map[int64]string{}
	for i := range n {
		url := fmt.Sprintf("/api/r/hook/%d", i)
		db.AddRequest(&Request{ReceivedAt: time.Now(), Method: "POST", URL: url, Status: 200}, "{}", func(r *Request) {
			mu.Lock()
			ids[r.ID] = r.URL
			mu.Unlock()
		})
		if i%97 == 0 {
			time.Sleep(60 * time.Millisecond) // let a batch go out mid-way
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if len(ids) != n {
		t.Fatalf("%d of %d requests reported stored", len(ids), n)
	}
	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for id, url := range ids {
		r, err := db.GetRequest(t.Context(), id)
		if err != nil || r.URL != url {
			t.Fatalf("request %d: %v, url %q want %q", id, err, r.URL, url)
		}
	}
}

// Old requests go by age, by count and by the room their bodies take.
func TestPruneRequests(t *testing.T) {
	t.Parallel()
	db, err := Open(filepath.Join(t.TempDir(), "millrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	body := make([]byte, 1000)
	for i := range 20 {
		at := now.Add(-time.Duration(20-i) * time.Minute) // oldest first
		db.AddRequest(&Request{ReceivedAt: at, Method: "POST", URL: fmt.Sprint(i), Body: body}, "{}", nil)
	}
	db.flushRequests() // now, not in 50 ms
	db.reqFlushes.Wait()
	count := func() int {
		list, err := db.ListRequests(t.Context(), RequestFilter{Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	if err := db.PruneRequests(t.Context(), now.Add(-15*time.Minute-30*time.Second), 1000, 1000, 1<<30); err != nil || count() != 15 {
		t.Fatalf("by age: %v, %d left", err, count())
	}
	if err := db.PruneRequests(t.Context(), time.Time{}, 10, 10, 1<<30); err != nil || count() != 10 {
		t.Fatalf("by count: %v, %d left", err, count())
	}
	if err := db.PruneRequests(t.Context(), time.Time{}, 1000, 1000, 4500); err != nil || count() != 4 {
		t.Fatalf("by body bytes: %v, %d left", err, count())
	}
	list, _ := db.ListRequests(t.Context(), RequestFilter{Limit: 1})
	if list[0].URL != "19" {
		t.Fatalf("the newest went: %v", list[0].URL)
	}
}
