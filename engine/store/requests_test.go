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
