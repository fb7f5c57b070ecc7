// Command flows measures the flow engine on seed 002's order-sync shape: a transform, a
// validation and a route to one of two sinks, in two setups:
//
//	engine    an in-memory source and two discarding in-memory sinks: the engine's own
//	          ceiling (decode, steps, encode, batching, acknowledgement)
//	rabbitmq  a RabbitMQ queue (durable, persistent messages) to two PostgreSQL tables
//	          with upsert sinks, through the registry's real connectors
//
// Phase 1 (closed loop): the source holds -messages messages before the engine starts
// (for RabbitMQ they are published first, with publisher confirms); the time from
// Engine.Start until the last message was acknowledged to its source (for RabbitMQ: after
// its row was committed in PostgreSQL) gives messages per second, over -rounds rounds.
//
// Phase 2 (open loop): a producer offers -rate messages per second (default: half the
// median of phase 1) for -duration; each message carries its scheduled send time
// (Message.Time, or a "sent_at" field in ns for RabbitMQ), and the latency is from then
// to the acknowledgement to the source, so queueing in the producer counts. Messages
// sent during the first -warmup are not sampled.
//
//	go run ./bench/flows [-mode all|engine|rabbitmq] [-messages N] [-rounds 3]
//	    [-rate R] [-duration 10s] [-inflight 256] [-cpuprofile FILE]
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/memory"
	"github.com/junctionhq/junction/internal/connector/registry"
	"github.com/junctionhq/junction/internal/flow"
	"github.com/junctionhq/junction/internal/store"
)

const flowName = "order-sync"

// logLevel is the engine's: warn, and error once the run is interrupted (stopping mid-way
// makes every message in flight log a warning).
var logLevel slog.LevelVar

// opts are the command-line flags.
type opts struct {
	mode       string
	messages   int
	rounds     int
	rate       float64
	duration   time.Duration
	warmup     time.Duration
	inflight   int
	prefetch   int
	amqpURL    string
	pgURL      string
	cpuprofile string
	memprofile string
	multi      bool // more than one mode runs (profile file names get the mode)
}

func main() {
	var o opts
	flag.StringVar(&o.mode, "mode", "all", "engine, rabbitmq or all")
	flag.IntVar(&o.messages, "messages", 0, "messages per throughput round (default 500000 for engine, 50000 for rabbitmq)")
	flag.IntVar(&o.rounds, "rounds", 3, "throughput rounds (the median is reported)")
	flag.Float64Var(&o.rate, "rate", 0, "offered messages/s in the latency phase (default: half the mode's median throughput)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of the latency phase")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "start of the latency phase that is not sampled")
	flag.IntVar(&o.inflight, "inflight", 256, "the flow's max_in_flight")
	flag.IntVar(&o.prefetch, "prefetch", 0, "rabbitmq: the source's batch_size, which caps the prefetch (default: -inflight; seed 002 has 100)")
	flag.StringVar(&o.amqpURL, "amqp", "amqp://guest:guest@127.0.0.1:5672/", "RabbitMQ URL")
	flag.StringVar(&o.pgURL, "pg", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL URL (a schema of its own is created and dropped)")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the throughput rounds to this file (FILE.MODE with -mode all; rabbitmq: -tagignore bench=publish leaves out the publishing)")
	flag.StringVar(&o.memprofile, "memprofile", "", "write an allocation profile after the throughput rounds to this file (FILE.MODE with -mode all)")
	flag.Parse()
	if o.prefetch <= 0 {
		o.prefetch = o.inflight
	}

	var modes []string
	switch o.mode {
	case "all":
		modes, o.multi = []string{"engine", "rabbitmq"}, true
	case "engine", "rabbitmq":
		modes = []string{o.mode}
	default:
		fail(fmt.Errorf("-mode %q: expected engine, rabbitmq or all", o.mode))
	}
	if o.rounds < 1 || o.inflight < 1 || o.duration <= o.warmup {
		fail(errors.New("-rounds and -inflight must be at least 1, and -duration longer than -warmup"))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logLevel.Set(slog.LevelWarn)
	context.AfterFunc(ctx, func() { logLevel.Set(slog.LevelError) })
	fmt.Printf("%s, GOMAXPROCS %d (%d CPUs), max_in_flight %d\n", runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), o.inflight)
	for _, m := range modes {
		var err error
		switch m {
		case "engine":
			err = runEngine(ctx, o)
		case "rabbitmq":
			err = runRabbit(ctx, o)
		}
		var down *unreachableError
		if errors.As(err, &down) && o.multi {
			fmt.Fprintf(os.Stderr, "bench/flows: skipping mode %s: %v\n", m, err)
			continue
		}
		if err != nil {
			fail(fmt.Errorf("mode %s: %w", m, err))
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/flows:", err)
	os.Exit(1)
}

// unreachableError is a service the mode needs not answering: with -mode all the mode
// is skipped, otherwise it fails the run.
type unreachableError struct {
	what string
	err  error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("%s is unreachable: %v", e.what, e.err)
}

// The flow: seed 002's order-sync without the enrich step (as in cmd/junction's
// TestFlowRabbitMQToPostgres). The memory connectors ignore the options meant for
// RabbitMQ and PostgreSQL.
const flowText = `
flow order-sync {
    source: orders { batch_size: %d, visibility_timeout: 5m }
    max_in_flight: %d
    step transform-order {
        transform: {
            id: "$.orderId"
            customer: { id: "$.customerId", email: "$.customerEmail" }
            items: "$.orderItems[*]"
            total: "$.orderTotal"
        }
    }
    step validate-order {
        validate: {
            type: "object"
            required: ["id", "customer", "total"]
            properties: {
                id: { type: "string" }
                total: { type: "number", minimum: 0 }
                customer: { type: "object", required: ["id"] }
            }
        }
    }
    step route-order {
        route: { "total >= 1000": "high-value-orders", else: "regular-orders" }
    }
    sink high-value-orders {
        connector: %s
        table: "high_value_orders"
        mode: upsert
        key: ["id"]
        columns: { id: "$.id", customer_id: "$.customer.id", total: "$.total", doc: "$" }
    }
    sink regular-orders {
        connector: %s
        table: "regular_orders"
        mode: upsert
        key: ["id"]
        columns: { id: "$.id", customer_id: "$.customer.id", total: "$.total", doc: "$" }
    }
    on_error: retry 3 times with exponential_backoff(100ms, max 1s) then dead_letter("failed-orders")
    monitoring: { metrics: true, logging: { level: info, include_payload: true } }
}
`

func decodeConfig(connectors, highConn, regularConn string, o opts) (*config.Config, error) {
	src := connectors + fmt.Sprintf(flowText, o.prefetch, o.inflight, highConn, regularConn)
	cfg, diags := config.Decode("bench.cai", []byte(src))
	if err := diags.Err(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// order is one message body; about half the orders have totals of 1000 or more.
func order(prefix string, i int, sentAt int64) []byte {
	return fmt.Appendf(nil, `{"orderId":"%s-%07d","customerId":"c-%d","customerEmail":"c%d@example.com","orderItems":[{"sku":"s%d","qty":1}],"orderTotal":%d,"sent_at":%d}`,
		prefix, i, i%7, i%7, i, (i*37)%2000, sentAt)
}

// sentAt reads the "sent_at" field of a body written by order.
func sentAt(body []byte) (int64, bool) {
	const key = `"sent_at":`
	i := bytes.LastIndex(body, []byte(key))
	if i < 0 {
		return 0, false
	}
	rest := body[i+len(key):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	n, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	return n, err == nil
}

func engineOptions(kinds map[string]connector.Kind, lookup config.LookupEnv, dlq *deadLetters) (flow.Options, error) {
	m, err := flow.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		return flow.Options{}, err
	}
	return flow.Options{
		Kinds: kinds,
		Env: connector.Env{
			LookupEnv: lookup,
			Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: &logLevel})),
			Clock:     clock.Real{},
		},
		DeadLetters: dlq,
		Metrics:     m,
	}, nil
}

