package deadline

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testTimeouts are distinct, so a recorded deadline tells which one a method used.
var testTimeouts = Timeouts{Call: 1 * time.Hour, Batch: 2 * time.Hour, Purge: 3 * time.Hour, Migrate: 4 * time.Hour}

// wantTimeout is the deadline each method must run under. A method added to store.Store
// must be added here too, with a comment in deadline.go saying why it gets its class.
var wantTimeout = map[string]time.Duration{
	"Backend": 0, "Close": 0, // no context: nothing to bound
	"Ping":                      testTimeouts.Call,
	"MigrateUp":                 testTimeouts.Migrate,
	"MigrateStatus":             testTimeouts.Migrate,
	"TokenCreate":               testTimeouts.Call,
	"TokenCreateIfNone":         testTimeouts.Call,
	"TokenGetByHash":            testTimeouts.Call,
	"TokenList":                 testTimeouts.Call,
	"TokenRevoke":               testTimeouts.Call,
	"EndpointCreate":            testTimeouts.Call,
	"EndpointGet":               testTimeouts.Call,
	"EndpointList":              testTimeouts.Batch,
	"EndpointsActive":           testTimeouts.Batch,
	"EndpointsManagedOrNamed":   testTimeouts.Batch,
	"EndpointUpdate":            testTimeouts.Call,
	"EndpointDelete":            testTimeouts.Batch,
	"EventPublish":              testTimeouts.Batch,
	"EventGet":                  testTimeouts.Call,
	"EventsAfter":               testTimeouts.Call,
	"DeliveryClaim":             testTimeouts.Batch,
	"DeliveryRecord":            testTimeouts.Batch,
	"DeliveryGet":               testTimeouts.Call,
	"DeliveryList":              testTimeouts.Batch,
	"DeliveryRequeue":           testTimeouts.Call,
	"HandlerClaim":              testTimeouts.Batch,
	"HandlerRecord":             testTimeouts.Batch,
	"HandlerExecutionGet":       testTimeouts.Call,
	"HandlerExecutionList":      testTimeouts.Batch,
	"HandlerExecutionRequeue":   testTimeouts.Call,
	"HandlerCounts":             testTimeouts.Batch,
	"DeadLetterList":            testTimeouts.Batch,
	"DeadLetterPurge":           testTimeouts.Purge,
	"EventPurge":                testTimeouts.Purge,
	"QueueStats":                testTimeouts.Batch,
	"InboundRecord":             testTimeouts.Call,
	"InboundGet":                testTimeouts.Call,
	"InboundGetByID":            testTimeouts.Call,
	"InboundList":               testTimeouts.Batch,
	"FlowDeadLetterAdd":         testTimeouts.Call,
	"FlowDeadLetterGet":         testTimeouts.Call,
	"FlowDeadLetterList":        testTimeouts.Batch,
	"FlowDeadLetterDelete":      testTimeouts.Call,
	"FlowDeadLetterSetAccepted": testTimeouts.Call,
	"FlowDeadLetterCounts":      testTimeouts.Batch,
	"JobRunClaim":               testTimeouts.Call,
	"JobRunRenew":               testTimeouts.Call,
	"JobRunFinish":              testTimeouts.Call,
	"JobRunList":                testTimeouts.Batch,
	"JobLastTick":               testTimeouts.Call,
	"ReportRollupAdd":           testTimeouts.Batch,
	"ReportRollupList":          testTimeouts.Batch,
	"ReportHourList":            testTimeouts.Batch,
	"ReportRollupPurge":         testTimeouts.Purge,
	"WorkflowRunCreate":         testTimeouts.Call,
	"WorkflowRunCreateMany":     testTimeouts.Batch,
	"WorkflowClaim":             testTimeouts.Batch,
	"WorkflowSave":              testTimeouts.Batch,
	"WorkflowLeaseRenew":        testTimeouts.Batch,
	"WorkflowRunGet":            testTimeouts.Call,
	"WorkflowRunList":           testTimeouts.Batch,
	"WorkflowRunCancel":         testTimeouts.Call,
	"WorkflowRunRetry":          testTimeouts.Call,
	"WorkflowWake":              testTimeouts.Batch,
	"WorkflowCounts":            testTimeouts.Batch,
	"WorkflowEventsSince":       testTimeouts.Batch,
	"LeaseAcquire":              testTimeouts.Call,
	"LeaseRelease":              testTimeouts.Call,
	"LeaseList":                 testTimeouts.Call,
	"NodeRegister":              testTimeouts.Call,
	"NodeHeartbeat":             testTimeouts.Call,
	"NodeStop":                  testTimeouts.Call,
	"NodeList":                  testTimeouts.Call,
	"NodePrune":                 testTimeouts.Call,
	"EventLogRead":              testTimeouts.Call,
	"FlowEventCursorStart":      testTimeouts.Call,
	"FlowEventCursorSet":        testTimeouts.Call,
	"FlowEventCursorsPrune":     testTimeouts.Call,
	"PluginPut":                 testTimeouts.Batch,
	"PluginGet":                 testTimeouts.Batch,
	"PluginList":                testTimeouts.Call,
	"PluginDelete":              testTimeouts.Call,
}

