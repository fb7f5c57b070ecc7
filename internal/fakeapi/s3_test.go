package fakeapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/fakeapi"
)

// The example credentials of the AWS documentation.
const (
	awsKey    = "AKIAIOSFODNN7EXAMPLE"
	awsSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// s3Client signs requests the way the AWS SDK's S3 client does.
type s3Client struct {
	s3     *fakeapi.S3
	secret string
	clock  clock.Clock
}

func (c s3Client) request(t *testing.T, method, target string, body []byte, change ...func(*http.Request)) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, c.s3.URL()+target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	if len(body) == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: awsKey, SecretAccessKey: c.secret}, req, hash, "s3", "eu-west-1",
		c.clock.Now(), func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range change {
		f(req)
	}
	return req
}

func (c s3Client) call(t *testing.T, method, target string, body []byte, change ...func(*http.Request)) reply {
	t.Helper()
	return do(t, c.request(t, method, target, body, change...))
}

func newS3(t *testing.T) (*fakeapi.S3, s3Client) {
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s3 := fakeapi.NewS3(t, fakeapi.S3Config{AccessKeyID: awsKey, SecretAccessKey: awsSecret, Region: "eu-west-1", Buckets: []string{"bucket"}, Clock: clk})
	return s3, s3Client{s3: s3, secret: awsSecret, clock: clk}
}

func TestS3Objects(t *testing.T) {
	s3, c := newS3(t)
	data := make([]byte, 3000)
	for i := range data {
		data[i] = byte(i * 31)
	}
	r := c.call(t, "PUT", "/bucket/reports/2026/q1%20report.bin", data)
	if r.status != 200 || r.header.Get("ETag") == "" || r.header.Get("x-amz-version-id") == "" || len(r.body) != 0 {
		t.Fatalf("PUT: %d %v %s", r.status, r.header, r.body)
	}
	if o, ok := s3.Object("bucket", "reports/2026/q1 report.bin"); !ok || !bytes.Equal(o.Data, data) || o.ContentType != "application/octet-stream" {
		t.Errorf("stored: %v", ok)
	}
	r = c.call(t, "GET", "/bucket/reports/2026/q1%20report.bin", nil)
	if r.status != 200 || !bytes.Equal(r.body, data) || r.header.Get("ETag") == "" {
		t.Errorf("GET: %d, %d bytes", r.status, len(r.body))
	}
	expect(t, "missing key", c.call(t, "GET", "/bucket/nope", nil), 404, "<Code>NoSuchKey</Code>", "<Key>nope</Key>")
	expect(t, "missing bucket", c.call(t, "GET", "/other/x", nil), 404, "<Code>NoSuchBucket</Code>")
	expect(t, "delete", c.call(t, "DELETE", "/bucket/reports/2026/q1%20report.bin", nil), 204)
	expect(t, "delete again (S3 does not mind)", c.call(t, "DELETE", "/bucket/reports/2026/q1%20report.bin", nil), 204)
	expect(t, "gone", c.call(t, "GET", "/bucket/reports/2026/q1%20report.bin", nil), 404, "NoSuchKey")
}

func TestS3List(t *testing.T) {
	s3, c := newS3(t)
	for _, k := range []string{"a/1", "a/2", "b/1", "c", "d/x/1"} {
		s3.PutObject("bucket", k, []byte(k), "text/plain")
	}
	type result struct {
		KeyCount              int
		IsTruncated           bool
		NextContinuationToken string
		NextMarker            string
		Contents              []struct{ Key string }
		CommonPrefixes        []struct{ Prefix string }
	}
	list := func(query string) result {
		t.Helper()
		r := c.call(t, "GET", "/bucket?"+query, nil)
		if r.status != 200 || r.header.Get("Content-Type") != "application/xml" {
			t.Fatalf("list %s: %d %s", query, r.status, r.body)
		}
		var res result
		if err := xml.Unmarshal(r.body, &res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := list("list-type=2&prefix=a%2F")
	if res.KeyCount != 2 || len(res.Contents) != 2 || res.Contents[1].Key != "a/2" || res.IsTruncated {
		t.Errorf("prefix: %+v", res)
	}
	res = list("list-type=2&delimiter=%2F&max-keys=2")
	if len(res.CommonPrefixes) != 2 || !res.IsTruncated || res.NextContinuationToken == "" {
		t.Fatalf("page 1: %+v", res)
	}
	res = list("list-type=2&delimiter=%2F&max-keys=2&continuation-token=" + res.NextContinuationToken)
	if len(res.Contents) != 1 || res.Contents[0].Key != "c" || len(res.CommonPrefixes) != 1 || res.CommonPrefixes[0].Prefix != "d/" || res.IsTruncated {
		t.Errorf("page 2: %+v", res)
	}
	if res := list("max-keys=1000"); len(res.Contents) != 5 || res.KeyCount != 0 {
		t.Errorf("v1 listing: %+v", res)
	}
	expect(t, "bad max-keys", c.call(t, "GET", "/bucket?list-type=2&max-keys=x", nil), 400, "InvalidArgument")
	expect(t, "bad token", c.call(t, "GET", "/bucket?list-type=2&continuation-token=%25", nil), 400, "InvalidArgument")
}

// The fake must catch signing mistakes, or tests against it prove nothing.
func TestS3RejectsBadSignatures(t *testing.T) {
	_, c := newS3(t)
	body := []byte("original body")
	wrong := c
	wrong.secret = "not-the-secret"
	expect(t, "wrong secret", wrong.call(t, "PUT", "/bucket/k", body), 403, "SignatureDoesNotMatch", "<AWSAccessKeyId>"+awsKey)
	expect(t, "not signed", send(t, "GET", c.s3.URL()+"/bucket/k", ""), 403, "AccessDenied")

	stale := c
	stale.clock = clock.NewFake(c.clock.Now().Add(-time.Hour))
	expect(t, "stale signature", stale.call(t, "GET", "/bucket/k", nil), 403, "RequestTimeTooSkewed")

	tamper := map[string]struct {
		change func(*http.Request)
		code   string
		status int
	}{
		"body changed": {func(r *http.Request) {
			b := []byte("ORIGINAL BODY")
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		}, "XAmzContentSHA256Mismatch", 400},
		"body and hash changed": {func(r *http.Request) {
			b := []byte("ORIGINAL BODY")
			sum := sha256.Sum256(b)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
			r.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
		}, "SignatureDoesNotMatch", 403},
		"unsigned payload":     {func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD") }, "InvalidRequest", 400},
		"query changed":        {func(r *http.Request) { r.URL.RawQuery = "x=2" }, "SignatureDoesNotMatch", 403},
		"path changed":         {func(r *http.Request) { r.URL.Path = "/bucket/other" }, "SignatureDoesNotMatch", 403},
		"signed header change": {func(r *http.Request) { r.Header.Set("Content-Type", "text/html") }, "SignatureDoesNotMatch", 403},
		"unsigned amz header":  {func(r *http.Request) { r.Header.Set("X-Amz-Meta-Owner", "eve") }, "AccessDenied", 403},
	}
	for name, tc := range tamper {
		t.Run(name, func(t *testing.T) {
			expect(t, name, c.call(t, "PUT", "/bucket/k?x=1", body, tc.change), tc.status, "<Code>"+tc.code+"</Code>")
		})
	}
	expect(t, "untampered", c.call(t, "PUT", "/bucket/k?x=1", body), 200)
}
