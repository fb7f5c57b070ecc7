package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/fakeapi"
)

// TestCatalog runs the catalog as a user does, through the built binary: list and show,
// a configuration made of catalog entries checked by validate, an unknown entry refused
// with its position, Stripe's form bodies and an S3 presigned URL computed by `junction
// call`, and the same presigned URL through a server's gateway; the URLs work against
// the S3 fake, which verifies them.
func TestCatalog(t *testing.T) {
	dir := t.TempDir()
	out, stderr, code := run(t, dir, nil, "catalog", "list")
	if code != 0 || !strings.Contains(out, "stripe") || !strings.Contains(out, "STRIPE_SECRET_KEY") || !strings.Contains(out, "tensorflow-serving") {
		t.Fatalf("catalog list: exit %d\n%s\n%s", code, out, stderr)
	}
	out, _, code = run(t, dir, nil, "catalog", "show", "s3")
	if code != 0 || !strings.Contains(out, "get_presigned_url") || !strings.Contains(out, "integration s3 {") {
		t.Fatalf("catalog show s3: exit %d\n%s", code, out)
	}
	_, stderr, code = run(t, dir, nil, "catalog", "show", "stirpe")
	if code != 1 || !strings.Contains(stderr, `unknown catalog entry "stirpe"`) {
		t.Errorf("catalog show stirpe: exit %d %s", code, stderr)
	}

	bad := filepath.Join(dir, "bad.cai")
	writeFile(t, bad, "integration Pay from catalog \"strpe\" {}\n")
	out, _, code = run(t, dir, nil, "validate", bad)
	if code != 1 || !strings.Contains(out, `bad.cai:1:30: unknown catalog entry "strpe"; did you mean "stripe"?`) {
		t.Errorf("validate an unknown entry: exit %d %s", code, out)
	}

	s3 := fakeapi.NewS3(t, fakeapi.S3Config{AccessKeyID: "AKIDE2E", SecretAccessKey: "e2e-secret", Region: "eu-central-1", Buckets: []string{"docs"}})
	s3.PutObject("docs", "guide.txt", []byte("read me"), "text/plain")
	stripe := fakeapi.NewStripe(t, fakeapi.StripeConfig{SecretKey: "sk_test_e2e", FormOnly: true})
	cfg := filepath.Join(dir, "catalog.cai")
	writeFile(t, cfg, `integration Files from catalog "s3" {
    base_url: "`+s3.URL()+`"
}
integration Payments from catalog "stripe" {
    base_url: "`+stripe.URL()+`/v1"
}
`)
	env := []string{"AWS_ACCESS_KEY_ID=AKIDE2E", "AWS_SECRET_ACCESS_KEY=e2e-secret", "AWS_REGION=eu-central-1", "STRIPE_SECRET_KEY=sk_test_e2e", "STRIPE_WEBHOOK_SECRET=unused"}
	out, stderr, code = run(t, dir, env, "validate", cfg)
	if code != 0 || !strings.Contains(out, "2 integrations") {
		t.Fatalf("validate: exit %d\n%s\n%s", code, out, stderr)
	}

	out, stderr, code = run(t, dir, env, "call", "-c", cfg, "Payments", "create_customer", "email=ada@example.com", `metadata:={"plan":"pro"}`)
	if code != 0 || !strings.Contains(out, `"email":"ada@example.com"`) {
		t.Fatalf("call create_customer: exit %d\n%s\n%s", code, out, stderr)
	}
	if c := stripe.Customers(); len(c) != 1 || c[0]["metadata"].(map[string]any)["plan"] != "pro" {
		t.Errorf("Stripe has %v", c)
	}

	out, stderr, code = run(t, dir, env, "call", "-c", cfg, "Files", "get_presigned_url", "bucket=docs", "key=guide.txt", "expires_in=300")
	if code != 0 {
		t.Fatalf("call get_presigned_url: exit %d\n%s\n%s", code, out, stderr)
	}
	getPresigned(t, out, "read me")

	s := startServer(t, dir, env, "-c", cfg)
	token := adminToken(t, dir, env)
	req, _ := http.NewRequest(http.MethodPost, s.base+"/integrations/Files/operations/get_presigned_url", strings.NewReader(`{"bucket":"docs","key":"guide.txt"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("gateway: %d %s", resp.StatusCode, body)
	}
	getPresigned(t, string(body), "read me")
	if n := len(s3.Requests()); n != 2 {
		t.Errorf("S3 saw %d requests, want only the two GETs of the presigned URLs", n)
	}
}

// getPresigned fetches the URL of a presigned-URL answer and checks the content.
func getPresigned(t *testing.T, answer, content string) {
	t.Helper()
	var a struct{ URL, Method, ExpiresAt string }
	if err := json.Unmarshal([]byte(answer), &a); err != nil || a.Method != "GET" || a.URL == "" {
		t.Fatalf("answer %q: %v", answer, err)
	}
	resp, err := http.Get(a.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != content {
		t.Errorf("GET %s: %d %s", a.URL, resp.StatusCode, body)
	}
}
