package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

// Sink produces messages to one topic.
type Sink struct {
	o  *options
	cl *kgo.Client
}

var _ connector.Sink = (*Sink)(nil)

// NewSink checks the options and creates the producer client (which connects lazily).
func NewSink(s connector.Settings) (connector.Sink, error) {
	o, err := readOptions(s, option.Sink)
	if err != nil {
		return nil, err
	}
	opts := append(o.clientOpts(s.Env.Log().With("connector", s.Connector.Name)),
		kgo.DefaultProduceTopic(o.topic),
		// acks=all (with the idempotent producer, franz-go's default) is what makes a
		// produced record survive the loss of the partition leader.
		kgo.RequiredAcks(kgo.AllISRAcks()),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.what, err)
	}
	return &Sink{o: o, cl: cl}, nil
}

// Write produces the batch and returns once every record is acknowledged by all in-sync
// replicas; the first failure is returned and the batch is to be retried as a whole.
func (s *Sink) Write(ctx context.Context, msgs []connector.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	recs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		r := &kgo.Record{Topic: s.o.topic, Value: m.Body, Timestamp: m.Time}
		if s.o.key != nil {
			key, err := s.recordKey(m)
			if err != nil {
				return err
			}
			r.Key = key
		}
		recs[i] = r
	}
	if err := s.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("%s: produce to %s: %w", s.o.what, s.o.topic, err)
	}
	return nil
}

// recordKey finds the key in the message (its Doc, else its JSON body): a string is
// used as it is, anything else (numbers, objects) as its JSON text. A message without
// the key is an error rather than a keyless record, because the key decides the
// partition and so the order.
func (s *Sink) recordKey(m connector.Message) ([]byte, error) {
	doc := m.Doc
	if doc == nil {
		dec := json.NewDecoder(bytes.NewReader(m.Body))
		dec.UseNumber() // keep large ids exact
		if err := dec.Decode(&doc); err != nil {
			return nil, fmt.Errorf("%s: key %s: message is not JSON: %w", s.o.what, s.o.key, err)
		}
	}
	v, found := s.o.key.FirstFound(doc)
	if !found || v == nil {
		return nil, fmt.Errorf("%s: key %s: not found in the message", s.o.what, s.o.key)
	}
	switch k := v.(type) {
	case string:
		return []byte(k), nil
	case json.Number:
		return []byte(k), nil
	}
	return json.Marshal(v)
}

// Close flushes nothing (Write waits for its records) and closes the client.
func (s *Sink) Close() error {
	s.cl.Close()
	return nil
}
