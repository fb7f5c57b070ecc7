package fakeapi

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/clock"
)

// GitHub REST documentation links, as GitHub puts them in error bodies.
const (
	githubDocs          = "https://docs.github.com/rest"
	githubRateLimitDocs = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
)

// githubAPIVersions are the values of X-GitHub-Api-Version GitHub accepts.
var githubAPIVersions = []string{"2022-11-28", "2026-03-10"}

// GitHubConfig configures the GitHub REST fake.
type GitHubConfig struct {
	Token     string      // the one valid token; required
	Login     string      // the token's user; default "octocat"
	RateLimit int         // requests per hour; default 5000, as for an authenticated user
	Clock     clock.Clock // rate-limit resets; default the wall clock
}

// GitHub is a fake of the GitHub REST API v3 (https://api.github.com):
//
//   - GET /users/{username}: the user, or 404 {"message":"Not Found"}
//   - GET /user: the token's user
//   - GET /user/repos: the token user's repositories (and those of organisations it
//     belongs to), with type (all, owner, public, private, member), sort (created,
//     updated, pushed, full_name), direction, per_page (at most 100) and page, and a Link
//     header to the other pages
//   - POST /repos/{owner}/{repo}/issues: 201 with the issue; a missing or empty title is
//     422 Validation Failed, a body that is not JSON is 400, an unknown repository 404
//   - GET /rate_limit: the quota; it does not count against it, as on GitHub
//
// Every request needs `Authorization: Bearer <token>` (or GitHub's older `token <token>`):
// missing is 401 "Requires authentication", wrong is 401 "Bad credentials". Unlike the
// real API, which serves public resources anonymously, the fake refuses anonymous
// requests everywhere, so a client that forgot its credentials is caught.
//
// Every answer carries X-RateLimit-Limit, -Remaining, -Reset, -Used and -Resource; each
// authenticated request (but /rate_limit) uses one unit, and when none is left the answer
// is 403 with X-RateLimit-Remaining: 0 and GitHub's rate-limit message until the reset
// time, one hour after the window started, on the fake's clock. An
// X-GitHub-Api-Version that GitHub does not know is 400. Accept and X-GitHub-Api-Version
// are recorded with every request (Requests).
type GitHub struct {
	*Server
	cfg GitHubConfig

	mu        sync.Mutex
	data      *githubData
	remaining int
	used      int
	resetAt   time.Time
}

// NewGitHub starts the fake; it is closed when the test ends.
func NewGitHub(t testing.TB, cfg GitHubConfig) *GitHub {
	t.Helper()
	if cfg.Token == "" {
		t.Fatal("fakeapi.NewGitHub: Token is required")
	}
	if cfg.Login == "" {
		cfg.Login = "octocat"
	}
	if cfg.RateLimit <= 0 {
		cfg.RateLimit = 5000
	}
	g := &GitHub{cfg: cfg, data: seedGitHub(), remaining: cfg.RateLimit}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{username}", g.getUser)
	mux.HandleFunc("GET /user", g.getViewer)
	mux.HandleFunc("GET /user/repos", g.listRepos)
	mux.HandleFunc("POST /repos/{owner}/{repo}/issues", g.createIssue)
	mux.HandleFunc("GET /rate_limit", g.rateLimit)
	g.Server = start(t, cfg.Clock, func(w http.ResponseWriter, _ *http.Request, status int) {
		if status == http.StatusTooManyRequests { // a secondary rate limit (RateLimitNext)
			writeJSON(w, status, map[string]any{
				"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
				"documentation_url": githubRateLimitDocs})
			return
		}
		writeJSON(w, status, githubMessage(http.StatusText(status)))
	}, g.handler(mux))
	return g
}

// AddUser adds (or replaces) a user account.
func (g *GitHub) AddUser(u GitHubUser) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.data.users = slices.DeleteFunc(g.data.users, func(x GitHubUser) bool { return strings.EqualFold(x.Login, u.Login) })
	g.data.users = append(g.data.users, u)
}

// Issues returns the issues created so far.
func (g *GitHub) Issues() []GitHubIssue {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.data.issues)
}

// SetRateLimitRemaining sets how many requests are left in the current window (0 makes
// the next counted request a 403, as an exhausted quota does).
func (g *GitHub) SetRateLimitRemaining(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.refillLocked()
	g.remaining = max(0, min(n, g.cfg.RateLimit))
	g.used = g.cfg.RateLimit - g.remaining
}

func githubMessage(msg string) map[string]any {
	return map[string]any{"message": msg, "documentation_url": githubDocs}
}

