package storeinput

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/junctionhq/junction/internal/store"
)

// NormalizeFlowDeadLetter checks d and returns it as it is stored and read back: the
// time in UTC at microsecond precision, a nil body empty, the headers a new map (empty,
// not nil, when there are none), Accepted as NormalizeAccepted makes it, and the free
// texts storable. ID, Flow and Queue are
// names callers look dead letters up by, so they are rejected rather than changed when
// a backend could not store them as given.
func NormalizeFlowDeadLetter(d store.FlowDeadLetter) (store.FlowDeadLetter, error) {
	if err := checkName("id", d.ID, true); err != nil {
		return store.FlowDeadLetter{}, err
	}
	if err := checkName("flow", d.Flow, true); err != nil {
		return store.FlowDeadLetter{}, fmt.Errorf("dead letter %q: %w", d.ID, err)
	}
	if err := checkName("queue", d.Queue, false); err != nil {
		return store.FlowDeadLetter{}, fmt.Errorf("dead letter %q: %w", d.ID, err)
	}
	if d.Attempts < 0 || d.Attempts > math.MaxInt32 {
		return store.FlowDeadLetter{}, fmt.Errorf("dead letter %q: attempts %d outside 0-%d", d.ID, d.Attempts, math.MaxInt32)
	}
	if err := normalizeTimes([]*time.Time{&d.CreatedAt}, nil); err != nil {
		return store.FlowDeadLetter{}, fmt.Errorf("dead letter %q: created at: %w", d.ID, err)
	}
	// Steps report errors with whatever a failed call returned, and sources hand over
	// ids and headers that need not be UTF-8; a dead letter that cannot be stored would
	// lose the message it is there to keep.
	d.Step, d.Error, d.SourceID = storableText(d.Step), storableText(d.Error), storableText(d.SourceID)
	d.Body = nonNilBytes(d.Body)
	headers := make(map[string]string, len(d.Headers))
	// In key order, so keys that become equal once made storable always keep the same value.
	for _, k := range slices.Sorted(maps.Keys(d.Headers)) {
		headers[storableText(k)] = storableText(d.Headers[k])
	}
	d.Headers = headers
	d.Accepted = NormalizeAccepted(d.Accepted)
	return d, nil
}

// NormalizeAccepted returns a dead letter's accepted sinks as they are stored and read
// back: nil when there are no entries, each entry a new slice (empty, not nil), the
// names storable.
func NormalizeAccepted(accepted [][]string) [][]string {
	if len(accepted) == 0 {
		return nil
	}
	out := make([][]string, len(accepted))
	for i, names := range accepted {
		out[i] = make([]string, len(names))
		for j, n := range names {
			out[i][j] = storableText(n)
		}
	}
	return out
}

// checkName rejects a name that is empty (if required) or that PostgreSQL text cannot
// hold as given (invalid UTF-8, NUL).
func checkName(what, s string, required bool) error {
	switch {
	case s == "" && required:
		return fmt.Errorf("empty %s", what)
	case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		return fmt.Errorf("%s %q: not valid UTF-8 text without NUL", what, s)
	}
	return nil
}
