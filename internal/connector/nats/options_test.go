package nats_test

import (
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/connector/nats"
)

func TestBadOptions(t *testing.T) {
	t.Parallel()
	const url = `url: "nats://user:pw@127.0.0.1:4222"`
	for _, c := range []struct {
		name, block, use string
		sink             bool
		want             string
	}{
		{"no url", "stream: S", "durable: d", false, "test.cai:5:1: nats connector events: missing url"},
		{"scheme", `url: "amqp://127.0.0.1"` + "\nstream: S", "durable: d", false, "test.cai:3:1: nats connector events: url: unsupported scheme \"amqp\""},
		{"unset env", "url: env(JUNCTION_TEST_UNSET_NATS_URL)", "subject: a", true, "test.cai:3:1: nats connector events: url: JUNCTION_TEST_UNSET_NATS_URL is not set"},
		{"source without stream", url, "durable: d", false, "test.cai:5:1: nats connector events: missing stream, which a source needs: the JetStream stream's name"},
		{"source without durable", url + "\nstream: S", "", false, "test.cai:6:1: nats connector events: missing durable, which a source needs: the durable consumer's name, which keeps the source's position"},
		{"sink without subject", url, "", true, "test.cai:5:1: nats connector events: missing subject, which a sink needs: the subject to publish to"},
		{"sink wildcard", url, `subject: "orders.*"`, true, "test.cai:7:1: nats connector events: subject: \"orders.*\" is not a subject one can publish to"},
		{"stream name", url + "\nstream: \"a.b\"", "subject: x", true, "test.cai:4:1: nats connector events: stream: \"a.b\": a stream name cannot contain"},
		{"subjects without stream", url + "\nsubjects: [\"a.>\"]", "subject: a.b", true, "test.cai:4:1: nats connector events: subjects: subjects are the stream's"},
		{"bad subject", url + "\nstream: S\nsubjects: [\"a.>.b\"]", "subject: a.b", true, "test.cai:5:1: nats connector events: subjects: \"a.>.b\" is not a valid subject"},
		{"deliver", url + "\nstream: S", "durable: d\ndeliver: last", false, "test.cai:9:1: nats connector events: deliver: expected all or new, found \"last\""},
		{"ack_wait", url + "\nstream: S", "durable: d\nack_wait: 10ms", false, "test.cai:9:1: nats connector events: ack_wait: must be at least 1s, found 10ms"},
		{"max_deliver", url + "\nstream: S", "durable: d\nmax_deliver: -1", false, "test.cai:9:1: nats connector events: max_deliver: must not be negative"},
		{"unknown", url + "\nstream: S", "durable: d\nqueue: q", false, "test.cai:9:1: nats connector events: unknown setting queue; expected one of ack_wait, dedupe, deliver"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := settings(t, c.block, c.use)
			var err error
			if c.sink {
				_, err = nats.Kind().NewSink(s)
			} else {
				_, err = nats.Kind().NewSource(s)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v\nwant one containing %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "pw@") {
				t.Errorf("error shows the credentials: %v", err)
			}
		})
	}
}

func TestOptionsBothRoles(t *testing.T) {
	t.Parallel()
	block := `url: "nats://127.0.0.1:4222, nats://127.0.0.1:4223"
stream: ORDERS
subjects: ["orders.>"]
durable: reader
filter_subject: "orders.created"
ack_wait: 1m
deliver: new
max_deliver: 5
subject: "orders.created"
dedupe: false`
	s := settings(t, block, "")
	if _, err := nats.Kind().NewSource(s); err != nil {
		t.Errorf("NewSource: %v", err)
	}
	if _, err := nats.Kind().NewSink(s); err != nil {
		t.Errorf("NewSink: %v", err)
	}
}
