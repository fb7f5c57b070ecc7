package credential_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/credential"
)

// The example credentials of the AWS documentation.
const (
	accessKey = "AKIAIOSFODNN7EXAMPLE"
	secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// fakeS3 is an S3 endpoint that authenticates requests the way S3 does: it rebuilds the
// canonical request from what it received — method, path, query, the headers listed in
// SignedHeaders, the payload hash — re-signs it with the AWS SDK signer, the secret it
// holds for the access key and the time in X-Amz-Date, and compares the signatures. It
// also checks the payload hash against the body it received, the session token and the
// clock skew.
type fakeS3 struct {
	t      *testing.T
	srv    *httptest.Server
	region string
	clock  clock.Clock
	keys   map[string]string // access key → secret key
	tokens map[string]string // access key → required session token

	mu      sync.Mutex
	objects map[string][]byte
}

func newFakeS3(t *testing.T, clk clock.Clock) *fakeS3 {
	t.Helper()
	s := &fakeS3{
		t: t, region: "eu-west-1", clock: clk,
		keys:    map[string]string{accessKey: secretKey, "ASIATEMPORARY": "temporary/secret"},
		tokens:  map[string]string{"ASIATEMPORARY": "FwoGZXIvYXdzEJr//////////session+token="},
		objects: map[string][]byte{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "<Error><Code>%s</Code><Message>%s</Message></Error>", code, msg)
}

func (s *fakeS3) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s3Error(w, http.StatusBadRequest, "IncompleteBody", err.Error())
		return
	}
	if code, msg := s.authenticate(r, body); code != "" {
		status := http.StatusForbidden
		if code == "XAmzContentSHA256Mismatch" || code == "InvalidRequest" {
			status = http.StatusBadRequest
		}
		s3Error(w, status, code, msg)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.Method {
	case http.MethodPut:
		s.objects[r.URL.Path] = body
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		if obj, ok := s.objects[r.URL.Path]; ok {
			_, _ = w.Write(obj)
			return
		}
		// A listing: answer with the query as S3 understood it.
		_ = json.NewEncoder(w).Encode(r.URL.Query())
	default:
		s3Error(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method)
	}
}

// authenticate returns an S3 error code and message, or "" when the request is genuine.
func (s *fakeS3) authenticate(r *http.Request, body []byte) (code, msg string) {
	const alg = "AWS4-HMAC-SHA256 "
	authz := r.Header.Get("Authorization")
	if !strings.HasPrefix(authz, alg) {
		return "AccessDenied", "missing or non-SigV4 Authorization"
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(strings.TrimPrefix(authz, alg), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/") // AKID/yyyymmdd/region/service/aws4_request
	if len(scope) != 5 || scope[4] != "aws4_request" || fields["SignedHeaders"] == "" || fields["Signature"] == "" {
		return "AuthorizationHeaderMalformed", authz
	}
	akid, day, region, service := scope[0], scope[1], scope[2], scope[3]
	secret, ok := s.keys[akid]
	if !ok {
		return "InvalidAccessKeyId", akid
	}
	if region != s.region || service != "s3" {
		return "AuthorizationHeaderMalformed", "wrong region or service " + region + "/" + service
	}
	amzDate := r.Header.Get("X-Amz-Date")
	signedAt, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || amzDate[:8] != day {
		return "AccessDenied", "bad X-Amz-Date " + amzDate
	}
	if skew := s.clock.Now().Sub(signedAt); skew > 15*time.Minute || skew < -15*time.Minute {
		return "RequestTimeTooSkewed", skew.String()
	}
	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	sum := sha256.Sum256(body)
	if payloadHash != hex.EncodeToString(sum[:]) {
		return "XAmzContentSHA256Mismatch", "payload hash " + payloadHash
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	for _, h := range []string{"host", "x-amz-content-sha256", "x-amz-date"} {
		if !slices.Contains(signed, h) {
			return "AccessDenied", "header not signed: " + h
		}
	}
	if want, ok := s.tokens[akid]; ok {
		if r.Header.Get("X-Amz-Security-Token") != want || !slices.Contains(signed, "x-amz-security-token") {
			return "InvalidToken", "missing or wrong session token"
		}
	}

	// A copy of the received request with only what the signature covers.
	u, err := url.Parse("http://" + r.Host + r.RequestURI)
	if err != nil {
		return "InvalidRequest", err.Error()
	}
	cp, err := http.NewRequestWithContext(context.Background(), r.Method, u.String(), nil)
	if err != nil {
		return "InvalidRequest", err.Error()
	}
	cp.Host = r.Host
	for _, h := range signed {
		switch h {
		case "host":
		case "content-length":
			cp.ContentLength = r.ContentLength
		default:
			cp.Header[textproto.CanonicalMIMEHeaderKey(h)] = r.Header.Values(h)
		}
	}
	creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	err = v4.NewSigner().SignHTTP(context.Background(), creds, cp, payloadHash, service, region, signedAt,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		return "InternalError", err.Error()
	}
	if subtle.ConstantTimeCompare([]byte(cp.Header.Get("Authorization")), []byte(authz)) != 1 {
		return "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."
	}
	return "", ""
}

func (s *fakeS3) applier(t *testing.T, clk clock.Clock, akid, secret, token string) credential.Applier {
	t.Helper()
	a := &config.Auth{Kind: config.AuthAWSSigV4, AccessKey: envVal("AWS_ACCESS_KEY_ID"), SecretKey: envVal("AWS_SECRET_ACCESS_KEY"),
		Region: envVal("AWS_REGION"), Service: "s3"}
	vars := map[string]string{"AWS_ACCESS_KEY_ID": akid, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": s.region}
	if token != "" {
		a.SessionToken = envVal("AWS_SESSION_TOKEN")
		vars["AWS_SESSION_TOKEN"] = token
	}
	return mustNew(t, a, vars, credential.Options{Clock: clk})
}

// call signs and sends one request and returns the status and body.
func (s *fakeS3) call(t *testing.T, ap credential.Applier, method, target string, body []byte) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, s.srv.URL+target, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if err := ap.Apply(context.Background(), req, body); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func TestSigV4AgainstFakeS3(t *testing.T) {
	clk := clock.NewFake(start)
	s3 := newFakeS3(t, clk)
	ap := s3.applier(t, clk, accessKey, secretKey, "")

	binary := make([]byte, 4096)
	for i := range binary {
		binary[i] = byte(i * 7)
	}
	t.Run("PUT a binary body", func(t *testing.T) {
		status, out := s3.call(t, ap, http.MethodPut, "/bucket/dir/report%20v1.bin", binary)
		if status != http.StatusOK {
			t.Fatalf("PUT: %d %s", status, out)
		}
		status, out = s3.call(t, ap, http.MethodGet, "/bucket/dir/report%20v1.bin", nil)
		if status != http.StatusOK || !bytes.Equal(out, binary) {
			t.Errorf("GET after PUT: %d, %d bytes", status, len(out))
		}
	})
	t.Run("GET with a query string", func(t *testing.T) {
		q := url.Values{"list-type": {"2"}, "prefix": {"photos/2026 march/"}, "key with space": {"a/b c"}, "delimiter": {"/"}}
		status, out := s3.call(t, ap, http.MethodGet, "/bucket?"+q.Encode()+"&empty=", nil)
		if status != http.StatusOK {
			t.Fatalf("GET: %d %s", status, out)
		}
		var got url.Values
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		q.Set("empty", "")
		if fmt.Sprint(got) != fmt.Sprint(q) {
			t.Errorf("S3 understood the query as %v, want %v", got, q)
		}
	})
	t.Run("a signature made too long ago", func(t *testing.T) {
		stale := clock.NewFake(start.Add(-time.Hour))
		status, out := s3.call(t, s3.applier(t, stale, accessKey, secretKey, ""), http.MethodGet, "/bucket/x", nil)
		if status != http.StatusForbidden || !bytes.Contains(out, []byte("RequestTimeTooSkewed")) {
			t.Errorf("stale signature: %d %s", status, out)
		}
	})
}

func TestSigV4SessionToken(t *testing.T) {
	clk := clock.NewFake(start)
	s3 := newFakeS3(t, clk)
	token := s3.tokens["ASIATEMPORARY"]
	status, out := s3.call(t, s3.applier(t, clk, "ASIATEMPORARY", "temporary/secret", token), http.MethodPut, "/bucket/k", []byte("x"))
	if status != http.StatusOK {
		t.Fatalf("with the session token: %d %s", status, out)
	}
	status, out = s3.call(t, s3.applier(t, clk, "ASIATEMPORARY", "temporary/secret", ""), http.MethodPut, "/bucket/k", []byte("x"))
	if status != http.StatusForbidden || !bytes.Contains(out, []byte("InvalidToken")) {
		t.Errorf("without the session token: %d %s", status, out)
	}
}

// The fake must catch mistakes, or the tests above prove nothing.
func TestSigV4FakeS3RejectsBadRequests(t *testing.T) {
	clk := clock.NewFake(start)
	s3 := newFakeS3(t, clk)

	status, out := s3.call(t, s3.applier(t, clk, accessKey, "not-the-secret", ""), http.MethodPut, "/bucket/k", []byte("data"))
	if status != http.StatusForbidden || !bytes.Contains(out, []byte("SignatureDoesNotMatch")) {
		t.Errorf("wrong secret: %d %s", status, out)
	}

	ap := s3.applier(t, clk, accessKey, secretKey, "")
	tamper := func(name string, change func(req *http.Request), wantCode string) {
		t.Run(name, func(t *testing.T) {
			body := []byte("original body")
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPut, s3.srv.URL+"/bucket/k?x=1", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "text/plain")
			if err := ap.Apply(context.Background(), req, body); err != nil {
				t.Fatal(err)
			}
			change(req)
			resp, err := s3.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode < 400 || !bytes.Contains(out, []byte(wantCode)) {
				t.Errorf("%s: %d %s, want %s", name, resp.StatusCode, out, wantCode)
			}
		})
	}
	tamper("body changed after signing", func(req *http.Request) {
		b := []byte("ORIGINAL BODY")
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	}, "XAmzContentSHA256Mismatch")
	tamper("body and hash changed after signing", func(req *http.Request) {
		b := []byte("ORIGINAL BODY")
		sum := sha256.Sum256(b)
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
	}, "SignatureDoesNotMatch")
	tamper("query changed after signing", func(req *http.Request) { req.URL.RawQuery = "x=2" }, "SignatureDoesNotMatch")
	tamper("path changed after signing", func(req *http.Request) { req.URL.Path = "/bucket/other" }, "SignatureDoesNotMatch")
	tamper("signed header changed after signing", func(req *http.Request) { req.Header.Set("Content-Type", "text/html") }, "SignatureDoesNotMatch")
}

// Known answers from the Amazon S3 documentation ("Signature Calculations for the
// Authorization Header: Transferring Payload in a Single Chunk"), so the scheme is checked
// against AWS's own figures and not only against the SDK it uses.
func TestSigV4MatchesTheS3DocumentationExamples(t *testing.T) {
	clk := clock.NewFake(time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC))
	ap := mustNew(t, &config.Auth{Kind: config.AuthAWSSigV4, AccessKey: lit(accessKey), SecretKey: envVal("K"), Region: lit("us-east-1"), Service: "s3"},
		map[string]string{"K": secretKey}, credential.Options{Clock: clk})
	tests := []struct {
		name, target string
		header       map[string]string
		signed, sig  string
	}{
		{"GET Object", "/test.txt", map[string]string{"Range": "bytes=0-9"},
			"host;range;x-amz-content-sha256;x-amz-date", "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"},
		{"GET Bucket Lifecycle", "/?lifecycle", nil,
			"host;x-amz-content-sha256;x-amz-date", "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"},
		{"Get Bucket (List Objects)", "/?max-keys=2&prefix=J", nil,
			"host;x-amz-content-sha256;x-amz-date", "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "https://examplebucket.s3.amazonaws.com"+tt.target, nil)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			if err := ap.Apply(context.Background(), req, nil); err != nil {
				t.Fatal(err)
			}
			want := "AWS4-HMAC-SHA256 Credential=" + accessKey + "/20130524/us-east-1/s3/aws4_request, SignedHeaders=" + tt.signed + ", Signature=" + tt.sig
			if got := req.Header.Get("Authorization"); got != want {
				t.Errorf("Authorization =\n %s\nwant\n %s", got, want)
			}
			if got := req.Header.Get("X-Amz-Date"); got != "20130524T000000Z" {
				t.Errorf("X-Amz-Date = %q", got)
			}
			if got := req.Header.Get("X-Amz-Content-Sha256"); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
				t.Errorf("X-Amz-Content-Sha256 = %q", got)
			}
		})
	}
}
