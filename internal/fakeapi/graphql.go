package fakeapi

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/junctionhq/junction/internal/clock"
)

const githubGraphQLDocs = "https://docs.github.com/graphql"

// GitHubGraphQLConfig configures the GitHub GraphQL fake.
type GitHubGraphQLConfig struct {
	Token string      // the one valid token; required
	Login string      // the token's user (viewer); default "octocat"
	Clock clock.Clock // rate-limit resets and createdAt; default the wall clock
}

// GraphQLCall is one GraphQL request as the fake understood it.
type GraphQLCall struct {
	Kind      string // query or mutation
	Operation string // the operation's name, if any
	RootField string // the first root field: user, search, createIssue, …
	Variables map[string]any
	Status    int // the HTTP status answered
	Errors    []map[string]any
}

// GitHubGraphQL is a fake of the GitHub GraphQL API v4 (POST https://api.github.com/graphql).
//
// It reads the document for real — operation, variable definitions, selection tree with
// arguments, aliases and inline fragments — resolves the root fields user(login),
// viewer, repository(owner, name), search(query, type, first) and the mutation
// createIssue(input), and answers only the fields selected, as GraphQL does. Variables
// are checked against their declared non-null scalar types. The data is the same as the
// REST fake's (octocat and friends).
//
// Failures are GitHub's: a missing token is 401, a wrong one 401 "Bad credentials", a
// body that is not JSON 400 "Problems parsing JSON"; everything GraphQL-level is HTTP 200
// with an `errors` array — an unknown login gives {"data":{"user":null},"errors":[{"type":
// "NOT_FOUND",…}]}, an unknown field "Field 'x' doesn't exist on type 'T'" without data,
// a missing non-null variable "Variable $x of type T! was provided invalid value", a
// `first` over 100 GitHub's connection-limit error.
type GitHubGraphQL struct {
	*Server
	cfg GitHubGraphQLConfig

	mu        sync.Mutex
	data      *githubData
	calls     []GraphQLCall
	remaining int
}

// NewGitHubGraphQL starts the fake; it is closed when the test ends.
func NewGitHubGraphQL(t testing.TB, cfg GitHubGraphQLConfig) *GitHubGraphQL {
	t.Helper()
	if cfg.Token == "" {
		t.Fatal("fakeapi.NewGitHubGraphQL: Token is required")
	}
	if cfg.Login == "" {
		cfg.Login = "octocat"
	}
	g := &GitHubGraphQL{cfg: cfg, data: seedGitHub(), remaining: 5000}
	g.Server = start(t, cfg.Clock, func(w http.ResponseWriter, _ *http.Request, status int) {
		writeJSON(w, status, map[string]any{"message": http.StatusText(status), "documentation_url": githubGraphQLDocs})
	}, http.HandlerFunc(g.serve))
	return g
}

// RepositoryID returns the GraphQL node id of a repository ("" if there is none), which
// createIssue takes as repositoryId.
func (g *GitHubGraphQL) RepositoryID(owner, name string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if r, ok := g.data.repo(owner, name); ok {
		return r.NodeID()
	}
	return ""
}

// Issues returns the issues created by createIssue.
func (g *GitHubGraphQL) Issues() []GitHubIssue {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.data.issues)
}

// Calls returns the GraphQL requests received, as understood (requests that were not
// GraphQL, such as a wrong token or a body that is not JSON, are only in Requests).
func (g *GitHubGraphQL) Calls() []GraphQLCall {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.calls)
}

func (g *GitHubGraphQL) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/graphql" || r.Method != http.MethodPost {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found", "documentation_url": githubGraphQLDocs})
		return
	}
	authz := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(authz, " ")
	switch {
	case authz == "":
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "This endpoint requires you to be authenticated.",
			"documentation_url": githubGraphQLDocs + "/guides/forming-calls-with-graphql#authenticating-with-graphql"})
		return
	case !(strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "token")) || token != g.cfg.Token:
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Bad credentials", "documentation_url": githubGraphQLDocs})
		return
	}
	var req struct {
		Query         any            `json:"query"`
		Variables     map[string]any `json:"variables"`
		OperationName string         `json:"operationName"`
	}
	if err := json.Unmarshal(readBody(r), &req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Problems parsing JSON", "documentation_url": githubGraphQLDocs})
		return
	}
	g.mu.Lock()
	g.remaining = max(g.remaining-1, 0)
	w.Header().Set("X-RateLimit-Limit", "5000")
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(g.remaining))
	w.Header().Set("X-RateLimit-Used", strconv.Itoa(5000-g.remaining))
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(g.clock.Now().Add(time.Hour).Unix(), 10))
	w.Header().Set("X-RateLimit-Resource", "graphql")
	resp, call := g.execute(req.Query, req.Variables)
	call.Status = http.StatusOK
	g.calls = append(g.calls, call)
	g.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

