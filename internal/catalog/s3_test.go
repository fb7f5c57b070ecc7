package catalog_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/fakeapi"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/testkit"
)

const (
	s3Key    = "AKIDCATALOGTEST"
	s3Secret = "catalog/secret+key"
	s3Bucket = "junction-catalog"
)

func testS3(t *testing.T) {
	clk := newClock()
	fake := fakeapi.NewS3(t, fakeapi.S3Config{AccessKeyID: s3Key, SecretAccessKey: s3Secret, Region: "eu-west-1", Buckets: []string{s3Bucket}, Clock: clk})
	use := `integration Files from catalog "s3" { base_url: "` + fake.URL() + `" }`
	env := map[string]string{"AWS_ACCESS_KEY_ID": s3Key, "AWS_SECRET_ACCESS_KEY": s3Secret, "AWS_REGION": "eu-west-1"}
	e := useEntry(t, clk, "Files", use, env)

	data := []byte("%PDF-1.7 quarterly report")
	res, err := e.try(t, "put_object", map[string]any{"bucket": s3Bucket, "key": "reports/2026/q1 report.pdf", "content_type": "application/pdf"}, integration.CallOptions{Body: data})
	if err != nil {
		t.Fatal(err)
	}
	want(t, res, 200)
	if o, ok := fake.Object(s3Bucket, "reports/2026/q1 report.pdf"); !ok || !bytes.Equal(o.Data, data) || o.ContentType != "application/pdf" {
		t.Fatalf("stored %+v", o)
	}
	got := e.call(t, "get_object", map[string]any{"bucket": s3Bucket, "key": "reports/2026/q1 report.pdf"})
	if got.Status != 200 || !bytes.Equal(got.Body, data) {
		t.Errorf("get_object: %d %q", got.Status, got.Body)
	}
	// The XML listing is answered as JSON that the entry's returns describes; one
	// object is still a list.
	list := e.call(t, "list_objects", map[string]any{"bucket": s3Bucket, "prefix": "reports/"})
	want(t, list, 200)
	if q := fake.Requests()[len(fake.Requests())-1].Query; q.Get("list-type") != "2" || q.Get("prefix") != "reports/" {
		t.Errorf("list_objects sent %v", q)
	}
	listing := object(t, list)
	if testkit.Dig(listing, "ListBucketResult", "Contents", 0, "Key") != "reports/2026/q1 report.pdf" || testkit.Dig(listing, "ListBucketResult", "KeyCount") != "1" ||
		list.Header.Get("Content-Type") != "application/json" || len(list.ContractMismatches) > 0 {
		t.Errorf("list_objects: %s %v %v", list.Body, list.Header, list.ContractMismatches)
	}
	empty := e.call(t, "list_objects", map[string]any{"bucket": s3Bucket, "prefix": "nothing/"})
	if want(t, empty, 200, `"KeyCount":"0"`); len(empty.ContractMismatches) > 0 {
		t.Errorf("an empty listing drifts: %v", empty.ContractMismatches)
	}

	// S3's errors, in its XML: a missing key, and 503 SlowDown, which is retried.
	want(t, e.call(t, "get_object", map[string]any{"bucket": s3Bucket, "key": "missing.pdf"}), 404, "<Code>NoSuchKey</Code>")
	fake.FailNext(1, http.StatusServiceUnavailable)
	if res := e.call(t, "get_object", map[string]any{"bucket": s3Bucket, "key": "reports/2026/q1 report.pdf"}); res.Status != 200 || res.Attempts != 2 {
		t.Errorf("after SlowDown: %d, %d attempts", res.Status, res.Attempts)
	}

	// A wrong secret: the fake re-signs the request and the signatures differ.
	wrongEnv := map[string]string{"AWS_ACCESS_KEY_ID": s3Key, "AWS_SECRET_ACCESS_KEY": "not-the-secret", "AWS_REGION": "eu-west-1"}
	wrong := useEntry(t, clk, "Files", use, wrongEnv)
	want(t, wrong.call(t, "get_object", map[string]any{"bucket": s3Bucket, "key": "reports/2026/q1 report.pdf"}), 403, "<Code>SignatureDoesNotMatch</Code>")

	testPresign(t, e, fake, clk)

	want(t, e.call(t, "delete_object", map[string]any{"bucket": s3Bucket, "key": "reports/2026/q1 report.pdf"}), 204)
	if _, ok := fake.Object(s3Bucket, "reports/2026/q1 report.pdf"); ok {
		t.Error("the object survived delete_object")
	}
}