// handler applies what every GitHub endpoint shares: version check, authentication,
// rate-limit headers and quota, and 404 (GitHub's answer to a wrong method too).
func (g *GitHub) handler(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")
		counted := r.URL.Path != "/rate_limit"
		if v := r.Header.Get("X-GitHub-Api-Version"); v != "" && !slices.Contains(githubAPIVersions, v) {
			g.rateHeaders(w, false)
			writeJSON(w, http.StatusBadRequest, map[string]any{
				"message":           fmt.Sprintf("API version '%s' is not supported.", v),
				"documentation_url": "https://docs.github.com/rest/overview/api-versions"})
			return
		}
		authz := r.Header.Get("Authorization")
		scheme, token, _ := strings.Cut(authz, " ")
		switch {
		case authz == "":
			g.rateHeaders(w, false)
			writeJSON(w, http.StatusUnauthorized, githubMessage("Requires authentication"))
			return
		case !(strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "token")) || token != g.cfg.Token:
			g.rateHeaders(w, false)
			writeJSON(w, http.StatusUnauthorized, githubMessage("Bad credentials"))
			return
		}
		if !g.rateHeaders(w, counted) {
			writeJSON(w, http.StatusForbidden, map[string]any{
				"message":           fmt.Sprintf("API rate limit exceeded for user ID %d.", g.viewer().ID),
				"documentation_url": githubRateLimitDocs})
			return
		}
		if _, pattern := mux.Handler(r); pattern == "" {
			writeJSON(w, http.StatusNotFound, githubMessage("Not Found"))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// refillLocked starts a new window once the reset time has passed.
func (g *GitHub) refillLocked() {
	now := g.clock.Now()
	if g.resetAt.IsZero() || !now.Before(g.resetAt) {
		g.remaining, g.used = g.cfg.RateLimit, 0
		g.resetAt = now.Add(time.Hour).Truncate(time.Second)
	}
}

// rateHeaders sets the X-RateLimit-* headers, using one unit if count is set. It returns
// false when the quota is exhausted (the headers then say 0 remaining).
func (g *GitHub) rateHeaders(w http.ResponseWriter, count bool) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.refillLocked()
	ok := true
	if count {
		if g.remaining == 0 {
			ok = false
		} else {
			g.remaining--
			g.used++
		}
	}
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(g.cfg.RateLimit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(g.remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(g.resetAt.Unix(), 10))
	h.Set("X-RateLimit-Used", strconv.Itoa(g.used))
	h.Set("X-RateLimit-Resource", "core")
	return ok
}

func (g *GitHub) viewer() GitHubUser {
	g.mu.Lock()
	defer g.mu.Unlock()
	u, _ := g.data.user(g.cfg.Login)
	return u
}

func (g *GitHub) getUser(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	u, ok := g.data.user(r.PathValue("username"))
	g.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found", "documentation_url": githubDocs + "/users/users#get-a-user", "status": "404"})
		return
	}
	writeJSON(w, http.StatusOK, userJSON(u))
}

// getViewer is GET /user: the token's own user.
func (g *GitHub) getViewer(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, userJSON(g.viewer()))
}

// listRepos is GET /user/repos with GitHub's defaults: type all, sort full_name
// (ascending; the other sorts descending), 30 per page.
func (g *GitHub) listRepos(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	typ := cmp.Or(q.Get("type"), "all")
	sortBy := cmp.Or(q.Get("sort"), "full_name")
	direction := q.Get("direction")
	if direction == "" {
		direction = "desc"
		if sortBy == "full_name" {
			direction = "asc"
		}
	}
	perPage, err1 := positiveInt(q.Get("per_page"), 30)
	page, err2 := positiveInt(q.Get("page"), 1)
	validType := slices.Contains([]string{"all", "owner", "public", "private", "member"}, typ)
	validSort := slices.Contains([]string{"created", "updated", "pushed", "full_name"}, sortBy)
	if err1 != nil || err2 != nil || !validType || !validSort || (direction != "asc" && direction != "desc") {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed",
			"errors": []any{map[string]any{"resource": "Repository", "code": "invalid", "field": "query"}}, "documentation_url": githubDocs})
		return
	}
	perPage = min(perPage, 100) // GitHub caps per_page silently

	login := g.cfg.Login
	g.mu.Lock()
	var repos []GitHubRepo
	for _, repo := range g.data.repos {
		own := strings.EqualFold(repo.Owner, login)
		member := repo.Owner == "octo-org" // the organisation the token user belongs to
		keep := map[string]bool{"all": own || member, "owner": own, "public": (own || member) && !repo.Private,
			"private": (own || member) && repo.Private, "member": member}[typ]
		if keep {
			repos = append(repos, repo)
		}
	}
	g.mu.Unlock()
	sort.SliceStable(repos, func(i, j int) bool {
		a, b := repos[i], repos[j]
		var c int
		switch sortBy {
		case "created":
			c = a.CreatedAt.Compare(b.CreatedAt)
		case "updated":
			c = a.UpdatedAt.Compare(b.UpdatedAt)
		case "pushed":
			c = a.PushedAt.Compare(b.PushedAt)
		default:
			c = strings.Compare(strings.ToLower(a.FullName()), strings.ToLower(b.FullName()))
		}
		if direction == "desc" {
			c = -c
		}
		return c < 0
	})
	lastPage := max(1, (len(repos)+perPage-1)/perPage)
	from := min((page-1)*perPage, len(repos))
	to := min(from+perPage, len(repos))
	out := make([]map[string]any, 0, to-from)
	for _, repo := range repos[from:to] {
		out = append(out, repoJSON(repo))
	}
	if link := githubLink(r, page, lastPage); link != "" {
		w.Header().Set("Link", link)
	}
	writeJSON(w, http.StatusOK, out)
}