// gqlErr is one entry of the errors array.
func gqlErr(msg string, f *gqlField, path []any, extra map[string]any) map[string]any {
	e := map[string]any{"message": msg}
	if f != nil {
		e["locations"] = []any{map[string]any{"line": f.line, "column": f.col}}
	}
	if path != nil {
		e["path"] = slices.Clone(path)
	}
	for k, v := range extra {
		e[k] = v
	}
	return e
}

// execution is the state of one request.
type execution struct {
	g          *GitHubGraphQL
	vars       map[string]any
	errors     []map[string]any
	invalidDoc bool // a validation error: the answer has no data
}

func (g *GitHubGraphQL) execute(query any, vars map[string]any) (map[string]any, GraphQLCall) {
	call := GraphQLCall{Variables: vars}
	fail := func(errs ...map[string]any) (map[string]any, GraphQLCall) {
		call.Errors = errs
		return map[string]any{"errors": errs}, call
	}
	doc, ok := query.(string)
	if !ok || strings.TrimSpace(doc) == "" {
		return fail(gqlErr("A query attribute must be specified and must be a string.", nil, nil, nil))
	}
	op, err := parseGraphQL(doc)
	if err != nil {
		return fail(gqlErr(capitalize(err.Error()), nil, nil, nil))
	}
	call.Kind, call.Operation = op.kind, op.name
	if len(op.selection) > 0 {
		call.RootField = op.selection[0].name
	}
	if op.kind == "subscription" {
		return fail(gqlErr("Subscriptions are not supported", nil, nil, nil))
	}
	var errs []map[string]any
	for _, def := range op.variables {
		if msg := checkVariable(def, vars[def.name]); msg != "" {
			errs = append(errs, gqlErr(fmt.Sprintf("Variable $%s of type %s was provided invalid value", def.name, def.typ), nil, nil,
				map[string]any{"extensions": map[string]any{"value": vars[def.name], "problems": []any{map[string]any{"path": []any{}, "explanation": msg}}}}))
		}
	}
	if len(errs) > 0 {
		return fail(errs...)
	}
	x := &execution{g: g, vars: vars}
	root := g.queryRoot()
	typeName := "Query"
	if op.kind == "mutation" {
		root, typeName = g.mutationRoot(), "Mutation"
	}
	root["__typename"] = typeName
	data := x.project(root, op.selection, nil)
	call.Errors = x.errors
	switch {
	case x.invalidDoc:
		return map[string]any{"errors": x.errors}, call
	case len(x.errors) > 0:
		return map[string]any{"data": data, "errors": x.errors}, call
	}
	return map[string]any{"data": data}, call
}

// checkVariable checks a variable's value against its declared type ("" when it fits).
func checkVariable(def gqlVarDef, v any) string {
	if v == nil {
		if def.nonNull {
			return "Expected value to not be null"
		}
		return ""
	}
	base := strings.TrimSuffix(def.typ, "!")
	if strings.HasPrefix(base, "[") {
		if _, ok := v.([]any); !ok {
			return "Expected a list"
		}
		return ""
	}
	switch base {
	case "Int":
		if f, ok := v.(float64); !ok || f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
			return fmt.Sprintf("Could not coerce value %s to Int", jsonText(v))
		}
	case "Float":
		if _, ok := v.(float64); !ok {
			return fmt.Sprintf("Could not coerce value %s to Float", jsonText(v))
		}
	case "String":
		if _, ok := v.(string); !ok {
			return fmt.Sprintf("Could not coerce value %s to String", jsonText(v))
		}
	case "ID":
		switch v.(type) {
		case string, float64:
		default:
			return fmt.Sprintf("Could not coerce value %s to ID", jsonText(v))
		}
	case "Boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Sprintf("Could not coerce value %s to Boolean", jsonText(v))
		}
	}
	return ""
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// resolver computes a field from its arguments; path locates it for errors.
type resolver func(x *execution, f *gqlField, args map[string]any, path []any) any

