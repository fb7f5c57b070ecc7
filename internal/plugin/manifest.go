package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/semver"
)

// Manifest says what a plugin is, what it provides and what it may do. The same fields
// are written as JSON (POST /plugins, `junction plugin register --manifest`) and as a
// `plugin NAME { … }` block of the configuration language.
type Manifest struct {
	Name        string `json:"name"`
	Version     string `json:"version"` // semantic version: 1.2.0
	Description string `json:"description,omitempty"`
	Author      string `json:"author,omitempty"`
	License     string `json:"license,omitempty"`
	// Dependencies are plugins that must be loaded, in a version the constraint allows,
	// before this one loads.
	Dependencies []Dependency `json:"dependencies,omitempty"`
	// Functions are the functions the module provides, exactly (the load checks it).
	Functions    []string     `json:"functions"`
	Capabilities Capabilities `json:"capabilities,omitzero"`
	Limits       Limits       `json:"limits,omitzero"`
}

// Dependency is another plugin this one needs: its name and a version constraint such
// as ">=1.2.0", ">=1.0, <2" or "1.4" (the same major version, 1.4 or later).
type Dependency struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"` // "" allows any version
}

// Capabilities are what a plugin may reach outside its sandbox; without any it has no
// network, no file system and no environment.
type Capabilities struct {
	// HTTP lets the plugin send requests (pluginkit.Fetch) to these hosts: "api.example.com"
	// (any port) or "api.example.com:8443", an IP address likewise.
	HTTP *HTTPCapability `json:"http,omitempty"`
	// Env names the environment variables the plugin sees (os.Getenv); no others.
	Env []string `json:"env,omitempty"`
}

// HTTPCapability is the http capability.
type HTTPCapability struct {
	AllowedHosts []string `json:"allowed_hosts"`
}

// Limits bound each instance of a plugin; zero fields take the defaults.
type Limits struct {
	MemoryMB  int      `json:"memory_mb,omitempty"` // linear memory of one instance; DefaultMemoryMB
	Timeout   Duration `json:"timeout,omitzero"`    // one call; DefaultTimeout
	Instances int      `json:"instances,omitempty"` // calls at once; DefaultInstances
}

// Defaults and bounds of the limits.
const (
	DefaultMemoryMB  = 64
	MaxMemoryMB      = 4096
	DefaultTimeout   = time.Second
	MaxTimeout       = 5 * time.Minute
	DefaultInstances = 4
	MaxInstances     = 256
)

// Duration is a time.Duration written as text ("500ms", "2s") in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as text.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "500ms", "2s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`expected a duration such as "500ms" or "2s"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf(`expected a duration such as "500ms" or "2s", found %q`, s)
	}
	*d = Duration(v)
	return nil
}

// namePattern is what plugin and function names may be: they are written in
// expressions (plugin.NAME.FUNCTION(x)).
var namePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// validName reports whether s can name a plugin or a function.
func validName(s string) bool { return namePattern.MatchString(s) }

// ParseManifest reads a manifest's JSON strictly (an unknown field is an error) and
// checks it.
func ParseManifest(b []byte) (Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("manifest: %w", err)
	}
	if dec.More() {
		return Manifest{}, errors.New("manifest: more than one JSON value")
	}
	return m, m.Check()
}

// Check reports every problem of the manifest at once.
func (m Manifest) Check() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !validName(m.Name) {
		bad("name %q: expected letters, digits and _, not starting with a digit", m.Name)
	}
	if !semver.IsValid("v" + m.Version) {
		bad("version %q: expected a semantic version such as 1.0.0", m.Version)
	}
	if len(m.Functions) == 0 {
		bad("functions: list the functions the plugin provides")
	}
	for i, f := range m.Functions {
		if !validName(f) {
			bad("functions: %q: expected letters, digits and _, not starting with a digit", f)
		} else if slices.Contains(m.Functions[:i], f) {
			bad("functions: %q is listed twice", f)
		}
	}
	for _, d := range m.Dependencies {
		if !validName(d.Name) || d.Name == m.Name {
			bad("dependencies: %q is not another plugin's name", d.Name)
		}
		if _, err := parseConstraint(d.Version); err != nil {
			bad("dependencies: %s: %v", d.Name, err)
		}
	}
	if h := m.Capabilities.HTTP; h != nil {
		if len(h.AllowedHosts) == 0 {
			bad("capabilities.http: allowed_hosts is empty; name the hosts the plugin may reach")
		}
		for _, host := range h.AllowedHosts {
			if !validHost(host) {
				bad("capabilities.http.allowed_hosts: %q: expected a host name or address, optionally with :port (no scheme, no path)", host)
			}
		}
	}
	for _, e := range m.Capabilities.Env {
		if e == "" || strings.ContainsAny(e, "=\x00") {
			bad("capabilities.env: %q is not a variable name", e)
		}
	}
	l := m.Limits
	if l.MemoryMB < 0 || l.MemoryMB > MaxMemoryMB {
		bad("limits.memory_mb: %d: expected 1 to %d", l.MemoryMB, MaxMemoryMB)
	}
	if l.Timeout < 0 || time.Duration(l.Timeout) > MaxTimeout {
		bad("limits.timeout: %s: expected up to %s", time.Duration(l.Timeout), MaxTimeout)
	}
	if l.Instances < 0 || l.Instances > MaxInstances {
		bad("limits.instances: %d: expected 1 to %d", l.Instances, MaxInstances)
	}
	return errors.Join(errs...)
}

// memoryMB, timeout and instances are the limits in force.
func (l Limits) memoryMB() int          { return cmpOr(l.MemoryMB, DefaultMemoryMB) }
func (l Limits) timeout() time.Duration { return cmpOr(time.Duration(l.Timeout), DefaultTimeout) }
func (l Limits) instances() int         { return cmpOr(l.Instances, DefaultInstances) }
func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func validHost(h string) bool {
	if h == "" || strings.ContainsAny(h, "/?#@ ") {
		return false
	}
	host := h
	if hh, port, err := net.SplitHostPort(h); err == nil {
		if port == "" {
			return false
		}
		host = hh
	}
	return host != ""
}

// constraint is a dependency's version constraint: comparisons that must all hold.
type constraint []comparison

type comparison struct {
	op      string // = > >= < <= ^
	version string // canonical semver with v
}

// parseConstraint reads ">=1.2.0", ">=1.0, <2", "=1.4.1" or "1.4" (^: same major, at
// least 1.4); "" allows any version.
func parseConstraint(s string) (constraint, error) {
	var c constraint
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		op := "^"
		for _, o := range []string{">=", "<=", ">", "<", "=", "^"} {
			if rest, ok := strings.CutPrefix(part, o); ok {
				op, part = o, strings.TrimSpace(rest)
				break
			}
		}
		v := "v" + strings.TrimPrefix(part, "v")
		if !semver.IsValid(v) {
			return nil, fmt.Errorf("version constraint %q: expected comparisons such as \">=1.2.0\" or \">=1.0, <2\"", s)
		}
		c = append(c, comparison{op, v})
	}
	return c, nil
}

// allows reports whether version satisfies the constraint.
func (c constraint) allows(version string) bool {
	v := "v" + version
	for _, x := range c {
		n := semver.Compare(v, x.version)
		ok := false
		switch x.op {
		case "=":
			ok = n == 0
		case ">":
			ok = n > 0
		case ">=":
			ok = n >= 0
		case "<":
			ok = n < 0
		case "<=":
			ok = n <= 0
		case "^":
			ok = n >= 0 && semver.Major(v) == semver.Major(x.version)
		}
		if !ok {
			return false
		}
	}
	return true
}
