package triggers

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/millrun/millrun/engine/apierr"
	"github.com/millrun/millrun/engine/httpx"
)

// SignTest makes a request body the provider could have sent and signs it
// with the route's own credentials, so the user can check a route end to
// end (secret, signature check, script) before pasting its URL anywhere.
func SignTest(provider string, cred map[string]any, now time.Time) (body []byte, h http.Header, err error) {
	h = http.Header{}
	ts := strconv.FormatInt(now.Unix(), 10)
	switch provider {
	case ProviderSlack:
		body = []byte("command=%2Fmillrun-test&text=a+test+from+millrun&user_name=millrun")
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		h.Set("X-Slack-Request-Timestamp", ts)
		h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac(sha256.New, []byte(str(cred, "secret")), []byte("v0:"+ts+":"), body)))
	case ProviderGitHub:
		// A push, the event most routes are made for, shaped as GitHub
		// sends it (the fields scripts read), so a script's answer to the
		// test looks like its answer to the real thing.
		body = []byte(`{"ref":"refs/heads/main","before":"0000000000000000000000000000000000000000",` +
			`"after":"9f3a6b0c1d2e3f405162738495a6b7c8d9e0f1a2","created":false,"deleted":false,"forced":false,` +
			`"repository":{"id":1296269,"name":"hello-world","full_name":"octocat/hello-world","private":false,` +
			`"html_url":"https://github.com/octocat/hello-world","default_branch":"main","owner":{"login":"octocat"}},` +
			`"pusher":{"name":"octocat","email":"octocat@users.noreply.github.com"},"sender":{"login":"octocat"},` +
			`"head_commit":{"id":"9f3a6b0c1d2e3f405162738495a6b7c8d9e0f1a2","message":"A test push from millrun",` +
			`"author":{"name":"The Octocat","username":"octocat"}},"commits":[]}`)
		h.Set("Content-Type", "application/json")
		h.Set("X-GitHub-Event", "push")
		h.Set("X-GitHub-Delivery", "millrun-test-"+ts)
		h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac(sha256.New, []byte(str(cred, "secret")), body)))
	case ProviderStandard:
		list := secrets(cred)
		if len(list) == 0 {
			return nil, nil, errors.New("the route's resource has no whsec_ secret")
		}
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(list[0], "whsec_"))
		if err != nil {
			return nil, nil, errors.New("the route's secret is not a whsec_ base64 secret")
		}
		body = []byte(`{"type":"millrun.test","data":{"text":"a test from millrun"}}`)
		id := "msg_millrun_test_" + ts
		h.Set("Content-Type", "application/json")
		h.Set("Webhook-Id", id)
		h.Set("Webhook-Timestamp", ts)
		h.Set("Webhook-Signature", "v1,"+base64.StdEncoding.EncodeToString(mac(sha256.New, key, []byte(id+"."+ts+"."), body)))
	case ProviderHMAC:
		sc, err := genericScheme(cred)
		if err != nil {
			return nil, nil, err
		}
		body = []byte(`{"text":"a test from millrun"}`)
		h.Set("Content-Type", "application/json")
		h.Set(sc.header, sc.prefix+sc.encode(mac(sc.newHash, []byte(str(cred, "secret")), body)))
	case ProviderDiscord:
		return nil, nil, errors.New("Discord signs with its application's private key, which millrun does not have: in the Discord developer portal, saving the Interactions Endpoint URL sends a signed PING that millrun answers")
	default:
		return nil, nil, fmt.Errorf("unknown signature provider %q", provider)
	}
	return body, h, nil
}

// TestRequest builds a signed test request for the route at path, as its
// provider would send it: to the route's URL (path parameters filled with
// "test"), with the route's method.
func (s *Server) TestRequest(ctx context.Context, path string) (*http.Request, error) {
	t, ok := s.Service.Get(s.Workspace, path)
	if !ok {
		return nil, fmt.Errorf("there is no route %s", path)
	}
	if t.AuthenticationMethod != AuthSignature {
		return nil, errors.New("only routes that check a signature get a signed test request; call the others with curl")
	}
	cred, err := s.credentials(ctx, t)
	if err != nil {
		return nil, err
	}
	body, h, err := SignTest(str(cred, "provider"), cred, s.now())
	if err != nil {
		return nil, err
	}
	r := httptest.NewRequest(strings.ToUpper(t.HTTPMethod), "/api/r/"+t.urlWith("test"), strings.NewReader(string(body)))
	for k, v := range h {
		r.Header[k] = v
	}
	r.Header.Set("User-Agent", "millrun signed test request")
	r.RemoteAddr = "127.0.0.1:0"
	return r, nil
}

// SendTest answers "Send a signed test request" (POST
// /api/millrun/routes/test/{path...}): a request the route's provider
// could have sent, signed with the route's own secret, is handed to
// through (all of millrun's routes: the route's check runs and the
// inspector records it like any other request), so a route can be tried
// before its URL is pasted into Slack or GitHub. The answer says what
// the route answered.
func (s *Server) SendTest(through http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, err := s.TestRequest(r.Context(), r.PathValue("path"))
		if err != nil {
			apierr.Write(w, s.Log, apierr.BadRequest("%s", err))
			return
		}
		rec := httptest.NewRecorder()
		// A fresh context: nothing of the user's session (identity, the
		// desktop window's trust) may reach the route, which must judge
		// the request as it would a stranger's.
		through.ServeHTTP(rec, req.WithContext(context.Background()))
		body := rec.Body.String()
		if len(body) > 64<<10 {
			body = body[:64<<10]
		}
		httpx.JSON(w, http.StatusOK, map[string]any{"status": rec.Code, "job_id": rec.Header().Get("X-Millrun-Job-Id"), "body": body})
	}
}
