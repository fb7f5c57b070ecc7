package fakeapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/clock"
)

// maxBodyBytes bounds what a fake reads of a request body; larger bodies are cut, which
// the fakes then reject as malformed.
const maxBodyBytes = 32 << 20

// Recorded is one request a fake received and what it answered.
type Recorded struct {
	Method string
	// Host is the Host header: the name the client believed it was calling (for example
	// api.github.com when a test routes that name to the fake).
	Host     string
	Path     string // decoded
	RawPath  string // as sent (escaped)
	RawQuery string
	Query    url.Values
	Header   http.Header
	Body     []byte

	Status         int         // the status the fake answered; 0 if it never did (a held request the client gave up on)
	ResponseHeader http.Header // the headers it answered with
}

// Server is what every fake has: the HTTP server, the request log and the failure knobs.
// Its methods are promoted to each fake.
type Server struct {
	srv   *httptest.Server
	clock clock.Clock
	// failure writes an injected failure in the API's own error shape.
	failure func(w http.ResponseWriter, r *http.Request, status int)
	handler http.Handler

	mu       sync.Mutex
	log      []Recorded
	failNext []injected // the injected failures still to answer, in order
	down     bool
	held     chan struct{} // while set, requests wait for it to be closed
}

// start serves h (wrapped in the recording and failure layer) and closes it when the
// test ends.
func start(t testing.TB, clk clock.Clock, failure func(http.ResponseWriter, *http.Request, int), h http.Handler) *Server {
	t.Helper()
	if clk == nil {
		clk = clock.Real{}
	}
	s := &Server{clock: clk, failure: failure, handler: h}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	return s
}

// startTLS is start for a fake that serves HTTPS with a certificate of its own, as a
// self-hosted service does (httptest's, for 127.0.0.1): CACert gives the PEM a client
// must trust.
func startTLS(t testing.TB, clk clock.Clock, failure func(http.ResponseWriter, *http.Request, int), h http.Handler) *Server {
	t.Helper()
	if clk == nil {
		clk = clock.Real{}
	}
	s := &Server{clock: clk, failure: failure, handler: h}
	s.srv = httptest.NewUnstartedServer(s)
	// A client that does not trust the certificate is a case tests make on purpose;
	// the server's log of its refused handshake is noise.
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.StartTLS()
	t.Cleanup(s.srv.Close)
	return s
}

// CACert is the PEM of the certificate a TLS fake serves with (nil for plain HTTP
// fakes): what a client puts in `tls { ca }` to trust it.
func (s *Server) CACert() []byte {
	if s.srv.Certificate() == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
}

// URL is the fake's base URL (http://127.0.0.1:port, https:// for a TLS fake).
func (s *Server) URL() string { return s.srv.URL }

// Host is the fake's host:port, for a transport that routes a real API's name to it.
func (s *Server) Host() string { return s.srv.Listener.Addr().String() }

// Requests returns every request received so far, oldest first.
func (s *Server) Requests() []Recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Recorded, len(s.log))
	for i, r := range s.log {
		out[i] = r
		out[i].Header = r.Header.Clone()
		out[i].ResponseHeader = r.ResponseHeader.Clone()
		out[i].Query = cloneValues(r.Query)
		out[i].Body = slices.Clone(r.Body)
	}
	return out
}

// RequestsTo returns the requests with this method and (decoded) path.
func (s *Server) RequestsTo(method, path string) []Recorded {
	var out []Recorded
	for _, r := range s.Requests() {
		if r.Method == method && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// injected is a failure a test asked for.
type injected struct {
	status     int
	retryAfter time.Duration // sent as Retry-After when positive
}

// FailNext makes the next n requests fail with status before the fake looks at them, as
// a load balancer or an overloaded front end would: nothing is authenticated, processed
// or stored. The body is the API's usual error shape.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failNext = append(s.failNext, injected{status: status})
	}
}

// RateLimitNext makes the next n requests answer 429 Too Many Requests with
// Retry-After (whole seconds) before the fake looks at them, in the API's own shape
// for its rate limit: what a client over its quota gets.
func (s *Server) RateLimitNext(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failNext = append(s.failNext, injected{status: http.StatusTooManyRequests, retryAfter: retryAfter})
	}
}

// SetDown makes every request fail with 503 Service Unavailable until SetDown(false).
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Hold makes every request wait, once recorded, until release is called or the client
// gives up: an upstream that does not answer in time, without the test depending on how
// long anything takes. Call release before the test ends (closing the server waits for
// held requests).
func (s *Server) Hold() (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.held = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.held == ch {
				s.held = nil
			}
			s.mu.Unlock()
			close(ch)
		})
	}
}

// ServeHTTP records the request, answers an injected failure if one is due, and hands
// the request to the fake's handler otherwise.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if err != nil {
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	s.mu.Lock()
	// The entry is in the log before any answer leaves, so a test that has its response
	// always finds its request here.
	idx := len(s.log)
	s.log = append(s.log, Recorded{
		Method: r.Method, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.EscapedPath(),
		RawQuery: r.URL.RawQuery, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body,
	})
	held := s.held
	var fail injected
	switch {
	case s.down:
		fail.status = http.StatusServiceUnavailable
	case len(s.failNext) > 0:
		fail, s.failNext = s.failNext[0], s.failNext[1:]
	}
	s.mu.Unlock()

	if held != nil {
		select {
		case <-held:
		case <-r.Context().Done():
			return // the client gave up; nobody reads an answer
		}
	}
	rw := &recordingWriter{ResponseWriter: w, s: s, idx: idx}
	if fail.status != 0 {
		if fail.retryAfter > 0 {
			rw.Header().Set("Retry-After", strconv.Itoa(int((fail.retryAfter+time.Second-1)/time.Second)))
		}
		s.failure(rw, r, fail.status)
		return
	}
	s.handler.ServeHTTP(rw, r)
}

// recordingWriter notes the status and headers in the log as they are sent.
type recordingWriter struct {
	http.ResponseWriter
	s       *Server
	idx     int
	written bool
}

func (w *recordingWriter) WriteHeader(status int) {
	if w.written {
		return
	}
	w.written = true
	w.s.mu.Lock()
	w.s.log[w.idx].Status = status
	w.s.log[w.idx].ResponseHeader = w.Header().Clone()
	w.s.mu.Unlock()
	w.ResponseWriter.WriteHeader(status)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// writeJSON answers v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// fakeID makes an identifier that looks like the service's (a prefix and base62
// characters) but is deterministic: the n-th object of a fake always has the same id, so
// test failures are reproducible.
func fakeID(prefix string, n int, length int) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	sum := sha256.Sum256(fmt.Appendf(nil, "%s%d", prefix, n))
	out := make([]byte, 0, length)
	for i := 0; len(out) < length; i++ {
		out = append(out, alphabet[int(sum[i%len(sum)]+byte(i/len(sum)))%len(alphabet)])
	}
	return prefix + string(out)
}
