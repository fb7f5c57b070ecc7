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
)

var flowPath = regexp.MustCompile(`^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$`)

func httpKind() connector.Kind {
	return connector.Kind{
		Name: "http",
		NewSource: func(s connector.Settings) (connector.Source, error) {
			r := s.Reader()
			path := r.String("path", "", true)
			if path != "" && (!flowPath.MatchString(path) || strings.Contains("/"+path+"/", "/../") || strings.Contains("/"+path+"/", "/./")) {
				r.Fail("path", "expected a path such as orders or partners/acme (letters, digits, . _ ~ -, separated by /)")
			}
			if err := r.Done(); err != nil {
				return nil, err
			}
			return &httpSource{c: s.Connector, in: s.Env.Internal, path: path}, nil
		},
		Check: func(context.Context, connector.Settings) error { return nil },
	}
}

type httpSource struct {
	pushSource
	c    *config.Connector
	in   connector.Internal
	path string
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
	stop, err := in.HandleHTTP(h.path, func(rctx context.Context, m connector.Message) error {
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
