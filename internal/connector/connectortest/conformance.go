package connectortest

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

// Harness is what the suite needs of a connector.
type Harness struct {
	Kind connector.Kind
	// Place makes a place in the system that no other test uses (a queue, a stream, a
	// table), removed when t ends, and returns the settings of a source reading it and of
	// a sink writing to it. Sources built from the same settings are one consumer: a new
	// one resumes where the last one stopped. Nil for a connector that is not both
	// (schedule, the built-ins): then only its spec is checked.
	Place func(t *testing.T) (source, sink connector.Settings)
	// Messages and Batch size the round trip: Messages written in batches of Batch
	// (default 200 in batches of 20).
	Messages, Batch int
	// Parallel runs the checks against the system in parallel with the package's other
	// parallel tests.
	Parallel bool
}

// Run is the conformance suite every connector passes: its spec (CheckSpec), and, with
// a Place, the contract of sources and sinks against the real system: RoundTrip,
// Redelivery, SettleAfterStop, InFlight and Check.
func Run(t *testing.T, h Harness) {
	t.Run("Spec", func(t *testing.T) { CheckSpec(t, h.Kind) })
	if h.Place == nil {
		return
	}
	n, batch := h.Messages, h.Batch
	if n == 0 {
		n, batch = 200, 20
	}
	live := func(name string, check func(t *testing.T, src, sink connector.Settings)) {
		t.Run(name, func(t *testing.T) {
			if h.Parallel {
				t.Parallel()
			}
			src, sink := h.Place(t)
			check(t, src, sink)
		})
	}
	live("RoundTrip", func(t *testing.T, src, sink connector.Settings) {
		RoundTrip(t, newSource(t, h.Kind, src), newSink(t, h.Kind, sink), n, batch)
	})
	live("Redelivery", func(t *testing.T, src, sink connector.Settings) {
		Redelivery(t, opener(t, h.Kind, src), newSink(t, h.Kind, sink), false)
	})
	live("SettleAfterStop", func(t *testing.T, src, sink connector.Settings) {
		SettleAfterStop(t, opener(t, h.Kind, src), newSink(t, h.Kind, sink))
	})
	live("InFlight", func(t *testing.T, src, sink connector.Settings) {
		InFlight(t, newSource(t, h.Kind, src), newSink(t, h.Kind, sink))
	})
	live("Check", func(t *testing.T, src, sink connector.Settings) {
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		for _, s := range []connector.Settings{src, sink} {
			if err := h.Kind.Check(ctx, s); err != nil {
				t.Errorf("Check: %v", err)
			}
		}
	})
}

// InFlight checks the source's back-pressure: it keeps at most inFlight deliveries
// unsettled, and hands out more as they are settled.
func InFlight(t *testing.T, src connector.Source, sink connector.Sink) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	ch, err := src.Open(ctx, 2)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := sink.Write(ctx, Messages(4)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	first := Receive(t, ch, 2)
	Quiet(t, ch, 300*time.Millisecond)
	seen := map[int]bool{}
	for _, d := range append(first, settle(t, ctx, first, ch)...) {
		seen[Number(t, d.Body)] = true
	}
	if len(seen) != 4 {
		t.Fatalf("received %v, want 0..3 once each", seen)
	}
}

// settle acknowledges held and receives (and acknowledges) the two deliveries that
// follow.
func settle(t *testing.T, ctx context.Context, held []connector.Delivery, ch <-chan connector.Delivery) []connector.Delivery {
	t.Helper()
	for _, d := range held {
		if err := d.Ack(ctx); err != nil {
			t.Fatalf("Ack %s: %v", d.ID, err)
		}
	}
	rest := Receive(t, ch, 2)
	for _, d := range rest {
		if err := d.Ack(ctx); err != nil {
			t.Fatalf("Ack %s: %v", d.ID, err)
		}
	}
	return rest
}

func newSource(t *testing.T, k connector.Kind, s connector.Settings) connector.Source {
	t.Helper()
	src, err := k.NewSource(s)
	if err != nil {
		t.Fatalf("NewSource: %v", err)
	}
	t.Cleanup(func() { _ = src.Close() })
	return src
}

func newSink(t *testing.T, k connector.Kind, s connector.Settings) connector.Sink {
	t.Helper()
	sink, err := k.NewSink(s)
	if err != nil {
		t.Fatalf("NewSink: %v", err)
	}
	t.Cleanup(func() {
		if err := sink.Close(); err != nil {
			t.Errorf("sink Close: %v", err)
		}
	})
	return sink
}

