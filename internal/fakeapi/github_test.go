package fakeapi_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/fakeapi"
	"github.com/junctionhq/junction/internal/testkit"
)

const ghToken = "ghp_test0123456789"

func TestGitHubAuthentication(t *testing.T) {
	gh := fakeapi.NewGitHub(t, fakeapi.GitHubConfig{Token: ghToken})
	expect(t, "no token", send(t, "GET", gh.URL()+"/users/octocat", ""), 401, `"message":"Requires authentication"`)
	r := send(t, "GET", gh.URL()+"/users/octocat", "", "Authorization", "Bearer wrong")
	expect(t, "wrong token", r, 401, `"message":"Bad credentials"`, `"documentation_url"`)
	if r.header.Get("X-RateLimit-Limit") != "5000" {
		t.Errorf("a 401 still carries the rate-limit headers: %v", r.header)
	}
	expect(t, "token scheme", send(t, "GET", gh.URL()+"/users/octocat", "", "Authorization", "token "+ghToken), 200, `"login":"octocat"`)
	expect(t, "bad API version", send(t, "GET", gh.URL()+"/users/octocat", "", "Authorization", "Bearer "+ghToken, "X-GitHub-Api-Version", "2001-01-01"),
		400, "is not supported")

	send(t, "GET", gh.URL()+"/users/octocat", "", "Authorization", "Bearer "+ghToken, "Accept", "application/vnd.github.v3+json", "X-GitHub-Api-Version", "2022-11-28")
	reqs := gh.Requests()
	last := reqs[len(reqs)-1]
	if last.Header.Get("Accept") != "application/vnd.github.v3+json" || last.Header.Get("X-GitHub-Api-Version") != "2022-11-28" || last.Status != 200 {
		t.Errorf("recorded request: %+v", last)
	}
}

