package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var errFlaky = errors.New("flaky")

// alwaysRetry says every outcome may be retried, without Retry-After.
func alwaysRetry(int, error) (bool, time.Duration) { return true, 0 }

// failing is an attempt that always fails with errFlaky and counts its calls.
func failing(calls *int) func(context.Context, int) (int, error) {
	return func(_ context.Context, n int) (int, error) {
		*calls++
		return n, errFlaky
	}
}

func TestAttemptsAreRetriesAfterTheFirst(t *testing.T) {
	for _, n := range []int{0, 1, 3, 7} {
		t.Run(fmt.Sprint(n, " times"), func(t *testing.T) {
			c := clock.NewAutoFake(start)
			calls := 0
			res, made, err := Do(context.Background(), c, Policy{Attempts: n}, alwaysRetry, failing(&calls))
			if calls != n+1 || made != n+1 || res != n+1 {
				t.Errorf("calls=%d made=%d last n=%d, want %d", calls, made, res, n+1)
			}
			if !errors.Is(err, errFlaky) {
				t.Errorf("err = %v, want the last attempt's error", err)
			}
			if got := len(c.Slept()); got != n {
				t.Errorf("slept %d times, want %d", got, n)
			}
		})
	}
}

func TestDoStopsOnSuccessAndOnFinalOutcome(t *testing.T) {
	c := clock.NewAutoFake(start)
	made := 0
	_, n, err := Do(context.Background(), c, Policy{Attempts: 5}, func(_ int, err error) (bool, time.Duration) {
		return err != nil, 0
	}, func(_ context.Context, n int) (int, error) {
		made++
		if n < 3 {
			return 0, errFlaky
		}
		return 42, nil
	})
	if err != nil || n != 3 || made != 3 {
		t.Errorf("n=%d made=%d err=%v, want success on the third attempt", n, made, err)
	}

	final := errors.New("bad request")
	_, n, err = Do(context.Background(), c, Policy{Attempts: 5}, func(int, error) (bool, time.Duration) { return false, 0 },
		func(context.Context, int) (int, error) { return 0, final })
	if n != 1 || err != final {
		t.Errorf("non-retryable: n=%d err=%v, want one attempt and its error", n, err)
	}
}

// within reports whether d is within ±frac of want (inclusive, plus a nanosecond of
// rounding).
func within(d, want time.Duration, frac float64) bool {
	lo := time.Duration(float64(want)*(1-frac)) - 1
	hi := time.Duration(float64(want)*(1+frac)) + 1
	return d >= lo && d <= hi
}

func TestExponentialDelays(t *testing.T) {
	c := clock.NewAutoFake(start)
	calls := 0
	p := Policy{Attempts: 6, Jitter: DefaultJitter}
	if _, _, err := Do(context.Background(), c, p, alwaysRetry, failing(&calls)); !errors.Is(err, errFlaky) {
		t.Fatal(err)
	}
	slept := c.Slept()
	want := []time.Duration{100, 200, 400, 800, 1600, 3200}
	if len(slept) != len(want) {
		t.Fatalf("slept %v, want %d delays", slept, len(want))
	}
	for i, w := range want {
		if w *= time.Millisecond; !within(slept[i], w, 0.25) {
			t.Errorf("delay %d = %v, want %v ±25%%", i+1, slept[i], w)
		}
	}
}

func TestExponentialWithoutJitterIsExact(t *testing.T) {
	s := Policy{Attempts: 4, Initial: time.Second, Multiplier: 3}.Schedule()
	for i, w := range []time.Duration{1, 3, 9, 27} {
		d, ok := s.Next()
		if !ok || d != w*time.Second {
			t.Errorf("delay %d = %v, %v; want %v", i+1, d, ok, w*time.Second)
		}
	}
	if d, ok := s.Next(); ok {
		t.Errorf("fifth Next = %v, true; want no retries left", d)
	}
}