// project answers the selected fields of obj.
func (x *execution) project(obj map[string]any, sel []*gqlField, path []any) *orderedObject {
	out := &orderedObject{}
	typeName, _ := obj["__typename"].(string)
	for _, f := range sel {
		if f.on != "" && f.on != typeName {
			continue
		}
		fpath := append(slices.Clone(path), f.key())
		raw, ok := obj[f.name]
		if !ok {
			x.invalidDoc = true
			x.errors = append(x.errors, gqlErr(fmt.Sprintf("Field '%s' doesn't exist on type '%s'", f.name, typeName), f, fpath,
				map[string]any{"extensions": map[string]any{"code": "undefinedField", "typeName": typeName, "fieldName": f.name}}))
			continue
		}
		if res, isResolver := raw.(resolver); isResolver {
			args := map[string]any{}
			for k, v := range f.args {
				args[k] = v.resolve(x.vars)
			}
			raw = res(x, f, args, fpath)
		}
		out.set(f.key(), x.complete(raw, f, fpath))
	}
	return out
}

// complete applies a field's sub-selection to its value.
func (x *execution) complete(v any, f *gqlField, path []any) any {
	switch val := v.(type) {
	case map[string]any:
		if len(f.selection) == 0 {
			x.invalidDoc = true
			x.errors = append(x.errors, gqlErr(fmt.Sprintf("Field must have selections (field '%s' returns %s but has no selections.)", f.name, val["__typename"]), f, path, nil))
			return nil
		}
		return x.project(val, f.selection, path)
	case []map[string]any:
		out := make([]any, len(val))
		for i, item := range val {
			out[i] = x.complete(item, f, append(slices.Clone(path), i))
		}
		return out
	}
	return v
}

// orderedObject keeps the members in selection order, as GraphQL answers do.
type orderedObject struct {
	keys []string
	vals map[string]any
}

