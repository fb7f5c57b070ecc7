package builtin

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

var flowPath = regexp.MustCompile(`^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$`)

var httpSpec = &option.Spec{
	Summary: `POSTs to Junction's /in/{path} as a source. The request is answered 202 only after the
message was delivered or safely in the dead-letter queue, and 503 when the flow handed it back,
so the caller sends it again: the caller's retry is what makes it at-least-once. Bodies are
JSON unless format says otherwise; the server refuses (400) a body that does not decode.`,
	Fields: []option.Field{
		{Name: "path", Type: option.String, Required: option.Source, Example: `"partners/acme"`,
			Description: "the path under /in/ that the flow receives",
			Parse: option.Check(func(path string) error {
				if !flowPath.MatchString(path) || strings.Contains("/"+path+"/", "/../") || strings.Contains("/"+path+"/", "/./") {
					return errors.New("expected a path such as orders or partners/acme (letters, digits, . _ ~ -, separated by /)")
				}
				return nil
			})},
		// The server checks a body against the format (and decodes it) before the flow
		// sees it: docs/formats.md, "HTTP".
		option.Format(),
	},
	Examples: []option.Example{
		{Role: option.Source, Title: "POST /in/orders", Options: `path: "orders"`},
		{Role: option.Source, Title: "XML documents POSTed to /in/partners/acme", Options: `path: "partners/acme"
format: xml`},
	},
}

func httpKind() connector.Kind {
	return connector.Kind{
		Name: "http",
		Spec: httpSpec,
		NewSource: func(s connector.Settings) (connector.Source, error) {
			v, err := s.Decode(httpSpec, option.Source)
			if err != nil {
				return nil, err
			}
			return &httpSource{c: s.Connector, in: s.Env.Internal, path: v.String("path"), flow: s.Flow}, nil
		},
		Check: func(context.Context, connector.Settings) error { return nil },
	}
}

type httpSource struct {
	pushSource
	c    *config.Connector
	in   connector.Internal
	path string
	flow string // the flow it is the source of, whose format the server asks for
	seq  atomic.Int64
}

// ErrRequeued is the answer to a request whose message the flow handed back (it is
// stopping, or its dead-letter queue was unavailable): the caller should send it again.
var ErrRequeued = errors.New("the flow could not take the message now; send it again")

func (h *httpSource) Open(ctx context.Context, _ int) (<-chan connector.Delivery, error) {
	in, err := internal(h.c, h.in)
	if err != nil {
		return nil, err
	}
	stop, err := in.HandleHTTP(h.path, h.flow, func(rctx context.Context, m connector.Message) error {
		settled := make(chan error, 1)
		d := connector.Delivery{
			Message: m,
			ID:      fmt.Sprintf("http:%s:%d", h.path, h.seq.Add(1)),
			Ack:     func(context.Context) error { settled <- nil; return nil },
			Nack:    func(context.Context) error { settled <- ErrRequeued; return nil },
		}
		if !h.push(rctx, d) {
			return ErrRequeued
		}
		select {
		case err := <-settled:
			return err
		case <-rctx.Done():
			// The caller left; the flow still finishes the message.
			return rctx.Err()
		}
	})
	if err != nil {
		return nil, err
	}
	ch := h.open(ctx)
	h.mu.Lock()
	h.stop = stop
	h.mu.Unlock()
	return ch, nil
}