// opener builds sources of one consumer; the suite closes those it opens.
func opener(t *testing.T, k connector.Kind, s connector.Settings) func() connector.Source {
	return func() connector.Source {
		t.Helper()
		src, err := k.NewSource(s)
		if err != nil {
			t.Fatalf("NewSource: %v", err)
		}
		return src
	}
}

// unsetVariable is a variable the spec checks expect not to be set.
const unsetVariable = "JUNCTION_CONFORMANCE_UNSET"

// CheckSpec checks a connector's declared options and that its constructors decode with
// them, without reaching its system: the spec is well formed (descriptions, defaults of
// the field's type, roles the connector plays); every example builds, and passes
// `junction validate`; and, taking each example apart, a required option left out is
// reported as missing, a misspelt key as unknown with a suggestion, a value of the
// wrong type with the option's name, and an unset variable in a secret with its name
// (but not by validate, which warns about variables separately).
func CheckSpec(t *testing.T, k connector.Kind) {
	t.Helper()
	if k.Spec == nil {
		t.Fatalf("connector %s declares no spec", k.Name)
	}
	var plays option.Role
	if k.NewSource != nil {
		plays |= option.Source
	}
	if k.NewSink != nil {
		plays |= option.Sink
	}
	if strings.TrimSpace(k.Spec.Summary) == "" {
		t.Errorf("%s: the spec has no summary", k.Name)
	}
	checkFields(t, k.Name, k.Spec.Fields, plays)
	var shown option.Role
	for _, ex := range k.Spec.Examples {
		shown |= ex.Role
		if ex.Role != option.Source && ex.Role != option.Sink || ex.Role&plays == 0 {
			t.Errorf("%s: example %q is for a role the connector does not play", k.Name, ex.Title)
			continue
		}
		checkExample(t, k, ex)
	}
	if shown != plays {
		t.Errorf("%s: the spec needs an example for each role it plays", k.Name)
	}
}

// fieldRules are what makes a field well formed, each with what is wrong otherwise.
var fieldRules = []struct {
	ok   func(f option.Field, plays option.Role) bool
	fail string
}{
	{func(f option.Field, _ option.Role) bool {
		return f.Name != "" && strings.ToLower(f.Name) == f.Name && !strings.ContainsAny(f.Name, " .-")
	}, "a field name is lower_snake_case"},
	{func(f option.Field, _ option.Role) bool { return strings.TrimSpace(f.Description) != "" }, "no description"},
	{func(f option.Field, _ option.Role) bool { return f.Type >= option.String && f.Type <= option.Any }, "no type"},
	{func(f option.Field, _ option.Role) bool { return f.Required == 0 || f.Default == nil }, "required with a default"},
	{func(f option.Field, plays option.Role) bool {
		return f.For&^plays == 0 && (f.Required == option.Always || f.Required&^(plays|option.Alone) == 0)
	}, "for or required in a role the connector does not play"},
	{func(f option.Field, _ option.Role) bool {
		return !f.Secret && len(f.Enum) == 0 || f.Type == option.String || f.Type == option.Any
	}, "only a String or Any can be secret or have an enum"},
	{func(f option.Field, _ option.Role) bool {
		return (len(f.Fields) > 0) == (f.Type == option.Block || f.Type == option.Blocks)
	}, "blocks, and only blocks, have fields"},
	{func(f option.Field, _ option.Role) bool {
		return f.Shorthand == "" || slices.ContainsFunc(f.Fields, func(n option.Field) bool { return n.Name == f.Shorthand })
	}, "the shorthand names no field of the block"},
	{func(f option.Field, _ option.Role) bool { return defaultFits(f) }, "the default is not of the field's type (or not in its enum)"},
}

func checkFields(t *testing.T, where string, fields []option.Field, plays option.Role) {
	t.Helper()
	seen := map[string]bool{}
	for _, f := range fields {
		if seen[f.Name] {
			t.Errorf("%s %s: declared twice", where, f.Name)
		}
		seen[f.Name] = true
		for _, r := range fieldRules {
			if !r.ok(f, plays) {
				t.Errorf("%s %s: %s", where, f.Name, r.fail)
			}
		}
		checkFields(t, where+" "+f.Name, f.Fields, option.Source|option.Sink)
	}
}

func defaultFits(f option.Field) bool {
	var ok bool
	switch f.Default.(type) {
	case nil:
		return true
	case string:
		ok = f.Type == option.String || f.Type == option.Any
	case int:
		ok = f.Type == option.Int
	case bool:
		ok = f.Type == option.Bool
	case time.Duration:
		ok = f.Type == option.Duration
	case []string:
		ok = f.Type == option.Strings
	}
	s, isString := f.Default.(string)
	return ok && (len(f.Enum) == 0 || !isString || slices.Contains(f.Enum, s))
}

