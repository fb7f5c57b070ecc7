package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/redact"
)

// call checks that op can be called, builds its request from params and runs it through
// op's pipeline (or hands it to the batcher, which sends the batch through the batch
// operation's pipeline).
func (c *client) call(ctx context.Context, op *operation, params map[string]any, co CallOptions) (*Result, error) {
	if c.misconfigured != "" {
		return nil, &Error{Kind: KindMisconfigured, Integration: c.name, Operation: op.name, Detail: "integration is misconfigured: " + c.misconfigured}
	}
	if op.internal && op.run == nil {
		return nil, &Error{Kind: KindNotImplemented, Integration: c.name, Operation: op.name, Detail: "method: internal operations compute presigned URLs of aws_signature_v4 integrations; this one computes nothing"}
	}
	var x *exchange
	var err error
	if op.socket {
		x, err = c.prepareSocket(op, params)
	} else {
		x, err = c.prepare(op, params, co.Body)
	}
	if err != nil {
		return nil, err
	}
	if op.batched {
		return c.batcher.submit(ctx, x)
	}
	x.callerKey = co.IdempotencyKey
	return op.run(ctx, x)
}

func (c *client) forward(ctx context.Context, fr ForwardRequest) (*Result, error) {
	if c.misconfigured != "" {
		return nil, &Error{Kind: KindMisconfigured, Integration: c.name, Operation: "proxy", Detail: "integration is misconfigured: " + c.misconfigured}
	}
	if c.typ == string(config.TypeWebSocket) {
		return nil, &Error{Kind: KindInvalidParams, Integration: c.name, Operation: "proxy", Detail: "a websocket integration is reached through its operations and feeds, not the HTTP proxy"}
	}
	if !slices.Contains(ForwardMethods, fr.Method) {
		return nil, &Error{Kind: KindInvalidParams, Integration: c.name, Operation: "proxy", Detail: fmt.Sprintf("method %s is not forwarded; allowed: %s", fr.Method, strings.Join(ForwardMethods, ", "))}
	}
	u, err := c.forwardURL(fr)
	if err != nil {
		return nil, &Error{Kind: KindInvalidParams, Integration: c.name, Operation: "proxy", Detail: err.Error()}
	}
	// The caller adds headers; it never replaces the integration's own (static headers
	// here, credentials when each attempt is sent).
	header := make(http.Header, len(fr.Header)+len(c.staticHeaders))
	for k, vs := range fr.Header {
		header[k] = slices.Clone(vs)
	}
	for k, vs := range c.staticHeaders {
		header[k] = slices.Clone(vs)
	}
	x := &exchange{op: c.proxy, method: fr.Method, url: u, header: header, body: fr.Body}
	return c.proxy.run(ctx, x)
}

// parseSocketURL parses a websocket integration's ws:// or wss:// base URL.
func parseSocketURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return nil, fmt.Errorf("%q is not a ws:// or wss:// URL", redact.URL(s))
	}
	return u, nil
}

func parseHTTPURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", redact.URL(s)) // a base URL may hold a key
	}
	return u, nil
}
