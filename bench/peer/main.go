// Command peer runs seed 002's order flow in Junction's flow engine and in Benthos, its
// best-known peer, in the same run, and prints one table:
//
//	map to {id, email, item_count, total} → JSON Schema (id and email required)
//	  → route total >= 1000 / else → two discarding sinks (schema rejects: dead letters)
//
// over -n generated orders (bench/internal/orders: the same bytes on both sides; the run
// starts by checking that Benthos's generate input and Junction's Go generator agree).
// Each variant runs in a process of its own, so peak RSS (VmHWM, which each child reads
// from /proc/self/status as it ends) and CPU time (user + system, from wait4) are its
// alone; the variants take turns, round
// after round, and the table shows the median of -rounds. msgs/s is each process's own
// measure: orders over the time from starting the pipeline until the last order left
// it (Junction: Engine.Start to the last acknowledgement; Benthos: Stream.Run to its
// return), process start-up excluded. The counts of every run are checked against
// orders.Expect: each side routed and rejected the same orders.
//
//	benthos          generate input (Bloblang), unbatched
//	benthos-batch100 generate input with batch_size 100, Benthos's fastest setting
//	benthos-go-input-batch100 (-go-input) an input plugin building the bytes in Go, as
//	                 Junction's side does, in batches of 100
//	junction         Junction's engine (config language, flow.New), with a source that
//	                 builds the orders in Go as it is read, memory sinks that discard
//
// The Benthos side is the module bench/benthos (so the product's go.mod never requires
// Benthos), built once at the start with `go build`.
//
//	go run ./bench/peer [-n 200000] [-rounds 3] [-inflight 64] [-go-input]
//	    [-variants benthos,benthos-batch100,junction] [-junction-before BINARY] [-cpuprofile FILE]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/junctionhq/junction/bench/internal/orders"
	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/memory"
	"github.com/junctionhq/junction/internal/flow"
	"github.com/junctionhq/junction/internal/store"
)

// result is what a child prints: one JSON line.
type result struct {
	Variant string        `json:"variant"`
	N       int           `json:"n"`
	Seconds float64       `json:"seconds"`
	Counts  orders.Counts `json:"counts"`
	Digest  string        `json:"digest,omitempty"`
	PeakRSS int64         `json:"peak_rss"` // VmHWM, as the child read it before printing this
}

// run is one child process: its result and its CPU time.
type run struct {
	result
	cpu  time.Duration
	wall time.Duration
}

func main() {
	n := flag.Int("n", 200000, "orders per run")
	rounds := flag.Int("rounds", 3, "runs of each variant (the median is shown)")
	inflight := flag.Int("inflight", 64, "Junction: the flow's max_in_flight")
	goInput := flag.Bool("go-input", false, "also run Benthos with a Go input that builds the same bytes as Junction's source")
	variants := flag.String("variants", "benthos,benthos-batch100,junction", "variants to run, in this order in the first round")
	benthosDir := flag.String("benthos-dir", "bench/benthos", "the Benthos module")
	child := flag.String("child", "", "internal: run one side (junction)")
	cpuprofile := flag.String("cpuprofile", "", "Junction: write a CPU profile of each run to FILE (the last run's remains)")
	before := flag.String("junction-before", "", "also run, as variant junction-before, the Junction side of this command built from another commit (a binary: go build -o FILE ./bench/peer)")
	flag.Parse()

	if *child == "junction" {
		if err := junction(*n, *inflight, *cpuprofile); err != nil {
			fmt.Fprintln(os.Stderr, "bench/peer (junction):", err)
			os.Exit(1)
		}
		return
	}
	list := strings.Split(*variants, ",")
	if *goInput && !slices.Contains(list, "benthos-go-input-batch100") {
		list = append(list, "benthos-go-input-batch100")
	}
	if *before != "" {
		list = append(list, "junction-before")
	}
	if err := drive(*n, *rounds, *inflight, list, *benthosDir, *cpuprofile, *before); err != nil {
		fmt.Fprintln(os.Stderr, "bench/peer:", err)
		os.Exit(1)
	}
}