// tracker counts acknowledgements and keeps latency samples.
type tracker struct {
	want    int64
	acked   atomic.Int64
	done    chan struct{}
	samples []time.Duration // nil: no latency sampling
	next    atomic.Int64
	from    int64 // unix ns: messages sent before it are not sampled (set before sending)

	// The flow's in-flight count, sampled by sampleInFlight: near max_in_flight the
	// engine or its sinks are the limit, well below it the source does not deliver
	// fast enough (or, in engine mode, the CPUs are busy with the messages in hand).
	inFlightSum, inFlightN int64
}

// sampleInFlight samples the flow's in-flight count every 50 ms until the returned
// function is called, which returns the average.
func (t *tracker) sampleInFlight(e *flow.Engine) (stop func() float64) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				if st, err := e.Status(context.Background(), flowName); err == nil {
					t.inFlightSum += st.InFlight
					t.inFlightN++
				}
			}
		}
	}()
	var once sync.Once
	return func() float64 {
		once.Do(func() { close(quit); <-done })
		return float64(t.inFlightSum) / float64(max(t.inFlightN, 1))
	}
}

func newTracker(want, samples int) *tracker {
	t := &tracker{want: int64(want), done: make(chan struct{})}
	if samples > 0 {
		t.samples = make([]time.Duration, samples)
	}
	return t
}

func (t *tracker) ack(lat time.Duration, sample bool) {
	if sample {
		if i := t.next.Add(1) - 1; int(i) < len(t.samples) {
			t.samples[i] = lat
		}
	}
	if t.acked.Add(1) == t.want {
		close(t.done)
	}
}

func (t *tracker) sampled() []time.Duration {
	return t.samples[:min(int(t.next.Load()), len(t.samples))]
}

// wait waits until every message was acknowledged; a dead letter, ctx or the timeout
// end it early with the flow's last error.
func (t *tracker) wait(ctx context.Context, e *flow.Engine, timeout time.Duration) error {
	deadline := time.After(timeout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-t.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			st, _ := e.Status(ctx, flowName)
			return fmt.Errorf("after %v only %d of %d messages were acknowledged; flow %s, last error %s",
				timeout, t.acked.Load(), t.want, st.State, lastError(st))
		case <-tick.C:
			if st, _ := e.Status(ctx, flowName); st.Counters.DeadLettered > 0 {
				return fmt.Errorf("%d messages were dead-lettered; last error %s", st.Counters.DeadLettered, lastError(st))
			}
		}
	}
}

