package fakeapi

import (
	"cmp"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/junctionhq/junction/internal/clock"
)

// S3Config configures the S3 fake.
type S3Config struct {
	AccessKeyID     string // required
	SecretAccessKey string // required
	SessionToken    string // when set, requests must carry it (temporary credentials)
	Region          string // default us-east-1
	Buckets         []string
	Clock           clock.Clock // signature clock-skew check and Last-Modified; default the wall clock
}

// S3Object is an object stored in the S3 fake.
type S3Object struct {
	Data         []byte
	ContentType  string
	ETag         string // quoted, as S3 answers it
	VersionID    string
	LastModified time.Time
	Metadata     map[string]string // x-amz-meta-*, by lower-case suffix
}

// S3 is a fake of path-style Amazon S3 (http://host/{bucket}/{key}), with versioning
// enabled on its buckets:
//
//   - PUT /{bucket}/{key}: stores the bytes (Content-Type, x-amz-meta-*, Content-MD5
//     checked when sent); 200 with ETag and x-amz-version-id and an empty body
//   - GET and HEAD /{bucket}/{key}: the bytes with Content-Type, ETag, Last-Modified and
//     x-amz-version-id; 404 NoSuchKey
//   - DELETE /{bucket}/{key}: 204, whether the key existed or not, as S3 does
//   - GET /{bucket}: ListObjectsV2 with list-type=2 (prefix, delimiter, max-keys,
//     continuation-token, start-after), ListObjects (v1, with marker) without; the
//     answer is S3's XML ListBucketResult
//   - PUT /{bucket}: CreateBucket
//
// Unknown buckets are 404 NoSuchBucket. Every error is S3's XML <Error><Code>…
//
// Every request must be signed with AWS Signature Version 4, and the fake verifies it the
// way S3 does: it rebuilds the request from what it received (method, path, query and
// the headers listed in SignedHeaders), re-signs it with the AWS SDK's signer, the secret
// it holds for the access key, the region, service s3 and the time in X-Amz-Date, and
// compares the signatures (403 SignatureDoesNotMatch). X-Amz-Content-Sha256 must be the
// SHA-256 of the body received (400 XAmzContentSHA256Mismatch), X-Amz-Date within 15
// minutes of the fake's clock (403 RequestTimeTooSkewed), and every x-amz-* header
// signed. The fake is stricter than S3 in one way: it refuses UNSIGNED-PAYLOAD and
// streaming (chunked) signatures, so a client that stops binding its body to the
// signature is noticed.
//
// Presigned URLs (query-string authentication) are verified the same way, by
// presigning the received request again (authenticatePresigned): expired is 403
// AccessDenied "Request has expired", a wrong signature 403 SignatureDoesNotMatch.
type S3 struct {
	*Server
	cfg S3Config

	mu      sync.Mutex
	seq     int
	buckets map[string]map[string]*S3Object
}

// NewS3 starts the fake; it is closed when the test ends.
func NewS3(t testing.TB, cfg S3Config) *S3 {
	t.Helper()
	if cfg.AccessKeyID == "" || cfg.SecretAccessKey == "" {
		t.Fatal("fakeapi.NewS3: AccessKeyID and SecretAccessKey are required")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	s := &S3{cfg: cfg, buckets: map[string]map[string]*S3Object{}}
	for _, b := range cfg.Buckets {
		s.buckets[b] = map[string]*S3Object{}
	}
	s.Server = start(t, cfg.Clock, func(w http.ResponseWriter, r *http.Request, status int) {
		code := map[int]string{http.StatusServiceUnavailable: "SlowDown", http.StatusInternalServerError: "InternalError"}[status]
		s.fail(w, r, status, cmp.Or(code, "ServiceUnavailable"), "Please reduce your request rate.", nil)
	}, http.HandlerFunc(s.serve))
	return s
}

// CreateBucket adds an empty bucket (no-op if it exists).
func (s *S3) CreateBucket(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets[name] == nil {
		s.buckets[name] = map[string]*S3Object{}
	}
}

// PutObject stores an object directly, for test setup.
func (s *S3) PutObject(bucket, key string, data []byte, contentType string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets[bucket] == nil {
		s.buckets[bucket] = map[string]*S3Object{}
	}
	s.storeLocked(bucket, key, data, contentType, nil)
}

// Object returns a stored object.
func (s *S3) Object(bucket, key string) (S3Object, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.buckets[bucket][key]
	if !ok {
		return S3Object{}, false
	}
	c := *o
	c.Data = slices.Clone(o.Data)
	return c, true
}

// Keys lists a bucket's keys in order.
func (s *S3) Keys(bucket string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.buckets[bucket]))
	for k := range s.buckets[bucket] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (s *S3) storeLocked(bucket, key string, data []byte, contentType string, meta map[string]string) *S3Object {
	s.seq++
	sum := md5.Sum(data)
	o := &S3Object{Data: slices.Clone(data), ContentType: contentType, ETag: `"` + hex.EncodeToString(sum[:]) + `"`,
		VersionID: fakeID("", s.seq, 32), LastModified: s.clock.Now().UTC().Truncate(time.Second), Metadata: meta}
	s.buckets[bucket][key] = o
	return o
}

