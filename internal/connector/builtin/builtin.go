package builtin

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
)

// Kinds returns the built-in connector types by name.
func Kinds() []connector.Kind {
	return []connector.Kind{eventsKind(), httpKind(), integrationKind(), webhookKind(), workflowKind(), logKind()}
}

var errNoServer = errors.New("needs a running Junction server (not available in this command)")

// internal returns Junction's bridge, or an error outside a server. Constructors do not
// call it, so `junction validate` can build these connectors to check their options;
// Open and Write do.
func internal(c *config.Connector, in connector.Internal) (connector.Internal, error) {
	if in == nil {
		return nil, fmt.Errorf("%s connector %s: %w", c.Type, c.Name, errNoServer)
	}
	return in, nil
}

// pushSource is a source fed by callbacks (the event bus, HTTP requests) rather than by
// polling. Its channel is unbuffered and the flow runs inFlight workers, so push blocks
// while inFlight messages are in the flow: the back-pressure a callback source can give.
type pushSource struct {
	mu     sync.RWMutex // held for reading while pushing, for writing to close ch
	ch     chan connector.Delivery
	ctx    context.Context
	closed bool
	stop   func()
}

func (p *pushSource) open(ctx context.Context) <-chan connector.Delivery {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ch, p.ctx = make(chan connector.Delivery), ctx
	go func() {
		<-ctx.Done()
		// Pushers waiting to send give up on ctx.Done too, so this lock comes soon.
		p.mu.Lock()
		p.closed = true
		close(p.ch)
		p.mu.Unlock()
	}()
	return p.ch
}

// push hands a delivery to the flow, waiting until a worker takes it. It reports false
// when the source is not open or ctx ends first.
func (p *pushSource) push(ctx context.Context, d connector.Delivery) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.ch == nil || p.closed {
		return false
	}
	select {
	case p.ch <- d:
		return true
	case <-ctx.Done():
	case <-p.ctx.Done():
	}
	return false
}

func (p *pushSource) Close() error {
	p.mu.Lock()
	stop := p.stop
	p.stop = nil
	p.mu.Unlock()
	if stop != nil {
		stop()
	}
	return nil
}