func lastError(st flow.Status) string {
	if st.LastError == nil {
		return "none"
	}
	return fmt.Sprintf("in %s: %s", st.LastError.Step, st.LastError.Error)
}

// checkCounters makes sure the engine delivered every message, once.
func checkCounters(ctx context.Context, e *flow.Engine, n int) error {
	st, err := e.Status(ctx, flowName)
	if err != nil {
		return err
	}
	c := st.Counters
	if c.Delivered != int64(n) || c.DeadLettered != 0 || c.Filtered != 0 {
		return fmt.Errorf("flow counters %+v, want %d delivered and nothing else; last error %s", c, n, lastError(st))
	}
	return nil
}

func closeEngine(e *flow.Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.Close(ctx)
}

// roundResult is one throughput round.
type roundResult struct {
	n       int
	took    time.Duration
	publish float64 // rabbitmq: confirmed publishes per second before the round
	writes  int64   // sink Write calls
	written int64   // messages in them
	inWrite time.Duration
	cpu     cpuUse
	flying  float64 // average messages in flight
}

func (r roundResult) rate() float64 { return float64(r.n) / r.took.Seconds() }

// latencyResult is the open-loop phase.
type latencyResult struct {
	rate     float64
	offered  int
	samples  []time.Duration // sorted
	achieved float64         // acknowledgements per second over the whole phase
	cpu      cpuUse
	flying   float64
	lags     []time.Duration // sorted: how late the producer sent each sampled message
}

func (l latencyResult) at(p float64) time.Duration { return percentile(l.samples, p) }