func TestExponentialIsCapped(t *testing.T) {
	for range 200 {
		s := Policy{Attempts: 12, Initial: time.Second, Max: 5 * time.Second, Jitter: DefaultJitter}.Schedule()
		var last time.Duration
		for {
			d, ok := s.Next()
			if !ok {
				break
			}
			if d > 5*time.Second {
				t.Fatalf("delay %v exceeds Max 5s", d)
			}
			last = d
		}
		if last < 3750*time.Millisecond {
			t.Fatalf("last delay %v, want at least 75%% of Max", last)
		}
	}
	// The default cap is 30s.
	s := Policy{Attempts: 20}.Schedule()
	var last time.Duration
	for d, ok := s.Next(); ok; d, ok = s.Next() {
		last = d
	}
	if last != DefaultMax {
		t.Errorf("last delay without jitter = %v, want the default cap %v", last, DefaultMax)
	}
}

// The jitter must use its whole range, centred on the nominal delay, so that many clients
// retrying at once spread out instead of retrying in step.
func TestJitterSpreadsAcrossTheRange(t *testing.T) {
	const schedules = 2000
	p := Policy{Attempts: 3, Jitter: DefaultJitter}
	for i, nominal := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond} {
		lo, hi, sum := time.Duration(1<<62), time.Duration(0), 0.0
		for range schedules {
			s := p.Schedule()
			var d time.Duration
			for range i + 1 {
				d, _ = s.Next()
			}
			lo, hi = min(lo, d), max(hi, d)
			sum += float64(d)
		}
		rel := func(d float64) float64 { return d/float64(nominal) - 1 }
		// Uniform draws: the chance that 2000 of them all miss the outer 2% of the range
		// is below 1e-17; the mean's standard deviation is 0.3% of the nominal delay.
		if r := rel(float64(lo)); r < -0.2501 || r > -0.24 {
			t.Errorf("retry %d: minimum %v is %+.1f%% of %v, want near -25%%", i+1, lo, 100*r, nominal)
		}
		if r := rel(float64(hi)); r > 0.2501 || r < 0.24 {
			t.Errorf("retry %d: maximum %v is %+.1f%% of %v, want near +25%%", i+1, hi, 100*r, nominal)
		}
		if r := rel(sum / schedules); r < -0.02 || r > 0.02 {
			t.Errorf("retry %d: mean is %+.2f%% of %v, want near 0", i+1, 100*r, nominal)
		}
	}
}

func TestConstantBackoff(t *testing.T) {
	c := clock.NewAutoFake(start)
	calls := 0
	p := Policy{Attempts: 4, Backoff: BackoffConstant, Initial: 750 * time.Millisecond, Jitter: DefaultJitter}
	_, _, _ = Do(context.Background(), c, p, alwaysRetry, failing(&calls))
	want := slices.Repeat([]time.Duration{750 * time.Millisecond}, 4)
	if got := c.Slept(); !slices.Equal(got, want) {
		t.Errorf("slept %v, want %v", got, want)
	}
	s := Policy{Attempts: 1, Backoff: BackoffConstant}.Schedule()
	if d, _ := s.Next(); d != DefaultInitial {
		t.Errorf("default constant delay = %v, want %v", d, DefaultInitial)
	}
}

func TestExplicitDelays(t *testing.T) {
	delays := []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute}
	for _, c := range []struct {
		name     string
		attempts int
		want     []time.Duration
	}{
		{"one retry per delay", 0, delays},
		{"fewer attempts", 2, delays[:2]},
		{"more attempts repeat the last", 5, append(slices.Clone(delays), 30*time.Minute, 30*time.Minute)},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk := clock.NewAutoFake(start)
			calls := 0
			// Jitter and Max must not touch an explicit schedule.
			p := Policy{Attempts: c.attempts, Delays: delays, Jitter: DefaultJitter, Max: time.Second}
			_, n, _ := Do(context.Background(), clk, p, alwaysRetry, failing(&calls))
			if got := clk.Slept(); !slices.Equal(got, c.want) || n != len(c.want)+1 {
				t.Errorf("slept %v in %d attempts, want %v in %d", got, n, c.want, len(c.want)+1)
			}
		})
	}
}

func TestFromConfig(t *testing.T) {
	p := FromConfig(&config.Retry{Attempts: 3, Backoff: config.BackoffConstant, Initial: time.Second, Delays: []time.Duration{time.Minute}})
	if p.Attempts != 3 || p.Backoff != BackoffConstant || p.Initial != time.Second || p.Jitter != DefaultJitter || len(p.Delays) != 1 {
		t.Errorf("FromConfig = %+v", p)
	}
	if s := FromConfig(nil).Schedule(); func() bool { _, ok := s.Next(); return ok }() {
		t.Error("no retry setting must mean no retries")
	}
}

