package credential

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
)

// contentSHA256Header carries the payload hash. S3 requires it on every request; other
// services accept it, and signing it binds the body to the signature everywhere.
const contentSHA256Header = "X-Amz-Content-Sha256"

// sigV4 signs requests with AWS Signature Version 4, using the AWS SDK's signer: the
// canonical request has many details (query and path encoding, header folding, S3's
// unescaped paths) that a home-grown signer would get subtly wrong.
type sigV4 struct {
	creds   aws.Credentials
	region  string
	service string
	signer  *v4.Signer
	clock   clock.Clock
	// s3 services take the path as sent: the SDK's S3 client disables the second
	// escaping of the path in the canonical request, and so must we.
	s3 bool
}

func newSigV4(r *resolver, a *config.Auth, opts Options) (Applier, error) {
	s := &sigV4{
		creds: aws.Credentials{
			AccessKeyID:     r.required("access_key", a.AccessKey),
			SecretAccessKey: r.required("secret_key", a.SecretKey),
			SessionToken:    r.optional("session_token", a.SessionToken),
			Source:          "junction configuration",
		},
		region:  r.required("region", a.Region),
		service: a.Service,
		signer:  v4.NewSigner(),
		clock:   opts.Clock,
	}
	if s.service == "" {
		return nil, fmt.Errorf("auth aws_signature_v4: missing service")
	}
	s.s3 = s.service == "s3" || strings.HasPrefix(s.service, "s3-") // s3, s3-object-lambda, s3-outposts
	return s, nil
}

// Apply signs req in place: it sets X-Amz-Content-Sha256, X-Amz-Date, X-Amz-Security-Token
// (with a session token) and Authorization, and rewrites the query into its canonical
// form. Every header present is signed, so Apply must be the last change to req.
func (s *sigV4) Apply(ctx context.Context, req *http.Request, body []byte) error {
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	req.Header.Set(contentSHA256Header, payloadHash)
	if len(body) > 0 && req.Body != nil && req.ContentLength <= 0 {
		// The signer signs Content-Length only when it is known, and S3 refuses
		// unsigned chunked uploads; body is the exact body, so its length is known.
		req.ContentLength = int64(len(body))
	}
	err := s.signer.SignHTTP(ctx, s.creds, req, payloadHash, s.service, s.region, s.clock.Now(),
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = s.s3 })
	if err != nil {
		return fmt.Errorf("credential: aws_signature_v4: sign: %w", err)
	}
	return nil
}

// Rejected is false: the same keys sign the retry, so retrying cannot help.
func (s *sigV4) Rejected(context.Context, *http.Request) bool { return false }

// Secrets are the secret key and the session token; the access key id is an identifier
// AWS itself puts in error messages.
func (s *sigV4) Secrets() []string {
	return []string{s.creds.SecretAccessKey, s.creds.SessionToken}
}

func (s *sigV4) String() string   { return string(config.AuthAWSSigV4) }
func (s *sigV4) GoString() string { return s.String() }

// Presigner makes presigned URLs: the credentials go into the URL's query, for a
// request that someone else makes later, without the keys.
type Presigner interface {
	// Presign returns u signed for a request of method with header (which that request
	// must send as given), valid for expires from signedAt.
	Presign(ctx context.Context, method string, u *url.URL, header http.Header, expires time.Duration, signedAt time.Time) (string, error)
}

var _ Presigner = (*sigV4)(nil)

// unsignedPayload is what a presigned S3 URL signs instead of the body, which its user
// sends later: S3's documented value for query-string authentication.
const unsignedPayload = "UNSIGNED-PAYLOAD"

// Presign signs with SigV4 query-string authentication: the SDK adds X-Amz-Algorithm,
// -Credential, -Date, -SignedHeaders (host and the given headers), -Security-Token with
// a session token, and -Signature to the query; X-Amz-Expires is set here. S3 signs
// UNSIGNED-PAYLOAD, other services the hash of an empty body.
func (s *sigV4) Presign(ctx context.Context, method string, u *url.URL, header http.Header, expires time.Duration, signedAt time.Time) (string, error) {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("credential: aws_signature_v4: presign: %w", err)
	}
	req.Header = header.Clone()
	q := req.URL.Query()
	q.Set("X-Amz-Expires", strconv.FormatInt(int64(expires/time.Second), 10))
	req.URL.RawQuery = q.Encode()
	payload := unsignedPayload
	if !s.s3 {
		sum := sha256.Sum256(nil)
		payload = hex.EncodeToString(sum[:])
	}
	signed, _, err := s.signer.PresignHTTP(ctx, s.creds, req, payload, s.service, s.region, signedAt,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = s.s3 })
	if err != nil {
		return "", fmt.Errorf("credential: aws_signature_v4: presign: %w", err)
	}
	return signed, nil
}
