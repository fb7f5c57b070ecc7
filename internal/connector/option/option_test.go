package option_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector/option"
)

// spec exercises every type and rule.
var spec = &option.Spec{
	Summary: "A test component.",
	Fields: []option.Field{
		{Name: "url", Type: option.String, Required: option.Always, Secret: true, Description: "the server's URL. More words."},
		{Name: "kind", Type: option.String, Default: "topic", Enum: []string{"direct", "topic", "fanout"}, Description: "the kind"},
		{Name: "count", Type: option.Int, Min: 0, Max: 10, Description: "how many"},
		{Name: "size", Type: option.Int, Default: 8, Min: 1, Description: "how big"},
		{Name: "durable", Type: option.Bool, Default: true, Description: "durable"},
		{Name: "wait", Type: option.Duration, Default: 2 * time.Second, Min: time.Millisecond, Description: "how long"},
		{Name: "topics", Type: option.Strings, For: option.Source, Description: "the topics"},
		{Name: "group", Type: option.String, For: option.Source, Required: option.Source, Description: "the consumer group"},
		{Name: "queue", Type: option.Block, Shorthand: "name", Description: "the queue", Fields: []option.Field{
			{Name: "name", Type: option.String, Required: option.Always, Description: "the queue's name"},
			{Name: "durable", Type: option.Bool, Default: true, Description: "durable"},
		}},
		{Name: "bindings", Type: option.Blocks, Description: "bindings", Fields: []option.Field{
			{Name: "exchange", Type: option.String, Required: option.Always, Description: "the exchange"},
		}},
		{Name: "arguments", Type: option.Map, Description: "free keys"},
		{Name: "payload", Type: option.Any, Secret: true, Description: "a payload"},
		{Name: "start", Type: option.Any, Enum: []string{"0", "$"}, Default: "0", Description: "where to start"},
		{Name: "upper", Type: option.String, Description: "converted", Parse: option.Convert(func(s string) (string, error) {
			if s == "bad" {
				return "", errors.New("not this one")
			}
			return strings.ToUpper(s), nil
		})},
	},
	Check: func(v *option.Values, role option.Role) {
		if v.Has("bindings") && v.Block("queue") == nil && v.OK("queue") {
			v.Fail("bindings", "bindings need a queue")
		}
	},
}

// decode decodes src (a connector block's body) with spec; env has X=secret-value.
func decode(t *testing.T, src string, role option.Role) (*option.Values, error) {
	t.Helper()
	cfg, diags := config.Decode("t.cai", []byte("connector c { type: test\n"+src+"\n}"))
	if diags.HasErrors() {
		t.Fatalf("decode: %v", diags.Err())
	}
	return spec.Decode(option.Input{
		What: "test connector c", Options: cfg.Connectors[0].Options, Role: role,
		Lookup: func(name string) (string, bool) { return "hunter2-secret", name == "X" },
	})
}

func TestDecodeValuesAndDefaults(t *testing.T) {
	v, err := decode(t, `url: env(X)
count: 3
topics: "a"
group: g
queue: orders
bindings: { exchange: x }
arguments: { x-ttl: 5 }
payload: { token: env(X), n: 1 }
start: 0
upper: abc`, option.Source)
	if err != nil {
		t.Fatal(err)
	}
	p := v.Any("payload").(config.Options)
	token, _ := p.Get("token")
	q, b := v.Block("queue"), v.Blocks("bindings")
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"url, resolved", v.String("url"), "hunter2-secret"},
		{"kind, defaulted", v.String("kind"), "topic"},
		{"count", v.Int("count"), 3},
		{"size, defaulted", v.Int("size"), 8},
		{"durable, defaulted", v.Bool("durable"), true},
		{"wait, defaulted", v.Duration("wait"), 2 * time.Second},
		{"topics, one string as a list", v.Strings("topics"), []string{"a"}},
		{"queue from its shorthand", q.String("name"), "orders"},
		{"queue's default", q.Bool("durable"), true},
		{"one block as a list of one", len(b), 1},
		{"binding", b[0].String("exchange"), "x"},
		{"map", len(v.Map("arguments").Entries), 1},
		{"payload's env() resolved", token.Value, "hunter2-secret"},
		{"start as written", v.Any("start"), int64(0)},
		{"upper as written", v.String("upper"), "abc"},
		{"upper parsed", option.Get[string](v, "upper"), "ABC"},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: %#v, want %#v", c.what, c.got, c.want)
		}
	}
	if !v.Has("count") || v.Has("size") {
		t.Error("Has tells set options from defaults")
	}
}

