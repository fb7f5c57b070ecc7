package fakeapi

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// GitHubUser is a user account of the GitHub fakes.
type GitHubUser struct {
	ID          int64
	Login       string
	Name        string
	Email       string // "" is answered as null, as GitHub does for a private address
	Company     string
	Location    string
	Bio         string
	PublicRepos int
	Followers   int
	Following   int
	CreatedAt   time.Time
}

// GitHubRepo is a repository of the GitHub fakes.
type GitHubRepo struct {
	ID          int64
	Owner       string
	Name        string
	Description string
	Language    string // "" is answered as null
	Private     bool
	Stars       int
	Forks       int
	CreatedAt   time.Time
	UpdatedAt   time.Time
	PushedAt    time.Time
}

// FullName is owner/name.
func (r GitHubRepo) FullName() string { return r.Owner + "/" + r.Name }

// NodeID is the repository's GraphQL global id.
func (r GitHubRepo) NodeID() string { return nodeID("Repository", r.ID) }

// GitHubIssue is an issue created through one of the GitHub fakes.
type GitHubIssue struct {
	ID        int64
	Owner     string
	Repo      string
	Number    int
	Title     string
	Body      string
	Labels    []string
	Assignees []string
	Author    string
	CreatedAt time.Time
}

// HTMLURL is the issue's page.
func (i GitHubIssue) HTMLURL() string {
	return fmt.Sprintf("https://github.com/%s/%s/issues/%d", i.Owner, i.Repo, i.Number)
}

// NodeID is the issue's GraphQL global id.
func (i GitHubIssue) NodeID() string { return nodeID("Issue", i.ID) }

// nodeID is GitHub's legacy global id: base64 of "<len>:<Type><id>".
func nodeID(typ string, id int64) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "0%d:%s%d", len(typ), typ, id))
}

// githubData is the world both GitHub fakes serve: octocat, a second user, an
// organisation, and enough repositories that pagination and `first` limits matter.
type githubData struct {
	users  []GitHubUser
	repos  []GitHubRepo
	issues []GitHubIssue
}

func seedGitHub() *githubData {
	t0 := time.Date(2011, 1, 25, 18, 44, 36, 0, time.UTC)
	d := &githubData{users: []GitHubUser{
		{ID: 583231, Login: "octocat", Name: "The Octocat", Company: "@github", Location: "San Francisco",
			PublicRepos: 8, Followers: 9001, Following: 9, CreatedAt: t0},
		{ID: 9919, Login: "hubot", Name: "Hubot", Bio: "I am a robot.", PublicRepos: 2, Followers: 120, CreatedAt: t0.AddDate(0, 3, 0)},
		{ID: 9919001, Login: "octo-org", Name: "Octo Org", PublicRepos: 2, CreatedAt: t0.AddDate(1, 0, 0)},
	}}
	repo := func(id int64, owner, name, desc, lang string, private bool, stars, forks, day int) GitHubRepo {
		created := t0.AddDate(0, 0, day)
		return GitHubRepo{ID: id, Owner: owner, Name: name, Description: desc, Language: lang, Private: private,
			Stars: stars, Forks: forks, CreatedAt: created, UpdatedAt: created.AddDate(0, 1, day%7), PushedAt: created.AddDate(0, 2, day%5)}
	}
	d.repos = []GitHubRepo{
		repo(1296269, "octocat", "Hello-World", "My first repository on GitHub!", "", false, 2900, 2700, 60),
		repo(1300192, "octocat", "Spoon-Knife", "This repo is for demonstration purposes only.", "HTML", false, 12500, 143000, 62),
		repo(17881631, "octocat", "linguist", "Language Savant. If your repository's language is being reported incorrectly, send us a pull request!", "Ruby", false, 580, 230, 800),
		repo(20978623, "octocat", "octocat.github.io", "", "CSS", false, 750, 450, 1200),
		repo(18221276, "octocat", "git-consortium", "This repo is for demonstration purposes only.", "", false, 430, 140, 900),
		repo(56271164, "octocat", "boysenberry-repo-1", "Testing", "", true, 300, 20, 1900),
		repo(132935648, "octocat", "test-repo1", "", "", false, 150, 110, 2600),
		repo(64778136, "octocat", "hello-worId", "My first repository on GitHub.", "", false, 90, 60, 2000),
		repo(5001, "hubot", "hubot-scripts", "optional scripts for hubot", "CoffeeScript", false, 3500, 2100, 300),
		repo(5002, "hubot", "hubot", "A customizable life embetterment robot.", "JavaScript", false, 16500, 3700, 200),
		repo(6001, "octo-org", "octo-repo", "Team repository of octo-org", "Go", false, 40, 3, 1500),
		repo(6002, "octo-org", "octo-internal", "Internal tooling", "Go", true, 5, 0, 1600),
	}
	// Projects of octocat's own, so that /user/repos has more than one page of 30.
	langs := []string{"Go", "Python", "TypeScript", "Rust", ""}
	for i := range 32 {
		d.repos = append(d.repos, repo(int64(700000+i), "octocat", fmt.Sprintf("project-%02d", i+1),
			fmt.Sprintf("Side project number %d", i+1), langs[i%len(langs)], i%4 == 3, (i*37)%200, i%9, 2100+i*11))
	}
	return d
}