// percentile of sorted durations.
func percentile(s []time.Duration, p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func printRounds(rounds []roundResult, withPublish bool) float64 {
	var rates []float64
	if withPublish {
		fmt.Println("| round | messages | published/s (confirmed) | time | msgs/s | sink writes | msgs/write | ms/write | in flight (avg) | cores: bench / rabbitmq / postgres / other |")
		fmt.Println("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	} else {
		fmt.Println("| round | messages | time | msgs/s | sink writes | msgs/write | in flight (avg) | cores: bench / other |")
		fmt.Println("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	}
	for i, r := range rounds {
		rates = append(rates, r.rate())
		perWrite := float64(r.written) / float64(max(r.writes, 1))
		if withPublish {
			fmt.Printf("| %d | %d | %.0f | %.2f s | %.0f | %d | %.1f | %.2f | %.0f | %s |\n", i+1, r.n, r.publish, r.took.Seconds(), r.rate(),
				r.writes, perWrite, ms(r.inWrite)/float64(max(r.writes, 1)), r.flying, r.cpu)
		} else {
			fmt.Printf("| %d | %d | %.2f s | %.0f | %d | %.1f | %.0f | %s |\n", i+1, r.n, r.took.Seconds(), r.rate(), r.writes, perWrite, r.flying, r.cpu)
		}
	}
	sort.Float64s(rates)
	med := rates[len(rates)/2]
	if withPublish {
		fmt.Printf("| median | | | | %.0f | | | | | |\n", med)
	} else {
		fmt.Printf("| median | | | %.0f | | | | |\n", med)
	}
	return med
}

func printLatency(l latencyResult, d, warmup time.Duration) {
	fmt.Printf("\nOpen loop at %.0f msgs/s for %v (first %v not sampled), latency from scheduled send to acknowledgement\n", l.rate, d, warmup)
	fmt.Printf("(the producer lag, how late the producer itself sent, is part of it):\n\n")
	cores := "bench / other"
	if l.cpu.services {
		cores = "bench / rabbitmq / postgres / other"
	}
	fmt.Printf("| offered msgs/s | achieved msgs/s | sampled | p50 | p99 | max | producer lag p50 / p99 | in flight (avg) | cores: %s |\n", cores)
	fmt.Println("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	fmt.Printf("| %.0f | %.0f | %d | %.2f ms | %.2f ms | %.2f ms | %.2f / %.2f ms | %.0f | %s |\n\n", l.rate, l.achieved, len(l.samples),
		ms(l.at(0.50)), ms(l.at(0.99)), ms(l.at(1)), ms(percentile(l.lags, 0.5)), ms(percentile(l.lags, 0.99)), l.flying, l.cpu)
}

func sorted(s []time.Duration) []time.Duration {
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s
}

// profiler writes -cpuprofile and -memprofile around the throughput rounds.
type profiler struct {
	cpu     *os.File
	memName string
}

func startProfile(o opts, mode string) (*profiler, error) {
	name := func(base string) string {
		if base == "" || !o.multi {
			return base
		}
		return base + "." + mode
	}
	p := &profiler{memName: name(o.memprofile)}
	if o.cpuprofile != "" {
		f, err := os.Create(name(o.cpuprofile))
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		p.cpu = f
	}
	return p, nil
}

func (p *profiler) stop() error {
	if p.cpu != nil {
		pprof.StopCPUProfile()
		if err := p.cpu.Close(); err != nil {
			return err
		}
		fmt.Printf("CPU profile of the throughput rounds: %s\n", p.cpu.Name())
		p.cpu = nil
	}
	if p.memName != "" {
		f, err := os.Create(p.memName)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
		fmt.Printf("allocation profile (since the start of the program): %s\n", p.memName)
		p.memName = ""
	}
	return nil
}

// ---------------------------------------------------------------------------------
// engine mode

const memoryConnectors = `
connector orders { type: memory }
connector high { type: memory }
connector regular { type: memory }
`

func runEngine(ctx context.Context, o opts) error {
	n := o.messages
	if n <= 0 {
		n = 500000
	}
	cfg, err := decodeConfig(memoryConnectors, "high", "regular", o)
	if err != nil {
		return err
	}
	fmt.Printf("\n## engine: memory source → transform → validate → route → 2 discarding memory sinks\n\n")
	fmt.Printf("Closed loop: %d messages queued before Start, timed until the last acknowledgement.\n\n", n)

	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = order("e", i, 0)
	}
	prof, err := startProfile(o, "engine")
	if err != nil {
		return err
	}
	var rounds []roundResult
	for range o.rounds {
		r, err := engineRound(ctx, cfg, bodies)
		if err != nil {
			return err
		}
		rounds = append(rounds, r)
	}
	if err := prof.stop(); err != nil {
		return err
	}
	med := printRounds(rounds, false)

	rate := o.rate
	if rate <= 0 {
		rate = med / 2
	}
	l, err := engineLatency(ctx, cfg, bodies, rate, o)
	if err != nil {
		return err
	}
	printLatency(l, o.duration, o.warmup)
	return nil
}

// memoryEngine builds an engine over a memory source and two discarding sinks.
func memoryEngine(cfg *config.Config, src *memory.Source) (*flow.Engine, map[string]*memory.Sink, error) {
	sinks := map[string]*memory.Sink{"high": {Discard: true}, "regular": {Discard: true}}
	kinds := map[string]connector.Kind{"memory": memory.Kind("memory", map[string]*memory.Source{"orders": src}, sinks)}
	opts, err := engineOptions(kinds, nil, &deadLetters{})
	if err != nil {
		return nil, nil, err
	}
	e, err := flow.New(cfg, opts)
	return e, sinks, err
}

func engineRound(ctx context.Context, cfg *config.Config, bodies [][]byte) (roundResult, error) {
	n := len(bodies)
	src := memory.NewSource(n)
	now := time.Now()
	for _, b := range bodies {
		src.Put(connector.Message{Body: b, Time: now})
	}
	t := newTracker(n, 0)
	src.OnAck = func(connector.Message) { t.ack(0, false) }
	e, sinks, err := memoryEngine(cfg, src)
	if err != nil {
		return roundResult{}, err
	}
	runtime.GC()
	meter := startCPU(false)
	start := time.Now()
	if err := e.Start(); err != nil {
		return roundResult{}, err
	}
	inFlight := t.sampleInFlight(e)
	defer inFlight()
	err = t.wait(ctx, e, 5*time.Minute)
	took := time.Since(start)
	cpu, flying := meter.stop(), inFlight()
	closeEngine(e)
	if err != nil {
		return roundResult{}, err
	}
	if err := checkCounters(ctx, e, n); err != nil {
		return roundResult{}, err
	}
	r := roundResult{n: n, took: took, cpu: cpu, flying: flying}
	for _, s := range sinks {
		r.writes += s.Writes()
		r.written += s.Count()
	}
	return r, nil
}

func engineLatency(ctx context.Context, cfg *config.Config, bodies [][]byte, rate float64, o opts) (latencyResult, error) {
	total := int(rate * o.duration.Seconds())
	if total < 1 {
		return latencyResult{}, fmt.Errorf("-rate %.0f over %v offers no message", rate, o.duration)
	}
	src := memory.NewSource(total)
	t := newTracker(total, total)
	src.OnAck = func(m connector.Message) { t.ack(time.Since(m.Time), m.Time.UnixNano() >= t.from) }
	e, _, err := memoryEngine(cfg, src)
	if err != nil {
		return latencyResult{}, err
	}
	defer closeEngine(e)
	if err := e.Start(); err != nil {
		return latencyResult{}, err
	}
	runtime.GC()
	meter := startCPU(false)
	inFlight := t.sampleInFlight(e)
	defer inFlight()
	start := time.Now()
	t.from = start.Add(o.warmup).UnixNano()
	lags, err := pace(ctx, start, o.warmup, rate, total, func(i int, at time.Time) error {
		src.Put(connector.Message{Body: bodies[i%len(bodies)], Time: at})
		return nil
	})
	if err != nil {
		return latencyResult{}, err
	}
	if err := t.wait(ctx, e, o.duration+2*time.Minute); err != nil {
		return latencyResult{}, err
	}
	achieved := float64(total) / time.Since(start).Seconds()
	cpu, flying := meter.stop(), inFlight()
	return latencyResult{rate: rate, offered: total, samples: sorted(t.sampled()), achieved: achieved, cpu: cpu, flying: flying, lags: lags}, nil
}

// pace calls send for messages 0…total-1 at their scheduled times, start + i/rate: it
// wakes about every millisecond (the timer granularity; a shorter sleep lasts as long)
// and sends every message whose time has come. It returns how late each message past
// the warm-up was sent: that lag is part of the measured latency.
func pace(ctx context.Context, start time.Time, warmup time.Duration, rate float64, total int, send func(i int, at time.Time) error) ([]time.Duration, error) {
	interval := float64(time.Second) / rate
	lags := make([]time.Duration, 0, total)
	for i := 0; i < total; {
		due := min(total, int(float64(time.Since(start))/interval)+1)
		for ; i < due; i++ {
			offset := time.Duration(float64(i) * interval)
			at := start.Add(offset)
			if err := send(i, at); err != nil {
				return nil, err
			}
			if offset >= warmup {
				lags = append(lags, time.Since(at))
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		time.Sleep(100 * time.Microsecond)
	}
	return sorted(lags), nil
}

// deadLetters is an in-memory dead-letter store: the run fails if anything lands here.
type deadLetters struct {
	mu   sync.Mutex
	list []store.FlowDeadLetter
}

func (d *deadLetters) FlowDeadLetterAdd(_ context.Context, dl store.FlowDeadLetter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.list = append(d.list, dl)
	return nil
}

func (d *deadLetters) FlowDeadLetterGet(_ context.Context, id string) (store.FlowDeadLetter, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, dl := range d.list {
		if dl.ID == id {
			return dl, nil
		}
	}
	return store.FlowDeadLetter{}, store.ErrNotFound
}

func (d *deadLetters) FlowDeadLetterList(context.Context, store.FlowDeadLetterFilter) ([]store.FlowDeadLetter, int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]store.FlowDeadLetter(nil), d.list...), len(d.list), nil
}

func (d *deadLetters) FlowDeadLetterDelete(context.Context, string) error { return nil }
func (d *deadLetters) FlowDeadLetterSetAccepted(context.Context, string, [][]string) error {
	return nil
}

func (d *deadLetters) FlowDeadLetterCounts(context.Context) (map[string]int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]int{}
	for _, dl := range d.list {
		out[dl.Flow]++
	}
	return out, nil
}

// ---------------------------------------------------------------------------------
// rabbitmq mode

const rabbitConnectors = `
connector orders {
    type: rabbitmq
    url: env(BENCH_AMQP_URL)
    exchanges: [{ name: %q, type: topic, durable: true }]
    queue: { name: %q, durable: true }
    bindings: [{ exchange: %q, routing_key: "order.*" }]
}
connector warehouse { type: postgres  url: env(WAREHOUSE_URL) }
`

const orderTables = `
CREATE TABLE high_value_orders (id text PRIMARY KEY, customer_id text, total numeric, doc jsonb);
CREATE TABLE regular_orders (id text PRIMARY KEY, customer_id text, total numeric, doc jsonb);`

func randomHex() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// rabbitBench is the mode's services: the publishing channel and the schema.
type rabbitBench struct {
	o        opts
	exchange string
	queue    string
	schema   string
	dsn      string // with search_path
	conn     *amqp091.Connection
	ch       *amqp091.Channel
	db       *pgx.Conn
	cfg      *config.Config
}

func runRabbit(ctx context.Context, o opts) error {
	n := o.messages
	if n <= 0 {
		n = 50000
	}
	b := &rabbitBench{o: o}
	defer b.cleanup()
	if err := b.setup(ctx); err != nil {
		return err
	}
	fmt.Printf("\n## rabbitmq: RabbitMQ queue → transform → validate → route → 2 PostgreSQL upsert sinks\n\n")
	fmt.Printf("Exchange %s, queue %s (durable, persistent messages), schema %s; source batch_size (prefetch cap) %d.\n",
		b.exchange, b.queue, b.schema, o.prefetch)
	fmt.Printf("Closed loop: %d messages published with confirms before Start, timed until the last acknowledgement (rows committed).\n\n", n)

	prof, err := startProfile(o, "rabbitmq")
	if err != nil {
		return err
	}
	var rounds []roundResult
	for round := range o.rounds {
		r, err := b.round(ctx, n, round)
		if err != nil {
			return err
		}
		rounds = append(rounds, r)
	}
	if err := prof.stop(); err != nil {
		return err
	}
	med := printRounds(rounds, true)

	rate := o.rate
	if rate <= 0 {
		rate = med / 2
	}
	l, err := b.latency(ctx, rate)
	if err != nil {
		return err
	}
	printLatency(l, o.duration, o.warmup)
	return nil
}

func (b *rabbitBench) setup(ctx context.Context) error {
	id := randomHex()
	b.exchange, b.queue, b.schema = "bench-orders-"+id, "bench-order-sync-"+id, "bench_"+id

	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := amqp091.DialConfig(b.o.amqpURL, amqp091.Config{Dial: amqp091.DefaultDial(5 * time.Second)})
	if err != nil {
		return &unreachableError{what: "RabbitMQ at " + redact(b.o.amqpURL), err: err}
	}
	b.conn = conn
	db, err := pgx.Connect(dctx, b.o.pgURL)
	if err != nil {
		return &unreachableError{what: "PostgreSQL at " + redact(b.o.pgURL), err: err}
	}
	b.db = db

	if b.ch, err = conn.Channel(); err != nil {
		return err
	}
	if err := b.ch.Confirm(false); err != nil {
		return err
	}
	// Declared here too (as the connector declares them), so messages published before
	// the engine starts are kept.
	if err := b.ch.ExchangeDeclare(b.exchange, "topic", true, false, false, false, nil); err != nil {
		return err
	}
	if _, err := b.ch.QueueDeclare(b.queue, true, false, false, false, nil); err != nil {
		return err
	}
	if err := b.ch.QueueBind(b.queue, "order.*", b.exchange, false, nil); err != nil {
		return err
	}

	if _, err := db.Exec(ctx, "CREATE SCHEMA "+b.schema); err != nil {
		b.schema = "" // not ours to drop
		return fmt.Errorf("create schema: %w", err)
	}
	if _, err := db.Exec(ctx, "SET search_path = "+b.schema); err != nil {
		return err
	}
	if _, err := db.Exec(ctx, orderTables); err != nil {
		return err
	}
	b.dsn = withParam(b.o.pgURL, "search_path", b.schema)
	b.cfg, err = decodeConfig(fmt.Sprintf(rabbitConnectors, b.exchange, b.queue, b.exchange), "warehouse", "warehouse", b.o)
	return err
}

// cleanup deletes the queue, the exchange and the schema, on fresh connections (the
// run's may be broken).
func (b *rabbitBench) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if b.conn != nil {
		_ = b.conn.Close()
	}
	if b.db != nil {
		_ = b.db.Close(ctx)
	}
	if b.exchange != "" && b.conn != nil {
		if conn, err := amqp091.DialConfig(b.o.amqpURL, amqp091.Config{Dial: amqp091.DefaultDial(5 * time.Second)}); err != nil {
			fmt.Fprintf(os.Stderr, "bench/flows: cleanup: delete queue %s and exchange %s by hand: %v\n", b.queue, b.exchange, err)
		} else {
			ch, err := conn.Channel()
			if err == nil {
				if _, err = ch.QueueDelete(b.queue, false, false, false); err == nil {
					err = ch.ExchangeDelete(b.exchange, false, false)
				}
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "bench/flows: cleanup: delete queue %s and exchange %s by hand: %v\n", b.queue, b.exchange, err)
			}
			_ = conn.Close()
		}
	}
	if b.schema != "" && b.db != nil {
		if db, err := pgx.Connect(ctx, b.o.pgURL); err != nil {
			fmt.Fprintf(os.Stderr, "bench/flows: cleanup: drop schema %s by hand: %v\n", b.schema, err)
		} else {
			if _, err := db.Exec(ctx, "DROP SCHEMA "+b.schema+" CASCADE"); err != nil {
				fmt.Fprintf(os.Stderr, "bench/flows: cleanup: drop schema %s by hand: %v\n", b.schema, err)
			}
			_ = db.Close(ctx)
		}
	}
}