var storeType = reflect.TypeFor[store.Store]()

// callAll calls every method of store.Store on s with zero arguments (ctx for the
// context) and returns each method's error, or the panic it raised.
func callAll(t *testing.T, s store.Store, ctx context.Context) map[string]error {
	t.Helper()
	out := map[string]error{}
	v := reflect.ValueOf(s)
	for i := range storeType.NumMethod() {
		m := storeType.Method(i)
		out[m.Name] = func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("panic: %v", p)
				}
			}()
			args := make([]reflect.Value, m.Type.NumIn())
			for j := range args {
				if in := m.Type.In(j); in == reflect.TypeFor[context.Context]() {
					args[j] = reflect.ValueOf(ctx)
				} else {
					args[j] = reflect.Zero(in)
				}
			}
			call := v.MethodByName(m.Name).Call
			if m.Type.IsVariadic() {
				call = v.MethodByName(m.Name).CallSlice
			}
			res := call(args)
			if last := res[len(res)-1]; last.Type() == reflect.TypeFor[error]() && !last.IsNil() {
				return last.Interface().(error)
			}
			return nil
		}()
	}
	return out
}

// TestEveryMethodHasADeadline calls every method of store.Store through a Store whose
// embedded interface is nil: a method the decorator does not write out falls through to
// the embedded nil and panics, instead of silently running without a deadline. It also
// checks that each method's call reached the wrapped store under the deadline of its
// class.
func TestEveryMethodHasADeadline(t *testing.T) {
	f := &fake{}
	s := New(f, nil, testTimeouts)
	s.Store = nil
	start := time.Now()
	errs := callAll(t, s, context.Background())
	for name, err := range errs {
		if err != nil && strings.HasPrefix(err.Error(), "panic") {
			t.Errorf("%s is not written out in deadline.Store (or the test's fake lacks it): %v", name, err)
			continue
		}
		want, ok := wantTimeout[name]
		if !ok {
			t.Errorf("%s: add it to wantTimeout with the deadline it should have", name)
			continue
		}
		got, called := f.deadline(name)
		if !called {
			t.Errorf("%s did not reach the wrapped store", name)
			continue
		}
		if want == 0 {
			continue
		}
		// The deadline was set between start and the call; an hour apart per class.
		if got.IsZero() || got.Sub(start) < want || got.Sub(start) > want+time.Minute {
			t.Errorf("%s ran with deadline %v after start, want %v", name, got.Sub(start), want)
		}
	}
	if len(errs) != len(wantTimeout) {
		t.Errorf("store.Store has %d methods, wantTimeout lists %d", len(errs), len(wantTimeout))
	}
}

// TestDeadlinePassingIsUnavailable: every method whose database does not answer
// returns, once its deadline passes, an error that is store.ErrUnavailable and still
// the cause.
func TestDeadlinePassingIsUnavailable(t *testing.T) {
	f := &fake{block: true}
	short := 20 * time.Millisecond
	s := New(f, nil, Timeouts{Call: short, Batch: short, Purge: short, Migrate: short})
	s.Store = nil // a method not written out panics rather than blocks
	for name, err := range callAll(t, s, context.Background()) {
		if name == "Backend" || name == "Close" {
			continue
		}
		if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s = %v, want store.ErrUnavailable wrapping context.DeadlineExceeded", name, err)
		}
	}
}

