package amqp_test

import (
	"context"
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/amqp"
)

func TestBadOptions(t *testing.T) {
	t.Parallel()
	const url = `url: "amqp://guest:guest@127.0.0.1:5672/"`
	for _, c := range []struct {
		name, block, use string
		sink             bool
		want             string // position and words of the error
	}{
		{"no url", `queue: "q"`, "", false, "test.cai:5:1: rabbitmq connector orders: missing url"},
		{"bad scheme", `url: "http://x/"` + "\nqueue: q", "", false, "test.cai:3:1: rabbitmq connector orders: url: not a valid amqp:// or amqps:// URL"},
		{"unset env", "url: env(JUNCTION_TEST_UNSET_AMQP_URL)\nqueue: q", "", false, "test.cai:3:1: rabbitmq connector orders: url: JUNCTION_TEST_UNSET_AMQP_URL is not set"},
		{"source without queue", url, "", false, "test.cai:5:1: rabbitmq connector orders: missing queue, which a source needs: the queue to read from"},
		{"unknown key", url + "\nqueue: q", "prefech: 10", false, "test.cai:8:1: rabbitmq connector orders: unknown setting prefech; did you mean prefetch?"},
		{"exchange type", url + "\nexchanges: [{ name: x, type: fanciful }]", "", true, "test.cai:4:24: rabbitmq connector orders: exchanges[0]: type: expected direct, topic, fanout or headers, found \"fanciful\""},
		{"exchange without name", url + "\nexchanges: [{ type: topic }]", "", true, "test.cai:4:13: rabbitmq connector orders: exchanges[0]: missing name"},
		{"unknown exchange key", url + "\nexchanges: [{ name: x, durible: true }]", "", true, "test.cai:4:24: rabbitmq connector orders: exchanges[0]: unknown setting durible; did you mean durable?"},
		{"queue block", url + "\nqueue: { name: q, durable: maybe }", "", false, "test.cai:4:19: rabbitmq connector orders: queue: durable: expected true or false"},
		{"queue type", url + "\nqueue: 42", "", false, "test.cai:4:1: rabbitmq connector orders: queue: expected a string (the name) or a block { name, durable, arguments }, found 42"},
		{"bindings without queue", url + "\nbindings: [{ exchange: x, routing_key: k }]", "", true, "test.cai:4:1: rabbitmq connector orders: bindings: bindings bind the queue"},
		{"binding without exchange", url + "\nqueue: q\nbindings: [{ routing_key: k }]", "", false, "test.cai:5:12: rabbitmq connector orders: bindings[0]: missing exchange"},
		{"negative prefetch", url + "\nqueue: q", "prefetch: -1", false, "test.cai:8:1: rabbitmq connector orders: prefetch: expected a number from 0 to 65535"},
		{"bad visibility", url + "\nqueue: q", "visibility_timeout: soon", false, "test.cai:8:1: rabbitmq connector orders: visibility_timeout: expected a duration"},
		{"persistent", url, "persistent: 1", true, "test.cai:7:1: rabbitmq connector orders: persistent: expected true or false"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := settings(t, c.block, c.use)
			var err error
			if c.sink {
				_, err = amqp.Kind().NewSink(s)
			} else {
				_, err = amqp.Kind().NewSource(s)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v\nwant one containing %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "guest:guest") {
				t.Errorf("error shows the credentials: %v", err)
			}
		})
	}
}

func TestOptionsBothRoles(t *testing.T) {
	t.Parallel()
	// A connector block may hold what either role reads: a sink built from one with a
	// queue and source options, and a source built from one with sink options, are fine.
	block := `url: env(AMQP_URL)
exchanges: [{ name: x, type: direct, durable: false }]
queue: { name: q, durable: true, arguments: { x-message-ttl: 60000, x-expires: 10m, x-queue-type: classic } }
bindings: [{ exchange: x, routing_key: k }]
prefetch: 10
batch_size: 100
poll_interval: 5s
visibility_timeout: 5m
exchange: x
routing_key: k
persistent: false
mandatory: true`
	s := settings(t, block, "")
	s.Env.LookupEnv = func(name string) (string, bool) {
		return "amqp://user:pw@127.0.0.1:5672/prod", name == "AMQP_URL"
	}
	if _, err := amqp.Kind().NewSource(s); err != nil {
		t.Errorf("NewSource: %v", err)
	}
	if _, err := amqp.Kind().NewSink(s); err != nil {
		t.Errorf("NewSink: %v", err)
	}
}

func TestCheckBadOptions(t *testing.T) {
	t.Parallel()
	err := amqp.Kind().Check(context.Background(), settings(t, `url: "amqp://127.0.0.1:1/"`, "colour: blue"))
	if err == nil || !strings.Contains(err.Error(), "unknown setting colour") {
		t.Errorf("Check = %v, want the unknown setting", err)
	}
	var _ connector.Kind = amqp.Kind()
}