// retryAfterOn503 classifies with the package's own helpers, as the runtime will.
func retryAfterOn503(c clock.Clock) func(Outcome, error) (bool, time.Duration) {
	return func(o Outcome, err error) (bool, time.Duration) {
		o.Err = err
		return Retryable(o, nil), o.RetryAfter(c.Now())
	}
}

func respond(h string) func(context.Context, int) (Outcome, error) {
	return func(context.Context, int) (Outcome, error) {
		return Outcome{Status: http.StatusServiceUnavailable, Header: http.Header{"Retry-After": {h}}}, nil
	}
}

func TestRetryAfter(t *testing.T) {
	p := Policy{Attempts: 2} // 100ms, 200ms without jitter
	for _, c := range []struct {
		name   string
		header func(now time.Time) string
		want   []time.Duration
	}{
		{"seconds", func(time.Time) string { return "3" }, []time.Duration{3 * time.Second, 3 * time.Second}},
		{"HTTP date", func(now time.Time) string { return now.Add(7 * time.Second).Format(http.TimeFormat) },
			[]time.Duration{7 * time.Second, 7 * time.Second}},
		{"shorter than the backoff", func(time.Time) string { return "0" },
			[]time.Duration{100 * time.Millisecond, 200 * time.Millisecond}},
		{"date in the past", func(now time.Time) string { return now.Add(-time.Hour).Format(http.TimeFormat) },
			[]time.Duration{100 * time.Millisecond, 200 * time.Millisecond}},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk := clock.NewAutoFake(start)
			attempt := func(ctx context.Context, n int) (Outcome, error) { return respond(c.header(clk.Now()))(ctx, n) }
			o, n, err := Do(context.Background(), clk, p, retryAfterOn503(clk), attempt)
			if err != nil || n != 3 || o.Status != http.StatusServiceUnavailable {
				t.Errorf("Do = %d, %d, %v; want the last 503 after 3 attempts", o.Status, n, err)
			}
			if got := clk.Slept(); !slices.Equal(got, c.want) {
				t.Errorf("slept %v, want %v", got, c.want)
			}
		})
	}
}

func TestRetryAfterBeyondDeadlineStops(t *testing.T) {
	// Do compares the deadline with the clock's time, so the fake clock starts at the
	// real time the context's deadline is measured from. The deadline is an hour away in
	// real time: it never fires during the test.
	now := time.Now()
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(time.Hour))
	defer cancel()

	clk := clock.NewAutoFake(now)
	o, n, err := Do(ctx, clk, Policy{Attempts: 3}, retryAfterOn503(clk), respond("7200"))
	if n != 1 || err != nil || o.Status != http.StatusServiceUnavailable {
		t.Errorf("Do = %d, %d, %v; want the first 503 and no retry", o.Status, n, err)
	}
	if s := clk.Slept(); len(s) != 0 {
		t.Errorf("slept %v, want no wait past the deadline", s)
	}

	// A Retry-After that fits is honoured, until the time left no longer covers it.
	clk = clock.NewAutoFake(now)
	_, n, _ = Do(ctx, clk, Policy{Attempts: 3}, retryAfterOn503(clk), respond("1500"))
	if s := clk.Slept(); n != 3 || !slices.Equal(s, []time.Duration{1500 * time.Second, 1500 * time.Second}) {
		t.Errorf("made %d attempts after sleeping %v, want 3 after two 25m waits", n, s)
	}
}