// TestCallerCancellationStaysCancellation: a caller that gives up (or whose own shorter
// deadline passes) gets its context's error, not a claim that the database failed.
func TestCallerCancellationStaysCancellation(t *testing.T) {
	f := &fake{block: true}
	s := New(f, nil, Timeouts{})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.TokenGetByHash(ctx, nil); !errors.Is(err, context.Canceled) || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("cancelled caller: %v, want context.Canceled without store.ErrUnavailable", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := s.Ping(ctx); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("caller's own deadline: %v, want context.DeadlineExceeded without store.ErrUnavailable", err)
	}
}

// TestClassification: the backend's classifier decides for errors that come back before
// the deadline; sentinels always pass through.
func TestClassification(t *testing.T) {
	dbDown := errors.New("connect: connection refused")
	badInput := errors.New("invalid byte sequence for encoding UTF8")
	classify := func(err error) bool { return errors.Is(err, dbDown) || errors.Is(err, store.ErrNotFound) }
	for _, c := range []struct {
		inner           error
		wantUnavailable bool
	}{
		{dbDown, true},
		{fmt.Errorf("postgres: token get by hash: %w", dbDown), true},
		{badInput, false},
		{fmt.Errorf("wrapped: %w", store.ErrNotFound), false}, // even if the classifier said yes
		{fmt.Errorf("%w: duplicate key", store.ErrConflict), false},
		{fmt.Errorf("%w: already marked", store.ErrUnavailable), true},
	} {
		s := New(&fake{err: c.inner}, classify, Timeouts{})
		_, err := s.EndpointGet(context.Background(), "ep")
		if got := errors.Is(err, store.ErrUnavailable); got != c.wantUnavailable {
			t.Errorf("inner error %q: unavailable = %v, want %v (%v)", c.inner, got, c.wantUnavailable, err)
		}
		if !errors.Is(err, c.inner) {
			t.Errorf("inner error %q lost: %v", c.inner, err)
		}
	}
	s := New(&fake{}, classify, Timeouts{})
	if _, err := s.EndpointGet(context.Background(), "ep"); err != nil {
		t.Errorf("success: %v", err)
	}
}

// fake is a store.Store that records the deadline of each call and then fails with err,
// or blocks until the call's context ends.
type fake struct {
	block bool
	err   error

	mu    sync.Mutex
	calls map[string]time.Time
}

func (f *fake) deadline(name string) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.calls[name]
	return d, ok
}

func (f *fake) call(ctx context.Context, name string) error {
	d, _ := ctx.Deadline()
	f.note(name, d)
	if f.block {
		<-ctx.Done()
		return fmt.Errorf("fake %s: %w", name, ctx.Err())
	}
	return f.err
}

func (f *fake) note(name string, deadline time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]time.Time{}
	}
	f.calls[name] = deadline
}