func TestGitHubUsersAndRepos(t *testing.T) {
	gh := fakeapi.NewGitHub(t, fakeapi.GitHubConfig{Token: ghToken})
	auth := []string{"Authorization", "Bearer " + ghToken}
	u := send(t, "GET", gh.URL()+"/users/OctoCat", "", auth...)
	expect(t, "user", u, 200)
	m := u.json(t)
	if m["login"] != "octocat" || m["id"] != float64(583231) || m["name"] != "The Octocat" || m["email"] != nil {
		t.Errorf("user: %v", m)
	}
	expect(t, "unknown user", send(t, "GET", gh.URL()+"/users/no-such-user-x", "", auth...), 404, `"message":"Not Found"`)
	expect(t, "wrong method", send(t, "DELETE", gh.URL()+"/users/octocat", "", auth...), 404, `"message":"Not Found"`)

	list := func(query string) []any {
		t.Helper()
		r := send(t, "GET", gh.URL()+"/user/repos"+query, "", auth...)
		expect(t, "repos"+query, r, 200)
		var out []any
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	all := list("")
	if len(all) != 30 {
		t.Fatalf("default page: %d repos, want 30", len(all))
	}
	if testkit.Dig(all[0], "full_name") != "octo-org/octo-internal" {
		t.Errorf("default sort is full_name ascending: first %v", testkit.Dig(all[0], "full_name"))
	}
	if n := len(list("?page=2")); n != 12 { // 40 own + 2 of the organisation
		t.Errorf("page 2: %d repos, want 12", n)
	}
	for _, r := range list("?type=private&per_page=100") {
		if testkit.Dig(r, "private") != true {
			t.Errorf("type=private answered %v", testkit.Dig(r, "full_name"))
		}
	}
	if member := list("?type=member"); len(member) != 2 {
		t.Errorf("type=member: %d", len(member))
	}
	created := list("?sort=created&per_page=5")
	for i := 1; i < len(created); i++ {
		if testkit.Dig(created[i-1], "created_at").(string) < testkit.Dig(created[i], "created_at").(string) {
			t.Errorf("sort=created is newest first: %v then %v", testkit.Dig(created[i-1], "created_at"), testkit.Dig(created[i], "created_at"))
		}
	}
	r := send(t, "GET", gh.URL()+"/user/repos?per_page=10&page=2", "", auth...)
	if link := r.header.Get("Link"); !strings.Contains(link, `page=3&per_page=10>; rel="next"`) || !strings.Contains(link, `rel="prev"`) {
		t.Errorf("Link: %s", link)
	}
	expect(t, "bad per_page", send(t, "GET", gh.URL()+"/user/repos?per_page=x", "", auth...), 422, "Validation Failed")
}

func TestGitHubCreateIssue(t *testing.T) {
	gh := fakeapi.NewGitHub(t, fakeapi.GitHubConfig{Token: ghToken})
	auth := []string{"Authorization", "Bearer " + ghToken}
	url := gh.URL() + "/repos/octocat/Hello-World/issues"
	r := send(t, "POST", url, `{"title":"Found a bug","body":"It breaks","labels":["bug"]}`, auth...)
	expect(t, "create", r, 201, `"number":1`, `"state":"open"`, `"html_url":"https://github.com/octocat/Hello-World/issues/1"`)
	expect(t, "second", send(t, "POST", url, `{"title":"Another"}`, auth...), 201, `"number":2`)
	expect(t, "empty title", send(t, "POST", url, `{"title":" "}`, auth...), 422, `"message":"Validation Failed"`, `"code":"missing_field"`, `"field":"title"`)
	expect(t, "no title", send(t, "POST", url, `{"body":"x"}`, auth...), 422, `"field":"title"`)
	expect(t, "bad labels", send(t, "POST", url, `{"title":"x","labels":"bug"}`, auth...), 422, `"field":"labels"`)
	expect(t, "not JSON", send(t, "POST", url, `{title:`, auth...), 400, "Problems parsing JSON")
	expect(t, "unknown repository", send(t, "POST", gh.URL()+"/repos/octocat/nope/issues", `{"title":"x"}`, auth...), 404, "Not Found")
	if issues := gh.Issues(); len(issues) != 2 || issues[0].Labels[0] != "bug" {
		t.Errorf("issues: %+v", issues)
	}
}

func TestGitHubRateLimit(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	gh := fakeapi.NewGitHub(t, fakeapi.GitHubConfig{Token: ghToken, RateLimit: 3, Clock: clk})
	auth := []string{"Authorization", "Bearer " + ghToken}
	for i, want := range []string{"2", "1", "0"} {
		r := send(t, "GET", gh.URL()+"/users/octocat", "", auth...)
		if r.status != 200 || r.header.Get("X-RateLimit-Remaining") != want || r.header.Get("X-RateLimit-Used") != strconv.Itoa(i+1) {
			t.Fatalf("request %d: %d remaining %s", i, r.status, r.header.Get("X-RateLimit-Remaining"))
		}
	}
	reset := clk.Now().Add(time.Hour).Unix()
	r := send(t, "GET", gh.URL()+"/users/octocat", "", auth...)
	expect(t, "exhausted", r, 403, "API rate limit exceeded")
	if r.header.Get("X-RateLimit-Remaining") != "0" || r.header.Get("X-RateLimit-Reset") != strconv.FormatInt(reset, 10) {
		t.Errorf("exhausted headers: %v", r.header)
	}
	rl := send(t, "GET", gh.URL()+"/rate_limit", "", auth...)
	expect(t, "rate_limit is free", rl, 200)
	if testkit.Dig(rl.json(t), "resources", "core", "remaining") != float64(0) {
		t.Errorf("rate_limit: %s", rl.body)
	}
	clk.Advance(time.Hour)
	expect(t, "after the reset", send(t, "GET", gh.URL()+"/users/octocat", "", auth...), 200)

	gh.SetRateLimitRemaining(0)
	expect(t, "SetRateLimitRemaining(0)", send(t, "GET", gh.URL()+"/users/octocat", "", auth...), 403)
}

func TestFailureKnobs(t *testing.T) {
	gh := fakeapi.NewGitHub(t, fakeapi.GitHubConfig{Token: ghToken})
	auth := []string{"Authorization", "Bearer " + ghToken}
	gh.FailNext(2, 502)
	expect(t, "first failure", send(t, "GET", gh.URL()+"/users/octocat", "", auth...), 502, "Bad Gateway")
	expect(t, "injected failures skip auth", send(t, "GET", gh.URL()+"/users/octocat", ""), 502)
	expect(t, "then normal", send(t, "GET", gh.URL()+"/users/octocat", "", auth...), 200)
	gh.SetDown(true)
	expect(t, "down", send(t, "GET", gh.URL()+"/users/octocat", "", auth...), 503)
	gh.SetDown(false)
	expect(t, "up", send(t, "GET", gh.URL()+"/users/octocat", "", auth...), 200)
	reqs := gh.Requests()
	if len(reqs) != 5 || reqs[0].Status != 502 || reqs[3].Status != 503 || reqs[4].Status != 200 {
		t.Errorf("log: %d entries", len(reqs))
	}
	if got := gh.RequestsTo("GET", "/users/octocat"); len(got) != 5 || got[0].Host == "" {
		t.Errorf("RequestsTo: %d", len(got))
	}

	release := gh.Hold()
	done := make(chan reply, 1)
	go func() {
		req, _ := http.NewRequest("GET", gh.URL()+"/users/octocat", nil)
		req.Header.Set("Authorization", "Bearer "+ghToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- reply{}
			return
		}
		resp.Body.Close()
		done <- reply{status: resp.StatusCode}
	}()
	// Held: recorded, but not answered until released.
	waitFor(t, "the held request", func() bool { return len(gh.Requests()) == 6 })
	select {
	case <-done:
		t.Fatal("a held request was answered")
	default:
	}
	release()
	release() // idempotent
	if r := <-done; r.status != 200 {
		t.Errorf("released request: %d", r.status)
	}
}
