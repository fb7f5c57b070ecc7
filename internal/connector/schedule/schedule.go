package schedule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

// TimezoneDefault is the time zone of cron expressions when none is set.
const TimezoneDefault = "UTC"

// maxCatchUp bounds the walk over missed ticks after a long pause; past it, the
// schedule simply restarts from now.
const maxCatchUp = 10000

// ErrSettled is returned by a second Ack or Nack of the same delivery.
var ErrSettled = errors.New("schedule: delivery already settled")

// parser reads standard 5-field expressions, 6 fields with seconds first, and
// descriptors such as @hourly and @every 90s.
var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Kind returns the schedule connector type: a source only.
func Kind() connector.Kind {
	return connector.Kind{
		Name:      "schedule",
		Spec:      spec,
		NewSource: NewSource,
		// Every node would tick: one node of a cluster runs the timetable.
		Singleton: true,
		// Nothing to reach: checking is reading the options.
		Check: func(_ context.Context, s connector.Settings) error {
			_, err := readOptions(s, option.Alone)
			return err
		},
	}
}

type options struct {
	what     string
	sched    cron.Schedule
	spec     string // the schedule as written, for the header
	location *time.Location
	body     []byte
}

// every is a fixed interval; unlike cron's @every it keeps sub-second precision.
type every time.Duration

func (e every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }

// spec declares the schedule connector's options.
var spec = &option.Spec{
	Summary: `A source that produces a message on a timetable, so flows can run periodically (poll an
API every five minutes, send a report at 9:00). It has no sink.`,
	Description: `Each tick is one message with the headers scheduled_at (RFC 3339, in the time zone) and
schedule (the expression). Ack and Nack do nothing: a tick is not replayed, and neither is one
missed while the process was down. When the clock jumps over several ticks, one message is
sent for the latest; when the flow's in-flight limit of ticks is still unsettled, the tick is
skipped with a warning rather than queued.`,
	Fields: []option.Field{
		{Name: "cron", Type: option.String, Example: `"*/5 * * * *"`,
			Description: `a cron expression: 5 fields ("*/5 * * * *"), 6 with seconds first ("30 */5 * * * *"), or a descriptor (@hourly, @daily, @every 90s). Exactly one of cron and every is required.`,
			Parse:       option.Convert(parse)},
		{Name: "every", Type: option.Duration, Example: "5m",
			Description: "a fixed interval instead of cron, counted from when the source opens.",
			Parse: option.Check(func(d time.Duration) error {
				if d <= 0 {
					return fmt.Errorf("must be a positive duration such as 5m, found %v", d)
				}
				return nil
			})},
		{Name: "payload", Type: option.Any, Secret: true, Example: `{ report: "daily" }`,
			Description: "the message body, written as any value of the configuration and sent as JSON (objects keep their key order). Default: {}.",
			Parse: func(v any) (any, error) {
				var b bytes.Buffer
				err := encode(&b, v)
				return b.Bytes(), err
			}},
		{Name: "timezone", Type: option.String, Default: TimezoneDefault, Example: "Europe/Berlin",
			Description: "the IANA time zone cron expressions are read in.",
			Parse: option.Convert(func(tz string) (*time.Location, error) {
				loc, err := time.LoadLocation(tz)
				if err != nil {
					return nil, fmt.Errorf("unknown time zone %q (expected an IANA name such as Europe/Berlin)", tz)
				}
				return loc, nil
			})},
	},
	Check: func(v *option.Values, _ option.Role) {
		switch {
		case v.Has("cron") && v.Has("every"):
			v.Fail("every", "set cron or every, not both")
		case !v.Has("cron") && !v.Has("every"):
			v.Missing("cron", `a schedule needs cron (such as "*/5 * * * *") or every (such as 5m)`)
		case v.Has("cron") && v.OK("cron") && v.OK("timezone"):
			if sched := option.Get[cron.Schedule](v, "cron"); sched.Next(time.Now().In(option.Get[*time.Location](v, "timezone"))).IsZero() {
				v.Fail("cron", "%q never fires", v.String("cron"))
			}
		}
	},
	Examples: []option.Example{
		{Role: option.Source, Title: "every weekday at 9:00 in Berlin", Options: `cron: "0 9 * * 1-5"
timezone: "Europe/Berlin"
payload: { report: "daily" }`},
	},
}

func readOptions(s connector.Settings, role option.Role) (*options, error) {
	v, err := s.Decode(spec, role)
	if err != nil {
		return nil, err
	}
	o := &options{what: s.Connector.Type + " connector " + s.Connector.Name, location: option.Get[*time.Location](v, "timezone"), body: []byte("{}")}
	if v.Has("cron") {
		o.sched = option.Get[cron.Schedule](v, "cron")
		o.spec = v.String("cron")
	} else {
		d := v.Duration("every")
		o.sched, o.spec = every(d), "every "+d.String()
	}
	if v.Has("payload") {
		o.body = option.Get[[]byte](v, "payload")
	}
	return o, nil
}

