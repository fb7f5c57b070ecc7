package amqp

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

// Kind returns the rabbitmq connector type.
func Kind() connector.Kind {
	return connector.Kind{
		Name: "rabbitmq",
		Spec: spec,
		NewSource: func(s connector.Settings) (connector.Source, error) {
			return newSource(s)
		},
		NewSink: func(s connector.Settings) (connector.Sink, error) {
			return newSink(s)
		},
		Check: check,
	}
}

// check connects and opens a channel; it declares nothing, so testing a connector
// changes nothing on the broker.
func check(ctx context.Context, s connector.Settings) error {
	o, err := readOptions(s, option.Alone)
	if err != nil {
		return err
	}
	conn, err := dial(ctx, o)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("rabbitmq at %s: open a channel: %w", o.where, err)
	}
	return ch.Close()
}

// dial connects within dialTimeout or ctx's deadline, whichever comes first; the
// deadline covers the AMQP handshake too, so a server that accepts TCP but never
// answers cannot hang a flow's start.
func dial(ctx context.Context, o *options) (*amqp091.Connection, error) {
	deadline := time.Now().Add(dialTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	cfg := amqp091.Config{
		Properties: amqp091.Table{"connection_name": "junction " + o.name},
		Dial: func(network, addr string) (net.Conn, error) {
			dctx, cancel := context.WithDeadline(ctx, deadline)
			defer cancel()
			var d net.Dialer
			c, err := d.DialContext(dctx, network, addr)
			if err != nil {
				return nil, err
			}
			// amqp091 clears the deadline once the handshake is done.
			if err := c.SetDeadline(deadline); err != nil {
				_ = c.Close()
				return nil, err
			}
			if o.tls != nil && o.scheme == "amqp" {
				return handshake(dctx, c, o.tls, addr)
			}
			return c, nil
		},
	}
	if o.tls != nil && o.scheme == "amqps" {
		cfg.TLSClientConfig = o.tls.Clone() // amqp091 sets its ServerName
	}
	conn, err := amqp091.DialConfig(o.url, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to rabbitmq at %s: %w", o.where, err)
	}
	return conn, nil
}

// handshake is TLS over c for an amqp:// URL with the tls option: the server's name is
// server_name, else the host dialled. On failure c is closed.
func handshake(ctx context.Context, c net.Conn, cfg *tls.Config, addr string) (net.Conn, error) {
	cfg = cfg.Clone()
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		cfg.ServerName = host
	}
	tc := tls.Client(c, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}

// declare creates the exchanges, the queue and the bindings if they do not exist. It is
// idempotent; declaring an existing one with other properties fails with RabbitMQ's
// PRECONDITION_FAILED, which is reported as it is.
func declare(ch *amqp091.Channel, o *options) error {
	for _, x := range o.exchanges {
		if err := ch.ExchangeDeclare(x.name, x.kind, x.durable, false, false, false, nil); err != nil {
			return fmt.Errorf("declare exchange %q: %w", x.name, err)
		}
	}
	if q := o.queue; q != nil {
		if _, err := ch.QueueDeclare(q.name, q.durable, false, false, false, q.args); err != nil {
			return fmt.Errorf("declare queue %q: %w", q.name, err)
		}
		for _, b := range o.bindings {
			if err := ch.QueueBind(q.name, b.key, b.exchange, false, nil); err != nil {
				return fmt.Errorf("bind queue %q to exchange %q with %q: %w", q.name, b.exchange, b.key, err)
			}
		}
	}
	return nil
}

// Header names the connector sets from delivery properties rather than AMQP headers.
var reserved = map[string]bool{
	"routing_key": true, "exchange": true, "message_id": true, "content_type": true, "redelivered": true,
}

func headersOf(d amqp091.Delivery) map[string]string {
	h := make(map[string]string, len(d.Headers)+4)
	for k, v := range d.Headers {
		h[k] = fieldString(v)
	}
	h["routing_key"] = d.RoutingKey
	h["exchange"] = d.Exchange
	set := func(k, v string) {
		if v != "" {
			h[k] = v
		} else {
			delete(h, k)
		}
	}
	set("message_id", d.MessageId)
	set("content_type", d.ContentType)
	if d.Redelivered {
		h["redelivered"] = "true"
	} else {
		delete(h, "redelivered")
	}
	return h
}

// fieldString renders an AMQP field value as header text.
func fieldString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64:
		return fmt.Sprint(x)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case nil:
		return ""
	case amqp091.Table, []any:
		if b, err := json.Marshal(x); err == nil {
			return string(b)
		}
	}
	return fmt.Sprint(v)
}

func publishing(o *options, m connector.Message) amqp091.Publishing {
	p := amqp091.Publishing{
		Body:         m.Body,
		Timestamp:    m.Time,
		MessageId:    m.Headers["message_id"],
		ContentType:  m.Headers["content_type"],
		DeliveryMode: amqp091.Transient,
	}
	if o.persistent {
		p.DeliveryMode = amqp091.Persistent
	}
	for k, v := range m.Headers {
		if reserved[k] {
			continue
		}
		if p.Headers == nil {
			p.Headers = amqp091.Table{}
		}
		p.Headers[k] = v
	}
	return p
}
