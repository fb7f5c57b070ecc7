package memory

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/junctionhq/junction/internal/connector"
)

// Source hands out the messages given to Put.
type Source struct {
	queue  chan connector.Message
	seq    atomic.Int64
	Acked  atomic.Int64
	Nacked atomic.Int64
	// OnAck, if set, is called for each acknowledged message (benchmarks measure latency
	// from Message.Time).
	OnAck func(connector.Message)
}

// NewSource returns a source whose queue holds up to size messages before Put blocks.
func NewSource(size int) *Source { return &Source{queue: make(chan connector.Message, size)} }

// Put queues a message, waiting while the queue is full.
func (s *Source) Put(m connector.Message) { s.queue <- m }

// Open delivers queued messages until ctx ends. A Nack'ed message goes to the back of
// the queue.
func (s *Source) Open(ctx context.Context, _ int) (<-chan connector.Delivery, error) {
	out := make(chan connector.Delivery)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case m := <-s.queue:
				var settled atomic.Bool
				d := connector.Delivery{Message: m, ID: fmt.Sprintf("memory:%d", s.seq.Add(1))}
				d.Ack = func(context.Context) error {
					if settled.CompareAndSwap(false, true) {
						s.Acked.Add(1)
						if s.OnAck != nil {
							s.OnAck(m)
						}
					}
					return nil
				}
				d.Nack = func(context.Context) error {
					if settled.CompareAndSwap(false, true) {
						s.Nacked.Add(1)
						go s.Put(m)
					}
					return nil
				}
				select {
				case out <- d:
				case <-ctx.Done():
					go s.Put(m) // not handed out: keep it
					return
				}
			}
		}
	}()
	return out, nil
}

// Close does nothing: the queue outlives openings, like a broker's.
func (s *Source) Close() error { return nil }

// Sink accepts messages, recording them unless Discard is set.
type Sink struct {
	Discard bool
	// Fail, if set, is asked about every batch before it is accepted; an error fails
	// the Write (return a *connector.MessageError to reject one message).
	Fail     func(msgs []connector.Message) error
	mu       sync.Mutex
	received []connector.Message
	count    atomic.Int64
	writes   atomic.Int64
}

// Write accepts the batch (or fails as Fail says).
func (s *Sink) Write(_ context.Context, msgs []connector.Message) error {
	s.writes.Add(1)
	if s.Fail != nil {
		if err := s.Fail(msgs); err != nil {
			return err
		}
	}
	s.count.Add(int64(len(msgs)))
	if !s.Discard {
		s.mu.Lock()
		s.received = append(s.received, msgs...)
		s.mu.Unlock()
	}
	return nil
}

// Close does nothing.
func (s *Sink) Close() error { return nil }

// Received returns a copy of what was accepted (nil for a discarding sink).
func (s *Sink) Received() []connector.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]connector.Message(nil), s.received...)
}

// Count is how many messages were accepted.
func (s *Sink) Count() int64 { return s.count.Load() }

// Writes is how many times Write was called (batches).
func (s *Sink) Writes() int64 { return s.writes.Load() }

// Kind is a connector type whose sources and sinks are the given ones, by connector name.
func Kind(name string, sources map[string]*Source, sinks map[string]*Sink) connector.Kind {
	return connector.Kind{
		Name: name,
		NewSource: func(s connector.Settings) (connector.Source, error) {
			if src := sources[s.Connector.Name]; src != nil {
				return src, nil
			}
			return nil, fmt.Errorf("memory: no source %q", s.Connector.Name)
		},
		NewSink: func(s connector.Settings) (connector.Sink, error) {
			if sink := sinks[s.Connector.Name]; sink != nil {
				return sink, nil
			}
			return nil, fmt.Errorf("memory: no sink %q", s.Connector.Name)
		},
		Check: func(context.Context, connector.Settings) error { return nil },
	}
}