// engine builds an engine over the registry's connectors, the rabbitmq source wrapped
// to report acknowledgements to t and the postgres sinks wrapped to count their writes.
func (b *rabbitBench) engine(t *tracker, stats *sinkStats) (*flow.Engine, error) {
	kinds := registry.Kinds()
	mq, pg := kinds["rabbitmq"], kinds["postgres"]
	newSource := mq.NewSource
	mq.NewSource = func(s connector.Settings) (connector.Source, error) {
		src, err := newSource(s)
		if err != nil {
			return nil, err
		}
		return &ackSource{inner: src, t: t}, nil
	}
	newSink := pg.NewSink
	pg.NewSink = func(s connector.Settings) (connector.Sink, error) {
		sink, err := newSink(s)
		if err != nil {
			return nil, err
		}
		return wrapSink(sink, stats), nil
	}
	kinds["rabbitmq"], kinds["postgres"] = mq, pg
	env := map[string]string{"BENCH_AMQP_URL": b.o.amqpURL, "WAREHOUSE_URL": b.dsn}
	opts, err := engineOptions(kinds, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &deadLetters{})
	if err != nil {
		return nil, err
	}
	return flow.New(b.cfg, opts)
}

func (b *rabbitBench) truncate(ctx context.Context) error {
	_, err := b.db.Exec(ctx, "TRUNCATE high_value_orders, regular_orders")
	return err
}

