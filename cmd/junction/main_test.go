package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/fixtures"
	"github.com/junctionhq/junction/internal/servicetest"
)

// These tests run the real binary, as a user would: built once, started in an empty
// directory, spoken to over HTTP, stopped with signals.

var junctionBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "junction-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	junctionBin = filepath.Join(dir, "junction")
	build := exec.Command("go", "build", "-o", junctionBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building junction:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run executes junction to completion and returns stdout, stderr and the exit code.
func run(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	return runWithInput(t, dir, env, "", args...)
}

// runWithInput is run with stdin as the command's standard input.
func runWithInput(t *testing.T, dir string, env []string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, junctionBin, args...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("junction %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// cleanEnv is the test's environment without Junction's own variables, so a developer's
// shell settings cannot change what the tests see.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		name := strings.SplitN(kv, "=", 2)[0]
		switch name {
		case "DATABASE_URL", "REDIS_URL", "JUNCTION_CONFIG", "JUNCTION_ADDR", "JUNCTION_TLS_CERT", "JUNCTION_TLS_KEY", "JUNCTION_TLS_CLIENT_CA":
			continue
		}
		if strings.HasPrefix(name, "OTEL_") { // a developer's collector must not get the tests' spans
			continue
		}
		out = append(out, kv)
	}
	return out
}

// process is a running `junction serve`.
type process struct {
	cmd     *exec.Cmd
	base    string
	started time.Duration // from exec to the first healthy /healthz

	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan error
}

var listeningRE = regexp.MustCompile(`msg="junction serving" addr=(\S+)`)

// startServer starts `junction serve --addr 127.0.0.1:0 args…` in dir and waits until it
// answers /healthz. The server is killed at the end of the test if still running.
func startServer(t *testing.T, dir string, env []string, args ...string) *process {
	t.Helper()
	return startServerVia(t, dir, env, "http", http.DefaultClient, args...)
}

// startServerVia is startServer for a server spoken to with client at scheme://addr
// (https with a client that trusts the server's CA).
func startServerVia(t *testing.T, dir string, env []string, scheme string, client *http.Client, args ...string) *process {
	t.Helper()
	s := &process{done: make(chan error, 1)}
	s.cmd = exec.Command(junctionBin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	s.cmd.Dir = dir
	s.cmd.Env = append(cleanEnv(), env...)
	pipe, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.stderr.WriteString(line + "\n")
			s.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		s.done <- s.cmd.Wait()
	}()
	select {
	case a := <-addr:
		s.base = scheme + "://" + a
	case err := <-s.done:
		s.done <- err
		t.Fatalf("junction serve exited before listening (%v):\n%s", err, s.log())
	case <-time.After(30 * time.Second):
		t.Fatalf("junction serve did not start:\n%s", s.log())
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("junction serve did not answer %s/healthz within 30s (%v):\n%s", s.base, err, s.log())
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.started = time.Since(begin)
	return s
}

func (s *process) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// stop sends sig and waits for the process to exit, returning its exit code.
func (s *process) stop(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(20 * time.Second):
		t.Fatalf("junction did not stop within 20s of %v:\n%s", sig, s.log())
		return -1
	}
}

var tokenRE = regexp.MustCompile(`(?m)^\s+(jct_[A-Za-z0-9_-]+)\s*$`)

func (s *process) get(t *testing.T, path, token string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// TestServeOnEmptyDirectory is the foundation's acceptance run: a fresh directory, no
// other process, health answered, unauthenticated calls refused with problem+json, the
// first admin token printed once, a clean stop on SIGTERM.
func TestServeOnEmptyDirectory(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, nil)
	t.Logf("started and healthy in %v", s.started)

	resp, body := s.get(t, "/integrations/status", "")
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("unauthenticated status: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var problem map[string]any
	if err := json.Unmarshal(body, &problem); err != nil || problem["status"] != float64(401) || problem["type"] == "" || problem["title"] == "" {
		t.Fatalf("401 body is not problem+json: %s", body)
	}

	m := tokenRE.FindStringSubmatch(s.log())
	if m == nil {
		t.Fatalf("no admin token printed on stderr:\n%s", s.log())
	}
	resp, body = s.get(t, "/integrations/status", m[1])
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"integrations":[]`) {
		t.Fatalf("authenticated status: %d %s", resp.StatusCode, body)
	}
	if resp, _ := s.get(t, "/readyz", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz = %d", resp.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(dir, "junction.db")); err != nil {
		t.Errorf("the embedded default did not create junction.db: %v", err)
	}

	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d:\n%s", code, s.log())
	}
	if !strings.Contains(s.log(), "junction stopped") {
		t.Errorf("no clean-stop log line:\n%s", s.log())
	}

	// A second start finds the token and prints none.
	s2 := startServer(t, dir, nil)
	if tokenRE.MatchString(s2.log()) {
		t.Errorf("a second start printed another admin token:\n%s", s2.log())
	}
	if code := s2.stop(t, syscall.SIGINT); code != 0 {
		t.Fatalf("exit code after SIGINT = %d", code)
	}
}

func adminToken(t *testing.T, dir string, env []string) string {
	t.Helper()
	out, errOut, code := run(t, dir, env, "token", "create", "--role", "admin", "--name", "test")
	if code != 0 {
		t.Fatalf("token create: %d %s", code, errOut)
	}
	return strings.TrimSpace(out)
}

// TestServeMisconfiguredIntegration checks the A5 choice: an integration whose secret
// variable is unset starts as misconfigured, named with the variable; others are healthy.
func TestServeMisconfiguredIntegration(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.cai")
	writeFile(t, cfg, `
integration Set { base_url: "https://a.example.com"  auth: bearer(env(JT_SET_TOKEN)) }
integration Unset { base_url: "https://b.example.com"  auth: bearer(env(JT_UNSET_TOKEN)) }
integration Empty { base_url: env(JT_EMPTY_URL) }
entity User { name: string }
entity Order { total: decimal }
`)
	env := []string{"JT_SET_TOKEN=secret-value", "JT_EMPTY_URL="}
	token := adminToken(t, dir, env)
	s := startServer(t, dir, env, "-c", cfg)

	_, body := s.get(t, "/integrations/status", token)
	var got struct {
		Integrations []struct{ Name, Status, Reason string }
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	want := map[string]string{"Set": "healthy", "Unset": "misconfigured", "Empty": "misconfigured"}
	for _, in := range got.Integrations {
		if want[in.Name] != in.Status {
			t.Errorf("%s: status %q, want %q (%s)", in.Name, in.Status, want[in.Name], in.Reason)
		}
	}
	if !strings.Contains(string(body), "JT_UNSET_TOKEN is not set") || !strings.Contains(string(body), "JT_EMPTY_URL is empty") {
		t.Errorf("reasons do not name the variables: %s", body)
	}
	if strings.Contains(string(body), "secret-value") || strings.Contains(s.log(), "secret-value") {
		t.Errorf("a resolved secret leaked into the API or the logs")
	}
	// serve says what it does not run, as validate does: once per kind, with positions.
	for _, want := range []string{
		"2 entity blocks (User, Order) are not run: data models belong to CodeAI's code generation",
	} {
		if strings.Count(s.log(), want) != 1 {
			t.Errorf("serve's log does not say once: %s\n%s", want, s.log())
		}
	}
}

// TestServeReloadsOnSIGHUP checks that SIGHUP applies a changed configuration and that a
// broken one is rejected while the running configuration stays.
func TestServeReloadsOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.cai")
	writeFile(t, cfg, `integration First { base_url: "https://a.example.com" }`)
	token := adminToken(t, dir, nil)
	s := startServer(t, dir, nil, "-c", cfg)

	names := func() string {
		_, body := s.get(t, "/integrations/status", token)
		var got struct{ Integrations []struct{ Name string } }
		_ = json.Unmarshal(body, &got)
		var ns []string
		for _, in := range got.Integrations {
			ns = append(ns, in.Name)
		}
		return strings.Join(ns, ",")
	}
	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for names() != want {
			if time.Now().After(deadline) {
				t.Fatalf("integrations = %q, want %q:\n%s", names(), want, s.log())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("First")

	writeFile(t, cfg, `integration First { base_url: "https://a.example.com" }
integration Second { base_url: "https://b.example.com" }`)
	_ = s.cmd.Process.Signal(syscall.SIGHUP)
	waitFor("First,Second")

	writeFile(t, cfg, `integration Broken { timeout: soon }`)
	_ = s.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.log(), "configuration reload rejected") {
		if time.Now().After(deadline) {
			t.Fatalf("broken configuration not rejected:\n%s", s.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := names(); got != "First,Second" {
		t.Errorf("after a rejected reload integrations = %q, want the previous First,Second", got)
	}
}

func TestServeRefusesBrokenConfiguration(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bad.cai")
	writeFile(t, cfg, "integration A {\n    timeout: soon\n}\n")
	_, stderr, code := run(t, dir, nil, "serve", "--addr", "127.0.0.1:0", "-c", cfg)
	if code != 1 || !strings.Contains(stderr, cfg+":2:14: timeout: expected a duration") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	fixture := fixtures.Path(t, "fixtures/codeai/integrations.cai")
	out, _, code := run(t, dir, nil, "validate", fixture)
	if code != 0 || !strings.Contains(out, fixture+": ok: 7 integrations, 23 operations, 3 events, 0 webhooks, 0 handlers, 0 sources, 0 connectors, 0 flows, 15 blocks not run") {
		t.Fatalf("validate fixture: exit %d\n%s", code, out)
	}
	for _, kind := range []string{"1 config block is not run", "4 entity blocks (WebhookEndpoint, ", "10 endpoint blocks (GET /webhooks, "} {
		if strings.Count(out, "warning: "+kind) != 1 {
			t.Errorf("no single warning for %s", kind)
		}
	}
	if !strings.Contains(out, "warning: integration GitHubAPI auth token: GITHUB_TOKEN is not set") {
		t.Errorf("no warning about the unset GITHUB_TOKEN:\n%s", out)
	}
	out, _, code = run(t, dir, []string{"GITHUB_TOKEN=x"}, "validate", fixture)
	if code != 0 || strings.Contains(out, "GITHUB_TOKEN is not set") {
		t.Errorf("GITHUB_TOKEN set but still warned about:\n%s", out)
	}

	bad := filepath.Join(dir, "syntax.cai")
	writeFile(t, bad, "integration A {\n    base_url: \"https://x.example.com\n}\n")
	out, _, code = run(t, dir, nil, "validate", bad)
	if code != 1 || !strings.Contains(out, bad+":2:15: unterminated string") {
		t.Fatalf("validate syntax error: exit %d\n%s", code, out)
	}

	// Several files: each summarised, names must be unique across them.
	a, b := filepath.Join(dir, "a.cai"), filepath.Join(dir, "b.yaml")
	writeFile(t, a, `integration Same { base_url: "https://a.example.com" }`)
	writeFile(t, b, "integrations:\n  Same:\n    base_url: https://b.example.com\n")
	out, _, code = run(t, dir, nil, "validate", a, b)
	if code != 1 || strings.Count(out, ": ok by itself: 1 integration") != 2 || !strings.Contains(out, "integration Same is declared twice") {
		t.Errorf("validate two files with one name: exit %d\n%s", code, out)
	}

	_, stderr, code := run(t, dir, nil, "validate")
	if code != 1 || !strings.Contains(stderr, "no files given") {
		t.Errorf("validate without files: exit %d %s", code, stderr)
	}
	out, _, code = run(t, dir, []string{"JUNCTION_CONFIG=" + a}, "validate")
	if code != 0 || !strings.Contains(out, a+": ok") {
		t.Errorf("validate from JUNCTION_CONFIG: exit %d %s", code, out)
	}
}

func TestTokenCommands(t *testing.T) {
	dir := t.TempDir()
	out, _, code := run(t, dir, nil, "token", "create", "--role", "user", "--name", "ci")
	if code != 0 || !regexp.MustCompile(`^jct_[A-Za-z0-9_-]{43}\n$`).MatchString(out) {
		t.Fatalf("token create must print the token alone on stdout: exit %d %q", code, out)
	}
	out, _, _ = run(t, dir, nil, "token", "list")
	id := regexp.MustCompile(`tok_\S+`).FindString(out)
	if id == "" || !strings.Contains(out, "user") || !strings.Contains(out, "ci") || strings.Contains(out, "jct_") {
		t.Fatalf("token list:\n%s", out)
	}
	if out, _, code := run(t, dir, nil, "token", "revoke", id); code != 0 || !strings.Contains(out, "revoked "+id) {
		t.Fatalf("token revoke: %d %s", code, out)
	}
	out, _, _ = run(t, dir, nil, "token", "list")
	for _, line := range strings.Split(out, "\n") {
		if fields := strings.Fields(line); len(fields) == 5 && fields[0] == id && !strings.HasPrefix(fields[4], "20") {
			t.Errorf("revoked token listed without a revocation time: %q", line)
		}
	}
	if _, stderr, code := run(t, dir, nil, "token", "revoke", "tok_nope"); code != 1 || !strings.Contains(stderr, `no token has ID "tok_nope"`) {
		t.Errorf("revoke unknown: %d %s", code, stderr)
	}
	if _, stderr, code := run(t, dir, nil, "token", "create", "--role", "root"); code != 1 || !strings.Contains(stderr, "expected admin or user") {
		t.Errorf("bad role: %d %s", code, stderr)
	}
}

// The help and the README show --name as optional: a token needs no name, and lists
// show it as "-".
func TestTokenCreateWithoutName(t *testing.T) {
	dir := t.TempDir()
	out, stderr, code := run(t, dir, nil, "token", "create", "--role", "admin")
	if code != 0 || !regexp.MustCompile(`^jct_[A-Za-z0-9_-]{43}\n$`).MatchString(out) {
		t.Fatalf("token create without --name: exit %d %q %s", code, out, stderr)
	}
	out, _, _ = run(t, dir, nil, "token", "list")
	row := regexp.MustCompile(`(?m)^tok_\S+\s+admin\s+-\s+20\S+\s+-$`)
	if !row.MatchString(out) {
		t.Errorf("token list does not show the nameless token as \"-\":\n%s", out)
	}
	if _, stderr, code := run(t, dir, nil, "token", "create", "--role", "user", "--name", " "); code != 1 || !strings.Contains(stderr, "blank") {
		t.Errorf("blank name: exit %d %s", code, stderr)
	}
}

func TestMigrateCommands(t *testing.T) {
	check := func(t *testing.T, dir string, env []string) {
		out, _, code := run(t, dir, env, "migrate", "status")
		if code != 0 || !strings.Contains(out, "00001") || !strings.Contains(out, "pending") {
			t.Fatalf("status before up: %d\n%s", code, out)
		}
		out, _, code = run(t, dir, env, "migrate", "up")
		if code != 0 || !strings.Contains(out, "applied 00001") {
			t.Fatalf("up: %d\n%s", code, out)
		}
		out, _, _ = run(t, dir, env, "migrate", "up")
		if !strings.Contains(out, "(0 applied now)") {
			t.Fatalf("second up applied again:\n%s", out)
		}
		out, _, _ = run(t, dir, env, "migrate", "status")
		if strings.Contains(out, "pending") || !regexp.MustCompile(`00001\s+\S+\s+\d{4}-\d\d-\d\dT`).MatchString(out) {
			t.Fatalf("status after up:\n%s", out)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		// An empty file is an SQLite database without tables; a missing one is refused.
		writeFile(t, filepath.Join(dir, "state.db"), "")
		check(t, dir, []string{"DATABASE_URL=sqlite:state.db"})
	})
	t.Run("postgres", func(t *testing.T) { check(t, t.TempDir(), []string{"DATABASE_URL=" + servicetest.PostgresDSN(t)}) })
}

// Commands that only read refuse a SQLite database that does not exist, naming the
// absolute path they looked at and how to point elsewhere, and create no file: an empty
// junction.db made in the wrong directory would hide the tokens of the right one.
func TestMigrateAndTokenRefuseMissingDatabase(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		env  []string
		args []string
		file string
	}{
		{nil, []string{"migrate", "status"}, "junction.db"},
		{nil, []string{"token", "list"}, "junction.db"},
		{nil, []string{"token", "revoke", "tok_x"}, "junction.db"},
		{[]string{"DATABASE_URL=sqlite:other.db"}, []string{"token", "list"}, "other.db"},
		{nil, []string{"token", "list", "--database-url", "data/j.db"}, filepath.Join("data", "j.db")},
	} {
		out, stderr, code := run(t, dir, c.env, c.args...)
		want := filepath.Join(dir, c.file)
		if code != 1 || out != "" || !strings.Contains(stderr, want+" does not exist") ||
			!strings.Contains(stderr, "--database-url") || !strings.Contains(stderr, "DATABASE_URL") {
			t.Errorf("junction %v %v: exit %d\nstdout: %s\nstderr: %s", c.env, c.args, code, out, stderr)
		}
		if strings.Count(stderr, "does not exist") != 1 {
			t.Errorf("junction %v: the error is printed more than once:\n%s", c.args, stderr)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("read-only commands created files: %v", entries)
	}
	// Once a command that writes has made the database, the same commands read it.
	if _, stderr, code := run(t, dir, nil, "token", "create", "--role", "user"); code != 0 {
		t.Fatalf("token create: %d %s", code, stderr)
	}
	for _, args := range [][]string{{"token", "list"}, {"migrate", "status"}} {
		if out, stderr, code := run(t, dir, nil, args...); code != 0 || strings.Contains(out, "pending") {
			t.Errorf("junction %v after token create: exit %d\n%s%s", args, code, out, stderr)
		}
	}
}

// TestServeOnPostgres runs the server against PostgreSQL: readiness reaches the database.
func TestServeOnPostgres(t *testing.T) {
	env := []string{"DATABASE_URL=" + servicetest.PostgresDSN(t)}
	s := startServer(t, t.TempDir(), env)
	if resp, body := s.get(t, "/readyz", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz on postgres = %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(s.log(), "storage=\"postgres ") {
		t.Errorf("not on postgres:\n%s", s.log())
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestHelpAndVersion(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--help"}, {"serve", "--help"}, {"validate", "--help"}, {"migrate", "--help"}, {"migrate", "up", "--help"},
		{"migrate", "status", "--help"}, {"token", "--help"}, {"token", "create", "--help"}, {"token", "list", "--help"},
		{"token", "revoke", "--help"}, {"version", "--help"},
	} {
		out, _, code := run(t, dir, nil, args...)
		if code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("junction %v: exit %d\n%s", args, code, out)
		}
	}
	out, _, _ := run(t, dir, nil, "serve", "--help")
	for _, want := range []string{"--config", "--addr", "--database-url", "--redis-url", "JUNCTION_CONFIG", "JUNCTION_ADDR", "DATABASE_URL", "REDIS_URL", "SIGHUP"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve --help does not mention %s", want)
		}
	}
	// The test binary is built with `go build`: it records the commit when the toolchain
	// stamps VCS information (a git checkout, -buildvcs not false), else says it cannot.
	versionRE := regexp.MustCompile(`^junction \S+ \(go\S+, \w+/\w+\)\n(commit [0-9a-f]{40}( \(modified\))?|` + regexp.QuoteMeta(noCommit) + `)\n$`)
	out, _, code := run(t, dir, nil, "version")
	if code != 0 || !versionRE.MatchString(out) {
		t.Errorf("version: %d %q", code, out)
	}
	if flag, _, code := run(t, dir, nil, "--version"); code != 0 || flag != out {
		t.Errorf("--version: %d %q, want what 'version' prints: %q", code, flag, out)
	}
	if out, _, code := run(t, dir, nil, "completion", "bash"); code != 0 || !strings.Contains(out, "bash completion") {
		t.Errorf("completion bash: %d %.200s", code, out)
	}
	if _, stderr, code := run(t, dir, []string{"REDIS_URL=http://nope"}, "serve"); code != 1 || !strings.Contains(stderr, "REDIS_URL") {
		t.Errorf("bad REDIS_URL accepted: %d %s", code, stderr)
	}
}

// TestHelpAndVersionReleaseBuild builds the host's target with scripts/build, as a
// release is built, and checks that the version and commit it stamps are printed.
func TestHelpAndVersionReleaseBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a release binary")
	}
	out := t.TempDir()
	target := goruntime.GOOS + "/" + goruntime.GOARCH
	build := exec.Command("../../scripts/build")
	build.Env = append(os.Environ(), "OUT="+out, "TARGETS="+target, "VERSION=v9.8.7-test", "COMMIT=0123abcd (modified)")
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("scripts/build: %v\n%s", err, msg)
	}
	bin := filepath.Join(out, "junction-"+goruntime.GOOS+"-"+goruntime.GOARCH)
	got, err := exec.Command(bin, "version").Output()
	want := fmt.Sprintf("junction v9.8.7-test (%s, %s)\ncommit 0123abcd (modified)\n", goruntime.Version(), target)
	if err != nil || string(got) != want {
		t.Errorf("release binary version: %v %q, want %q", err, got, want)
	}
}

// TestServeChecksSettingsFirst: a bad address, an unreachable Redis or a mistyped
// DATABASE_URL stops the start with one line naming the setting, before any database is
// created or migrated and before go-redis can print log lines of its own.
func TestServeChecksSettingsFirst(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	redisURL := "redis://" + closed.Addr().String()
	closed.Close() // nothing listens there now
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, c := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"bad port", nil, []string{"--addr", "127.0.0.1:99999"}, "junction: listen on 127.0.0.1:99999: "},
		{"address in use", nil, []string{"--addr", busy.Addr().String()}, "junction: listen on " + busy.Addr().String() + ": "},
		{"redis closed", []string{"REDIS_URL=" + redisURL}, []string{"--addr", "127.0.0.1:0"}, "junction: REDIS_URL " + redisURL + " does not answer: "},
		{"database scheme", []string{"DATABASE_URL=postgress://u@h/db"}, []string{"--addr", "127.0.0.1:0"}, `junction: database URL: unsupported scheme "postgress"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			out, stderr, code := run(t, dir, c.env, append([]string{"serve"}, c.args...)...)
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if code != 1 || out != "" || len(lines) != 1 || !strings.HasPrefix(lines[0], c.want) {
				t.Errorf("exit %d, want 1 and one line starting %q:\n%s%s", code, c.want, out, stderr)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a failed start left files: %v", entries)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestQuickStartConfiguration serves examples/quickstart.cai as the README's quick start
// does: the integration without secrets is healthy, the ones whose variables are unset
// are misconfigured.
func TestQuickStartConfiguration(t *testing.T) {
	example, err := filepath.Abs("../../examples/quickstart.cai")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := []string{"GITHUB_TOKEN=", "PAYMENTS_KEY="}
	token := adminToken(t, dir, env)
	s := startServer(t, dir, env, "-c", example)
	_, body := s.get(t, "/integrations/status", token)
	var got struct {
		Integrations []struct{ Name, Type, Status string }
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := "GitHub/rest/misconfigured Payments/rest/misconfigured Weather/rest/healthy" // sorted by name
	var parts []string
	for _, in := range got.Integrations {
		parts = append(parts, in.Name+"/"+in.Type+"/"+in.Status)
	}
	if strings.Join(parts, " ") != want {
		t.Errorf("quick start integrations = %q, want %q", strings.Join(parts, " "), want)
	}
}

// TestCallCommand runs `junction call` against a local fake upstream.
func TestCallCommand(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/items/404" {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"message":"Not Found"}`)
			return
		}
		body, _ := io.ReadAll(r.Body)
		if len(body) == 0 {
			body = []byte("null")
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q,"query":%q,"body":%s}`, r.URL.Path, r.URL.RawQuery, body)
	}))
	defer up.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.cai")
	writeFile(t, cfg, `integration Shop {
    base_url: "`+up.URL+`"
    auth: bearer(env(SHOP_TOKEN))
    operation get { method: GET path: "/items/{id}" query: { limit: integer, default(10) } }
    operation tag { method: POST path: "/tags" body: { names: list(string), required, weight: decimal } }
}`)
	env := []string{"SHOP_TOKEN=tok"}
	out, stderr, code := run(t, dir, env, "call", "-c", cfg, "-i", "Shop", "get", "id=7", "limit=3")
	if code != 0 || !strings.Contains(out, "HTTP 200") || !strings.Contains(out, "X-Junction-Attempts: 1") || !strings.Contains(out, `{"path":"/items/7","query":"limit=3"`) {
		t.Fatalf("call get: exit %d\n%s\n%s", code, out, stderr)
	}
	out, stderr, code = run(t, dir, env, "call", "-c", cfg, "Shop", "tag", `names:=["a","b"]`, "weight=1.5")
	if code != 0 || !strings.Contains(out, `"body":{"names":["a","b"],"weight":1.5}`) {
		t.Fatalf("call tag: exit %d\n%s\n%s", code, out, stderr)
	}
	_, stderr, code = run(t, dir, env, "call", "-c", cfg, "Shop", "tag", "weight=heavy")
	if code != 1 || !strings.Contains(stderr, "weight: expected decimal") {
		t.Errorf("bad parameter: exit %d %s", code, stderr)
	}
	_, stderr, code = run(t, dir, env, "call", "-c", cfg, "Shop", "tag")
	if code != 1 || !strings.Contains(stderr, "invalid-parameters") || !strings.Contains(stderr, "names: required") {
		t.Errorf("missing parameter: exit %d %s", code, stderr)
	}
	out, stderr, code = run(t, dir, env, "call", "-c", cfg, "Shop", "get", "id=404")
	if code != 1 || !strings.Contains(out, "Not Found") || !strings.Contains(stderr, "upstream answered 404") {
		t.Errorf("upstream 404: exit %d %s %s", code, out, stderr)
	}
	_, stderr, code = run(t, dir, nil, "call", "-c", cfg, "Shop", "get", "id=1")
	if code != 1 || !strings.Contains(stderr, "SHOP_TOKEN is not set") {
		t.Errorf("unset secret: exit %d %s", code, stderr)
	}
}
