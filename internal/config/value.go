package config

import (
	"fmt"
	"os"
	"strings"
)

// Value is a string setting that may come from outside the file: a literal, env(NAME),
// file(PATH), or a string with $NAME / ${NAME} references ("Bearer $STRIPE_SECRET_KEY").
// Secrets reach Junction only this way, and are resolved at start-up, never parsed into
// the model, so the model can be printed and logged safely.
type Value struct {
	Pos   Pos
	Parts []ValuePart
}

// ValuePart is one piece of a Value: exactly one field is set.
type ValuePart struct {
	Literal string
	Env     string // name of an environment variable
	// Default is used when Env is unset or empty (`${NAME:-default}`); HasDefault tells
	// an empty default from none.
	Default    string
	HasDefault bool
	File       string // path of a file whose content (without a trailing newline) is the value
}

// LiteralValue is a Value holding the plain string s.
func LiteralValue(s string) Value { return Value{Parts: []ValuePart{{Literal: s}}} }

// IsZero reports whether the setting was not given at all.
func (v Value) IsZero() bool { return len(v.Parts) == 0 }

// IsLiteral reports whether the value is written in the file itself, with no reference.
func (v Value) IsLiteral() bool {
	for _, p := range v.Parts {
		if p.Env != "" || p.File != "" {
			return false
		}
	}
	return true
}

// WrittenInFile reports whether resolving the value can produce text written in the file
// itself: it has no reference, or a reference with a default. Secrets must not be.
func (v Value) WrittenInFile() bool {
	for _, p := range v.Parts {
		if p.HasDefault {
			return true
		}
	}
	return v.IsLiteral()
}

// String renders the value the way it is written, with references as ${NAME} and
// file(PATH); it never contains a resolved secret.
func (v Value) String() string {
	var b strings.Builder
	for _, p := range v.Parts {
		switch {
		case p.Env != "" && p.HasDefault:
			b.WriteString("${" + p.Env + ":-" + strings.ReplaceAll(p.Default, "$", "$$") + "}")
		case p.Env != "":
			b.WriteString("${" + p.Env + "}")
		case p.File != "":
			b.WriteString("file(" + p.File + ")")
		default:
			b.WriteString(strings.ReplaceAll(p.Literal, "$", "$$"))
		}
	}
	return b.String()
}

// Refs lists the environment variables and files the value reads, as written.
func (v Value) Refs() []string {
	var refs []string
	for _, p := range v.Parts {
		switch {
		case p.Env != "":
			refs = append(refs, p.Env)
		case p.File != "":
			refs = append(refs, "file("+p.File+")")
		}
	}
	return refs
}

// LookupEnv finds an environment variable; os.LookupEnv is the usual one.
type LookupEnv func(name string) (string, bool)

// MissingError says that a referenced variable is unset or empty, or a file unreadable.
type MissingError struct {
	Ref    string // variable name or file(PATH)
	Reason string
}

func (e *MissingError) Error() string { return e.Ref + " " + e.Reason }

// Resolve produces the value's text. An unset or empty variable is an error: Junction
// never sends an empty secret upstream.
func (v Value) Resolve(lookup LookupEnv) (string, error) {
	var b strings.Builder
	for _, p := range v.Parts {
		switch {
		case p.Env != "":
			s, ok := lookup(p.Env)
			if (!ok || s == "") && p.HasDefault {
				b.WriteString(p.Default)
				continue
			}
			if !ok {
				return "", &MissingError{Ref: p.Env, Reason: "is not set"}
			}
			if s == "" {
				return "", &MissingError{Ref: p.Env, Reason: "is empty"}
			}
			b.WriteString(s)
		case p.File != "":
			data, err := os.ReadFile(p.File)
			if err != nil {
				return "", &MissingError{Ref: "file(" + p.File + ")", Reason: "cannot be read: " + err.Error()}
			}
			s := strings.TrimRight(string(data), "\r\n")
			if s == "" {
				return "", &MissingError{Ref: "file(" + p.File + ")", Reason: "is empty"}
			}
			b.WriteString(s)
		default:
			b.WriteString(p.Literal)
		}
	}
	return b.String(), nil
}

// interpolate splits a string into literal text and $NAME / ${NAME} / ${NAME:-default}
// references. "$$" stands for a literal '$'; a '$' not followed by a name is kept as it is.
// A default is plain text up to the closing brace, used when the variable is unset or
// empty, as in a shell: `"${WEATHER_URL:-https://api.open-meteo.com/v1}"`.
func interpolate(s string) ([]ValuePart, error) {
	var parts []ValuePart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, ValuePart{Literal: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			lit.WriteByte(c)
			continue
		}
		switch next := s[i+1]; {
		case next == '$':
			lit.WriteByte('$')
			i++
		case next == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return nil, fmt.Errorf("unclosed ${ in %q: expected ${NAME}", s)
			}
			name := s[i+2 : i+2+end]
			part := ValuePart{Env: name}
			if n, def, ok := strings.Cut(name, ":-"); ok {
				part = ValuePart{Env: n, Default: strings.ReplaceAll(def, "$$", "$"), HasDefault: true}
			}
			if !isEnvName(part.Env) {
				return nil, fmt.Errorf("invalid variable name %q in %q: expected letters, digits and _ (and :-default)", part.Env, s)
			}
			flush()
			parts = append(parts, part)
			i += 2 + end
		case isIdentStart(next):
			j := i + 1
			for j < len(s) && (isIdentStart(s[j]) || (s[j] >= '0' && s[j] <= '9')) {
				j++
			}
			flush()
			parts = append(parts, ValuePart{Env: s[i+1 : j]})
			i = j - 1
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	if len(parts) == 0 {
		parts = []ValuePart{{Literal: ""}}
	}
	return parts, nil
}