func (f *fake) Backend() string { f.note("Backend", time.Time{}); return "fake" }
func (f *fake) Close() error    { f.note("Close", time.Time{}); return nil }
func (f *fake) Ping(ctx context.Context) error {
	return f.call(ctx, "Ping")
}
func (f *fake) MigrateUp(ctx context.Context) ([]store.Migration, error) {
	return nil, f.call(ctx, "MigrateUp")
}
func (f *fake) MigrateStatus(ctx context.Context) ([]store.Migration, error) {
	return nil, f.call(ctx, "MigrateStatus")
}
func (f *fake) TokenCreate(ctx context.Context, _ store.TokenCreateParams) (store.Token, error) {
	return store.Token{}, f.call(ctx, "TokenCreate")
}
func (f *fake) TokenCreateIfNone(ctx context.Context, _ store.TokenCreateParams) (bool, error) {
	return false, f.call(ctx, "TokenCreateIfNone")
}
func (f *fake) TokenGetByHash(ctx context.Context, _ []byte) (store.Token, error) {
	return store.Token{}, f.call(ctx, "TokenGetByHash")
}
func (f *fake) TokenList(ctx context.Context) ([]store.Token, error) {
	return nil, f.call(ctx, "TokenList")
}
func (f *fake) TokenRevoke(ctx context.Context, _ string, _ time.Time) error {
	return f.call(ctx, "TokenRevoke")
}
func (f *fake) EndpointCreate(ctx context.Context, _ store.Endpoint) (store.Endpoint, error) {
	return store.Endpoint{}, f.call(ctx, "EndpointCreate")
}
func (f *fake) EndpointGet(ctx context.Context, _ string) (store.Endpoint, error) {
	return store.Endpoint{}, f.call(ctx, "EndpointGet")
}
func (f *fake) EndpointList(ctx context.Context, _ store.EndpointFilter) ([]store.Endpoint, int, error) {
	return nil, 0, f.call(ctx, "EndpointList")
}
func (f *fake) EndpointsActive(ctx context.Context) ([]store.Endpoint, error) {
	return nil, f.call(ctx, "EndpointsActive")
}
func (f *fake) EndpointsManagedOrNamed(ctx context.Context, _ []string) ([]store.Endpoint, error) {
	return nil, f.call(ctx, "EndpointsManagedOrNamed")
}
func (f *fake) EndpointUpdate(ctx context.Context, _ string, _ store.EndpointPatch) (store.Endpoint, error) {
	return store.Endpoint{}, f.call(ctx, "EndpointUpdate")
}
func (f *fake) EndpointDelete(ctx context.Context, _ string, _ time.Time) error {
	return f.call(ctx, "EndpointDelete")
}
func (f *fake) EventPublish(ctx context.Context, _ event.Event, _ []store.Delivery, _ ...store.HandlerExecution) (bool, int, error) {
	return false, 0, f.call(ctx, "EventPublish")
}
func (f *fake) EventGet(ctx context.Context, _ string) (event.Event, error) {
	return event.Event{}, f.call(ctx, "EventGet")
}
func (f *fake) EventsAfter(ctx context.Context, _ string, _ int) ([]event.Event, error) {
	return nil, f.call(ctx, "EventsAfter")
}
func (f *fake) DeliveryClaim(ctx context.Context, _ store.ClaimParams) ([]store.ClaimedDelivery, error) {
	return nil, f.call(ctx, "DeliveryClaim")
}
func (f *fake) DeliveryRecord(ctx context.Context, _ []store.AttemptRecord) error {
	return f.call(ctx, "DeliveryRecord")
}
func (f *fake) DeliveryGet(ctx context.Context, _ string) (store.Delivery, error) {
	return store.Delivery{}, f.call(ctx, "DeliveryGet")
}
func (f *fake) DeliveryList(ctx context.Context, _ store.DeliveryFilter) ([]store.Delivery, int, error) {
	return nil, 0, f.call(ctx, "DeliveryList")
}
func (f *fake) HandlerClaim(ctx context.Context, _ store.HandlerClaimParams) ([]store.ClaimedExecution, error) {
	return nil, f.call(ctx, "HandlerClaim")
}
func (f *fake) HandlerRecord(ctx context.Context, _ []store.HandlerOutcome) error {
	return f.call(ctx, "HandlerRecord")
}
func (f *fake) HandlerExecutionGet(ctx context.Context, _ string) (store.HandlerExecution, error) {
	return store.HandlerExecution{}, f.call(ctx, "HandlerExecutionGet")
}
func (f *fake) HandlerExecutionList(ctx context.Context, _ store.HandlerFilter) ([]store.HandlerExecution, int, error) {
	return nil, 0, f.call(ctx, "HandlerExecutionList")
}
func (f *fake) HandlerExecutionRequeue(ctx context.Context, _ string, _ time.Time) (store.HandlerExecution, error) {
	return store.HandlerExecution{}, f.call(ctx, "HandlerExecutionRequeue")
}
func (f *fake) HandlerCounts(ctx context.Context) (map[string]map[store.HandlerStatus]int, error) {
	return nil, f.call(ctx, "HandlerCounts")
}
func (f *fake) DeliveryRequeue(ctx context.Context, _ string, _ time.Time) (store.Delivery, error) {
	return store.Delivery{}, f.call(ctx, "DeliveryRequeue")
}
func (f *fake) DeadLetterList(ctx context.Context, _ store.DeliveryFilter) ([]store.Delivery, int, error) {
	return nil, 0, f.call(ctx, "DeadLetterList")
}
func (f *fake) DeadLetterPurge(ctx context.Context, _ time.Time) (int, error) {
	return 0, f.call(ctx, "DeadLetterPurge")
}
func (f *fake) EventPurge(ctx context.Context, _ time.Time, _ int) (store.EventPurged, error) {
	return store.EventPurged{}, f.call(ctx, "EventPurge")
}
func (f *fake) QueueStats(ctx context.Context, _ time.Time) (store.QueueStats, error) {
	return store.QueueStats{}, f.call(ctx, "QueueStats")
}
func (f *fake) InboundRecord(ctx context.Context, _ store.InboundMessage) (bool, error) {
	return false, f.call(ctx, "InboundRecord")
}
func (f *fake) InboundGet(ctx context.Context, _, _ string) (store.InboundMessage, error) {
	return store.InboundMessage{}, f.call(ctx, "InboundGet")
}
func (f *fake) InboundGetByID(ctx context.Context, _ string) (store.InboundMessage, error) {
	return store.InboundMessage{}, f.call(ctx, "InboundGetByID")
}
func (f *fake) InboundList(ctx context.Context, _ store.InboundFilter) ([]store.InboundMessage, error) {
	return nil, f.call(ctx, "InboundList")
}
func (f *fake) FlowDeadLetterAdd(ctx context.Context, _ store.FlowDeadLetter) error {
	return f.call(ctx, "FlowDeadLetterAdd")
}
func (f *fake) FlowDeadLetterGet(ctx context.Context, _ string) (store.FlowDeadLetter, error) {
	return store.FlowDeadLetter{}, f.call(ctx, "FlowDeadLetterGet")
}
func (f *fake) FlowDeadLetterList(ctx context.Context, _ store.FlowDeadLetterFilter) ([]store.FlowDeadLetter, int, error) {
	return nil, 0, f.call(ctx, "FlowDeadLetterList")
}
func (f *fake) FlowDeadLetterDelete(ctx context.Context, _ string) error {
	return f.call(ctx, "FlowDeadLetterDelete")
}
func (f *fake) FlowDeadLetterSetAccepted(ctx context.Context, _ string, _ [][]string) error {
	return f.call(ctx, "FlowDeadLetterSetAccepted")
}
func (f *fake) FlowDeadLetterCounts(ctx context.Context) (map[string]int, error) {
	return nil, f.call(ctx, "FlowDeadLetterCounts")
}
func (f *fake) LeaseAcquire(ctx context.Context, _ store.LeaseAcquireParams) (store.Lease, bool, error) {
	return store.Lease{}, false, f.call(ctx, "LeaseAcquire")
}
func (f *fake) LeaseRelease(ctx context.Context, _, _ string) (bool, error) {
	return false, f.call(ctx, "LeaseRelease")
}
func (f *fake) LeaseList(ctx context.Context) ([]store.Lease, error) {
	return nil, f.call(ctx, "LeaseList")
}
func (f *fake) NodeRegister(ctx context.Context, _ store.Node) error {
	return f.call(ctx, "NodeRegister")
}
func (f *fake) NodeHeartbeat(ctx context.Context, _ store.NodeHeartbeatParams) error {
	return f.call(ctx, "NodeHeartbeat")
}
func (f *fake) NodeStop(ctx context.Context, _ string, _ time.Time) error {
	return f.call(ctx, "NodeStop")
}
func (f *fake) NodeList(ctx context.Context) ([]store.Node, error) {
	return nil, f.call(ctx, "NodeList")
}
func (f *fake) NodePrune(ctx context.Context, _ time.Time) (int, error) {
	return 0, f.call(ctx, "NodePrune")
}
func (f *fake) EventLogRead(ctx context.Context, _ store.EventLogQuery) (store.EventLogPage, error) {
	return store.EventLogPage{}, f.call(ctx, "EventLogRead")
}
func (f *fake) FlowEventCursorStart(ctx context.Context, _ string, _ time.Time) (store.EventPosition, bool, error) {
	return store.EventPosition{}, false, f.call(ctx, "FlowEventCursorStart")
}
func (f *fake) FlowEventCursorSet(ctx context.Context, _ string, _ store.EventPosition, _ time.Time) error {
	return f.call(ctx, "FlowEventCursorSet")
}
func (f *fake) FlowEventCursorsPrune(ctx context.Context, _ []string, _ time.Time) (int, error) {
	return 0, f.call(ctx, "FlowEventCursorsPrune")
}
func (f *fake) PluginPut(ctx context.Context, _ store.Plugin) error { return f.call(ctx, "PluginPut") }
func (f *fake) PluginGet(ctx context.Context, _ string) (store.Plugin, error) {
	return store.Plugin{}, f.call(ctx, "PluginGet")
}
func (f *fake) PluginList(ctx context.Context) ([]store.Plugin, error) {
	return nil, f.call(ctx, "PluginList")
}
func (f *fake) PluginDelete(ctx context.Context, _ string) error { return f.call(ctx, "PluginDelete") }
func (f *fake) JobRunClaim(ctx context.Context, r store.JobRun) (store.JobRun, bool, error) {
	return r, false, f.call(ctx, "JobRunClaim")
}
func (f *fake) JobRunRenew(ctx context.Context, _, _ string, _ time.Time) error {
	return f.call(ctx, "JobRunRenew")
}
func (f *fake) JobRunFinish(ctx context.Context, _ store.JobRun) error {
	return f.call(ctx, "JobRunFinish")
}
func (f *fake) JobRunList(ctx context.Context, _ store.JobRunFilter) ([]store.JobRun, int, error) {
	return nil, 0, f.call(ctx, "JobRunList")
}
func (f *fake) JobLastTick(ctx context.Context, _ string) (time.Time, bool, error) {
	return time.Time{}, false, f.call(ctx, "JobLastTick")
}
func (f *fake) ReportRollupAdd(ctx context.Context, _ []store.ReportRollup) error {
	return f.call(ctx, "ReportRollupAdd")
}
func (f *fake) ReportRollupList(ctx context.Context, _ store.ReportRollupFilter) ([]store.ReportRollup, error) {
	return nil, f.call(ctx, "ReportRollupList")
}
func (f *fake) ReportHourList(ctx context.Context, _ store.ReportRollupFilter) ([]store.ReportHour, error) {
	return nil, f.call(ctx, "ReportHourList")
}
func (f *fake) ReportRollupPurge(ctx context.Context, _ time.Time) (int, error) {
	return 0, f.call(ctx, "ReportRollupPurge")
}
func (f *fake) WorkflowRunCreateMany(ctx context.Context, runs []store.WorkflowRun) ([]bool, error) {
	return nil, f.call(ctx, "WorkflowRunCreateMany")
}