// testPresign: get_presigned_url is computed without a request to S3, and the URL it
// gives works against the fake, which verifies it as S3 does, for what it was made for
// and nothing else, until it expires.
func testPresign(t *testing.T, e *entry, fake *fakeapi.S3, clk interface{ Advance(time.Duration) }) {
	before := len(fake.Requests())
	res := e.call(t, "get_presigned_url", map[string]any{"bucket": s3Bucket, "key": "reports/2026/q1 report.pdf", "expires_in": "10m"})
	a := object(t, res)
	if len(fake.Requests()) != before || a["method"] != "GET" || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("presign: %s, %d requests to S3", res.Body, len(fake.Requests())-before)
	}
	if at, err := time.Parse(time.RFC3339, a["expires_at"].(string)); err != nil || at.Sub(e.clk.Now()) > 10*time.Minute || at.Sub(e.clk.Now()) < 9*time.Minute {
		t.Errorf("expires_at %v (now %v)", a["expires_at"], e.clk.Now())
	}
	link := a["url"].(string)
	if u, _ := url.Parse(link); u.Query().Get("X-Amz-Expires") != "600" || strings.Contains(link, s3Secret) || strings.Contains(link, url.QueryEscape(s3Secret)) {
		t.Errorf("url %s", link)
	}
	status, body := httpDo(t, http.MethodGet, link, "", nil)
	if status != 200 || body != "%PDF-1.7 quarterly report" {
		t.Errorf("GET presigned: %d %s", status, body)
	}
	if status, body := httpDo(t, http.MethodGet, strings.Replace(link, "q1%20report", "q2%20report", 1), "", nil); status != 403 || !strings.Contains(body, "SignatureDoesNotMatch") {
		t.Errorf("another key with the same signature: %d %s", status, body)
	}
	if status, _ := httpDo(t, http.MethodDelete, link, "", nil); status != 403 {
		t.Errorf("DELETE with a GET URL: %d", status)
	}

	// An upload URL: the Content-Type is signed, so the uploader must send it.
	res = e.call(t, "get_presigned_url", map[string]any{"bucket": s3Bucket, "key": "uploads/photo.png", "method": "put", "content_type": "image/png"})
	a = object(t, res)
	if a["method"] != "PUT" || testkit.Dig(a, "headers", "Content-Type") != "image/png" {
		t.Fatalf("PUT presign: %s", res.Body)
	}
	if status, body := httpDo(t, http.MethodPut, a["url"].(string), "image/jpeg", []byte("jpeg")); status != 403 {
		t.Errorf("PUT with another Content-Type: %d %s", status, body)
	}
	if status, body := httpDo(t, http.MethodPut, a["url"].(string), "image/png", []byte("png")); status != 200 {
		t.Errorf("PUT presigned: %d %s", status, body)
	}
	if o, ok := fake.Object(s3Bucket, "uploads/photo.png"); !ok || string(o.Data) != "png" {
		t.Errorf("uploaded %+v", o)
	}

	// Parameters the URL cannot have are refused before anything is signed.
	for _, params := range []map[string]any{
		{"bucket": s3Bucket, "key": "k", "expires_in": "8d"},
		{"bucket": s3Bucket, "key": "k", "expires_in": 0},
		{"bucket": s3Bucket, "key": "k", "method": "POST"},
		{"bucket": s3Bucket, "key": "k", "content_type": "text/plain"},
		{"bucket": s3Bucket},
		{"bucket": s3Bucket, "key": "k", "acl": "public-read"},
	} {
		_, err := e.try(t, "get_presigned_url", params, integration.CallOptions{})
		wantKind(t, err, integration.KindInvalidParams)
	}

	// Once expired, S3 refuses it.
	clk.Advance(11 * time.Minute)
	if status, body := httpDo(t, http.MethodGet, link, "", nil); status != 403 || !strings.Contains(body, "Request has expired") {
		t.Errorf("expired URL: %d %s", status, body)
	}
}

func httpDo(t *testing.T, method, link, contentType string, body []byte) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, link, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.String()
}