func (o *orderedObject) set(k string, v any) {
	if o.vals == nil {
		o.vals = map[string]any{}
	}
	if _, dup := o.vals[k]; !dup {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

// MarshalJSON writes the members in order.
func (o *orderedObject) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// The schema: objects are maps whose members are values or resolvers.

func (g *GitHubGraphQL) queryRoot() map[string]any {
	return map[string]any{
		"user": resolver(func(x *execution, f *gqlField, args map[string]any, path []any) any {
			login, _ := args["login"].(string)
			u, ok := g.data.user(login)
			if !ok {
				x.errors = append(x.errors, gqlErr(fmt.Sprintf("Could not resolve to a User with the login of '%s'.", login), f, path,
					map[string]any{"type": "NOT_FOUND"}))
				return nil
			}
			return g.userObject(u)
		}),
		"viewer": resolver(func(*execution, *gqlField, map[string]any, []any) any {
			u, _ := g.data.user(g.cfg.Login)
			return g.userObject(u)
		}),
		"repository": resolver(func(x *execution, f *gqlField, args map[string]any, path []any) any {
			owner, _ := args["owner"].(string)
			name, _ := args["name"].(string)
			r, ok := g.data.repo(owner, name)
			if !ok || (r.Private && !strings.EqualFold(r.Owner, g.cfg.Login)) {
				x.errors = append(x.errors, gqlErr(fmt.Sprintf("Could not resolve to a Repository with the name '%s/%s'.", owner, name), f, path,
					map[string]any{"type": "NOT_FOUND"}))
				return nil
			}
			return repoObject(r)
		}),
		"search": resolver(g.search),
	}
}

func (g *GitHubGraphQL) mutationRoot() map[string]any {
	return map[string]any{"createIssue": resolver(g.createIssue)}
}

func (g *GitHubGraphQL) userObject(u GitHubUser) map[string]any {
	return map[string]any{
		"__typename": "User", "id": nodeID("User", u.ID), "databaseId": u.ID, "login": u.Login, "name": nullable(u.Name),
		"email": u.Email, "bio": nullable(u.Bio), "company": nullable(u.Company), "location": nullable(u.Location),
		"url": "https://github.com/" + u.Login, "avatarUrl": fmt.Sprintf("https://avatars.githubusercontent.com/u/%d?v=4", u.ID),
		"createdAt": u.CreatedAt.Format(time.RFC3339),
		"repositories": resolver(func(x *execution, f *gqlField, args map[string]any, path []any) any {
			var repos []GitHubRepo
			for _, r := range g.data.repos {
				// Another user's private repositories are invisible, as on GitHub.
				if strings.EqualFold(r.Owner, u.Login) && (!r.Private || strings.EqualFold(u.Login, g.cfg.Login)) {
					repos = append(repos, r)
				}
			}
			if p, _ := args["privacy"].(string); p != "" {
				repos = slices.DeleteFunc(repos, func(r GitHubRepo) bool { return r.Private != (p == "PRIVATE") })
			}
			sortRepos(repos, args["orderBy"])
			return x.connection("repositories", f, args, path, repos)
		}),
	}
}

func repoObject(r GitHubRepo) map[string]any {
	var lang any
	if r.Language != "" {
		lang = map[string]any{"__typename": "Language", "name": r.Language, "color": "#00ADD8"}
	}
	return map[string]any{
		"__typename": "Repository", "id": r.NodeID(), "databaseId": r.ID, "name": r.Name, "nameWithOwner": r.FullName(),
		"description": nullable(r.Description), "url": "https://github.com/" + r.FullName(),
		"stargazerCount": r.Stars, "forkCount": r.Forks, "isPrivate": r.Private, "primaryLanguage": lang,
		"owner":     map[string]any{"__typename": "User", "login": r.Owner},
		"createdAt": r.CreatedAt.Format(time.RFC3339), "updatedAt": r.UpdatedAt.Format(time.RFC3339),
		"pushedAt": r.PushedAt.Format(time.RFC3339),
	}
}

// sortRepos applies an orderBy: {field: STARGAZERS|NAME|CREATED_AT|UPDATED_AT|PUSHED_AT,
// direction: ASC|DESC}; without one, by name.
func sortRepos(repos []GitHubRepo, orderBy any) {
	o, _ := orderBy.(map[string]any)
	field, _ := o["field"].(string)
	desc := o["direction"] == "DESC"
	sort.SliceStable(repos, func(i, j int) bool {
		a, b := repos[i], repos[j]
		var c int
		switch field {
		case "STARGAZERS":
			c = cmp.Compare(a.Stars, b.Stars)
		case "CREATED_AT":
			c = a.CreatedAt.Compare(b.CreatedAt)
		case "UPDATED_AT":
			c = a.UpdatedAt.Compare(b.UpdatedAt)
		case "PUSHED_AT":
			c = a.PushedAt.Compare(b.PushedAt)
		default:
			c = strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		}
		if desc {
			c = -c
		}
		return c < 0
	})
}

// connection pages a list the Relay way GitHub uses: first (required, 1–100) and after.
func (x *execution) connection(name string, f *gqlField, args map[string]any, path []any, repos []GitHubRepo) any {
	first, hasFirst := args["first"].(float64)
	if i, ok := args["first"].(int64); ok {
		first, hasFirst = float64(i), true
	}
	switch {
	case !hasFirst:
		x.errors = append(x.errors, gqlErr(fmt.Sprintf("You must provide a `first` or `last` value to properly paginate the `%s` connection.", name), f, path,
			map[string]any{"type": "MISSING_PAGINATION_BOUNDARIES"}))
		return nil
	case first > 100 || first < 0:
		x.errors = append(x.errors, gqlErr(fmt.Sprintf("Requesting %d records on the `%s` connection exceeds the `first` limit of 100 records.", int(first), name), f, path,
			map[string]any{"type": "EXCESSIVE_PAGINATION"}))
		return nil
	}
	from := 0
	if after, _ := args["after"].(string); after != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(after, "cursor:"))
		if err != nil {
			x.errors = append(x.errors, gqlErr(fmt.Sprintf("`%s` does not appear to be a valid cursor.", after), f, path, nil))
			return nil
		}
		from = min(n, len(repos))
	}
	to := min(from+int(first), len(repos))
	nodes := make([]map[string]any, 0, to-from)
	edges := make([]map[string]any, 0, to-from)
	for i, r := range repos[from:to] {
		obj := repoObject(r)
		nodes = append(nodes, obj)
		edges = append(edges, map[string]any{"__typename": "Edge", "cursor": fmt.Sprintf("cursor:%d", from+i+1), "node": obj})
	}
	return map[string]any{
		"__typename": "Connection", "totalCount": len(repos), "nodes": nodes, "edges": edges,
		"pageInfo": map[string]any{"__typename": "PageInfo", "hasNextPage": to < len(repos), "endCursor": fmt.Sprintf("cursor:%d", to)},
	}
}

