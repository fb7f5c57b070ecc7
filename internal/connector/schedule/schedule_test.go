package schedule

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/connectortest"
	"github.com/junctionhq/junction/internal/connector/option"
	"github.com/junctionhq/junction/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var start = time.Date(2026, 1, 1, 0, 7, 0, 0, time.UTC) // a Thursday

// settings builds connector settings from key/value pairs, each option on its own line
// so errors can be checked for positions.
func settings(env connector.Env, kv ...any) connector.Settings {
	opts := config.Options{Pos: config.Pos{File: "test.cai", Line: 1, Col: 1}}
	for i := 0; i < len(kv); i += 2 {
		opts.Entries = append(opts.Entries, config.Option{
			Pos: config.Pos{File: "test.cai", Line: i/2 + 2, Col: 5}, Key: kv[i].(string), Value: kv[i+1],
		})
	}
	return connector.Settings{Connector: &config.Connector{Name: "tick", Type: "schedule", Options: opts}, Options: opts, Env: env}
}

type harness struct {
	t    *testing.T
	fake *clock.Fake
	logs *testkit.SyncBuffer
	ch   <-chan connector.Delivery
}

// run opens a schedule source on a fake clock set to start.
func run(t *testing.T, inFlight int, kv ...any) *harness {
	t.Helper()
	h := &harness{t: t, fake: clock.NewFake(start), logs: &testkit.SyncBuffer{}}
	env := connector.Env{Clock: h.fake, Logger: slog.New(slog.NewTextHandler(h.logs, nil))}
	src, err := NewSource(settings(env, kv...))
	if err != nil {
		t.Fatalf("NewSource: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		if err := src.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if h.ch, err = src.Open(ctx, inFlight); err != nil {
		t.Fatalf("Open: %v", err)
	}
	return h
}

// advance waits until the source sleeps on the clock, then moves the clock by d.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	h.waitSleeping()
	h.fake.Advance(d)
}

func (h *harness) waitSleeping() {
	h.t.Helper()
	deadline := time.Now().Add(connectortest.Timeout)
	for h.fake.Sleepers() == 0 {
		if time.Now().After(deadline) {
			h.t.Fatal("the source never waited on the clock")
		}
		time.Sleep(time.Millisecond)
	}
}

// tick receives one delivery and checks its scheduled time.
func (h *harness) tick(want string) connector.Delivery {
	h.t.Helper()
	d := connectortest.Receive(h.t, h.ch, 1)[0]
	if got := d.Headers["scheduled_at"]; got != want {
		h.t.Fatalf("scheduled_at %s, want %s", got, want)
	}
	return d
}

// none checks that nothing was sent: the source is back asleep without having sent.
func (h *harness) none() {
	h.t.Helper()
	h.waitSleeping()
	select {
	case d := <-h.ch:
		h.t.Fatalf("unexpected tick %s", d.Headers["scheduled_at"])
	default:
	}
}

