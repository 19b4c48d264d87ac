package engine

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/millrun/millrun/engine/auth"
	"github.com/millrun/millrun/engine/store"
)

// A token that does not log in says how to make one for this data folder,
// and says so when it belongs to another (made without --data); the
// login page gets that command before any attempt.
func TestLoginNamesTheDataFolder(t *testing.T) {
	t.Parallel()
	other := t.TempDir()
	f := setup(t, func(c *Config) { c.OtherDataDirs = []string{other, ""} })
	db, err := store.Open(filepath.Join(other, "millrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	foreign, _, err := auth.New(db).Create(t.Context(), auth.CreateOptions{Label: "browser"})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	command := "millrun token create --data " + f.dir + " --label browser"

	hinted := f.do("GET", "/api/millrun/login/hint", "", "", "Authorization", "")
	if hinted.status != 200 || !strings.Contains(hinted.body, command) {
		t.Fatalf("hint: %d %s, want %q", hinted.status, hinted.body, command)
	}
	// The body is Windmill's words; millrun's reason is in X-Millrun-Hint.
	r := f.do("POST", "/api/millrun/login", "application/json", `{"token":"`+foreign+`"}`, "Authorization", "")
	hint := r.header.Get("X-Millrun-Hint")
	if r.status != 401 || !strings.Contains(hint, "this token belongs to another millrun data folder ("+other+")") || !strings.Contains(hint, command) {
		t.Fatalf("another folder's token: %d %s (hint %q)", r.status, r.body, hint)
	}
	r = f.do("POST", "/api/millrun/login", "application/json", `{"token":"nosuchtoken0000000000000000000000"}`, "Authorization", "")
	hint = r.header.Get("X-Millrun-Hint")
	if r.status != 401 || !strings.Contains(hint, "unknown token") || !strings.Contains(hint, command) {
		t.Fatalf("unknown token: %d %s (hint %q)", r.status, r.body, hint)
	}
	r = f.do("GET", "/login?token="+foreign, "", "", "Authorization", "")
	if r.status != 401 || !strings.Contains(r.body, "another millrun data folder") || !strings.Contains(r.body, "<code>"+command+"</code>") {
		t.Fatalf("login link from another folder: %d %s", r.status, r.body)
	}
}

// A login link opened again in the browser it logged in leads into the
// app; without that browser's session it still says the link was used.
func TestUsedLoginLinkWhileLoggedIn(t *testing.T) {
	t.Parallel()
	f := setup(t)
	secret, err := f.e.CreateLoginToken(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	open := func(cookie string) *http.Response {
		req, _ := http.NewRequest("GET", f.srv.URL+"/login?token="+secret, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		res, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	first := open("")
	var session string
	for _, c := range first.Cookies() {
		if c.Name == "token" {
			session = c.Value
		}
	}
	if first.StatusCode != 303 || session == "" {
		t.Fatalf("first use: %d, cookie %q", first.StatusCode, session)
	}
	if again := open("token=" + session); again.StatusCode != 303 || again.Header.Get("Location") != "/" {
		t.Fatalf("again while logged in: %d to %q, want 303 to /", again.StatusCode, again.Header.Get("Location"))
	}
	if again := open("token=forged"); again.StatusCode != 401 {
		t.Fatalf("again with a forged cookie: %d, want 401", again.StatusCode)
	}
}
