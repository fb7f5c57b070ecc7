package runtime

import "sync"

// gate counts the calls in flight on a runtime, so that a reload can retire it once they
// are done. A closed gate admits no more calls: callers that lost the race with a swap go
// to the new runtime.
type gate struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   chan struct{} // made by close; closed once no call is in flight
}

// enter admits a call; false when the gate is closed.
func (g *gate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.n++
	return true
}

// leave ends a call admitted by enter.
func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.n == 0 && g.closed {
		close(g.idle)
	}
}

// close stops admitting calls and returns a channel that is closed once none is in
// flight. Closing again returns the same channel.
func (g *gate) close() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.closed = true
		g.idle = make(chan struct{})
		if g.n == 0 {
			close(g.idle)
		}
	}
	return g.idle
}