func TestCallerCancelStopsImmediately(t *testing.T) {
	clk := clock.NewFake(start) // Sleep blocks until the test advances the time
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		_, n, err := Do(ctx, clk, Policy{Attempts: 3, Initial: time.Hour}, alwaysRetry,
			func(context.Context, int) (int, error) { return 0, errFlaky })
		done <- result{n, err}
	}()
	for clk.Sleepers() != 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	r := <-done
	if r.n != 1 || !errors.Is(r.err, context.Canceled) || !errors.Is(r.err, errFlaky) {
		t.Errorf("Do = %d attempts, %v; want 1 attempt and an error wrapping Canceled and the last error", r.n, r.err)
	}

	// Cancelled during an attempt: its error must not lead to another one.
	ctx, cancel = context.WithCancel(context.Background())
	_, n, err := Do(ctx, clock.NewAutoFake(start), Policy{Attempts: 3}, alwaysRetry,
		func(context.Context, int) (int, error) { cancel(); return 0, context.Canceled })
	if n != 1 || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled in the attempt: %d attempts, %v", n, err)
	}

	// Already done: no attempt at all.
	calls := 0
	if _, n, err := Do(ctx, clock.NewAutoFake(start), Policy{Attempts: 3}, alwaysRetry, failing(&calls)); n != 0 || calls != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("done before the call: %d attempts, %v", n, err)
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// refusedError dials a port nothing listens on and returns the real error, as the http
// client would wrap it.
func refusedError(t *testing.T) error {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	conn, err := net.Dial("tcp", addr)
	if err == nil {
		_ = conn.Close()
		t.Fatalf("dial %s succeeded; want a refused connection", addr)
	}
	return &url.Error{Op: "Get", URL: "http://" + addr, Err: err}
}