type s3ErrorBody struct {
	XMLName           xml.Name `xml:"Error"`
	Code              string
	Message           string
	Key               string `xml:",omitempty"`
	BucketName        string `xml:",omitempty"`
	AWSAccessKeyID    string `xml:"AWSAccessKeyId,omitempty"`
	SignatureProvided string `xml:",omitempty"`
	RequestID         string `xml:"RequestId"`
	HostID            string `xml:"HostId"`
}

// fail writes an S3 error document; extra fills the optional members.
func (s *S3) fail(w http.ResponseWriter, r *http.Request, status int, code, msg string, extra func(*s3ErrorBody)) {
	e := s3ErrorBody{Code: code, Message: msg, RequestID: w.Header().Get("x-amz-request-id"), HostID: "fakeapi"}
	if extra != nil {
		extra(&e)
	}
	out, _ := xml.Marshal(e)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method != http.MethodHead { // HEAD answers carry no body, errors included
		_, _ = w.Write(append([]byte(xml.Header), out...))
	}
}

func (s *S3) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.seq++
	w.Header().Set("x-amz-request-id", strings.ToUpper(fakeID("", s.seq, 16)))
	s.mu.Unlock()
	body := readBody(r)
	if status, code, msg := s.authenticate(r, body); code != "" {
		s.fail(w, r, status, code, msg, func(e *s3ErrorBody) {
			if code == "SignatureDoesNotMatch" {
				e.AWSAccessKeyID = s.cfg.AccessKeyID
				_, sig, _ := strings.Cut(r.Header.Get("Authorization"), "Signature=")
				e.SignatureProvided = cmp.Or(sig, r.URL.Query().Get("X-Amz-Signature"))
			}
		})
		return
	}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if bucket == "" {
		s.fail(w, r, http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.", nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Method == http.MethodPut && key == "" {
		if s.buckets[bucket] != nil {
			s.fail(w, r, http.StatusConflict, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.",
				func(e *s3ErrorBody) { e.BucketName = bucket })
			return
		}
		s.buckets[bucket] = map[string]*S3Object{}
		w.Header().Set("Location", "/"+bucket)
		w.WriteHeader(http.StatusOK)
		return
	}
	objects := s.buckets[bucket]
	if objects == nil {
		s.fail(w, r, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist", func(e *s3ErrorBody) { e.BucketName = bucket })
		return
	}
	switch {
	case key == "" && r.Method == http.MethodGet:
		s.list(w, r, bucket, objects)
	case key != "" && r.Method == http.MethodPut:
		if md := r.Header.Get("Content-MD5"); md != "" {
			sum := md5.Sum(body)
			if md != base64.StdEncoding.EncodeToString(sum[:]) {
				s.fail(w, r, http.StatusBadRequest, "BadDigest", "The Content-MD5 you specified did not match what we received.", nil)
				return
			}
		}
		meta := map[string]string{}
		for k, vs := range r.Header {
			if name, ok := strings.CutPrefix(strings.ToLower(k), "x-amz-meta-"); ok {
				meta[name] = vs[0]
			}
		}
		o := s.storeLocked(bucket, key, body, cmp.Or(r.Header.Get("Content-Type"), "binary/octet-stream"), meta)
		w.Header().Set("ETag", o.ETag)
		w.Header().Set("x-amz-version-id", o.VersionID)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
	case key != "" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		o, ok := objects[key]
		if !ok {
			s.fail(w, r, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.", func(e *s3ErrorBody) { e.Key = key })
			return
		}
		h := w.Header()
		h.Set("Content-Type", o.ContentType)
		h.Set("ETag", o.ETag)
		h.Set("Last-Modified", o.LastModified.Format(http.TimeFormat))
		h.Set("x-amz-version-id", o.VersionID)
		h.Set("Accept-Ranges", "bytes")
		h.Set("Content-Length", strconv.Itoa(len(o.Data)))
		for k, v := range o.Metadata {
			h.Set("x-amz-meta-"+k, v)
		}
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(o.Data)
		}
	case key != "" && r.Method == http.MethodDelete:
		delete(objects, key)
		w.WriteHeader(http.StatusNoContent)
	default:
		s.fail(w, r, http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.", nil)
	}
}

// authenticate checks the SigV4 Authorization header the way S3 does. It returns the
// error status, code and message, or an empty code when the request is genuine.
func (s *S3) authenticate(r *http.Request, body []byte) (int, string, string) {
	const alg = "AWS4-HMAC-SHA256 "
	authz := r.Header.Get("Authorization")
	if r.URL.Query().Has("X-Amz-Signature") {
		return s.authenticatePresigned(r)
	}
	if !strings.HasPrefix(authz, alg) {
		return http.StatusForbidden, "AccessDenied", "Access Denied"
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(strings.TrimPrefix(authz, alg), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/") // AKID/yyyymmdd/region/service/aws4_request
	if len(scope) != 5 || scope[4] != "aws4_request" || fields["SignedHeaders"] == "" || fields["Signature"] == "" {
		return http.StatusBadRequest, "AuthorizationHeaderMalformed", "The authorization header is malformed; the Credential is mal-formed."
	}
	akid, day, region, service := scope[0], scope[1], scope[2], scope[3]
	if akid != s.cfg.AccessKeyID {
		return http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
	}
	if region != s.cfg.Region {
		return http.StatusBadRequest, "AuthorizationHeaderMalformed", fmt.Sprintf("The authorization header is malformed; the region '%s' is wrong; expecting '%s'", region, s.cfg.Region)
	}
	if service != "s3" {
		return http.StatusBadRequest, "AuthorizationHeaderMalformed", fmt.Sprintf("The authorization header is malformed; incorrect service '%s'. This endpoint belongs to 's3'.", service)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	signedAt, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return http.StatusForbidden, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header"
	}
	if amzDate[:8] != day {
		return http.StatusBadRequest, "AuthorizationHeaderMalformed", fmt.Sprintf("The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date: %s.", day)
	}
	if skew := s.clock.Now().Sub(signedAt); skew > 15*time.Minute || skew < -15*time.Minute {
		return http.StatusForbidden, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large."
	}
	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	switch {
	case payloadHash == "":
		return http.StatusBadRequest, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256"
	case payloadHash == "UNSIGNED-PAYLOAD" || strings.HasPrefix(payloadHash, "STREAMING-"):
		return http.StatusBadRequest, "InvalidRequest", "The fake S3 requires the payload to be signed (x-amz-content-sha256 must be the body's SHA-256)."
	}
	sum := sha256.Sum256(body)
	if payloadHash != hex.EncodeToString(sum[:]) {
		return http.StatusBadRequest, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	for _, h := range []string{"host", "x-amz-content-sha256", "x-amz-date"} {
		if !slices.Contains(signed, h) {
			return http.StatusForbidden, "AccessDenied", "Header " + h + " must be signed"
		}
	}
	for name := range r.Header {
		if lower := strings.ToLower(name); strings.HasPrefix(lower, "x-amz-") && !slices.Contains(signed, lower) {
			return http.StatusForbidden, "AccessDenied", "There were headers present in the request which were not signed: " + lower
		}
	}
	if s.cfg.SessionToken != "" && r.Header.Get("X-Amz-Security-Token") != s.cfg.SessionToken {
		return http.StatusForbidden, "InvalidToken", "The provided token is malformed or otherwise invalid."
	}

	// A copy of the received request with only what the signature covers, signed afresh.
	u, err := url.Parse("http://" + r.Host + r.RequestURI)
	if err != nil {
		return http.StatusBadRequest, "InvalidURI", "Couldn't parse the specified URI."
	}
	cp, err := http.NewRequestWithContext(context.Background(), r.Method, u.String(), nil)
	if err != nil {
		return http.StatusBadRequest, "InvalidURI", "Couldn't parse the specified URI."
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
	creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: s.cfg.SecretAccessKey, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	err = v4.NewSigner().SignHTTP(context.Background(), creds, cp, payloadHash, service, region, signedAt,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }) // S3 signs the path as sent
	if err != nil {
		return http.StatusInternalServerError, "InternalError", err.Error()
	}
	if subtle.ConstantTimeCompare([]byte(cp.Header.Get("Authorization")), []byte(authz)) != 1 {
		return http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method."
	}
	return 0, "", ""
}

// authenticatePresigned checks query-string authentication (a presigned URL) the way
// S3 does: the X-Amz-* parameters must be complete and consistent, the URL not expired
// on the fake's clock (X-Amz-Date + X-Amz-Expires, at most 7 days), and the signature
// the one the AWS SDK's presigner makes for the received method, path, query and
// signed headers with UNSIGNED-PAYLOAD; the body is not covered.
func (s *S3) authenticatePresigned(r *http.Request) (int, string, string) {
	q := r.URL.Query()
	if r.Header.Get("Authorization") != "" {
		return http.StatusBadRequest, "InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified"
	}
	if q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" {
		return http.StatusBadRequest, "AuthorizationQueryParametersError", "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\""
	}
	scope := strings.Split(q.Get("X-Amz-Credential"), "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || q.Get("X-Amz-SignedHeaders") == "" {
		return http.StatusBadRequest, "AuthorizationQueryParametersError", "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"."
	}
	akid, day, region, service := scope[0], scope[1], scope[2], scope[3]
	if akid != s.cfg.AccessKeyID {
		return http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
	}
	if region != s.cfg.Region || service != "s3" {
		return http.StatusBadRequest, "AuthorizationQueryParametersError", fmt.Sprintf("Error parsing the X-Amz-Credential parameter; the region '%s' is wrong; expecting '%s'", region, s.cfg.Region)
	}
	signedAt, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil || q.Get("X-Amz-Date")[:8] != day {
		return http.StatusBadRequest, "AuthorizationQueryParametersError", "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\" and match the credential's date"
	}
	expires, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	switch {
	case err != nil || expires < 1:
		return http.StatusBadRequest, "AuthorizationQueryParametersError", "X-Amz-Expires should be a number"
	case expires > 604800:
		return http.StatusBadRequest, "AuthorizationQueryParametersError", "X-Amz-Expires must be less than a week (in seconds) that is 604800"
	case s.clock.Now().After(signedAt.Add(time.Duration(expires) * time.Second)):
		return http.StatusForbidden, "AccessDenied", "Request has expired"
	case s.clock.Now().Before(signedAt.Add(-15 * time.Minute)):
		return http.StatusForbidden, "AccessDenied", "Request is not valid yet"
	}
	if s.cfg.SessionToken != "" && q.Get("X-Amz-Security-Token") != s.cfg.SessionToken {
		return http.StatusForbidden, "InvalidToken", "The provided token is malformed or otherwise invalid."
	}
	// The request as its signer saw it: the query without what the presigner adds
	// (X-Amz-Expires stays: the caller sets it before presigning), the signed headers.
	rest := url.Values{}
	for k, vs := range q {
		switch k {
		case "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token":
		default:
			rest[k] = vs
		}
	}
	cp, err := http.NewRequestWithContext(context.Background(), r.Method, "http://"+r.Host+r.URL.EscapedPath()+"?"+rest.Encode(), nil)
	if err != nil {
		return http.StatusBadRequest, "InvalidURI", "Couldn't parse the specified URI."
	}
	cp.Host = r.Host
	for _, h := range strings.Split(q.Get("X-Amz-SignedHeaders"), ";") {
		if h != "host" {
			cp.Header[textproto.CanonicalMIMEHeaderKey(h)] = r.Header.Values(h)
		}
	}
	creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: s.cfg.SecretAccessKey, SessionToken: q.Get("X-Amz-Security-Token")}
	signed, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, cp, "UNSIGNED-PAYLOAD", service, region, signedAt,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		return http.StatusInternalServerError, "InternalError", err.Error()
	}
	want, _ := url.Parse(signed)
	if subtle.ConstantTimeCompare([]byte(want.Query().Get("X-Amz-Signature")), []byte(q.Get("X-Amz-Signature"))) != 1 {
		return http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method."
	}
	return 0, "", ""
}

// ListBucketResult is S3's listing document (v1 and v2 share it).
type listBucketResult struct {
	XMLName               xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string
	Prefix                string
	Marker                *string `xml:",omitempty"`
	NextMarker            string  `xml:",omitempty"`
	KeyCount              *int    `xml:",omitempty"`
	MaxKeys               int
	Delimiter             string `xml:",omitempty"`
	IsTruncated           bool
	ContinuationToken     string `xml:",omitempty"`
	NextContinuationToken string `xml:",omitempty"`
	StartAfter            string `xml:",omitempty"`
	Contents              []s3Contents
	CommonPrefixes        []s3CommonPrefix
}

type s3Contents struct {
	Key          string
	LastModified string
	ETag         string
	Size         int
	StorageClass string
}

type s3CommonPrefix struct{ Prefix string }

func (s *S3) list(w http.ResponseWriter, r *http.Request, bucket string, objects map[string]*S3Object) {
	q := r.URL.Query()
	v2 := q.Get("list-type") == "2"
	maxKeys := 1000
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.fail(w, r, http.StatusBadRequest, "InvalidArgument", "Provided max-keys not an integer or within integer range", nil)
			return
		}
		maxKeys = min(n, 1000) // S3 answers at most 1000 keys whatever is asked
	}
	prefix, delimiter := q.Get("prefix"), q.Get("delimiter")
	res := listBucketResult{Name: bucket, Prefix: prefix, MaxKeys: maxKeys, Delimiter: delimiter}
	after := ""
	if v2 {
		res.StartAfter = q.Get("start-after")
		after = res.StartAfter
		if tok := q.Get("continuation-token"); tok != "" {
			raw, err := base64.StdEncoding.DecodeString(tok)
			if err != nil || len(raw) == 0 {
				s.fail(w, r, http.StatusBadRequest, "InvalidArgument", "The continuation token provided is incorrect", nil)
				return
			}
			res.ContinuationToken, after = tok, string(raw)
		}
	} else {
		marker := q.Get("marker")
		res.Marker, after = &marker, marker
	}
	keys := make([]string, 0, len(objects))
	for k := range objects {
		// A page that ended on a common prefix resumes after all of that prefix's keys.
		skipped := delimiter != "" && strings.HasSuffix(after, delimiter) && strings.HasPrefix(k, after)
		if strings.HasPrefix(k, prefix) && k > after && !skipped {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	seenPrefix := map[string]bool{}
	count, last := 0, ""
	for _, k := range keys {
		if cp, _, ok := cutAfter(k, prefix, delimiter); ok {
			if seenPrefix[cp] {
				continue
			}
			if count == maxKeys {
				res.IsTruncated = true
				break
			}
			seenPrefix[cp] = true
			res.CommonPrefixes = append(res.CommonPrefixes, s3CommonPrefix{Prefix: cp})
			count, last = count+1, cp
			continue
		}
		if count == maxKeys {
			res.IsTruncated = true
			break
		}
		o := objects[k]
		res.Contents = append(res.Contents, s3Contents{Key: k, LastModified: o.LastModified.Format("2006-01-02T15:04:05.000Z"),
			ETag: o.ETag, Size: len(o.Data), StorageClass: "STANDARD"})
		count, last = count+1, k
	}
	if res.IsTruncated {
		if v2 {
			res.NextContinuationToken = base64.StdEncoding.EncodeToString([]byte(last))
		} else if delimiter != "" {
			res.NextMarker = last
		}
	}
	if v2 {
		res.KeyCount = &count
	}
	out, err := xml.Marshal(res)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "InternalError", err.Error(), nil)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append([]byte(xml.Header), out...))
}

// cutAfter returns the common prefix of key (up to and including the first delimiter
// after prefix), if the key has one.
func cutAfter(key, prefix, delimiter string) (string, string, bool) {
	if delimiter == "" {
		return "", "", false
	}
	rest := key[len(prefix):]
	i := strings.Index(rest, delimiter)
	if i < 0 {
		return "", "", false
	}
	return prefix + rest[:i+len(delimiter)], rest[i+len(delimiter):], true
}
