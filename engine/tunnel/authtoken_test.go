package tunnel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The saved authtoken wins over the environment's, lives in an owner-only
// file, and is shown only as a hint.
func TestAuthtoken(t *testing.T) {
	t.Parallel()
	a := &Authtoken{Path: filepath.Join(t.TempDir(), "ngrok-authtoken"), Env: "env_token_1234567890"}
	if tok, src := a.Get(); tok != a.Env || src != "NGROK_AUTHTOKEN" {
		t.Fatalf("without a saved one: %q %q", tok, src)
	}
	if err := a.Set(" saved_token_abcdefgh \n"); err != nil {
		t.Fatal(err)
	}
	if tok, src := a.Get(); tok != "saved_token_abcdefgh" || src != "saved" {
		t.Fatalf("saved: %q %q", tok, src)
	}
	if st, _ := os.Stat(a.Path); st.Mode().Perm() != 0o600 {
		t.Fatalf("the authtoken file is %v", st.Mode().Perm())
	}
	if err := a.Set("has a space"); err == nil || !strings.Contains(err.Error(), "does not look like an ngrok authtoken") {
		t.Fatalf("a bad token: %v", err)
	}
	if err := a.Set(""); err != nil {
		t.Fatal(err)
	}
	if err := a.Set(""); err != nil { // removing twice is fine
		t.Fatal(err)
	}
	if tok, _ := a.Get(); tok != a.Env {
		t.Fatalf("after removal: %q", tok)
	}
	if h := Hint("saved_token_abcdefgh"); h != "save…efgh" || strings.Contains(h, "token") {
		t.Fatalf("hint %q", h)
	}
	if h := Hint("short"); h != "•••••" {
		t.Fatalf("short hint %q", h)
	}
}
