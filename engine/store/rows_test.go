package store

import (
	"errors"
	"strings"
	"testing"
)

func scanWord(row rowScanner) (string, error) {
	var w string
	err := row.Scan(&w)
	return w, err
}

// Rows come back in the query's order after what out already held; no
// rows give back out itself, so a list the UI reads stays [] not null.
func TestAppendRowsKeepsOrderAndTheEmptyAnswer(t *testing.T) {
	t.Parallel()
	db, _ := openDB(t)
	rows, err := db.read.QueryContext(t.Context(), `SELECT column1 FROM (VALUES ('b'), ('a'), ('c'))`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := appendRows([]string{"first"}, rows, scanWord)
	if err != nil || strings.Join(got, ",") != "first,b,a,c" {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, out := range [][]string{nil, {}} {
		rows, err := db.read.QueryContext(t.Context(), `SELECT 'x' WHERE 0`)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendRows(out, rows, scanWord)
		if err != nil || len(got) != 0 || (got == nil) != (out == nil) {
			t.Fatalf("no rows after %#v: got %#v, %v", out, got, err)
		}
	}
}

// A row that does not scan ends the reading with its error, nothing of
// the rows before it, and the rows closed: the read connection goes back.
func TestAppendRowsStopsAtTheFirstBadRow(t *testing.T) {
	t.Parallel()
	db, _ := openDB(t)
	rows, err := db.read.QueryContext(t.Context(), `SELECT column1 FROM (VALUES ('ok'), ('bad'), ('never'))`)
	if err != nil {
		t.Fatal(err)
	}
	bad := errors.New("bad row")
	var seen []string
	got, err := appendRows(nil, rows, func(row rowScanner) (string, error) {
		w, err := scanWord(row)
		seen = append(seen, w)
		if w == "bad" {
			return "", bad
		}
		return w, err
	})
	if !errors.Is(err, bad) || got != nil || strings.Join(seen, ",") != "ok,bad" {
		t.Fatalf("got %v, %v after reading %v", got, err, seen)
	}
	if rows.Next() {
		t.Fatal("the rows were left open")
	}
	if n := db.read.Stats().InUse; n != 0 {
		t.Fatalf("%d read connections still in use", n)
	}
}

// eachRow serves readers that fill something other than a list.
func TestEachRowReadsEveryRow(t *testing.T) {
	t.Parallel()
	db, _ := openDB(t)
	rows, err := db.read.QueryContext(t.Context(), `SELECT column1, column2 FROM (VALUES ('a', 1), ('b', 2))`)
	if err != nil {
		t.Fatal(err)
	}
	sum := map[string]int{}
	err = eachRow(rows, func(row rowScanner) error {
		var k string
		var v int
		err := row.Scan(&k, &v)
		sum[k] = v
		return err
	})
	if err != nil || len(sum) != 2 || sum["a"] != 1 || sum["b"] != 2 {
		t.Fatalf("got %v, %v", sum, err)
	}
}