func (f *fake) WorkflowRunCreate(ctx context.Context, p store.WorkflowRunCreateParams) (store.WorkflowRun, bool, error) {
	return p.Run, false, f.call(ctx, "WorkflowRunCreate")
}
func (f *fake) WorkflowClaim(ctx context.Context, _ store.WorkflowClaimParams) ([]store.ClaimedRun, error) {
	return nil, f.call(ctx, "WorkflowClaim")
}
func (f *fake) WorkflowSave(ctx context.Context, _ []store.WorkflowWrite) ([]error, error) {
	return nil, f.call(ctx, "WorkflowSave")
}
func (f *fake) WorkflowLeaseRenew(ctx context.Context, _ string, _ []string, _ time.Time) ([]string, error) {
	return nil, f.call(ctx, "WorkflowLeaseRenew")
}
func (f *fake) WorkflowRunGet(ctx context.Context, _ string) (store.WorkflowRun, []store.WorkflowStep, error) {
	return store.WorkflowRun{}, nil, f.call(ctx, "WorkflowRunGet")
}
func (f *fake) WorkflowRunList(ctx context.Context, _ store.WorkflowRunFilter) ([]store.WorkflowRun, int, error) {
	return nil, 0, f.call(ctx, "WorkflowRunList")
}
func (f *fake) WorkflowRunCancel(ctx context.Context, _ string, _ time.Time) (store.WorkflowRun, error) {
	return store.WorkflowRun{}, f.call(ctx, "WorkflowRunCancel")
}
func (f *fake) WorkflowRunRetry(ctx context.Context, _ string, _ time.Time) (store.WorkflowRun, error) {
	return store.WorkflowRun{}, f.call(ctx, "WorkflowRunRetry")
}
func (f *fake) WorkflowWake(ctx context.Context, _ []string, _ time.Time) error {
	return f.call(ctx, "WorkflowWake")
}
func (f *fake) WorkflowCounts(ctx context.Context) (map[string]map[store.WorkflowRunStatus]int, error) {
	return nil, f.call(ctx, "WorkflowCounts")
}
func (f *fake) WorkflowEventsSince(ctx context.Context, _ string, _ time.Time, _ int) ([]event.Event, error) {
	return nil, f.call(ctx, "WorkflowEventsSince")
}

// BenchmarkOverhead is what the decorator adds to a call: a context with a timer.
func BenchmarkOverhead(b *testing.B) {
	s := New(&fake{}, nil, Timeouts{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.EventGet(ctx, "evt"); err != nil {
			b.Fatal(err)
		}
	}
}