func TestRetryable(t *testing.T) {
	refused := refusedError(t)
	for _, c := range []struct {
		name     string
		o        Outcome
		statuses []int
		want     bool
	}{
		{"429", Outcome{Status: 429}, nil, true},
		{"502", Outcome{Status: 502}, nil, true},
		{"503", Outcome{Status: 503}, nil, true},
		{"504", Outcome{Status: 504}, nil, true},
		{"500", Outcome{Status: 500}, nil, false},
		{"400", Outcome{Status: 400}, nil, false},
		{"404", Outcome{Status: 404}, nil, false},
		{"200", Outcome{Status: 200}, nil, false},
		{"nothing", Outcome{}, nil, false},
		{"custom list includes 500", Outcome{Status: 500}, []int{500}, true},
		{"custom list excludes 503", Outcome{Status: 503}, []int{500}, false},
		{"empty list retries no status", Outcome{Status: 503}, []int{}, false},
		{"refused connection", Outcome{Err: refused}, nil, true},
		{"connection reset", Outcome{Err: &url.Error{Op: "Post", Err: &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}}}, nil, true},
		{"EOF before response", Outcome{Err: &url.Error{Op: "Get", Err: io.EOF}}, nil, true},
		{"unexpected EOF", Outcome{Err: fmt.Errorf("reading: %w", io.ErrUnexpectedEOF)}, nil, true},
		{"network timeout", Outcome{Err: &url.Error{Op: "Get", Err: timeoutError{}}}, nil, true},
		{"per-attempt deadline", Outcome{Err: &url.Error{Op: "Get", Err: context.DeadlineExceeded}}, nil, true},
		{"caller cancelled", Outcome{Err: &url.Error{Op: "Get", Err: context.Canceled}}, nil, false},
		{"unknown host", Outcome{Err: &net.OpError{Op: "dial", Err: &net.DNSError{Name: "nope.invalid", IsNotFound: true}}}, nil, false},
		{"DNS server failure", Outcome{Err: &net.OpError{Op: "dial", Err: &net.DNSError{Name: "x.example", IsTemporary: true}}}, nil, true},
		{"other error", Outcome{Err: errors.New("tls: failed to verify certificate")}, nil, false},
		{"error wins over status", Outcome{Err: context.Canceled, Status: 503}, nil, false},
	} {
		if got := Retryable(c.o, c.statuses); got != c.want {
			t.Errorf("%s: Retryable = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestMethodRetryable(t *testing.T) {
	for _, c := range []struct {
		method string
		key    bool
		want   bool
	}{
		{"GET", false, true}, {"HEAD", false, true}, {"OPTIONS", false, true},
		{"PUT", false, true}, {"DELETE", false, true}, {"get", false, true},
		{"POST", false, false}, {"POST", true, true},
		{"PATCH", false, false}, {"PATCH", true, true},
		{"CONNECT", false, false},
	} {
		if got := MethodRetryable(c.method, c.key); got != c.want {
			t.Errorf("MethodRetryable(%s, key=%v) = %v, want %v", c.method, c.key, got, c.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"120", 2 * time.Minute, true},
		{" 5 ", 5 * time.Second, true},
		{"0", 0, true},
		{"-3", 0, true},
		{"99999999999999999999", time.Duration(1<<63 - 1), true},
		{"Sun, 01 Mar 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Sunday, 01-Mar-26 12:01:00 GMT", time.Minute, true},
		{"Sun Mar  1 12:00:10 2026", 10 * time.Second, true},
		{"Sun, 01 Mar 2026 11:00:00 GMT", 0, true},
		{"", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
	} {
		got, ok := ParseRetryAfter(c.v, now)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", c.v, got, ok, c.want, c.ok)
		}
	}
}

func BenchmarkScheduleNext(b *testing.B) {
	p := Policy{Attempts: 1 << 30, Jitter: DefaultJitter}
	s := p.Schedule()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := s.Next(); !ok {
			b.Fatal("schedule ran out")
		}
	}
}

// TestDefaultsPerUse pins the one table of defaults (the README's "Retry" table says the
// same): calls, webhook deliveries, flows and scheduled jobs.
func TestDefaultsPerUse(t *testing.T) {
	seed := []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 8 * time.Hour}
	for _, c := range []struct {
		use  string
		got  Policy
		want Policy
	}{
		{"calls", CallDefaults(), Policy{Attempts: 0, Backoff: BackoffExponential, Initial: 100 * time.Millisecond, Multiplier: 2, Max: 30 * time.Second, Jitter: 0.25}},
		{"deliveries", DeliveryDefaults(), Policy{Attempts: 5, Delays: seed, Backoff: BackoffExponential, Initial: time.Minute, Multiplier: 2, Max: 8 * time.Hour, Jitter: 0.25}},
		{"flows", FlowDefaults(), Policy{Attempts: 3, Backoff: BackoffExponential, Initial: time.Second, Multiplier: 2, Max: 30 * time.Second, Jitter: 0.25}},
		{"jobs", JobDefaults(), Policy{Attempts: 0, Backoff: BackoffExponential, Initial: time.Second, Multiplier: 2, Max: 30 * time.Second, Jitter: 0.25}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s defaults = %+v, want %+v", c.use, c.got, c.want)
		}
	}
	// Each call returns its own schedule: a caller changing it changes nobody else's.
	d := DeliveryDefaults()
	d.Delays[0] = time.Hour
	if DeliveryDefaults().Delays[0] != time.Minute {
		t.Error("DeliveryDefaults shares its schedule")
	}
}

// TestSameRetryTextSamePolicy: a retry that writes every setting is the same policy in
// every use; what it leaves out comes from the use's row of the table.
func TestSameRetryTextSamePolicy(t *testing.T) {
	uses := map[string]Policy{"calls": CallDefaults(), "deliveries": DeliveryDefaults(), "flows": FlowDefaults()}
	full := &config.Retry{Attempts: 4, Backoff: config.BackoffExponential, Initial: 200 * time.Millisecond, Multiplier: 3, Max: 10 * time.Second}
	want := Policy{Attempts: 4, Backoff: BackoffExponential, Initial: 200 * time.Millisecond, Multiplier: 3, Max: 10 * time.Second, Jitter: DefaultJitter}
	for use, base := range uses {
		if got := base.With(full); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: With(full) = %+v, want %+v", use, got, want)
		}
	}

	count := &config.Retry{Attempts: 2, Backoff: config.BackoffExponential}
	for use, w := range map[string]struct {
		initial, max time.Duration
	}{"calls": {100 * time.Millisecond, 30 * time.Second}, "deliveries": {time.Minute, 8 * time.Hour}, "flows": {time.Second, 30 * time.Second}} {
		got := uses[use].With(count)
		if got.Attempts != 2 || got.Initial != w.initial || got.Max != w.max || got.Multiplier != 2 || got.Delays != nil {
			t.Errorf("%s: With(2 times) = %+v, want 2 retries from %v capped at %v, without the default schedule", use, got, w.initial, w.max)
		}
	}
	for use, base := range uses {
		if got := base.With(nil); !reflect.DeepEqual(got, base) {
			t.Errorf("%s: With(nil) = %+v, want the defaults", use, got)
		}
	}
	if got := FromConfig(full); !reflect.DeepEqual(got, want) {
		t.Errorf("FromConfig = %+v, want the calls' With", got)
	}
}