func (d *githubData) user(login string) (GitHubUser, bool) {
	for _, u := range d.users {
		if strings.EqualFold(u.Login, login) { // logins are case-insensitive on GitHub
			return u, true
		}
	}
	return GitHubUser{}, false
}

func (d *githubData) repo(owner, name string) (GitHubRepo, bool) {
	for _, r := range d.repos {
		if strings.EqualFold(r.Owner, owner) && strings.EqualFold(r.Name, name) {
			return r, true
		}
	}
	return GitHubRepo{}, false
}

func (d *githubData) repoByNodeID(id string) (GitHubRepo, bool) {
	for _, r := range d.repos {
		if r.NodeID() == id {
			return r, true
		}
	}
	return GitHubRepo{}, false
}

// addIssue numbers the issue within its repository, as GitHub does.
func (d *githubData) addIssue(is GitHubIssue) GitHubIssue {
	n := 0
	for _, x := range d.issues {
		if strings.EqualFold(x.Owner, is.Owner) && strings.EqualFold(x.Repo, is.Repo) {
			n = max(n, x.Number)
		}
	}
	is.Number = n + 1
	is.ID = int64(1_000_000_000 + len(d.issues) + 1)
	d.issues = append(d.issues, is)
	return is
}

// userJSON is GET /users/{username}.
func userJSON(u GitHubUser) map[string]any {
	return map[string]any{
		"login": u.Login, "id": u.ID, "node_id": nodeID("User", u.ID),
		"avatar_url": fmt.Sprintf("https://avatars.githubusercontent.com/u/%d?v=4", u.ID),
		"url":        "https://api.github.com/users/" + u.Login, "html_url": "https://github.com/" + u.Login,
		"repos_url": "https://api.github.com/users/" + u.Login + "/repos",
		"type":      "User", "site_admin": false,
		"name": u.Name, "company": nullable(u.Company), "blog": "", "location": nullable(u.Location),
		"email": nullable(u.Email), "hireable": nil, "bio": nullable(u.Bio), "twitter_username": nil,
		"public_repos": u.PublicRepos, "public_gists": 8, "followers": u.Followers, "following": u.Following,
		"created_at": u.CreatedAt.Format(time.RFC3339), "updated_at": u.CreatedAt.AddDate(12, 0, 0).Format(time.RFC3339),
	}
}

// repoJSON is one element of GET /user/repos.
func repoJSON(r GitHubRepo) map[string]any {
	visibility := "public"
	if r.Private {
		visibility = "private"
	}
	return map[string]any{
		"id": r.ID, "node_id": r.NodeID(), "name": r.Name, "full_name": r.FullName(), "private": r.Private,
		"owner":       map[string]any{"login": r.Owner, "type": "User"},
		"html_url":    "https://github.com/" + r.FullName(),
		"description": nullable(r.Description), "fork": false,
		"url":        "https://api.github.com/repos/" + r.FullName(),
		"created_at": r.CreatedAt.Format(time.RFC3339), "updated_at": r.UpdatedAt.Format(time.RFC3339),
		"pushed_at": r.PushedAt.Format(time.RFC3339), "language": nullable(r.Language),
		"stargazers_count": r.Stars, "watchers_count": r.Stars, "forks_count": r.Forks,
		"default_branch": "main", "visibility": visibility,
	}
}

// nullable answers "" as JSON null, the way GitHub answers absent optional strings.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
