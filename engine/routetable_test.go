package engine

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Every route the engine mounts, taken from the route table as it was
// built (not a list kept by hand), is called without a token, with a
// webhook-scoped token, with a token scoped to another script, with a
// foreign Host, with the browser session's cookie from another site and
// naming another workspace; each answer must be what the route's group
// promises. A route mounted anywhere is tested here without a word.
func TestEveryRouteAnswersAsItsGroupSays(t *testing.T) {
	t.Parallel()
	f := setup(t)
	hash := f.createScript("u/me/hook", "bash", "echo hooked\n")
	f.createScript("u/me/other", "bash", "echo other\n")
	ctx := context.Background()
	scoped, err := f.e.CreateToken(ctx, "hook only", []string{"jobs:run:scripts:u/me/hook"}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	otherScript, err := f.e.CreateToken(ctx, "other only", []string{"jobs:run:scripts:u/me/other"}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	session, _, err := f.e.tokens.Login(ctx, f.token)
	if err != nil {
		t.Fatal(err)
	}
	// A job of the scoped token's own, finished, for the routes that read
	// a job ({id}, {job}).
	ownJob := f.mustDo(201, "POST", "/api/w/local/jobs/run/p/u/me/hook", "application/json", "{}", "Authorization", "Bearer "+scoped).body
	f.waitJob(ownJob)

	values := map[string]string{"ws": "local", "path": "u/me/hook", "hash": hash, "id": ownJob, "job": ownJob, "resume_id": "1", "signature": "00"}
	wildcard := regexp.MustCompile(`\{([a-z_]+)(\.\.\.)?\}`)
	request := func(pattern string) (method, path string) {
		method, path, ok := strings.Cut(pattern, " ")
		if !ok {
			method, path = "GET", pattern
		}
		path = wildcard.ReplaceAllStringFunc(path, func(w string) string {
			if v, ok := values[wildcard.FindStringSubmatch(w)[1]]; ok {
				return v
			}
			return "x"
		})
		if strings.HasSuffix(path, "/") {
			path += "nothing-here" // a subtree's catch-all
		}
		return method, path
	}
	// Routes whose handlers would act on a scoped or foreign caller's
	// request read these too: none of them may be reached.
	const risky = "?plain_secret=true&include_encrypted=true&already_encrypted=true&archive_type=zip"

	const unauthorized = "Not authorized: Unauthorized"
	// Windmill's get_result_maybe tells of a job the caller may not see
	// what it tells of an unknown one.
	const nothingKnown = `{"completed":false,"result":null,"started":null,"success":null}`
	refusedHost := func(r resp) bool {
		return r.status == 403 && strings.HasPrefix(r.body, `Permission denied: host "evil.example"`)
	}
	isHead := func(method string) bool { return method == "HEAD" }
	count := map[string]int{}
	for _, rt := range f.e.routes {
		count[rt.group]++
		method, path := request(rt.pattern)
		name := rt.group + " " + rt.pattern
		body := "{}"
		call := func(p string, hdr ...string) resp { return f.do(method, p, "application/json", body, hdr...) }
		anon := call(path, "Authorization", "")
		asScoped := call(path+risky, "Authorization", "Bearer "+scoped)
		asOther := call(path+risky, "Authorization", "Bearer "+otherScript)
		badHost := call(path, "Host", "evil.example")
		crossSite := call(path, "Authorization", "", "Cookie", "token="+session, "Sec-Fetch-Site", "cross-site")
		var otherWorkspace resp
		inWorkspace := strings.Contains(rt.pattern, "/api/w/{ws}/")
		if inWorkspace {
			otherWorkspace = call(strings.Replace(path, "/api/w/local/", "/api/w/elsewhere/", 1))
		}
		fail := func(what string, r resp, want string) {
			t.Errorf("%s (%s %s) %s: %d %.200q, want %s", name, method, path, what, r.status, r.body, want)
		}
		switch rt.group {
		case "management":
			if anon.status != 401 || !isHead(method) && anon.body != unauthorized {
				fail("without a token", anon, "401 "+unauthorized)
			}
			want := "Not authorized: Required scope: " + rt.scope
			for what, r := range map[string]resp{"scoped token": asScoped, "token for another script": asOther} {
				if r.status != 401 || !isHead(method) && r.body != want {
					fail(what, r, "401 "+want)
				}
			}
			if !refusedHost(badHost) {
				fail("foreign Host", badHost, "403")
			}
			if crossSite.status != 401 {
				fail("cross-site session cookie", crossSite, "401")
			}
		case "scoped":
			if anon.status != 401 || !isHead(method) && anon.body != unauthorized {
				fail("without a token", anon, "401 "+unauthorized)
			}
			for what, r := range map[string]resp{"scoped token": asScoped, "token for another script": asOther} {
				if r.status == 401 || r.status == 403 {
					fail(what, r, "an answer for any valid token")
				}
			}
			if !refusedHost(badHost) {
				fail("foreign Host", badHost, "403")
			}
			if crossSite.status != 401 {
				fail("cross-site session cookie", crossSite, "401")
			}
		case "webhooks":
			if anon.status != 401 || !isHead(method) && anon.body != unauthorized {
				fail("without a token", anon, "401 "+unauthorized)
			}
			byFlow := strings.Contains(rt.pattern, "/f/")
			switch {
			case byFlow && asScoped.status < 300:
				fail("script-scoped token on a flow's route", asScoped, "a refusal")
			case !byFlow && asScoped.status >= 300 && asScoped.status != 405:
				fail("scoped token on its own webhook", asScoped, "2xx")
			}
			if asOther.status < 300 {
				fail("token for another script", asOther, "a refusal")
			}
			if !byFlow && method == "POST" && (asOther.status != 401 || asOther.body != "Not authorized: Required scope: jobs:run:scripts:u/me/hook") {
				fail("token for another script", asOther, "401 Required scope: jobs:run:scripts:u/me/hook")
			}
			// The tunnel's public name is not this machine's: webhooks
			// answer any Host.
			if badHost.status == 403 {
				fail("foreign Host", badHost, "served")
			}
			if crossSite.status != 401 {
				fail("cross-site session cookie", crossSite, "401")
			}
		case "jobReads":
			if anon.status != 401 || !isHead(method) && anon.body != unauthorized {
				fail("without a token", anon, "401 "+unauthorized)
			}
			if asScoped.status != 200 {
				fail("scoped token reading its own job", asScoped, "200")
			}
			if asOther.status != 404 && asOther.body != nothingKnown {
				fail("token for another script reading someone else's job", asOther, "404")
			}
			if badHost.status != 200 {
				fail("foreign Host", badHost, "200: served for any Host")
			}
			if crossSite.status != 401 {
				fail("cross-site session cookie", crossSite, "401")
			}
		case "customRoutes", "approvalLinks":
			// They judge their callers themselves (signatures, their own
			// keys): no token, Host or cookie changes the answer, and an
			// unsigned caller is refused.
			if anon.status < 400 {
				fail("without a signature", anon, "a refusal")
			}
			for what, r := range map[string]resp{"scoped token": asScoped, "token for another script": asOther, "foreign Host": badHost, "cross-site session cookie": crossSite} {
				if r.status != anon.status {
					fail(what, r, "the answer without a token")
				}
			}
		case "public":
			// No token is needed: the answer is the one a full-access
			// caller gets.
			if full := call(path); anon.status != full.status {
				fail("without a token", anon, fmt.Sprintf("%d, as with a token", full.status))
			}
			if !refusedHost(badHost) {
				fail("foreign Host", badHost, "403")
			}
			if method != "GET" && (crossSite.status != 403 || crossSite.body != "Permission denied: cross-site request refused") {
				fail("cross-site session cookie", crossSite, "403 cross-site request refused")
			}
		default:
			t.Errorf("%s: a group this test does not know: say here what it promises", name)
		}
		if inWorkspace && otherWorkspace.status < 400 && otherWorkspace.body != nothingKnown {
			fail("naming another workspace", otherWorkspace, "a refusal")
		}
		if inWorkspace && (rt.group == "management" || rt.group == "scoped") &&
			(otherWorkspace.status != 404 || otherWorkspace.body != "Not found: workspace elsewhere does not exist (this millrun serves workspace local)") {
			fail("naming another workspace", otherWorkspace, "404 workspace elsewhere does not exist")
		}
	}

	// The tunnel serves its groups' routes and no others: a route of the
	// other groups does not exist there, whatever the token.
	pub := httptest.NewServer(f.e.WebhookHandler())
	defer pub.Close()
	for _, rt := range f.e.routes {
		method, path := request(rt.pattern)
		req, _ := http.NewRequest(method, pub.URL+path, strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+f.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		noRoute := res.StatusCode == 404 && string(b) == "Not found: no route "+method+" "+strings.SplitN(path, "?", 2)[0]
		if rt.tunnel && noRoute {
			t.Errorf("the tunnel lacks %s %s (%s)", method, path, rt.group)
		}
		if !rt.tunnel && (method == "HEAD" && res.StatusCode != 404 || method != "HEAD" && !noRoute) {
			t.Errorf("the tunnel answers %s %s (%s): %d %s, want 404", method, path, rt.group, res.StatusCode, b)
		}
	}

	// What a webhook-scoped token can still call (README's list): adding
	// to it is a decision, made here too.
	var anyToken []string
	for _, rt := range f.e.routes {
		if rt.group == "scoped" {
			anyToken = append(anyToken, rt.pattern)
		}
	}
	slices.Sort(anyToken)
	if got, want := strings.Join(anyToken, "\n"), strings.Join([]string{
		"/api/", // the 404 for a route that does not exist
		"GET /api/millrun/jobs/{id}/stream", "GET /api/millrun/whoami", "GET /api/users/whoami", "GET /api/w/{ws}/users/whoami",
		"GET /api/workspaces/list", "POST /api/millrun/logout", "POST /api/w/{ws}/jobs_u/queue/cancel/{id}", "POST /api/workspaces/exists",
	}, "\n"); got != want {
		t.Errorf("routes any valid token may call:\n%s\nwant:\n%s", got, want)
	}

	t.Logf("routes walked: %v", count)
	if len(f.e.routes) < 200 || count["management"] < 150 {
		t.Fatalf("only %d routes were recorded (%v): is the table still recording what it mounts?", len(f.e.routes), count)
	}
}