// search understands the qualifiers user:, org:, language:, stars:>N, stars:<N, is:public
// and plain words (matched in the name and description); results by stars, descending,
// public repositories only.
func (g *GitHubGraphQL) search(x *execution, f *gqlField, args map[string]any, path []any) any {
	q, _ := args["query"].(string)
	typ, _ := args["type"].(string)
	if typ == "" {
		x.invalidDoc = true
		x.errors = append(x.errors, gqlErr("Field 'search' is missing required arguments: type", f, path,
			map[string]any{"extensions": map[string]any{"code": "missingRequiredArguments"}}))
		return nil
	}
	var found []GitHubRepo
	if typ == "REPOSITORY" {
		for _, r := range g.data.repos {
			if !r.Private && searchMatches(r, q) {
				found = append(found, r)
			}
		}
	}
	sortRepos(found, map[string]any{"field": "STARGAZERS", "direction": "DESC"})
	conn := x.connection("search", f, args, path, found)
	m, ok := conn.(map[string]any)
	if !ok {
		return nil
	}
	m["__typename"] = "SearchResultItemConnection"
	m["repositoryCount"] = len(found)
	m["issueCount"], m["userCount"] = 0, 0
	return m
}

func searchMatches(r GitHubRepo, q string) bool {
	for _, term := range strings.Fields(q) {
		k, v, qualified := strings.Cut(term, ":")
		switch {
		case qualified && (k == "user" || k == "org"):
			if !strings.EqualFold(r.Owner, v) {
				return false
			}
		case qualified && k == "language":
			if !strings.EqualFold(r.Language, v) {
				return false
			}
		case qualified && k == "stars":
			op, num := v[:min(1, len(v))], strings.TrimLeft(v, "<>=")
			n, err := strconv.Atoi(num)
			if err != nil || (op == ">" && r.Stars <= n) || (op == "<" && r.Stars >= n) || (op != ">" && op != "<" && r.Stars != n) {
				return false
			}
		case qualified && k == "is":
			if (v == "public") == r.Private {
				return false
			}
		default:
			text := strings.ToLower(r.Name + " " + r.Description)
			if !strings.Contains(text, strings.ToLower(term)) {
				return false
			}
		}
	}
	return true
}

func (g *GitHubGraphQL) createIssue(x *execution, f *gqlField, args map[string]any, path []any) any {
	input, _ := args["input"].(map[string]any)
	repoID, _ := input["repositoryId"].(string)
	title, _ := input["title"].(string)
	body, _ := input["body"].(string)
	r, ok := g.data.repoByNodeID(repoID)
	if !ok {
		x.errors = append(x.errors, gqlErr(fmt.Sprintf("Could not resolve to a node with the global id of '%s'", repoID), f, path,
			map[string]any{"type": "NOT_FOUND"}))
		return nil
	}
	if strings.TrimSpace(title) == "" {
		x.errors = append(x.errors, gqlErr("Title can't be blank", f, path, map[string]any{"type": "UNPROCESSABLE"}))
		return nil
	}
	is := g.data.addIssue(GitHubIssue{Owner: r.Owner, Repo: r.Name, Title: title, Body: body, Author: g.cfg.Login, CreatedAt: g.clock.Now().UTC()})
	return map[string]any{
		"__typename": "CreateIssuePayload", "clientMutationId": input["clientMutationId"],
		"issue": map[string]any{
			"__typename": "Issue", "id": is.NodeID(), "databaseId": is.ID, "number": is.Number, "title": is.Title,
			"body": is.Body, "url": is.HTMLURL(), "state": "OPEN", "createdAt": is.CreatedAt.Format(time.RFC3339),
			"repository": repoObject(r),
		},
	}
}
