package app

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/junctionhq/junction/internal/testkit"
)

// TestNoSecretLeaksFromFailingUpstreams is issue 9's first defect end to end: for each
// kind of credential, an integration whose upstream refuses connections and one whose
// upstream never answers are called through junction's HTTP server — on the operation
// path, on /proxy, and from flows (an enrich step and an integration sink) that
// dead-letter the message — and every answer, header, log line, the health and status
// documents, /metrics, the flow's logs and status, the dead letters and a failed replay
// are searched for every secret, raw and in the encodings it travels in.
func TestNoSecretLeaksFromFailingUpstreams(t *testing.T) {
	// Secrets with characters that query and path escaping change.
	secrets := map[string]string{
		"QKEY":    "qk/S3cr3t+v=1 x",
		"HKEY":    "hk-S3cr3t/hdr+k",
		"BTOKEN":  "bt-S3cr3t/tok+n",
		"BUSER":   "junction-user",
		"BPASS":   "pw-S3cr3t/p:ss+",
		"OSECRET": "oc-S3cr3t/cs+cr",
		"HSECRET": "hm-S3cr3t/mac+k",
		"AKID":    "AKIDJUNCTIONTEST",
		"ASECRET": "sk-S3cr3t/aws+k",
	}
	const accessToken = "at-S3cr3t/oauth+tok"
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer","expires_in":3600}`, accessToken)
	}))
	defer tokens.Close()
	// Refused: a port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downURL := "http://" + ln.Addr().String() + "/v1"
	ln.Close()
	// Timeout: a server that takes the request and never answers.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()

	auths := map[string]string{
		"QueryKey":  `api_key(env(QKEY), "appid")`,
		"HeaderKey": `api_key(env(HKEY), "X-Api-Key")`,
		"Bearer":    `bearer(env(BTOKEN))`,
		"Basic":     `basic(env(BUSER), env(BPASS))`,
		"OAuth":     `oauth2 { token_url: env(TOKEN_URL), client_id: "cid", client_secret: env(OSECRET) }`,
		// The token endpoint itself refuses: the failure is the token request's.
		"OAuthTokenDown": `oauth2 { token_url: env(DEAD_TOKEN_URL), client_id: "cid", client_secret: env(OSECRET) }`,
		"Hmac":           `hmac { secret: env(HSECRET), header: "X-Signature" }`,
		"SigV4":          `aws_signature_v4 { access_key: env(AKID), secret_key: env(ASECRET), region: "eu-west-1", service: "execute-api" }`,
	}
	upstreams := map[string]string{"Down": "DOWN_URL", "Slow": "SLOW_URL"}
	var cfg strings.Builder
	cfg.WriteString(`connector inbox { type: http }
connector out { type: log }
`)
	var names []string
	for kind, auth := range auths {
		for scenario, urlVar := range upstreams {
			name := kind + scenario
			names = append(names, name)
			fmt.Fprintf(&cfg, `
integration %[1]s { base_url: env(%[2]s)  auth: %[3]s  timeout: 300ms
    operation get { method: GET  path: "/data"  query: { q: string, optional } } }
connector call-%[1]s { type: integration  integration: %[1]s  operation: get }
flow enrich-%[1]s {
    source: inbox { path: "enrich-%[1]s" }
    step lookup { enrich: %[1]s.get }
    sink s { connector: out }
    on_error: { retry: 0, dead_letter: "dl" }
}
flow sink-%[1]s {
    source: inbox { path: "sink-%[1]s" }
    sink s { connector: call-%[1]s }
    on_error: { retry: 0, dead_letter: "dl" }
}
`, name, urlVar, auth)
		}
	}
	env := map[string]string{"DOWN_URL": downURL, "SLOW_URL": hang.URL + "/v1", "TOKEN_URL": tokens.URL + "/token",
		"DEAD_TOKEN_URL": strings.TrimSuffix(downURL, "/v1") + "/token"}
	for k, v := range secrets {
		env[k] = v
	}

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "leak.cai")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs, stderr testkit.SyncBuffer
	addr := make(chan net.Addr, 1)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- Serve(ctx, Options{
			ConfigPaths: []string{cfgPath},
			DatabaseURL: filepath.Join(dir, "j.db"),
			Addr:        "127.0.0.1:0",
			Logger:      slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Stderr:      &stderr,
			LookupEnv:   func(k string) (string, bool) { v, ok := env[k]; return v, ok },
			Listening:   func(a net.Addr) { addr <- a },
		})
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a.String()
	case err := <-errc:
		t.Fatalf("Serve returned early: %v\n%s", err, logs.String())
	}
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Serve: %v", err)
		}
		http.DefaultClient.CloseIdleConnections()
	}()
	token := regexp.MustCompile(`jct_[A-Za-z0-9_-]+`).FindString(stderr.String())
	if token == "" {
		t.Fatalf("first admin token not printed on stderr: %q", stderr.String())
	}

	// Every form a secret can take in text that leaves the process.
	var forms []string
	addForms := func(s string) {
		j, _ := json.Marshal(s)
		forms = append(forms, s, url.QueryEscape(s), url.PathEscape(s), strings.Trim(string(j), `"`))
	}
	for k, v := range secrets {
		if k == "BUSER" || k == "AKID" {
			continue // names, not secrets
		}
		addForms(v)
	}
	addForms(accessToken)
	userPass := secrets["BUSER"] + ":" + secrets["BPASS"]
	forms = append(forms, base64.StdEncoding.EncodeToString([]byte(userPass)), base64.URLEncoding.EncodeToString([]byte(userPass)))

	var (
		mu   sync.Mutex
		seen []string // everything that left the server, for the scan
	)
	do := func(method, path, body string) (int, string) {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", method, path, err)
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var h strings.Builder
		resp.Header.Write(&h)
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s → %d\n%s\n%s", method, path, resp.StatusCode, h.String(), b))
		mu.Unlock()
		return resp.StatusCode, string(b)
	}

	// The integrations fail side by side (each slow one costs its timeout per call).
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Go(func() {
			if code, body := do("POST", "/integrations/"+name+"/operations/get", `{"q":"x"}`); code != 502 && code != 504 {
				t.Errorf("%s operation: %d %s, want 502 or 504", name, code, body)
			}
			if code, body := do("GET", "/proxy/"+name+"/data?q=x", ""); code != 502 && code != 504 {
				t.Errorf("%s proxy: %d %s, want 502 or 504", name, code, body)
			}
			for _, f := range []string{"enrich-", "sink-"} {
				if code, body := do("POST", "/in/"+f+name, `{"id":"m1"}`); code != 202 {
					t.Errorf("POST /in/%s%s: %d %s", f, name, code, body)
				}
			}
			do("GET", "/integrations/"+name+"/health", "")
		})
	}
	wg.Wait()
	do("GET", "/integrations/status", "")
	do("GET", "/metrics", "")
	do("GET", "/flows", "")
	var deadLetters atomic.Int32
	for _, name := range names {
		for _, f := range []string{"enrich-", "sink-"} {
			flowName := f + name
			wg.Go(func() {
				do("GET", "/flows/"+flowName, "")
				do("GET", "/flows/"+flowName+"/logs", "")
				_, body := do("GET", "/dead-letters?flow="+flowName, "")
				var out struct {
					Data []struct {
						ID    string `json:"id"`
						Error string `json:"error"`
					} `json:"data"`
				}
				if err := json.Unmarshal([]byte(body), &out); err != nil || len(out.Data) != 1 {
					t.Errorf("dead letters of %s: %v %s", flowName, err, body)
					return
				}
				deadLetters.Add(1)
				if out.Data[0].Error == "" {
					t.Errorf("dead letter of %s has no error", flowName)
				}
				// A replay fails again; its answer names the failure.
				if code, body := do("POST", "/dead-letters/"+out.Data[0].ID+"/replay", ""); code != 409 {
					t.Errorf("replay of %s: %d %s", flowName, code, body)
				}
			})
		}
	}
	wg.Wait()
	if n := int(deadLetters.Load()); n != 2*len(names) {
		t.Errorf("%d dead letters, want %d", n, 2*len(names))
	}

	seen = append(seen, "LOG\n"+logs.String())
	leaks := 0
	for _, text := range seen {
		for _, f := range forms {
			if strings.Contains(text, f) {
				leaks++
				if leaks <= 10 {
					i := strings.Index(text, f)
					t.Errorf("secret form %q leaked in:\n%s", f, text[max(0, i-300):min(len(text), i+len(f)+100)])
				}
			}
		}
	}
	if leaks > 10 {
		t.Errorf("… %d leaks in all", leaks)
	}
	// The scan looked at real failures: the errors still say what happened.
	all := strings.Join(seen, "\n")
	for _, want := range []string{"connection refused", "no answer within 300ms", "appid=[REDACTED]"} {
		if !strings.Contains(all, want) {
			t.Errorf("no answer or log says %q: the redaction removed too much", want)
		}
	}
}
