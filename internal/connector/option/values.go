package option

import (
	"fmt"
	"time"

	"github.com/junctionhq/junction/internal/config"
)

// The accessors return an option's value, or its default when it is not set. Asking for
// an option the spec does not declare, or as another type, is a programming error and
// panics (every connector's tests decode its options).

// String returns a String option (a Secret resolved).
func (v *Values) String(name string) string { return v.get(name).(string) }

// Int returns an Int option.
func (v *Values) Int(name string) int { return v.get(name).(int) }

// Bool returns a Bool option.
func (v *Values) Bool(name string) bool { return v.get(name).(bool) }

// Duration returns a Duration option.
func (v *Values) Duration(name string) time.Duration { return v.get(name).(time.Duration) }

// Strings returns a Strings option.
func (v *Values) Strings(name string) []string { return v.get(name).([]string) }

// Block returns a Block option, or nil when it is not set.
func (v *Values) Block(name string) *Values { return v.get(name).(*Values) }

// Blocks returns a Blocks option.
func (v *Values) Blocks(name string) []*Values { return v.get(name).([]*Values) }

// Map returns a Map option (an empty block when it is not set).
func (v *Values) Map(name string) config.Options { return v.get(name).(config.Options) }

// Any returns an Any option as written (its env(…) values resolved when Secret), or
// nil when it is not set.
func (v *Values) Any(name string) any { return v.get(name) }

// Get returns what a field's Parse made of its value, or T's zero value when the
// option is not set.
func Get[T any](v *Values, name string) T {
	v.get(name)
	t, _ := v.parsed[name].(T)
	return t
}

// Has reports whether the option is set in the configuration (rather than defaulted).
func (v *Values) Has(name string) bool {
	v.get(name)
	return v.set[name]
}

// Fail reports a problem with an option, at its position (the block's when it is not
// set). A second problem with the same option is not reported: it is usually an echo.
func (v *Values) Fail(name, format string, args ...any) {
	v.get(name)
	if v.failed[name] {
		return
	}
	v.failed[name] = true
	pos := v.opts.Pos
	if e, ok := v.opts.Get(name); ok {
		pos = v.posOf(e)
	}
	v.report(pos, name+": "+fmt.Sprintf(format, args...), nil)
}

// Missing reports an option that is not set (or empty) although another option needs
// it, saying why: "missing key: an upsert needs the conflict columns". It reports
// nothing when the option is set.
func (v *Values) Missing(name, format string, args ...any) {
	v.get(name)
	if v.failed[name] || (v.set[name] && !empty(v.vals[name])) {
		return
	}
	v.failed[name] = true
	v.report(v.opts.Pos, "missing "+name+": "+fmt.Sprintf(format, args...), nil)
}

// OK reports whether the option was decoded without a problem (set or not).
func (v *Values) OK(name string) bool {
	v.get(name)
	return !v.failed[name]
}

func (v *Values) get(name string) any {
	val, ok := v.vals[name]
	if !ok {
		panic(fmt.Sprintf("option: %s declares no option %q", v.what, name))
	}
	return val
}
