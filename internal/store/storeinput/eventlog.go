package storeinput

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/store"
)

// MaxEventLogLimit bounds one EventLogRead.
const MaxEventLogLimit = 1000

// EventTypeFilter is a set of event patterns as SQL can test them: every type, or the
// types equal to one of Exact or starting with one of Prefixes.
type EventTypeFilter struct {
	All      bool
	Exact    []string
	Prefixes []string // "order." for the pattern "order.*"
}

// CheckEventLogQuery checks q and returns its patterns as a filter.
func CheckEventLogQuery(q store.EventLogQuery) (EventTypeFilter, error) {
	if q.Limit < 1 || q.Limit > MaxEventLogLimit {
		return EventTypeFilter{}, fmt.Errorf("limit %d outside 1-%d", q.Limit, MaxEventLogLimit)
	}
	if err := CheckEventPosition(q.After); err != nil {
		return EventTypeFilter{}, err
	}
	f := EventTypeFilter{All: len(q.Patterns) == 0}
	for _, p := range q.Patterns {
		if err := checkName("event pattern", p, true); err != nil {
			return EventTypeFilter{}, err
		}
		switch {
		case p == "*":
			f.All = true
		case strings.HasSuffix(p, ".*"):
			f.Prefixes = append(f.Prefixes, p[:len(p)-1])
		default:
			f.Exact = append(f.Exact, p)
		}
	}
	if f.All {
		f.Exact, f.Prefixes = nil, nil
	}
	return f, nil
}

// CheckEventPosition rejects a position no event can have.
func CheckEventPosition(p store.EventPosition) error {
	if p.Seq < 0 {
		return fmt.Errorf("event position %d is negative", p.Seq)
	}
	if p.ID != "" && !Key(p.ID) {
		return errors.New("event position has an id no event can have")
	}
	return nil
}

// CheckEventCursor checks a flow's cursor and its time.
func CheckEventCursor(flow string, p store.EventPosition, at time.Time) error {
	if err := checkName("flow", flow, true); err != nil {
		return err
	}
	if err := CheckEventPosition(p); err != nil {
		return err
	}
	return store.CheckTime(at)
}