func (b *rabbitBench) rows(ctx context.Context) (int, error) {
	var n int
	err := b.db.QueryRow(ctx, "SELECT (SELECT count(*) FROM high_value_orders) + (SELECT count(*) FROM regular_orders)").Scan(&n)
	return n, err
}

func (b *rabbitBench) publish(ctx context.Context, body []byte) (*amqp091.DeferredConfirmation, error) {
	return b.ch.PublishWithDeferredConfirmWithContext(ctx, b.exchange, "order.created", false, false,
		amqp091.Publishing{Body: body, DeliveryMode: amqp091.Persistent, ContentType: "application/json"})
}

func (b *rabbitBench) round(ctx context.Context, n, round int) (roundResult, error) {
	if err := b.truncate(ctx); err != nil {
		return roundResult{}, err
	}
	// Publish everything first, with confirms.
	// Labelled, so a CPU profile can leave it out: go tool pprof -tagignore bench=publish.
	pubStart := time.Now()
	var err error
	pprof.Do(ctx, pprof.Labels("bench", "publish"), func(ctx context.Context) {
		confirms := make([]*amqp091.DeferredConfirmation, 0, n)
		prefix := fmt.Sprintf("r%d", round+1)
		for i := range n {
			c, perr := b.publish(ctx, order(prefix, i, 0))
			if perr != nil {
				err = fmt.Errorf("publish: %w", perr)
				return
			}
			confirms = append(confirms, c)
		}
		for _, c := range confirms {
			if ok, cerr := c.WaitContext(ctx); !ok || cerr != nil {
				err = fmt.Errorf("RabbitMQ did not confirm a publish: %v", cerr)
				return
			}
		}
	})
	if err != nil {
		return roundResult{}, err
	}
	published := float64(n) / time.Since(pubStart).Seconds()

	t := newTracker(n, 0)
	stats := &sinkStats{}
	e, err := b.engine(t, stats)
	if err != nil {
		return roundResult{}, err
	}
	runtime.GC()
	meter := startCPU(true)
	start := time.Now()
	if err := e.Start(); err != nil {
		return roundResult{}, err
	}
	inFlight := t.sampleInFlight(e)
	defer inFlight()
	err = t.wait(ctx, e, max(2*time.Minute, time.Duration(n)*time.Millisecond))
	took := time.Since(start)
	cpu, flying := meter.stop(), inFlight()
	closeEngine(e)
	if err != nil {
		return roundResult{}, err
	}
	if err := checkCounters(ctx, e, n); err != nil {
		return roundResult{}, err
	}
	if rows, err := b.rows(ctx); err != nil || rows != n {
		return roundResult{}, fmt.Errorf("%d rows in PostgreSQL after the round, want %d (%v)", rows, n, err)
	}
	return roundResult{n: n, took: took, publish: published, cpu: cpu, flying: flying,
		writes: stats.writes.Load(), written: stats.messages.Load(), inWrite: time.Duration(stats.nanos.Load())}, nil
}

