package app

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
	"github.com/junctionhq/junction/internal/connector/registry"
	"github.com/junctionhq/junction/internal/format"
	"github.com/junctionhq/junction/internal/transform"
)

// declaredConnector loads the configuration and finds the connector name in it, with its
// kind, saying plainly what is missing.
func declaredConnector(paths []string, name string) (*config.Connector, connector.Kind, error) {
	if len(paths) == 0 {
		return nil, connector.Kind{}, errNoConfiguration
	}
	cfg, err := loadConfig(paths, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, connector.Kind{}, err
	}
	c := cfg.Connector(name)
	if c == nil {
		var names []string
		for _, x := range cfg.Connectors {
			names = append(names, x.Name)
		}
		return nil, connector.Kind{}, fmt.Errorf("no connector named %q in the configuration (declared: %s)", name, orNone(names))
	}
	kind, ok := registry.Kinds()[c.Type]
	if !ok {
		return nil, connector.Kind{}, fmt.Errorf("%s: connector %s: unknown type %q", c.Pos, c.Name, c.Type)
	}
	return c, kind, nil
}

func hasField(kind connector.Kind, name string) bool {
	if kind.Spec == nil {
		return false
	}
	for _, f := range kind.Spec.Fields {
		if f.Name == name {
			return true
		}
	}
	return false
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// ConnectorSend publishes messages through a configured connector used as a sink — a
// test order to a RabbitMQ exchange, a row to a table — without a server. sets are the
// sink's options as key=value (exchange=orders routing_key=order.created), on top of
// the connector block's. Each message is one argument; with none, every non-empty line
// of in is one. It prints how many were accepted.
func ConnectorSend(ctx context.Context, paths []string, name string, sets, messages []string, in io.Reader, lookup func(string) (string, bool), w io.Writer) error {
	c, kind, err := declaredConnector(paths, name)
	if err != nil {
		return err
	}
	if kind.NewSink == nil {
		return fmt.Errorf("connector %s (%s) cannot be written to: a %s connector is only a source", c.Name, c.Type, c.Type)
	}
	over, err := cliOptions(sets)
	if err != nil {
		return err
	}
	// A hand-sent test message that no queue receives would be "sent" and lost without a
	// word (RabbitMQ drops what it cannot route): where the sink can refuse that, it does.
	if _, set := connector.Merge(c.Options, over).Get("mandatory"); !set && hasField(kind, "mandatory") {
		over.Entries = append(over.Entries, config.Option{Key: "mandatory", Value: true})
	}
	msgs, err := cliMessages(messages, in)
	if err != nil {
		return err
	}
	settings := connector.Settings{
		Connector: c, Options: connector.Merge(c.Options, over),
		Env: connector.Env{LookupEnv: lookup, Logger: slog.New(slog.DiscardHandler), Clock: clock.Real{}},
	}
	if err := encodeMessages(c, kind, settings, msgs); err != nil {
		return err
	}
	sink, err := kind.NewSink(settings)
	if err != nil {
		return fmt.Errorf("connector %s (%s): %w", c.Name, c.Type, err)
	}
	defer sink.Close()
	if err := sink.Write(ctx, msgs); err != nil {
		return fmt.Errorf("connector %s (%s): not sent: %w", c.Name, c.Type, err)
	}
	fmt.Fprintf(w, "connector %s (%s): %d message(s) sent\n", c.Name, c.Type, len(msgs))
	return nil
}

// encodeMessages writes the JSON messages given in the connector's `format` (Avro,
// Protobuf, XML), as a flow's sink would, so a test message reaches a topic of Avro as
// Avro rather than as JSON its readers cannot decode.
func encodeMessages(c *config.Connector, kind connector.Kind, settings connector.Settings, msgs []connector.Message) error {
	if !option.Declares(kind.Spec, option.FormatName) {
		return nil
	}
	codec, err := option.FormatOf(c.Type+" connector "+c.Name, settings.Options, option.Sink, settings.Env.Lookup())
	if err != nil || codec == nil {
		return err
	}
	for i := range msgs {
		doc, err := transform.Decode(msgs[i].Body)
		if err != nil {
			return fmt.Errorf("message %d: the connector writes %s, so messages are given as JSON: %w", i+1, format.Name(codec), err)
		}
		body, err := codec.Encode(doc)
		if err != nil {
			return fmt.Errorf("message %d: as %s: %w", i+1, format.Name(codec), err)
		}
		msgs[i].Body, msgs[i].Doc = body, doc
	}
	return nil
}

// cliOptions turns key=value arguments into connector options. A value is a whole
// number, true/false or a duration when it reads as one, and a string otherwise, as the
// same text would be in the configuration language.
func cliOptions(sets []string) (config.Options, error) {
	var out config.Options
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return out, fmt.Errorf("--set %q: expected key=value, such as routing_key=order.created", s)
		}
		out.Entries = append(out.Entries, config.Option{Key: k, Value: cliValue(v)})
	}
	return out, nil
}

func cliValue(v string) any {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n
	}
	if b, err := strconv.ParseBool(v); err == nil && (v == "true" || v == "false") {
		return b
	}
	if d, err := config.ParseDuration(v); err == nil {
		return d
	}
	return v
}

// cliMessages reads the messages to send: the arguments, or the lines of in.
func cliMessages(args []string, in io.Reader) ([]connector.Message, error) {
	now := time.Now().UTC()
	var msgs []connector.Message
	add := func(body []byte) {
		msgs = append(msgs, connector.Message{Body: body, Headers: map[string]string{}, Time: now})
	}
	for _, a := range args {
		add([]byte(a))
	}
	if len(args) == 0 && in != nil {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
				add(bytes.Clone(line))
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("reading messages from standard input: %w", err)
		}
	}
	if len(msgs) == 0 {
		return nil, errors.New("no message to send: give each as an argument, or one per line on standard input")
	}
	return msgs, nil
}
