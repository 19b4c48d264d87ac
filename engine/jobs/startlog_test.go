package jobs

import (
	"fmt"
	"slices"
	"testing"
)

// Entries survive until the database has them: a switch of files empties
// the old one only after the writes submitted before the switch commit,
// and nothing logged after the switch is lost.
func TestStartLogKeepsEntriesUntilTheDatabaseHasThem(t *testing.T) {
	dir := t.TempDir()
	var pending []func() // the database writes not yet committed
	marked := 0
	l, err := openStartLog(dir, func(done func()) { pending = append(pending, done) })
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	id := func(i int) string { return fmt.Sprintf("%036d", i) }
	n := 0
	for ; len(pending) == 0; n++ { // until the first switch
		if err := l.started(id(n), func() { marked++ }); err != nil {
			t.Fatal(err)
		}
	}
	if marked != n {
		t.Fatalf("%d database marks for %d entries", marked, n)
	}
	for i := n; i < n+10; i++ {
		l.started(id(i), func() {})
	}
	got, _ := readStartLogs(dir)
	if len(got) != n+10 {
		t.Fatalf("before the database caught up the logs hold %d entries, want all %d", len(got), n+10)
	}
	pending[0]() // the writes before the switch are committed
	got, _ = readStartLogs(dir)
	want := []string{}
	for i := n; i < n+10; i++ {
		want = append(want, id(i))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("after the switch the logs hold %d entries, want the %d logged since", len(got), len(want))
	}
}