func TestEvery(t *testing.T) {
	h := run(t, 4, "every", 5*time.Minute, "payload", config.Options{Entries: []config.Option{{Key: "job", Value: "sync"}}})
	h.advance(4*time.Minute + 59*time.Second)
	h.none()
	h.advance(time.Second)
	d := h.tick("2026-01-01T00:12:00Z")
	if string(d.Body) != `{"job":"sync"}` || d.Headers["schedule"] != "every 5m0s" || !d.Time.Equal(start.Add(5*time.Minute)) {
		t.Errorf("delivery %q %v %v", d.Body, d.Headers, d.Time)
	}
	if d.ID != "schedule:2026-01-01T00:12:00Z" {
		t.Errorf("ID %q", d.ID)
	}
	if err := d.Ack(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Nack(context.Background()); err != ErrSettled {
		t.Errorf("Nack after Ack: %v, want ErrSettled", err)
	}
	h.advance(5 * time.Minute)
	h.tick("2026-01-01T00:17:00Z")
	h.waitSleeping()
	if slept := h.fake.Slept(); len(slept) != 3 || slept[0] != 5*time.Minute || slept[1] != 5*time.Minute || slept[2] != 5*time.Minute {
		t.Errorf("slept %v, want one wait of 5m per tick", slept)
	}
}

func TestCron(t *testing.T) {
	h := run(t, 4, "cron", "*/15 * * * *")
	h.advance(8 * time.Minute)
	d := h.tick("2026-01-01T00:15:00Z")
	if string(d.Body) != "{}" || d.Headers["schedule"] != "*/15 * * * *" {
		t.Errorf("delivery %q %v", d.Body, d.Headers)
	}
	h.advance(15 * time.Minute)
	h.tick("2026-01-01T00:30:00Z")
}

// A jump over several ticks sends one message, for the latest, and the timetable
// stays on its grid.
func TestMissedTicks(t *testing.T) {
	h := run(t, 4, "every", 5*time.Minute)
	h.advance(12 * time.Minute)
	h.tick("2026-01-01T00:17:00Z")
	h.none()
	if !strings.Contains(h.logs.String(), "missed=1") {
		t.Errorf("log %q does not report the missed tick", h.logs.String())
	}
	h.advance(5 * time.Minute)
	h.tick("2026-01-01T00:22:00Z")
}

// With every slot taken by unsettled ticks, a tick is skipped, not queued.
func TestSkipWhenUnsettled(t *testing.T) {
	h := run(t, 1, "every", time.Minute)
	h.advance(time.Minute)
	first := h.tick("2026-01-01T00:08:00Z")
	h.advance(time.Minute)
	h.none()
	if !strings.Contains(h.logs.String(), "tick skipped") || !strings.Contains(h.logs.String(), "level=WARN") {
		t.Errorf("log %q does not warn about the skipped tick", h.logs.String())
	}
	if err := first.Nack(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.advance(time.Minute)
	h.tick("2026-01-01T00:10:00Z") // 00:09 is not replayed
}

func TestCronNextTimes(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 7, 10, 0, time.UTC)
	for _, c := range []struct {
		cron, timezone string
		from           time.Time // default: from
		want           []string
	}{
		{"*/5 * * * *", "", time.Time{}, []string{"2026-01-01T00:10:00Z", "2026-01-01T00:15:00Z", "2026-01-01T00:20:00Z"}},
		{"30 */2 * * * *", "", time.Time{}, []string{"2026-01-01T00:08:30Z", "2026-01-01T00:10:30Z", "2026-01-01T00:12:30Z"}},
		{"@hourly", "", time.Time{}, []string{"2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"}},
		{"@every 90s", "", time.Time{}, []string{"2026-01-01T00:08:40Z", "2026-01-01T00:10:10Z"}},
		{"0 9 * * 1-5", "Europe/Berlin", time.Time{}, []string{"2026-01-01T09:00:00+01:00", "2026-01-02T09:00:00+01:00", "2026-01-05T09:00:00+01:00"}},
		{"0 0 1 */6 *", "", time.Date(2025, 12, 31, 23, 59, 0, 0, time.UTC), []string{"2026-01-01T00:00:00Z", "2026-07-01T00:00:00Z"}},
	} {
		t.Run(c.cron, func(t *testing.T) {
			kv := []any{"cron", c.cron}
			if c.timezone != "" {
				kv = append(kv, "timezone", c.timezone)
			}
			o, err := readOptions(settings(connector.Env{}, kv...), option.Source)
			if err != nil {
				t.Fatal(err)
			}
			at := from
			if !c.from.IsZero() {
				at = c.from
			}
			at = at.In(o.location)
			var got []string
			for range c.want {
				at = o.sched.Next(at)
				got = append(got, at.Format(time.RFC3339))
			}
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("next times %v, want %v", got, c.want)
			}
		})
	}
}

// The source reads cron expressions in its time zone and stamps ticks in it.
func TestTimezone(t *testing.T) {
	h := run(t, 4, "cron", "0 9 * * *", "timezone", "Europe/Berlin")
	h.advance(8*time.Hour - 7*time.Minute) // 08:00 UTC is 09:00 in Berlin in winter
	d := h.tick("2026-01-01T09:00:00+01:00")
	if !d.Time.Equal(time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("time %v", d.Time)
	}
}