func isEnvName(s string) bool {
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdentStart(s[i]) && !(s[i] >= '0' && s[i] <= '9') {
			return false
		}
	}
	return true
}

// EnvProblem is a setting whose value cannot be resolved at start-up.
type EnvProblem struct {
	Pos     Pos
	Owner   string // "integration GitHubAPI", "webhook audit_log"
	Setting string // "auth token", "base_url", "header X-API-Key"
	Err     error
}

func (p EnvProblem) String() string {
	return fmt.Sprintf("%s: %s %s: %v", p.Pos, p.Owner, p.Setting, p.Err)
}

// namedValue is a Value with the name of the setting it belongs to.
type namedValue struct {
	setting string
	value   Value
}

// values lists every Value-typed setting of the integration.
func (in *Integration) values() []namedValue {
	var vs []namedValue
	if in.BaseURL != nil {
		vs = append(vs, namedValue{"base_url", *in.BaseURL})
	}
	for _, h := range in.Headers {
		vs = append(vs, namedValue{"header " + h.Name, h.Value})
	}
	if a := in.Auth; a != nil {
		for _, nv := range []namedValue{
			{"auth token", a.Token}, {"auth key", a.Key}, {"auth username", a.Username},
			{"auth password", a.Password}, {"auth token_url", a.TokenURL},
			{"auth client_id", a.ClientID}, {"auth client_secret", a.ClientSecret},
			{"auth access_key", a.AccessKey}, {"auth secret_key", a.SecretKey},
			{"auth session_token", a.SessionToken}, {"auth region", a.Region},
			{"auth secret", a.Secret},
		} {
			if !nv.value.IsZero() {
				vs = append(vs, nv)
			}
		}
	}
	return vs
}

// EnvProblems resolves every setting that reads the environment or a file and returns
// those that cannot be resolved. An integration with problems must not be used: the
// server starts it as "misconfigured" instead of sending an empty secret.
func (in *Integration) EnvProblems(lookup LookupEnv) []EnvProblem {
	return checkValues("integration "+in.Name, in.values(), lookup)
}

// EnvProblems does the same for an outbound webhook's url, headers and secret. A
// webhook with problems sends nothing: serve shows it as misconfigured.
func (w *Webhook) EnvProblems(lookup LookupEnv) []EnvProblem {
	vs := []namedValue{{"url", w.URL}}
	for _, h := range w.Headers {
		vs = append(vs, namedValue{"header " + h.Name, h.Value})
	}
	if !w.Secret.IsZero() {
		vs = append(vs, namedValue{"secret", w.Secret})
	}
	return checkValues("webhook "+w.Name, vs, lookup)
}

func checkValues(owner string, vs []namedValue, lookup LookupEnv) []EnvProblem {
	var out []EnvProblem
	for _, nv := range vs {
		if _, err := nv.value.Resolve(lookup); err != nil {
			out = append(out, EnvProblem{Pos: nv.value.Pos, Owner: owner, Setting: nv.setting, Err: err})
		}
	}
	return out
}

// EnvProblems checks the whole configuration.
func (c *Config) EnvProblems(lookup LookupEnv) []EnvProblem {
	var out []EnvProblem
	for _, in := range c.Integrations {
		out = append(out, in.EnvProblems(lookup)...)
	}
	for _, w := range c.Webhooks {
		out = append(out, w.EnvProblems(lookup)...)
	}
	for _, s := range c.Sources {
		out = append(out, checkValues("source "+s.Name, []namedValue{{"secret", s.Secret}}, lookup)...)
	}
	for _, x := range c.Connectors {
		out = append(out, x.Options.EnvProblems("connector "+x.Name, lookup)...)
	}
	for _, f := range c.Flows {
		out = append(out, f.Source.Options.EnvProblems("flow "+f.Name+" source", lookup)...)
		for _, s := range f.Sinks {
			out = append(out, s.Options.EnvProblems("flow "+f.Name+" sink "+s.Name, lookup)...)
		}
	}
	return out
}

// EnvProblems resolves every env(NAME) / file(PATH) value in the options, nested blocks
// and lists included, and returns those that cannot be resolved.
func (o Options) EnvProblems(owner string, lookup LookupEnv) []EnvProblem {
	var vs []namedValue
	var walk func(setting string, v any)
	walk = func(setting string, v any) {
		switch v := v.(type) {
		case Value:
			vs = append(vs, namedValue{setting, v})
		case Options:
			for _, e := range v.Entries {
				walk(setting+"."+e.Key, e.Value)
			}
		case []any:
			for _, x := range v {
				walk(setting, x)
			}
		}
	}
	for _, e := range o.Entries {
		walk(e.Key, e.Value)
	}
	return checkValues(owner, vs, lookup)
}

// defaultNote is what an error about a secret written in the file adds when the secret
// was written as a reference's default.
func defaultNote(v Value) string {
	if v.IsLiteral() {
		return ""
	}
	return " (nor as a ${NAME:-default})"
}