// TestDelayBeforeFollowsTheSchedule: a stored retry (a webhook delivery) waits what Do
// would wait, from the same Schedule.
func TestDelayBeforeFollowsTheSchedule(t *testing.T) {
	for name, p := range map[string]Policy{
		"explicit":    {Delays: []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute}},
		"more":        {Attempts: 5, Delays: []time.Duration{time.Minute, 5 * time.Minute}},
		"exponential": {Attempts: 4, Initial: time.Second, Multiplier: 3, Max: 20 * time.Second},
		"constant":    {Attempts: 3, Backoff: BackoffConstant, Initial: 250 * time.Millisecond},
	} {
		c := clock.NewAutoFake(start)
		calls := 0
		_, n, _ := Do(context.Background(), c, p, alwaysRetry, failing(&calls))
		if n != 1+p.Retries() {
			t.Errorf("%s: %d attempts, want %d", name, n, 1+p.Retries())
		}
		var stored []time.Duration
		for attempt := 2; attempt <= n; attempt++ {
			stored = append(stored, p.DelayBefore(attempt))
		}
		if !slices.Equal(stored, c.Slept()) {
			t.Errorf("%s: DelayBefore gives %v, Do waited %v", name, stored, c.Slept())
		}
		if d := p.DelayBefore(n + 1); d != stored[len(stored)-1] {
			t.Errorf("%s: past the retries DelayBefore = %v, want the last delay %v", name, d, stored[len(stored)-1])
		}
	}
	if d := (Policy{}).DelayBefore(2); d != 0 {
		t.Errorf("no retries: DelayBefore(2) = %v", d)
	}
}

// Do is on the path of every call and every flow step: an attempt that succeeds at once
// costs no allocation (the schedule is made at the first retry).
func TestDoFirstAttemptDoesNotAllocate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, c := FlowDefaults(), clock.Real{}
	ok := func(context.Context, int) (int, error) { return 1, nil }
	never := func(int, error) (bool, time.Duration) { return false, 0 }
	if n := testing.AllocsPerRun(100, func() { _, _, _ = Do(ctx, c, p, never, ok) }); n != 0 {
		t.Errorf("Do allocates %v times on a first-attempt success", n)
	}
}

// BenchmarkDoFirstAttempt is the cost of the loop around an attempt that succeeds at once,
// which every integration call and every flow step pays.
func BenchmarkDoFirstAttempt(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, c := FlowDefaults(), clock.Real{}
	ok := func(context.Context, int) (int, error) { return 1, nil }
	never := func(int, error) (bool, time.Duration) { return false, 0 }
	b.ReportAllocs()
	for b.Loop() {
		if _, n, _ := Do(ctx, c, p, never, ok); n != 1 {
			b.Fatal(n)
		}
	}
}

// TestLinearBackoff: the delay grows by the first delay each retry (initial, 2×, 3×, …),
// capped by Max, without jitter, and the same schedule is what DelayBefore gives.
func TestLinearBackoff(t *testing.T) {
	c := clock.NewAutoFake(start)
	calls := 0
	p := Policy{Attempts: 5, Backoff: BackoffLinear, Initial: time.Second, Max: 3500 * time.Millisecond, Jitter: DefaultJitter}
	_, n, _ := Do(context.Background(), c, p, alwaysRetry, failing(&calls))
	want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3500 * time.Millisecond, 3500 * time.Millisecond}
	if got := c.Slept(); !slices.Equal(got, want) || n != 6 {
		t.Errorf("slept %v in %d attempts, want %v in 6", got, n, want)
	}
	if d := p.DelayBefore(3); d != 2*time.Second {
		t.Errorf("DelayBefore(3) = %v, want 2s", d)
	}
	// The defaults: 100ms steps, capped at 30s; a huge step count does not overflow.
	s := Policy{Attempts: 3, Backoff: BackoffLinear}.Schedule()
	for i, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond} {
		if d, ok := s.Next(); !ok || d != want {
			t.Errorf("default retry %d = %v, want %v", i+1, d, want)
		}
	}
	if d := linearDelay(time.Hour, 1<<40, 30*time.Second); d != 30*time.Second {
		t.Errorf("capped delay = %v", d)
	}
	if p := FromConfig(&config.Retry{Attempts: 2, Backoff: config.BackoffLinear, Initial: 2 * time.Second}); p.Backoff != BackoffLinear || p.DelayBefore(3) != 4*time.Second {
		t.Errorf("FromConfig linear = %+v, second delay %v", p, p.DelayBefore(3))
	}
}