func drive(n, rounds, inflight int, variants []string, benthosDir, cpuprofile, before string) error {
	tmp, err := os.MkdirTemp("", "junction-peer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	benthos := filepath.Join(tmp, "benthos")
	fmt.Fprintf(os.Stderr, "building %s …\n", benthosDir)
	build := exec.Command("go", "build", "-o", benthos, ".")
	build.Dir, build.Stdout, build.Stderr = benthosDir, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build in %s: %w", benthosDir, err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	commands := map[string][]string{
		"benthos":                   {benthos, "-n", strconv.Itoa(n), "-batch", "1"},
		"benthos-batch100":          {benthos, "-n", strconv.Itoa(n), "-batch", "100"},
		"benthos-go-input-batch100": {benthos, "-n", strconv.Itoa(n), "-batch", "100", "-input", "go"},
		"junction":                  {self, "-child", "junction", "-n", strconv.Itoa(n), "-inflight", strconv.Itoa(inflight), "-cpuprofile", cpuprofile},
		"junction-before":           {before, "-child", "junction", "-n", strconv.Itoa(n), "-inflight", strconv.Itoa(inflight)},
	}
	for _, v := range variants {
		if commands[v] == nil {
			return fmt.Errorf("unknown variant %q", v)
		}
	}

	// The same input on both sides.
	var want orders.Digest
	for i := 1; i <= n; i++ {
		want.Add(orders.Append(nil, i))
	}
	got, err := child([]string{benthos, "-n", strconv.Itoa(n), "-digest"})
	if err != nil {
		return err
	}
	if got.Digest != want.Sum() {
		return fmt.Errorf("the generate input of Benthos produced other orders than orders.Append: digest %s, want %s", got.Digest, want.Sum())
	}
	expect := orders.Expect(n)
	host, _ := os.Hostname()
	fmt.Printf("%s, %d CPUs, %s; %d orders (%d high, %d regular, %d rejected by the schema; Benthos's generate input and Junction's generator give the same bytes), max_in_flight %d, %d rounds\n\n",
		runtime.Version(), runtime.NumCPU(), host, n, expect.High, expect.Regular, expect.Rejected, inflight, rounds)

	runs := map[string][]run{}
	for r := range rounds {
		// Take turns, starting one later each round, so no variant always follows the
		// same one on a machine whose speed drifts.
		for k := range variants {
			v := variants[(k+r)%len(variants)]
			res, err := child(commands[v])
			if err != nil {
				return fmt.Errorf("%s: %w", v, err)
			}
			if res.Counts != expect {
				return fmt.Errorf("%s: counts %+v, want %+v", v, res.Counts, expect)
			}
			fmt.Fprintf(os.Stderr, "round %d: %-26s %8.0f msgs/s  %6.1f MiB  %5.2f s CPU\n", r+1, v, res.rate(), mib(res.PeakRSS), res.cpu.Seconds())
			runs[v] = append(runs[v], res)
		}
	}

	fmt.Println("| variant | msgs/s (median) | msgs/s (runs) | peak RSS (median) | CPU time (median) | CPU per order |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: |")
	med := map[string]run{}
	for _, v := range variants {
		rs := runs[v]
		m := run{result: result{N: n}}
		m.Seconds = median(rs, func(r run) float64 { return r.Seconds })
		m.PeakRSS = int64(median(rs, func(r run) float64 { return float64(r.PeakRSS) }))
		m.cpu = time.Duration(median(rs, func(r run) float64 { return float64(r.cpu) }))
		med[v] = m
		var each []string
		for _, r := range rs {
			each = append(each, fmt.Sprintf("%.0f", r.rate()))
		}
		fmt.Printf("| %s | %.0f | %s | %.1f MiB | %.2f s | %.1f µs |\n", v, m.rate(), strings.Join(each, ", "),
			mib(m.PeakRSS), m.cpu.Seconds(), float64(m.cpu.Microseconds())/float64(n))
	}
	if j, ok := med["junction"]; ok {
		fmt.Println()
		for _, v := range variants {
			if b, ok := med[v]; ok && v != "junction" {
				fmt.Printf("junction / %s: %.2f× msgs/s, %.2f× peak RSS, %.2f× CPU time\n", v, j.rate()/b.rate(),
					float64(j.PeakRSS)/float64(b.PeakRSS), j.cpu.Seconds()/b.cpu.Seconds())
			}
		}
	}
	return nil
}

func (r result) rate() float64 { return float64(r.N) / r.Seconds }

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// median of f over the runs (rate = n/seconds, so the median time gives the median rate).
func median(rs []run, f func(run) float64) float64 {
	vs := make([]float64, len(rs))
	for i, r := range rs {
		vs[i] = f(r)
	}
	sort.Float64s(vs)
	return vs[len(vs)/2]
}

// child runs one process and reads its result line and its resource use.
func child(args []string) (run, error) {
	cmd := exec.Command(args[0], args[1:]...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return run{}, fmt.Errorf("%s: %w\n%s", filepath.Base(args[0]), err, errOut.String())
	}
	var r run
	if err := json.Unmarshal(out.Bytes(), &r.result); err != nil {
		return run{}, fmt.Errorf("%s printed %q: %w", filepath.Base(args[0]), out.String(), err)
	}
	if r.PeakRSS <= 0 {
		return run{}, errors.New("the child could not read its peak RSS (VmHWM, Linux only)")
	}
	r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	r.wall = wall
	return r, nil
}

// ---------------------------------------------------------------------------------
// Junction's side

