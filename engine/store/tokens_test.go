package store

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A token made in another data folder (millrun token create without
// --data) is found there, whether that folder's database is open in
// another millrun or closed; looking creates nothing.
func TestTokenIn(t *testing.T) {
	t.Parallel()
	db, path := openDB(t)
	h := bytes.Repeat([]byte{7}, 32)
	if err := db.InsertToken(t.Context(), &Token{Label: "browser", Prefix: "abcdefghij", SecretHash: h, Scopes: "[]", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if !TokenIn(t.Context(), path, h) {
		t.Fatal("open database: token not found")
	}
	if TokenIn(t.Context(), path, bytes.Repeat([]byte{8}, 32)) {
		t.Fatal("found a token that is not there")
	}
	db.Close()
	if !TokenIn(t.Context(), path, h) {
		t.Fatal("closed database: token not found")
	}
	missing := filepath.Join(t.TempDir(), "millrun.db")
	if TokenIn(t.Context(), missing, h) {
		t.Fatal("found a token in no database")
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("looking created %s: %v", missing, err)
	}
}
