package registry

import (
	"fmt"
	"strings"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/amqp"
	"github.com/junctionhq/junction/internal/connector/builtin"
	"github.com/junctionhq/junction/internal/connector/kafka"
	"github.com/junctionhq/junction/internal/connector/mqtt"
	"github.com/junctionhq/junction/internal/connector/nats"
	"github.com/junctionhq/junction/internal/connector/option"
	"github.com/junctionhq/junction/internal/connector/postgres"
	"github.com/junctionhq/junction/internal/connector/redisstream"
	"github.com/junctionhq/junction/internal/connector/schedule"
	"github.com/junctionhq/junction/internal/connector/websocket"
)

//go:generate go run ../cmd/gendocs -o ../../../docs/connectors.md

// List returns the connector types in the order the reference shows them.
func List() []connector.Kind {
	kinds := []connector.Kind{amqp.Kind(), mqtt.Kind(), nats.Kind(), kafka.Kind(), redisstream.Kind(), postgres.Kind(), schedule.Kind(), websocket.Kind()}
	return append(kinds, builtin.Kinds()...)
}

// Kinds returns the connector types by name.
func Kinds() map[string]connector.Kind {
	kinds := List()
	out := make(map[string]connector.Kind, len(kinds))
	for _, k := range kinds {
		out[k.Name] = k
	}
	return out
}

// Validate checks every declared connector on its own, used by a flow or not: that its
// type exists, and that its options suit the type's spec (see connector.Kind.Validate).
// Each problem is a *config.OptionError with its position.
func Validate(connectors []*config.Connector, lookup config.LookupEnv) []error {
	kinds := Kinds()
	names := make([]string, 0, len(kinds))
	for _, k := range List() {
		names = append(names, k.Name)
	}
	var out []error
	for _, c := range connectors {
		k, ok := kinds[c.Type]
		if !ok {
			msg := fmt.Sprintf("connector %s: unknown type %q", c.Name, c.Type)
			if s := config.Suggest(c.Type, names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else {
				msg += "; expected one of " + strings.Join(names, ", ")
			}
			out = append(out, &config.OptionError{Pos: c.Pos, Msg: msg})
			continue
		}
		out = append(out, unjoin(k.Validate(c, lookup))...)
	}
	return out
}

// unjoin lists the errors of an errors.Join.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		return joined.Unwrap()
	}
	return []error{err}
}

// Reference is docs/connectors.md, generated from the connector types' specs.
func Reference() []byte {
	var b strings.Builder
	b.WriteString(`# Connectors

<!-- Generated from the connectors' option specs by ` + "`go generate ./internal/connector/registry`" + `; do not edit. -->

A connector is declared once by name, ` + "`connector NAME { type: … }`" + `, and used by flows as their source
or sinks; a flow's ` + "`source: NAME { … }`" + ` or ` + "`sink X { connector: NAME, … }`" + ` adds options over the
connector's. Every type accepts all of its options in either role, so one connector block can
serve a source and a sink. ` + "`junction validate`" + ` checks every declared connector against its type's
options, used by a flow or not. Options marked secret may be written as ` + "`env(NAME)`" + ` or
` + "`file(PATH)`" + `; they are read when the flow starts and never shown. A source marked
*one node* is read by one node of a cluster at a time, the holder of the lease
` + "`flow-source:FLOW`" + `; the flow stands by on the other nodes and takes over when the holder dies.

| Type | Source | Sink | What it connects to |
| --- | --- | --- | --- |
`)
	for _, k := range List() {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s | %s |\n", k.Name, k.Name, sourceCell(k), yes(k.NewSink != nil), firstSentence(k.Spec.Summary))
	}
	b.WriteString("\n")
	for _, k := range List() {
		var plays option.Role
		if k.NewSource != nil {
			plays |= option.Source
		}
		if k.NewSink != nil {
			plays |= option.Sink
		}
		k.Spec.Markdown(&b, k.Name, plays)
	}
	return []byte(strings.TrimRight(b.String(), "\n") + "\n")
}

// sourceCell says whether the kind can be a source, and whether on one node only.
func sourceCell(k connector.Kind) string {
	if k.NewSource != nil && k.Singleton {
		return "yes, *one node*"
	}
	return yes(k.NewSource != nil)
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return ""
}

func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	return s
}