func TestPayloadEncoding(t *testing.T) {
	env := connector.Env{LookupEnv: func(name string) (string, bool) { return "t0k", name == "TOKEN" }}
	payload := config.Options{Entries: []config.Option{
		{Key: "zeta", Value: int64(1)},
		{Key: "alpha", Value: []any{int64(1), 2.5, "x", true, nil, config.Options{Entries: []config.Option{{Key: "wait", Value: 90 * time.Second}}}}},
		{Key: "map", Value: map[string]any{"b": false, "a": "quote\"d"}},
		{Key: "token", Value: config.Value{Parts: []config.ValuePart{{Literal: "Bearer "}, {Env: "TOKEN"}}}},
		{Key: "empty", Value: config.Options{}},
	}}
	o, err := readOptions(settings(env, "every", "1m", "payload", payload), option.Source)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"zeta":1,"alpha":[1,2.5,"x",true,null,{"wait":"1m30s"}],"map":{"a":"quote\"d","b":false},"token":"Bearer t0k","empty":{}}`
	if string(o.body) != want {
		t.Errorf("body\n%s\nwant\n%s", o.body, want)
	}
	for _, c := range []struct {
		payload any
		want    string
	}{{"hello", `"hello"`}, {int64(42), `42`}, {[]any{}, `[]`}, {nil, `null`}} {
		o, err := readOptions(settings(env, "every", "1m", "payload", c.payload), option.Source)
		if err != nil || string(o.body) != c.want {
			t.Errorf("payload %v: body %s (%v), want %s", c.payload, o.body, err, c.want)
		}
	}
}

func TestOptionErrors(t *testing.T) {
	env := connector.Env{LookupEnv: func(string) (string, bool) { return "", false }}
	for _, c := range []struct {
		name string
		kv   []any
		want string
	}{
		{"too few fields", []any{"cron", "*/5 * * *"}, `test.cai:2:5: schedule connector tick: cron: "*/5 * * *": expected 5 to 6 fields, found 4`},
		{"out of range", []any{"cron", "61 * * * *"}, `test.cai:2:5: schedule connector tick: cron: "61 * * * *": end of range (61) above maximum (59)`},
		{"unknown descriptor", []any{"cron", "@fortnightly"}, `test.cai:2:5: schedule connector tick: cron: "@fortnightly": unrecognized descriptor`},
		{"zone without schedule", []any{"cron", "CRON_TZ=UTC"}, "test.cai:2:5: schedule connector tick: cron: \"CRON_TZ=UTC\" has a time zone but no schedule"},
		{"never fires", []any{"cron", "0 0 30 2 *"}, `test.cai:2:5: schedule connector tick: cron: "0 0 30 2 *" never fires`},
		{"cron not a string", []any{"cron", int64(5)}, "test.cai:2:5: schedule connector tick: cron: expected a string"},
		{"both", []any{"cron", "* * * * *", "every", "5m"}, "test.cai:3:5: schedule connector tick: every: set cron or every, not both"},
		{"neither", []any{"payload", "x"}, "test.cai:1:1: schedule connector tick: missing cron: a schedule needs cron (such as"},
		{"zero every", []any{"every", time.Duration(0)}, "test.cai:2:5: schedule connector tick: every: must be a positive duration"},
		{"bad every", []any{"every", "often"}, "test.cai:2:5: schedule connector tick: every: expected a duration"},
		{"bad timezone", []any{"every", "5m", "timezone", "Mars/Olympus"}, `test.cai:3:5: schedule connector tick: timezone: unknown time zone "Mars/Olympus"`},
		{"unset env in payload", []any{"every", "5m", "payload", config.Options{Entries: []config.Option{{Key: "token", Value: config.Value{Parts: []config.ValuePart{{Env: "TOKEN"}}}}}}}, "test.cai:3:5: schedule connector tick: payload: token: TOKEN is not set"},
		{"not JSON", []any{"every", "5m", "payload", 1.0 / zero()}, "test.cai:3:5: schedule connector tick: payload: json: unsupported value: +Inf"},
		{"unknown", []any{"every", "5m", "topic", "t"}, "test.cai:3:5: schedule connector tick: unknown setting topic; expected one of cron, every, payload, timezone"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewSource(settings(env, c.kv...))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
			if checkErr := Kind().Check(context.Background(), settings(env, c.kv...)); checkErr == nil || checkErr.Error() != err.Error() {
				t.Errorf("Check: %v, want the same error", checkErr)
			}
		})
	}
}

func zero() float64 { return 0 }

func TestKind(t *testing.T) {
	k := Kind()
	if k.Name != "schedule" || k.NewSource == nil || k.NewSink != nil || k.Check == nil {
		t.Errorf("kind %+v", k)
	}
	if err := k.Check(context.Background(), settings(connector.Env{}, "cron", "@daily")); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func TestChannelClosedWithContext(t *testing.T) {
	src, err := NewSource(settings(connector.Env{Clock: clock.NewFake(start)}, "every", "1m"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := src.Open(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Open(ctx, 1); err == nil {
		t.Error("second Open succeeded")
	}
	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("delivery after cancel")
		}
	case <-time.After(connectortest.Timeout):
		t.Fatal("channel not closed after the context ended")
	}
}

// TestConformance: a source only, so the suite checks its spec.
func TestConformance(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{Kind: Kind()})
}
