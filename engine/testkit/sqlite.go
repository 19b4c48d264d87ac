package testkit

import (
	"context"
	"database/sql"
	"testing"

	_ "modernc.org/sqlite" // the driver millrun's store uses
)

// HoldWriteLock takes the write lock of the SQLite database at path from
// a connection of its own, as a backup tool or a second process would:
// millrun's writes wait until release. The lock is let go when the test
// ends if release was not called.
func HoldWriteLock(t testing.TB, path string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("take the write lock of %s: %v", path, err)
	}
	return func() {
		t.Helper()
		if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			t.Fatalf("let go of the write lock of %s: %v", path, err)
		}
	}
}
