package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/server"
)

// TestConsolePageIsPublicAndLockedDown: the page and its files need no token, and come
// with a policy that lets only the page's own script run.
func TestConsolePageIsPublicAndLockedDown(t *testing.T) {
	e := newEnv(t)
	page := e.req("GET", "/", "", "")
	if page.StatusCode != 200 || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(page.body), `src="/console/assets/app.js"`) {
		t.Fatalf("GET /: %d %s", page.StatusCode, page.body)
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("policy %q", csp)
	}
	if js := e.req("GET", "/console/assets/app.js", "", ""); js.StatusCode != 200 || !strings.HasPrefix(js.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("app.js: %d %s", js.StatusCode, js.Header.Get("Content-Type"))
	}
	problem(t, e.req("GET", "/console/assets/nope.js", "", ""), 404, server.KindNotFound, "/console/assets/nope.js")
	// Only the root is the page: other paths are still the API's.
	problem(t, e.req("GET", "/nothing-here", "", ""), 401, server.KindUnauthorized, "/nothing-here")
}

// signIn posts a token to the sign-in route and returns the answer.
func signIn(e *env, token string) response {
	return e.req("POST", "/console/session", "", `{"token":"`+token+`"}`)
}

func sessionCookieOf(t *testing.T, resp response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == "junction_session" {
			return c
		}
	}
	t.Fatalf("no session cookie in %v", resp.Header["Set-Cookie"])
	return nil
}

// TestConsoleSession: signing in keeps the token in an HttpOnly, SameSite=Strict cookie,
// which then authenticates API requests; a change needs the session's CSRF token as
// well, and is refused from another site; signing out clears the cookie.
func TestConsoleSession(t *testing.T) {
	e := newEnv(t)
	problem(t, signIn(e, "jct_not_a_token"), 401, server.KindUnauthorized, "/console/session")
	p := problem(t, signIn(e, ""), 400, server.KindInvalidRequest, "/console/session")
	if fields := fieldErrors(t, p); len(fields) != 1 || !strings.HasPrefix(fields[0], "token") {
		t.Errorf("fields %v", fields)
	}

	in := signIn(e, e.admin)
	if in.StatusCode != 200 {
		t.Fatalf("sign in: %d %s", in.StatusCode, in.body)
	}
	c := sessionCookieOf(t, in)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.MaxAge <= 0 {
		t.Errorf("cookie %+v", c)
	}
	body := in.json(t)
	csrf, _ := body["csrf"].(string)
	if body["role"] != "admin" || csrf == "" || strings.Contains(string(in.body), e.admin) {
		t.Errorf("sign-in answer %s", in.body)
	}
	cookie := "junction_session=" + c.Value

	me := e.req("GET", "/console/me", "", "", "Cookie", cookie)
	if me.StatusCode != 200 || me.json(t)["csrf"] != csrf || me.json(t)["name"] != "admin" {
		t.Errorf("me: %d %s", me.StatusCode, me.body)
	}
	if r := e.req("GET", "/tokens", "", "", "Cookie", cookie); r.StatusCode != 200 {
		t.Errorf("GET /tokens with the cookie: %d %s", r.StatusCode, r.body)
	}

	create := `{"role":"user","name":"from-console"}`
	problem(t, e.req("POST", "/tokens", "", create, "Cookie", cookie), 403, server.KindForbidden, "/tokens")
	problem(t, e.req("POST", "/tokens", "", create, "Cookie", cookie, "X-CSRF-Token", "forged"), 403, server.KindForbidden, "/tokens")
	problem(t, e.req("POST", "/tokens", "", create, "Cookie", cookie, "X-CSRF-Token", csrf, "Sec-Fetch-Site", "cross-site"), 403, server.KindForbidden, "/tokens")
	if r := e.req("POST", "/tokens", "", create, "Cookie", cookie, "X-CSRF-Token", csrf, "Sec-Fetch-Site", "same-origin"); r.StatusCode != 201 {
		t.Errorf("POST /tokens with cookie and CSRF token: %d %s", r.StatusCode, r.body)
	}
	// A bearer token needs no CSRF token: no browser adds it by itself.
	made := e.req("POST", "/tokens", e.admin, create)
	if made.StatusCode != 201 {
		t.Fatalf("POST /tokens with a bearer token: %d %s", made.StatusCode, made.body)
	}

	// A user's session sees, but admin routes answer 403 as for its bearer token.
	user := sessionCookieOf(t, signIn(e, e.user))
	problem(t, e.req("GET", "/tokens", "", "", "Cookie", "junction_session="+user.Value), 403, server.KindForbidden, "/tokens")

	out := e.req("DELETE", "/console/session", "", "", "Cookie", cookie)
	if out.StatusCode != 204 || sessionCookieOf(t, out).MaxAge >= 0 {
		t.Errorf("sign out: %d %v", out.StatusCode, out.Header["Set-Cookie"])
	}

	// A revoked token ends the session.
	secret, _ := made.json(t)["token"].(string)
	id, _ := made.json(t)["id"].(string)
	revoked := "junction_session=" + sessionCookieOf(t, signIn(e, secret)).Value
	if r := e.req("GET", "/console/me", "", "", "Cookie", revoked); r.StatusCode != 200 {
		t.Fatalf("me before revoking: %d %s", r.StatusCode, r.body)
	}
	if r := e.req("DELETE", "/tokens/"+id, e.admin, ""); r.StatusCode != 204 {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.body)
	}
	problem(t, e.req("GET", "/console/me", "", "", "Cookie", revoked), 401, server.KindUnauthorized, "/console/me")
}