// TestDecodeErrors: every problem is reported, each with its position and the option's
// name; a second problem of one option is not.
func TestDecodeErrors(t *testing.T) {
	for _, c := range []struct {
		name, src string
		role      option.Role
		want      []string
	}{
		{"missing", `kind: topic`, option.Alone, []string{"t.cai:1:1: test connector c: missing url: the server's URL"}},
		{"missing for a role", `url: "u"`, option.Source, []string{"t.cai:1:1: test connector c: missing group, which a source needs: the consumer group"}},
		{"not needed by another role", `url: "u"`, option.Sink, nil},
		{"empty", `url: ""`, option.Alone, []string{"t.cai:2:1: test connector c: url: must not be empty"}},
		{"did you mean", `url: "u"` + "\ndurible: true", option.Alone, []string{"t.cai:3:1: test connector c: unknown setting durible; did you mean durable?"}},
		{"expected one of", `url: "u"` + "\ncolour: blue", option.Alone, []string{"unknown setting colour; expected one of arguments, bindings, count, durable, group, kind, payload, queue, size, start, topics, upper, url, wait"}},
		{"twice", `url: "u"` + "\nsize: 1\nsize: 2", option.Alone, []string{"t.cai:4:1: test connector c: size is set twice (first at line 3)"}},
		{"types", `url: "u"
count: "three"
durable: maybe
wait: soon
topics: [1]
queue: 42
bindings: 7
arguments: [1]`, option.Alone, []string{
			`t.cai:3:1: test connector c: count: expected a whole number, found "three"`,
			`t.cai:4:1: test connector c: durable: expected true or false, found "maybe"`,
			`t.cai:5:1: test connector c: wait: expected a duration such as 5s or 2m, found "soon"`,
			`t.cai:6:1: test connector c: topics: expected a list of strings, found 1 in it`,
			`t.cai:7:1: test connector c: queue: expected a string (the name) or a block { name, durable }, found 42`,
			`t.cai:8:1: test connector c: bindings: expected a list of blocks { exchange }, found 7`,
			`t.cai:9:1: test connector c: arguments: expected a block { … }, found a list`,
		}},
		{"enum", `url: "u"` + "\nkind: topik\nstart: 5", option.Alone, []string{
			`t.cai:3:1: test connector c: kind: expected direct, topic or fanout, found "topik"; did you mean topic?`,
			`t.cai:4:1: test connector c: start: expected 0 or $, found "5"`,
		}},
		{"bounds", `url: "u"` + "\ncount: 11\nsize: 0\nwait: 0s", option.Alone, []string{
			"t.cai:3:1: test connector c: count: expected a number from 0 to 10, found 11",
			"t.cai:4:1: test connector c: size: must be at least 1, found 0",
			"t.cai:5:1: test connector c: wait: must be at least 1ms, found 0s",
		}},
		{"negative", `url: "u"` + "\ncount: -1", option.Alone, []string{"count: expected a number from 0 to 10, found -1"}},
		{"nested", `url: "u"` + "\nqueue: { durible: true }\nbindings: [{ exchange: x }, { }]", option.Alone, []string{
			"t.cai:3:8: test connector c: queue: missing name: the queue's name",
			"t.cai:3:10: test connector c: queue: unknown setting durible; did you mean durable?",
			"t.cai:4:29: test connector c: bindings[1]: missing exchange: the exchange",
		}},
		{"parse", `url: "u"` + "\nupper: bad", option.Alone, []string{"t.cai:3:1: test connector c: upper: not this one"}},
		{"env not allowed", `url: "u"` + "\nkind: env(X)", option.Alone, []string{"t.cai:3:1: test connector c: kind: env(…) and file(…) are not allowed here"}},
		{"unset variable", `url: env(UNSET)`, option.Alone, []string{"t.cai:2:1: test connector c: url: UNSET is not set"}},
		{"unset in a payload", `url: "u"` + "\npayload: [{ token: env(UNSET) }]", option.Alone, []string{"t.cai:3:1: test connector c: payload: token: UNSET is not set"}},
		{"rule", `url: "u"` + "\nbindings: [{ exchange: x }]", option.Alone, []string{"t.cai:3:1: test connector c: bindings: bindings need a queue"}},
		{"no echo of a failed option", `url: "u"` + "\nqueue: 42\nbindings: [{ exchange: x }]", option.Alone, []string{"queue: expected a string"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := decode(t, c.src, c.role)
			if c.want == nil {
				if err != nil {
					t.Fatalf("error %v, want none", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(c.want) {
				t.Errorf("%d problems, want %d:\n%v", len(lines), len(c.want), err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			var oe *config.OptionError
			if !errors.As(err, &oe) || oe.Pos.Line == 0 {
				t.Errorf("%v is not an OptionError with a position", err)
			}
		})
	}
}

// TestSecretsNeverShown: a secret's value is in no message, whatever goes wrong.
func TestSecretsNeverShown(t *testing.T) {
	s := &option.Spec{Fields: []option.Field{
		{Name: "password", Type: option.String, Secret: true, Description: "the password", Parse: option.Check(func(string) error { return errors.New("too short") })},
		{Name: "token", Type: option.String, Secret: true, Description: "the token"},
	}}
	opts := config.Options{Entries: []config.Option{
		{Pos: config.Pos{File: "t.cai", Line: 2, Col: 1}, Key: "password", Value: config.Value{Parts: []config.ValuePart{{Env: "X"}}}},
		{Pos: config.Pos{File: "t.cai", Line: 3, Col: 1}, Key: "token", Value: int64(424242)},
	}}
	_, err := s.Decode(option.Input{What: "c", Options: opts, Lookup: func(string) (string, bool) { return "hunter2", true }})
	if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "424242") {
		t.Errorf("error %v, want one without the secrets", err)
	}
	if !strings.Contains(err.Error(), "password: too short") || !strings.Contains(err.Error(), "token: expected a string, env(NAME) or file(PATH), found a int64") {
		t.Errorf("error %v", err)
	}
}

// TestUnsetVariableIsAMissingError: callers tell an unset variable (a warning in
// validate) from a wrong option.
func TestUnsetVariableIsAMissingError(t *testing.T) {
	_, err := decode(t, `url: env(UNSET)`, option.Alone)
	if _, ok := errors.AsType[*config.MissingError](err); !ok {
		t.Errorf("%v does not wrap a *config.MissingError", err)
	}
}

func TestUndeclaredOptionPanics(t *testing.T) {
	v, err := decode(t, `url: "u"`, option.Alone)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if p := recover(); p == nil || !strings.Contains(p.(string), `declares no option "nope"`) {
			t.Errorf("panic %v", p)
		}
	}()
	v.String("nope")
}

func TestMarkdown(t *testing.T) {
	s := &option.Spec{
		Summary:     "Reads things.",
		Description: "More about | pipes.",
		Fields: []option.Field{
			{Name: "url", Type: option.String, Required: option.Always, Secret: true, Description: "the URL"},
			{Name: "queue", Type: option.Block, Shorthand: "name", Required: option.Source, For: option.Source, Description: "the queue", Fields: []option.Field{
				{Name: "name", Type: option.String, Required: option.Always, Description: "its name"},
			}},
			{Name: "bindings", Type: option.Blocks, For: option.Source, Description: "bindings", Fields: []option.Field{
				{Name: "exchange", Type: option.String, Description: "the exchange"},
			}},
			{Name: "wait", Type: option.Duration, For: option.Sink, Default: 90 * time.Second, Min: time.Second, Description: "how long"},
			{Name: "kind", Type: option.String, For: option.Sink, Default: "topic", Enum: []string{"direct", "topic"}, Description: "the kind"},
		},
		Examples: []option.Example{{Role: option.Sink, Title: "a sink", Options: "url: \"x\"\nwait: 1m"}},
	}
	var b strings.Builder
	s.Markdown(&b, "thing", option.Source|option.Sink)
	want := "## thing\n\nReads things.\n\n" +
		"Options:\n\n| Option | Type | Required | Default | Description |\n| --- | --- | --- | --- | --- |\n" +
		"| `url` | string; env() or file() allowed, never shown | yes |  | the URL |\n\n" +
		"Source options:\n\n| Option | Type | Required | Default | Description |\n| --- | --- | --- | --- | --- |\n" +
		"| `queue` | string (the name) or block | source |  | the queue |\n" +
		"| `queue.name` | string | yes |  | its name |\n" +
		"| `bindings` | list of blocks |  |  | bindings |\n" +
		"| `bindings[].exchange` | string |  |  | the exchange |\n\n" +
		"Sink options:\n\n| Option | Type | Required | Default | Description |\n| --- | --- | --- | --- | --- |\n" +
		"| `wait` | duration, at least 1s |  | `1m30s` | how long |\n" +
		"| `kind` | one of `direct`, `topic` |  | `\"topic\"` | the kind |\n\n" +
		"More about | pipes.\n\n" +
		"Example (sink): a sink\n\n```\nconnector thing-sink {\n    type: thing\n    url: \"x\"\n    wait: 1m\n}\n```\n\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