// parse reads a cron expression without letting the library panic: cron v3.0.1 slices
// out of range on a time zone prefix with nothing after it ("CRON_TZ=UTC").
func parse(spec string) (sched cron.Schedule, err error) {
	if (strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=")) && !strings.Contains(spec, " ") {
		return nil, fmt.Errorf("%q has a time zone but no schedule", spec)
	}
	defer func() {
		if p := recover(); p != nil {
			sched, err = nil, fmt.Errorf("cannot parse %q", spec)
		}
	}()
	sched, err = parser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", spec, err)
	}
	return sched, nil
}

// encode writes a configuration value as JSON. Blocks keep the order they are written
// in, which encoding/json would not (it sorts map keys).
func encode(b *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil, bool, string, int64, float64, int:
		data, err := json.Marshal(x)
		if err != nil {
			return err
		}
		b.Write(data)
	case time.Duration:
		data, _ := json.Marshal(x.String())
		b.Write(data)
	case []any:
		b.WriteByte('[')
		for i, it := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := encode(b, it); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case config.Options:
		return encodeObject(b, x.Entries)
	case map[string]any:
		entries := make([]config.Option, 0, len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			entries = append(entries, config.Option{Key: k, Value: x[k]})
		}
		return encodeObject(b, entries)
	default:
		return fmt.Errorf("cannot be written as JSON: %v (%T)", v, v)
	}
	return nil
}

// encodeObject writes the entries as a JSON object, in their order.
func encodeObject(b *bytes.Buffer, entries []config.Option) error {
	b.WriteByte('{')
	for i, e := range entries {
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(e.Key)
		b.Write(key)
		b.WriteByte(':')
		if err := encode(b, e.Value); err != nil {
			return fmt.Errorf("%s: %w", e.Key, err)
		}
	}
	b.WriteByte('}')
	return nil
}

// Source produces one message per tick.
type Source struct {
	o     *options
	log   *slog.Logger
	clock clock.Clock

	wg sync.WaitGroup

	mu        sync.Mutex
	opened    bool
	closed    bool
	cancel    context.CancelFunc
	inFlight  int
	unsettled int
}

var _ connector.Source = (*Source)(nil)

// NewSource checks the options and returns a source.
func NewSource(s connector.Settings) (connector.Source, error) {
	o, err := readOptions(s, option.Source)
	if err != nil {
		return nil, err
	}
	return &Source{o: o, log: s.Env.Log().With("connector", s.Connector.Name, "schedule", o.spec), clock: s.Env.Time()}, nil
}

// Open starts the timetable from now.
func (s *Source) Open(ctx context.Context, inFlight int) (<-chan connector.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opened || s.closed {
		return nil, fmt.Errorf("%s: source already opened or closed", s.o.what)
	}
	ctx, cancel := context.WithCancel(ctx)
	s.opened, s.cancel, s.inFlight = true, cancel, max(inFlight, 1)
	out := make(chan connector.Delivery)
	s.wg.Add(1)
	go s.run(ctx, out)
	return out, nil
}

func (s *Source) run(ctx context.Context, out chan<- connector.Delivery) {
	defer s.wg.Done()
	defer close(out)
	next := s.o.sched.Next(s.clock.Now().In(s.o.location))
	for {
		if next.IsZero() {
			s.log.Warn("schedule: no further ticks")
			<-ctx.Done()
			return
		}
		if err := s.clock.Sleep(ctx, next.Sub(s.clock.Now())); err != nil {
			return
		}
		now := s.clock.Now()
		if now.Before(next) {
			continue // the wall clock was set back while sleeping
		}
		// The sleep may have overrun several ticks (a suspended machine, a blocked
		// receiver): send one message, for the latest tick that is due.
		due, missed := next, 0
		for {
			after := s.o.sched.Next(due)
			if after.IsZero() || after.After(now) {
				next = after
				break
			}
			if missed++; missed > maxCatchUp {
				due, next = now, s.o.sched.Next(now.In(s.o.location))
				break
			}
			due = after
		}
		if missed > 0 {
			s.log.Warn("schedule: ticks missed", "missed", missed, "scheduled_at", due)
		}
		if !s.take() {
			s.log.Warn("schedule: tick skipped, the previous ones are not settled yet", "scheduled_at", due, "in_flight", s.inFlight)
			continue
		}
		select {
		case out <- s.delivery(due):
		case <-ctx.Done():
			return
		}
	}
}

// take reserves an in-flight slot for a tick.
func (s *Source) take() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unsettled >= s.inFlight {
		return false
	}
	s.unsettled++
	return true
}

func (s *Source) delivery(at time.Time) connector.Delivery {
	at = at.In(s.o.location)
	stamp := at.Format(time.RFC3339Nano) // RFC 3339; fractions only when the schedule has them
	var settled atomic.Bool
	// Settling only frees the slot: a tick has nothing to acknowledge or replay.
	settle := func(context.Context) error {
		if !settled.CompareAndSwap(false, true) {
			return ErrSettled
		}
		s.mu.Lock()
		s.unsettled--
		s.mu.Unlock()
		return nil
	}
	return connector.Delivery{
		Message: connector.Message{
			Body:    bytes.Clone(s.o.body),
			Headers: map[string]string{"scheduled_at": stamp, "schedule": s.o.spec},
			Time:    at,
		},
		ID:   "schedule:" + stamp,
		Ack:  settle,
		Nack: settle,
	}
}

// Close stops the timetable.
func (s *Source) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		s.wg.Wait()
	}
	return nil
}