func (b *rabbitBench) latency(ctx context.Context, rate float64) (latencyResult, error) {
	total := int(rate * b.o.duration.Seconds())
	if total < 1 {
		return latencyResult{}, fmt.Errorf("-rate %.0f over %v offers no message", rate, b.o.duration)
	}
	if err := b.truncate(ctx); err != nil {
		return latencyResult{}, err
	}
	t := newTracker(total, total)
	e, err := b.engine(t, &sinkStats{})
	if err != nil {
		return latencyResult{}, err
	}
	defer closeEngine(e)
	if err := e.Start(); err != nil {
		return latencyResult{}, err
	}
	// The source connects in the background; start offering once it consumes.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		st, _ := e.Status(ctx, flowName)
		if st.State == flow.StateRunning {
			break
		}
		if time.Now().After(deadline) {
			return latencyResult{}, fmt.Errorf("the flow did not start consuming: %s", lastError(st))
		}
	}
	runtime.GC()
	meter := startCPU(true)
	inFlight := t.sampleInFlight(e)
	defer inFlight()
	start := time.Now()
	t.from = start.Add(b.o.warmup).UnixNano()
	var confirms []*amqp091.DeferredConfirmation
	lags, err := pace(ctx, start, b.o.warmup, rate, total, func(i int, at time.Time) error {
		c, err := b.publish(ctx, order("lat", i, at.UnixNano()))
		confirms = append(confirms, c)
		return err
	})
	if err != nil {
		return latencyResult{}, fmt.Errorf("publish: %w", err)
	}
	for _, c := range confirms {
		if ok, err := c.WaitContext(ctx); !ok || err != nil {
			return latencyResult{}, fmt.Errorf("RabbitMQ did not confirm a publish: %v", err)
		}
	}
	if err := t.wait(ctx, e, b.o.duration+2*time.Minute); err != nil {
		return latencyResult{}, err
	}
	achieved := float64(total) / time.Since(start).Seconds()
	cpu, flying := meter.stop(), inFlight()
	if rows, err := b.rows(ctx); err != nil || rows != total {
		return latencyResult{}, fmt.Errorf("%d rows in PostgreSQL after the latency phase, want %d (%v)", rows, total, err)
	}
	return latencyResult{rate: rate, offered: total, samples: sorted(t.sampled()), achieved: achieved, cpu: cpu, flying: flying, lags: lags}, nil
}

// ackSource wraps the rabbitmq source: each delivery's Ack reports to the tracker, with
// the latency from the body's sent_at when the tracker samples.
type ackSource struct {
	inner connector.Source
	t     *tracker
}