// flowText is the order flow in Junction's configuration language. The rejected orders
// (no e-mail address) fail the validate step, which is permanent: they go to the
// dead-letter queue at once.
const flowText = `
connector orders { type: orders }
connector high { type: memory }
connector regular { type: memory }

flow order-peer {
    source: orders
    max_in_flight: %d
    step map {
        transform: { id: "$.orderId", email: "$.customerEmail", item_count: "=len(orderItems)", total: "$.orderTotal" }
    }
    step check { validate: file(%q) }
    step route {
        route: { "total >= 1000": "high", else: "regular" }
    }
    sink high { connector: high }
    sink regular { connector: regular }
    on_error: retry 3 times with exponential_backoff(100ms, max 1s) then dead_letter("rejected-orders")
}
`

func junction(n, inflight int, cpuprofile string) error {
	dir, err := os.MkdirTemp("", "junction-peer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	schema := filepath.Join(dir, "order.schema.json")
	if err := os.WriteFile(schema, []byte(orders.Schema), 0o600); err != nil {
		return err
	}
	cfg, diags := config.Decode(filepath.Join(dir, "peer.cai"), fmt.Appendf(nil, flowText, inflight, schema))
	if err := diags.Err(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	src := &generator{n: n, done: make(chan struct{})}
	sinks := map[string]*memory.Sink{"high": {Discard: true}, "regular": {Discard: true}}
	dlq := &deadLetters{}
	m, err := flow.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		return err
	}
	e, err := flow.New(cfg, flow.Options{
		Kinds: map[string]connector.Kind{
			"memory": memory.Kind("memory", nil, sinks),
			"orders": {Name: "orders", NewSource: func(connector.Settings) (connector.Source, error) { return src, nil }},
		},
		Env: connector.Env{
			// Warnings (one per dead letter) are not what is measured; Benthos's side
			// logs errors only too.
			Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError})),
			Clock:  clock.Real{},
		},
		DeadLetters: dlq,
		Metrics:     m,
	})
	if err != nil {
		return err
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	if err := e.Start(); err != nil {
		return err
	}
	select {
	case <-src.done:
	case <-time.After(10 * time.Minute):
		return fmt.Errorf("only %d of %d orders were acknowledged after 10 minutes", src.acked.Load(), n)
	}
	took := time.Since(start)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.Close(ctx)
	return json.NewEncoder(os.Stdout).Encode(result{Variant: "junction", N: n, Seconds: took.Seconds(), Counts: orders.Counts{
		High: sinks["high"].Count(), Regular: sinks["regular"].Count(), Rejected: dlq.count.Load(),
	}, PeakRSS: orders.PeakRSS()})
}

// generator is a source that builds orders 1…n as the flow reads them, and closes done
// once every one was acknowledged.
type generator struct {
	n     int
	acked atomic.Int64
	done  chan struct{}
	once  sync.Once
}

func (g *generator) Open(ctx context.Context, _ int) (<-chan connector.Delivery, error) {
	out := make(chan connector.Delivery)
	var opened bool
	g.once.Do(func() { opened = true })
	if !opened {
		close(out) // one pass only; the flow stops before reopening matters
		return out, nil
	}
	go func() {
		defer close(out)
		ack := func(context.Context) error {
			if g.acked.Add(1) == int64(g.n) {
				close(g.done)
			}
			return nil
		}
		for i := 1; i <= g.n; i++ {
			d := connector.Delivery{
				Message: connector.Message{Body: orders.Append(make([]byte, 0, 320), i)},
				ID:      "orders:" + strconv.Itoa(i),
				Ack:     ack,
				Nack:    func(context.Context) error { return errors.New("bench: an order was handed back") },
			}
			select {
			case out <- d:
			case <-ctx.Done():
				return
			}
		}
		<-ctx.Done()
	}()
	return out, nil
}

func (g *generator) Close() error { return nil }

// deadLetters counts the dead letters and keeps nothing.
type deadLetters struct{ count atomic.Int64 }

func (d *deadLetters) FlowDeadLetterAdd(context.Context, store.FlowDeadLetter) error {
	d.count.Add(1)
	return nil
}

func (d *deadLetters) FlowDeadLetterGet(context.Context, string) (store.FlowDeadLetter, error) {
	return store.FlowDeadLetter{}, store.ErrNotFound
}
func (d *deadLetters) FlowDeadLetterDelete(context.Context, string) error { return nil }
func (d *deadLetters) FlowDeadLetterSetAccepted(context.Context, string, [][]string) error {
	return nil
}
func (d *deadLetters) FlowDeadLetterList(context.Context, store.FlowDeadLetterFilter) ([]store.FlowDeadLetter, int, error) {
	return nil, 0, nil
}
func (d *deadLetters) FlowDeadLetterCounts(context.Context) (map[string]int, error) {
	return map[string]int{"order-peer": int(d.count.Load())}, nil
}