// githubLink is the Link header of a paginated answer.
func githubLink(r *http.Request, page, last int) string {
	at := func(p int, rel string) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(p))
		return fmt.Sprintf(`<https://api.github.com%s?%s>; rel="%s"`, r.URL.Path, q.Encode(), rel)
	}
	var parts []string
	if page > 1 {
		parts = append(parts, at(page-1, "prev"), at(1, "first"))
	}
	if page < last {
		parts = append(parts, at(page+1, "next"), at(last, "last"))
	}
	return strings.Join(parts, ", ")
}

func (g *GitHub) createIssue(w http.ResponseWriter, r *http.Request) {
	owner, name := r.PathValue("owner"), r.PathValue("repo")
	g.mu.Lock()
	repo, ok := g.data.repo(owner, name)
	g.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, githubMessage("Not Found"))
		return
	}
	var body map[string]any
	dec := json.NewDecoder(bytes.NewReader(readBody(r)))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil || body == nil {
		writeJSON(w, http.StatusBadRequest, githubMessage("Problems parsing JSON"))
		return
	}
	invalid := func(code, field string) {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"message": "Validation Failed", "documentation_url": githubDocs + "/issues/issues#create-an-issue",
			"errors": []any{map[string]any{"resource": "Issue", "code": code, "field": field}}})
	}
	var title string
	switch v := body["title"].(type) {
	case string:
		title = v
	case json.Number: // GitHub takes a number as the title too
		title = v.String()
	case nil:
	default:
		invalid("invalid", "title")
		return
	}
	if strings.TrimSpace(title) == "" {
		invalid("missing_field", "title")
		return
	}
	text, isString := body["body"].(string)
	if _, present := body["body"]; present && body["body"] != nil && !isString {
		invalid("invalid", "body")
		return
	}
	labels, okL := stringList(body["labels"])
	assignees, okA := stringList(body["assignees"])
	if !okL {
		invalid("invalid", "labels")
		return
	}
	if !okA {
		invalid("invalid", "assignees")
		return
	}
	g.mu.Lock()
	issue := g.data.addIssue(GitHubIssue{Owner: repo.Owner, Repo: repo.Name, Title: title, Body: text, Labels: labels,
		Assignees: assignees, Author: g.cfg.Login, CreatedAt: g.clock.Now().UTC()})
	g.mu.Unlock()
	w.Header().Set("Location", fmt.Sprintf("https://api.github.com/repos/%s/issues/%d", repo.FullName(), issue.Number))
	writeJSON(w, http.StatusCreated, issueJSON(issue))
}

func issueJSON(is GitHubIssue) map[string]any {
	labels := make([]any, len(is.Labels))
	for i, l := range is.Labels {
		labels[i] = map[string]any{"name": l, "default": false}
	}
	assignees := make([]any, len(is.Assignees))
	for i, a := range is.Assignees {
		assignees[i] = map[string]any{"login": a}
	}
	return map[string]any{
		"id": is.ID, "node_id": is.NodeID(), "number": is.Number, "title": is.Title, "body": nullable(is.Body),
		"state": "open", "locked": false, "comments": 0,
		"url":      fmt.Sprintf("https://api.github.com/repos/%s/%s/issues/%d", is.Owner, is.Repo, is.Number),
		"html_url": is.HTMLURL(), "user": map[string]any{"login": is.Author},
		"labels": labels, "assignees": assignees,
		"created_at": is.CreatedAt.Format(time.RFC3339), "updated_at": is.CreatedAt.Format(time.RFC3339),
	}
}

func (g *GitHub) rateLimit(w http.ResponseWriter, _ *http.Request) {
	g.mu.Lock()
	core := map[string]any{"limit": g.cfg.RateLimit, "remaining": g.remaining, "reset": g.resetAt.Unix(), "used": g.used, "resource": "core"}
	reset := g.resetAt.Unix()
	g.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"resources": map[string]any{
			"core":    core,
			"search":  map[string]any{"limit": 30, "remaining": 30, "reset": reset, "used": 0, "resource": "search"},
			"graphql": map[string]any{"limit": 5000, "remaining": 5000, "reset": reset, "used": 0, "resource": "graphql"},
		},
		"rate": core,
	})
}

// stringList reads an optional JSON list of strings.
func stringList(v any) ([]string, bool) {
	if v == nil {
		return nil, true
	}
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		s, ok := item.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func positiveInt(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q is not a positive integer", s)
	}
	return n, nil
}

// readBody returns the request body, which Server has already read and replaced.
func readBody(r *http.Request) []byte {
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(r.Body)
	return buf.Bytes()
}