func (s *ackSource) Open(ctx context.Context, inFlight int) (<-chan connector.Delivery, error) {
	in, err := s.inner.Open(ctx, inFlight)
	if err != nil {
		return nil, err
	}
	out := make(chan connector.Delivery)
	go func() {
		defer close(out)
		for d := range in {
			ack, body := d.Ack, d.Body
			d.Ack = func(c context.Context) error {
				err := ack(c)
				if err == nil {
					s.t.ackBody(body)
				}
				return err
			}
			select {
			case out <- d:
			case <-ctx.Done():
				// Not handed out: closing the connection returns it to the queue.
				for range in {
				}
				return
			}
		}
	}()
	return out, nil
}

func (s *ackSource) Close() error { return s.inner.Close() }

// ackBody records an acknowledged RabbitMQ message.
func (t *tracker) ackBody(body []byte) {
	if t.samples == nil {
		t.ack(0, false)
		return
	}
	sent, ok := sentAt(body)
	t.ack(time.Duration(time.Now().UnixNano()-sent), ok && sent >= t.from)
}

// sinkStats count a sink's writes.
type sinkStats struct {
	writes, messages, nanos atomic.Int64
}

type countingSink struct {
	connector.Sink
	stats *sinkStats
}

func (s *countingSink) Write(ctx context.Context, msgs []connector.Message) error {
	start := time.Now()
	err := s.Sink.Write(ctx, msgs)
	s.stats.nanos.Add(int64(time.Since(start)))
	s.stats.writes.Add(1)
	if err == nil {
		s.stats.messages.Add(int64(len(msgs)))
	}
	return err
}

type countingBatchingSink struct {
	countingSink
	connector.Batching
}

func wrapSink(s connector.Sink, stats *sinkStats) connector.Sink {
	c := countingSink{Sink: s, stats: stats}
	if b, ok := s.(connector.Batching); ok {
		return &countingBatchingSink{countingSink: c, Batching: b}
	}
	return &c
}

// withParam adds a query parameter to a postgres:// URL.
func withParam(u, key, value string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + key + "=" + value
}

// redact drops the password of a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// cpuUse is the CPU used during a round, in cores (CPU seconds per second): by this
// process, by RabbitMQ (beam.smp) and PostgreSQL (postgres) processes, and by everything
// else on the machine. Only self is known off Linux (the others are then negative).
type cpuUse struct {
	self, rabbit, pg, other float64
	services                bool // show rabbit and pg
}

func (c cpuUse) String() string {
	if c.other < 0 {
		return fmt.Sprintf("%.2f / ?", c.self)
	}
	if c.services {
		return fmt.Sprintf("%.2f / %.2f / %.2f / %.2f", c.self, c.rabbit, c.pg, c.other)
	}
	return fmt.Sprintf("%.2f / %.2f", c.self, c.rabbit+c.pg+c.other)
}

type cpuMeter struct {
	at                time.Time
	self              time.Duration
	total, rabbit, pg time.Duration // <0: unknown
	services          bool
}

func startCPU(services bool) cpuMeter {
	m := cpuMeter{at: time.Now(), self: selfCPU(), total: machineCPU(), services: services}
	m.rabbit, m.pg = serviceCPU()
	return m
}

func (m cpuMeter) stop() cpuUse {
	wall := time.Since(m.at).Seconds()
	self := (selfCPU() - m.self).Seconds()
	u := cpuUse{self: self / wall, other: -1, services: m.services}
	total := machineCPU()
	rabbit, pg := serviceCPU()
	if total < 0 || m.total < 0 {
		return u
	}
	if rabbit >= 0 && m.rabbit >= 0 {
		u.rabbit = (rabbit - m.rabbit).Seconds() / wall
		u.pg = (pg - m.pg).Seconds() / wall
	}
	u.other = max(0, (total-m.total).Seconds()/wall-u.self-u.rabbit-u.pg)
	return u
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

const userHZ = 100 // the unit of /proc times on Linux

// machineCPU is the busy time of every CPU since boot (Linux), or -1.
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	if len(f) < 9 || f[0] != "cpu" {
		return -1
	}
	var busy int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * time.Second / userHZ
}

// serviceCPU sums the CPU time of the local beam.smp (RabbitMQ) and postgres
// processes, with their reaped children (PostgreSQL backends that ended), or -1.
func serviceCPU() (rabbit, pg time.Duration) {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return -1, -1
	}
	for _, d := range dirs {
		if d.Name()[0] < '0' || d.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || end < open || end+2 > len(b) {
			continue
		}
		comm := string(b[open+1 : end])
		if comm != "beam.smp" && comm != "postgres" {
			continue
		}
		f := strings.Fields(string(b[end+2:])) // from state: utime is f[11]
		if len(f) < 15 {
			continue
		}
		var ticks int64
		for _, v := range f[11:15] { // utime stime cutime cstime
			n, _ := strconv.ParseInt(v, 10, 64)
			ticks += n
		}
		t := time.Duration(ticks) * time.Second / userHZ
		if comm == "beam.smp" {
			rabbit += t
		} else {
			pg += t
		}
	}
	return rabbit, pg
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
