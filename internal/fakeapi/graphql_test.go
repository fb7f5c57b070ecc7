package fakeapi_test

import (
	"encoding/json"
	"testing"

	"github.com/junctionhq/junction/internal/fakeapi"
	"github.com/junctionhq/junction/internal/testkit"
)

const userRepos = `
query GetUserRepos($login: String!, $first: Int!) {
    user(login: $login) {
        id
        login
        name
        repositories(first: $first, orderBy: {field: STARGAZERS, direction: DESC}) {
            totalCount
            nodes { name stargazerCount primaryLanguage { name } }
        }
    }
}`

func graphql(t *testing.T, g *fakeapi.GitHubGraphQL, query string, vars map[string]any) reply {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	return send(t, "POST", g.URL()+"/graphql", string(body), "Authorization", "Bearer "+ghToken, "Content-Type", "application/json")
}

func TestGraphQLUserRepositories(t *testing.T) {
	g := fakeapi.NewGitHubGraphQL(t, fakeapi.GitHubGraphQLConfig{Token: ghToken})
	r := graphql(t, g, userRepos, map[string]any{"login": "octocat", "first": 3})
	expect(t, "user", r, 200)
	m := r.json(t)
	if m["errors"] != nil {
		t.Fatalf("errors: %s", r.body)
	}
	nodes, _ := testkit.Dig(m, "data", "user", "repositories", "nodes").([]any)
	if len(nodes) != 3 || testkit.Dig(nodes[0], "name") != "Spoon-Knife" || testkit.Dig(m, "data", "user", "repositories", "totalCount") != float64(40) {
		t.Errorf("repositories (first 3 by stars): %s", r.body)
	}
	if _, has := nodes[0].(map[string]any)["description"]; has {
		t.Errorf("a field that was not selected was answered: %v", nodes[0])
	}
	if testkit.Dig(nodes[0], "primaryLanguage", "name") != "HTML" {
		t.Errorf("nested selection: %v", nodes[0])
	}
	calls := g.Calls()
	if len(calls) != 1 || calls[0].RootField != "user" || calls[0].Operation != "GetUserRepos" || calls[0].Variables["first"] != float64(3) {
		t.Errorf("calls: %+v", calls)
	}
}

func TestGraphQLErrors(t *testing.T) {
	g := fakeapi.NewGitHubGraphQL(t, fakeapi.GitHubGraphQLConfig{Token: ghToken})

	r := graphql(t, g, userRepos, map[string]any{"login": "no-such-login-x", "first": 3})
	expect(t, "unknown login", r, 200, `"data":{"user":null}`, `"type":"NOT_FOUND"`, "Could not resolve to a User with the login of 'no-such-login-x'.", `"path":["user"]`)

	r = graphql(t, g, userRepos, map[string]any{"login": "octocat"})
	expect(t, "missing non-null variable", r, 200, "Variable $first of type Int! was provided invalid value")
	if _, has := r.json(t)["data"]; has {
		t.Errorf("an invalid request has no data: %s", r.body)
	}
	expect(t, "mistyped variable", graphql(t, g, userRepos, map[string]any{"login": "octocat", "first": "10"}), 200, "Could not coerce value")
	expect(t, "first over 100", graphql(t, g, userRepos, map[string]any{"login": "octocat", "first": 101}), 200, "EXCESSIVE_PAGINATION")
	r = graphql(t, g, `{ viewer { login shoeSize } }`, nil)
	expect(t, "unknown field", r, 200, "Field 'shoeSize' doesn't exist on type 'User'")
	if _, has := r.json(t)["data"]; has {
		t.Errorf("a validation error has no data: %s", r.body)
	}
	expect(t, "syntax error", graphql(t, g, `query { user(login: "x" { id }`, nil), 200, "Parse error")
	expect(t, "no query", send(t, "POST", g.URL()+"/graphql", `{"variables":{}}`, "Authorization", "Bearer "+ghToken), 200, "A query attribute must be specified")
	expect(t, "malformed body", send(t, "POST", g.URL()+"/graphql", `{"query":`, "Authorization", "Bearer "+ghToken), 400, "Problems parsing JSON")
	expect(t, "no token", send(t, "POST", g.URL()+"/graphql", `{"query":"{viewer{login}}"}`), 401, "requires you to be authenticated")
	expect(t, "wrong token", send(t, "POST", g.URL()+"/graphql", `{"query":"{viewer{login}}"}`, "Authorization", "Bearer x"), 401, "Bad credentials")
	expect(t, "GET", send(t, "GET", g.URL()+"/graphql", "", "Authorization", "Bearer "+ghToken), 404)
}

func TestGraphQLSearchAndCreateIssue(t *testing.T) {
	g := fakeapi.NewGitHubGraphQL(t, fakeapi.GitHubGraphQLConfig{Token: ghToken})
	search := `query S($query: String!, $first: Int!) {
        search(query: $query, type: REPOSITORY, first: $first) {
            repositoryCount
            edges { node { ... on Repository { nameWithOwner stargazerCount url } } }
        }
    }`
	r := graphql(t, g, search, map[string]any{"query": "hello user:octocat", "first": 10})
	expect(t, "search", r, 200, `"repositoryCount":2`, `"nameWithOwner":"octocat/Hello-World"`)
	r = graphql(t, g, search, map[string]any{"query": "language:go", "first": 10})
	expect(t, "search language (public only)", r, 200, `"repositoryCount":7`)

	mutation := `mutation CreateIssue($repositoryId: ID!, $title: String!, $body: String) {
        createIssue(input: {repositoryId: $repositoryId, title: $title, body: $body}) { issue { id number title url } }
    }`
	id := g.RepositoryID("octocat", "Hello-World")
	r = graphql(t, g, mutation, map[string]any{"repositoryId": id, "title": "Found a bug", "body": "details"})
	expect(t, "createIssue", r, 200, `"number":1`, `"url":"https://github.com/octocat/Hello-World/issues/1"`)
	expect(t, "unknown repository id", graphql(t, g, mutation, map[string]any{"repositoryId": "R_nope", "title": "x"}), 200,
		`"createIssue":null`, "Could not resolve to a node with the global id of 'R_nope'")
	if is := g.Issues(); len(is) != 1 || is[0].Body != "details" {
		t.Errorf("issues: %+v", is)
	}
	if c := g.Calls(); c[len(c)-1].Kind != "mutation" || c[len(c)-1].RootField != "createIssue" {
		t.Errorf("calls: %+v", c[len(c)-1])
	}
}