func checkExample(t *testing.T, k connector.Kind, ex option.Example) {
	t.Helper()
	c := exampleConnector(t, k.Name, ex.Options)
	what := k.Name + " example " + ex.Title
	if err := build(k, ex.Role, c); err != nil {
		t.Errorf("%s does not build: %v", what, err)
		return
	}
	if err := k.Validate(c, noVariables); err != nil {
		t.Errorf("%s: junction validate: %v", what, err)
	}
	for _, f := range k.Spec.Fields {
		if _, set := c.Options.Get(f.Name); set && f.Required&ex.Role != 0 {
			expect(t, k, ex.Role, without(c, f.Name), what+" without "+f.Name, "missing "+f.Name)
		}
		if bad, ok := wrongValue(f); ok {
			expect(t, k, ex.Role, with(c, f.Name, bad), what+" with "+f.Name+" of the wrong type", f.Name+": expected")
		}
		if f.Secret && f.Type == option.String {
			unset := with(c, f.Name, config.Value{Parts: []config.ValuePart{{Env: unsetVariable}}})
			expect(t, k, ex.Role, unset, what+" with an unset variable in "+f.Name, f.Name+": "+unsetVariable+" is not set")
			if err := k.Validate(unset, noVariables); err != nil {
				t.Errorf("%s: junction validate reports the unset variable in %s as an error: %v", what, f.Name, err)
			}
		}
	}
	for _, e := range c.Options.Entries {
		bad := e.Key + e.Key[len(e.Key)-1:]
		if slices.ContainsFunc(k.Spec.Fields, func(f option.Field) bool { return f.Name == bad }) {
			continue
		}
		misspelt := with(c, bad, e.Value)
		misspelt = without(misspelt, e.Key)
		expect(t, k, ex.Role, misspelt, what+" with "+e.Key+" misspelt", "unknown setting "+bad+"; did you mean ")
	}
}

// expect checks that building c fails with a message containing want, at a position.
func expect(t *testing.T, k connector.Kind, role option.Role, c *config.Connector, what, want string) {
	t.Helper()
	err := build(k, role, c)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: error %v, want one containing %q", what, err, want)
		return
	}
	if oe, ok := errors.AsType[*config.OptionError](err); !ok || oe.Pos.Line == 0 {
		t.Errorf("%s: error %v has no position", what, err)
	}
}

// build builds (and closes) a source or sink from c's options, as a flow would.
func build(k connector.Kind, role option.Role, c *config.Connector) error {
	s := connector.Settings{Connector: c, Options: c.Options, Env: connector.Env{Logger: slog.New(slog.DiscardHandler), LookupEnv: noVariables}}
	if role == option.Source {
		src, err := k.NewSource(s)
		if err == nil {
			err = src.Close()
		}
		return err
	}
	sink, err := k.NewSink(s)
	if err == nil {
		err = sink.Close()
	}
	return err
}

func noVariables(string) (string, bool) { return "", false }

// wrongValue is a value of another type than the field's, or false for an Any.
func wrongValue(f option.Field) (any, bool) {
	switch f.Type {
	case option.Int, option.Bool:
		return "seven", true
	case option.Duration:
		return true, true
	case option.Any:
		return nil, false
	}
	return int64(7), true
}

func exampleConnector(t *testing.T, typ, options string) *config.Connector {
	t.Helper()
	cfg, diags := config.Decode("example.cai", []byte("connector example {\n    type: "+typ+"\n"+options+"\n}\n"))
	if diags.HasErrors() {
		t.Fatalf("%s example: %v", typ, diags.Err())
	}
	return cfg.Connectors[0]
}

// with is c with the option key set to value (replaced, or added at the end).
func with(c *config.Connector, key string, value any) *config.Connector {
	out := without(c, key)
	pos := config.Pos{File: c.Pos.File, Line: c.Pos.Line + len(c.Options.Entries) + 2, Col: 5}
	out.Options.Entries = append(out.Options.Entries, config.Option{Pos: pos, Key: key, Value: value})
	return out
}

// without is c without the option key.
func without(c *config.Connector, key string) *config.Connector {
	out := *c
	out.Options.Entries = slices.DeleteFunc(slices.Clone(c.Options.Entries), func(e config.Option) bool { return e.Key == key })
	return &out
}
