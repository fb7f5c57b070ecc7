package telemetry

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/junctionhq/junction/internal/redact"
)

// otlpHTTPExporter exports spans over OTLP/HTTP in protobuf, encoded by otlpEncoder (see
// otlpencode.go for why not the SDK's exporter). It reads the exporter variables the
// specification defines for headers, timeout and compression; StartTracing leaves
// certificates and client keys to the SDK's exporter.
type otlpHTTPExporter struct {
	url     string
	header  http.Header
	gzip    bool
	client  *http.Client
	backoff time.Duration // the first wait before retrying a collector that is busy

	mu       sync.Mutex // the encoder's buffers; the batcher exports one batch at a time anyway
	enc      otlpEncoder
	zipped   bytes.Buffer
	zw       *gzip.Writer
	shutdown bool
}

// otlpTLSVariables are the variables that make StartTracing use the SDK's exporter.
var otlpTLSVariables = []string{"CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY"}

// usesOTLPTLSVariables reports whether any OTEL_EXPORTER_OTLP_(TRACES_)CERTIFICATE,
// CLIENT_CERTIFICATE or CLIENT_KEY is set.
func usesOTLPTLSVariables(getenv func(string) string) bool {
	for _, v := range otlpTLSVariables {
		if otlpSetting(getenv, v) != "" {
			return true
		}
	}
	return false
}

// otlpSetting is OTEL_EXPORTER_OTLP_TRACES_<name>, else OTEL_EXPORTER_OTLP_<name>.
func otlpSetting(getenv func(string) string, name string) string {
	if v := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_" + name)); v != "" {
		return v
	}
	return strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_" + name))
}

// newOTLPHTTPExporter makes the exporter sending to endpoint (the full URL, with
// /v1/traces), configured by the OTEL_EXPORTER_OTLP_(TRACES_)HEADERS, TIMEOUT and
// COMPRESSION variables. A value it cannot read is an error, not a default.
func newOTLPHTTPExporter(endpoint string, getenv func(string) string) (*otlpHTTPExporter, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("telemetry: OTLP endpoint %q is not an http(s) URL", redact.URL(endpoint))
	}
	header, err := parseOTLPHeaders(otlpSetting(getenv, "HEADERS"))
	if err != nil {
		return nil, err
	}
	timeout := 10 * time.Second
	if v := otlpSetting(getenv, "TIMEOUT"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return nil, fmt.Errorf("telemetry: OTEL_EXPORTER_OTLP_TIMEOUT=%q is not a positive number of milliseconds", v)
		}
		timeout = time.Duration(ms) * time.Millisecond
	}
	x := &otlpHTTPExporter{url: u.String(), header: header, backoff: time.Second}
	switch c := strings.ToLower(otlpSetting(getenv, "COMPRESSION")); c {
	case "gzip":
		x.gzip = true
		x.zw = gzip.NewWriter(&x.zipped)
	case "", "none":
	default:
		return nil, fmt.Errorf("telemetry: OTEL_EXPORTER_OTLP_COMPRESSION=%q is not supported: use gzip or none", c)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone() // proxies from the environment, as the SDK's
	transport.MaxIdleConnsPerHost = 2
	x.client = &http.Client{Transport: transport, Timeout: timeout}
	header.Set("Content-Type", "application/x-protobuf")
	header.Set("User-Agent", "junction-otlp-exporter")
	if x.gzip {
		header.Set("Content-Encoding", "gzip")
	}
	return x, nil
}

// parseOTLPHeaders reads OTEL_EXPORTER_OTLP_HEADERS: key=value pairs separated by
// commas, values percent-encoded.
func parseOTLPHeaders(s string) (http.Header, error) {
	h := http.Header{}
	for pair := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		value, err := url.PathUnescape(strings.TrimSpace(v))
		if !ok || k == "" || err != nil {
			// Not the pair itself: its value is most likely a credential.
			return nil, fmt.Errorf("telemetry: OTEL_EXPORTER_OTLP_HEADERS: an entry is not key=value with a percent-encoded value")
		}
		h.Add(k, value)
	}
	return h, nil
}

// ExportSpans implements sdktrace.SpanExporter: one POST of the whole batch, repeated
// while the collector answers that it is busy (429, 502, 503, 504) and ctx allows.
func (x *otlpHTTPExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.shutdown {
		return errors.New("telemetry: OTLP exporter is shut down")
	}
	body := x.enc.request(spans)
	if x.gzip {
		x.zipped.Reset()
		x.zw.Reset(&x.zipped)
		if _, err := x.zw.Write(body); err != nil {
			return fmt.Errorf("telemetry: compress spans: %w", err)
		}
		if err := x.zw.Close(); err != nil {
			return fmt.Errorf("telemetry: compress spans: %w", err)
		}
		body = x.zipped.Bytes()
	}
	wait := x.backoff
	for {
		retryAfter, err := x.post(ctx, body)
		if err == nil || retryAfter < 0 {
			return err
		}
		if retryAfter > 0 {
			wait = retryAfter
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// post sends body once. On failure it says whether to retry: -1 not, 0 after the
// backoff, more after that long (the collector's Retry-After).
func (x *otlpHTTPExporter) post(ctx context.Context, body []byte) (retryAfter time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, x.url, bytes.NewReader(body))
	if err != nil {
		return -1, fmt.Errorf("telemetry: export spans: %w", err)
	}
	req.Header = x.header.Clone()
	resp, err := x.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return -1, fmt.Errorf("telemetry: export spans: %w", err)
		}
		return 0, fmt.Errorf("telemetry: export spans: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection is kept
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return 0, nil
	}
	err = fmt.Errorf("telemetry: export spans: the collector answered %s: %s", resp.Status, firstLine(answer))
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s > 0 {
			return time.Duration(s) * time.Second, err
		}
		return 0, err
	}
	return -1, err
}

// firstLine is the start of a collector's error answer, for the log line.
func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return "(no body)"
	}
	return strconv.Quote(s)
}

// Shutdown implements sdktrace.SpanExporter: later exports fail.
func (x *otlpHTTPExporter) Shutdown(context.Context) error {
	x.mu.Lock()
	x.shutdown = true
	x.mu.Unlock()
	x.client.CloseIdleConnections()
	return nil
}
