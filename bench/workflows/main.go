// Command workflows compares durable workflow engines on one workflow (workflow.go):
// three HTTP calls to local zero-latency fake services, each step's input taken from
// the previous step's output, and a step that emits the result as an event into the
// engine's storage. Systems: Junction's workflow engine on SQLite and on PostgreSQL
// (junction.go) and DBOS Transact for Go on PostgreSQL (dbos.go), one after another in
// this process, each with fresh storage.
//
// Phase 1 (closed loop): -concurrency goroutines each start a run and wait for its
// result, until -runs runs completed; runs per second for each of -rounds rounds and
// their median. Phase 2 (open loop): runs start at -rate per second (default: half the
// system's phase 1 median) for -duration, each without waiting for the others; latency
// from a run's scheduled start to its result.
//
// Every result is checked (its payment id is built from all three calls' outputs), the
// fake services count requests and Idempotency-Keys (3 requests per completed run, each
// key once), and the events emitted are counted (one per completed run).
//
//	go run . [-systems junction-sqlite,junction-postgres,dbos] [-runs 5000]
//	    [-concurrency 128] [-rounds 3] [-duration 10s] [-rate R] [-pg URL]
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// opts are the command-line flags.
type opts struct {
	pgURL       string
	runs        int
	concurrency int
	rounds      int
	duration    time.Duration
	rate        float64
	systems     []string
}

var knownSystems = []string{"junction-sqlite", "junction-postgres", "dbos"}

func main() {
	var o opts
	var systems string
	flag.StringVar(&o.pgURL, "pg", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL URL (each system makes its own schema or tables in it and drops them)")
	flag.IntVar(&o.runs, "runs", 5000, "runs per throughput round")
	flag.IntVar(&o.concurrency, "concurrency", 128, "runs in flight in the throughput phase")
	flag.IntVar(&o.rounds, "rounds", 3, "throughput rounds (the median is reported)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of the latency phase")
	flag.Float64Var(&o.rate, "rate", 0, "runs started per second in the latency phase (default: half the system's median throughput)")
	flag.StringVar(&systems, "systems", strings.Join(knownSystems, ","), "systems to run, comma-separated: "+strings.Join(knownSystems, ", "))
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof -top FILE)")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
		defer pprof.StopCPUProfile()
	}
	for name := range strings.SplitSeq(systems, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(knownSystems, name) {
			fail(fmt.Errorf("-systems: unknown system %q (known: %s)", name, strings.Join(knownSystems, ", ")))
		}
		o.systems = append(o.systems, name)
	}
	if o.runs < 1 || o.concurrency < 1 || o.rounds < 1 || o.duration <= 0 || o.rate < 0 {
		fail(errors.New("-runs, -concurrency and -rounds must be at least 1, -duration positive and -rate not negative"))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	svc := startServices()
	defer svc.Close()
	e := env{
		pgURL:    o.pgURL,
		services: svc.URL(),
		client:   &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1024}},
	}

	fmt.Printf("%s, GOMAXPROCS %d (%d CPUs), DBOS Transact %s; PostgreSQL %s\n", runtime.Version(),
		runtime.GOMAXPROCS(0), runtime.NumCPU(), moduleVersion("github.com/dbos-inc/dbos-transact-golang"), redact(o.pgURL))
	fmt.Printf("Workflow: POST /identity → /fraud → /payment (fake services on %s) → emit; %d runs × %d rounds at concurrency %d, then open loop for %v.\n",
		svc.URL(), o.runs, o.rounds, o.concurrency, o.duration)
	var reports []report
	for _, name := range o.systems {
		if ctx.Err() != nil {
			break
		}
		reports = append(reports, runSystem(ctx, o, newSystem(name, e), svc))
	}
	printSummary(reports)
	for _, r := range reports {
		if r.failed != nil {
			os.Exit(1)
		}
	}
}

func newSystem(name string, e env) system {
	if name == "dbos" {
		return newDBOS(e)
	}
	return &junctionSystem{name: name, env: e}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/workflows:", err)
	os.Exit(1)
}

// report is one system's results.
type report struct {
	name      string
	skipped   error // Start failed: nothing measured
	failed    error // a run failed or returned a wrong result
	rounds    []roundResult
	median    float64
	latency   latencyResult
	completed int // runs completed in both phases
	counts    serviceCounts
	emitted   int // -1: the system cannot count them
}

// roundResult is one throughput round.
type roundResult struct {
	runs int
	took time.Duration
	cpu  cpuUse
}

func (r roundResult) rate() float64 { return float64(r.runs) / r.took.Seconds() }

// latencyResult is the open-loop phase.
type latencyResult struct {
	rate      float64
	offered   int
	completed int
	failed    int
	took      time.Duration   // from the first start to the last result
	samples   []time.Duration // sorted: scheduled start to result, completed runs
	cpu       cpuUse
}

func (l latencyResult) at(p float64) time.Duration {
	if len(l.samples) == 0 {
		return 0
	}
	return l.samples[min(len(l.samples)-1, int(p*float64(len(l.samples))))]
}

// runSystem measures one system and prints its tables.
func runSystem(ctx context.Context, o opts, sys system, svc *services) report {
	r := report{name: sys.Name(), emitted: -1}
	fmt.Printf("\n## %s\n\n", r.name)
	defer func() {
		if err := sys.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "bench/workflows: %s: close: %v\n", r.name, err)
		}
	}()
	svc.take()
	if err := sys.Start(ctx); err != nil {
		r.skipped = err
		fmt.Printf("skipped: %s\n", oneLine(err))
		return r
	}

	fmt.Println("| round | runs | time | runs/s | cores: bench / postgres / other | CPU per run (bench + postgres) |")
	fmt.Println("| ---: | ---: | ---: | ---: | ---: | ---: |")
	for i := range o.rounds {
		rr, err := throughput(ctx, sys, o, i+1)
		r.completed += rr.runs
		if err != nil {
			r.failed = fmt.Errorf("round %d: %w", i+1, err)
			fmt.Printf("\nfailed: %v\n", r.failed)
			return r
		}
		r.rounds = append(r.rounds, rr)
		fmt.Printf("| %d | %d | %.2f s | %.0f | %s | %.0f µs |\n", i+1, rr.runs, rr.took.Seconds(), rr.rate(), rr.cpu, us(rr.cpu.perRun(rr.runs)))
	}
	rates := make([]float64, len(r.rounds))
	for i, rr := range r.rounds {
		rates[i] = rr.rate()
	}
	r.median = median(rates)
	fmt.Printf("| median | | | %.0f | | |\n", r.median)

	rate := o.rate
	if rate == 0 {
		rate = r.median / 2
	}
	l, err := latency(ctx, sys, rate, o.duration)
	r.latency = l
	r.completed += l.completed
	fmt.Printf("\nOpen loop at %.0f runs/s for %v, latency from each run's scheduled start to its result:\n\n", rate, o.duration)
	fmt.Println("| offered | completed | failed | achieved runs/s | p50 | p90 | p99 | max | cores: bench / postgres / other |")
	fmt.Println("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	fmt.Printf("| %d | %d | %d | %.0f | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %s |\n", l.offered, l.completed, l.failed,
		float64(l.completed)/l.took.Seconds(), ms(l.at(0.5)), ms(l.at(0.9)), ms(l.at(0.99)), ms(l.at(1)), l.cpu)
	if err != nil {
		r.failed = fmt.Errorf("latency phase: %w", err)
		fmt.Printf("\nfailed: %v\n", r.failed)
	}

	r.counts = svc.take()
	if ec, ok := sys.(eventCounter); ok {
		n, err := ec.emitted(ctx)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench/workflows: %s: counting events: %v\n", r.name, err)
		} else {
			r.emitted = n
		}
	}
	c := r.counts
	fmt.Printf("\nFake services over both phases (%d runs completed):\n\n", r.completed)
	fmt.Println("| requests | expected (3 per run) | distinct Idempotency-Keys | keys seen more than once | requests without a key | events emitted |")
	fmt.Println("| ---: | ---: | ---: | ---: | ---: | ---: |")
	fmt.Printf("| %d | %d | %d | %d | %d | %s |\n", c.requests, 3*r.completed, c.keys, c.repeated, c.noKey, r.emittedText())
	return r
}

// throughput is one closed-loop round: o.concurrency workers start runs until o.runs
// have completed; the first failure stops the round.
func throughput(ctx context.Context, sys system, o opts, round int) (roundResult, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next, done atomic.Int64
	cpu := startCPU()
	start := time.Now()
	var wg sync.WaitGroup
	for range min(o.concurrency, o.runs) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= o.runs {
					return
				}
				if err := runOne(ctx, sys, fmt.Sprintf("t%d-%d", round, i), i); err != nil {
					cancel(err)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	r := roundResult{runs: int(done.Load()), took: time.Since(start), cpu: cpu.stop()}
	return r, context.Cause(ctx)
}

// latency is the open-loop phase: run i starts at start + i/rate, in a goroutine of its
// own, whether or not earlier runs have finished. The starter wakes about every 100 µs
// and starts every run whose time has come, so a run may start up to that late; the
// latency counts from the scheduled time.
func latency(ctx context.Context, sys system, rate float64, d time.Duration) (latencyResult, error) {
	l := latencyResult{rate: rate, offered: max(1, int(rate*d.Seconds()))}
	interval := float64(time.Second) / rate
	lat := make([]time.Duration, l.offered)
	var failed atomic.Int64
	var firstErr error
	var once sync.Once
	cpu := startCPU()
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < l.offered && ctx.Err() == nil; {
		due := min(l.offered, int(float64(time.Since(start))/interval)+1)
		for ; i < due; i++ {
			n, at := i, start.Add(time.Duration(float64(i)*interval))
			wg.Go(func() {
				if err := runOne(ctx, sys, fmt.Sprintf("l-%d", n), n); err != nil {
					failed.Add(1)
					once.Do(func() { firstErr = err })
					return
				}
				lat[n] = time.Since(at)
			})
		}
		time.Sleep(100 * time.Microsecond)
	}
	wg.Wait()
	l.took, l.cpu = time.Since(start), cpu.stop()
	l.failed = int(failed.Load())
	for _, v := range lat {
		if v > 0 {
			l.samples = append(l.samples, v)
		}
	}
	slices.Sort(l.samples)
	l.completed = len(l.samples)
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return l, firstErr
}

// runOne runs the workflow once and checks its result.
func runOne(ctx context.Context, sys system, orderID string, i int) error {
	in := input(orderID, i)
	out, err := sys.Run(ctx, in)
	if err == nil {
		err = checkResult(in, out)
	}
	if err != nil {
		return fmt.Errorf("run %s: %w", orderID, err)
	}
	return nil
}

func printSummary(reports []report) {
	fmt.Printf("\n## Summary\n\n")
	fmt.Println("| system | runs/s (median) | runs/s (rounds) | CPU per run (bench + postgres) | latency at | p50 | p99 | fake requests / expected | repeated keys | events / runs |")
	fmt.Println("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range reports {
		if r.skipped != nil || r.failed != nil {
			what, err := "skipped", r.skipped
			if err == nil {
				what, err = "failed", r.failed
			}
			fmt.Printf("| %s | %s: %s | | | | | | | | |\n", r.name, what, oneLine(err))
			continue
		}
		var rounds []string
		var cpu time.Duration
		for _, rr := range r.rounds {
			rounds = append(rounds, fmt.Sprintf("%.0f", rr.rate()))
			cpu += rr.cpu.perRun(rr.runs)
		}
		l := r.latency
		fmt.Printf("| %s | %.0f | %s | %.0f µs | %.0f runs/s | %.2f ms | %.2f ms | %d / %d | %d | %s / %d |\n", r.name,
			r.median, strings.Join(rounds, ", "), us(cpu/time.Duration(max(len(r.rounds), 1))), l.rate,
			ms(l.at(0.5)), ms(l.at(0.99)), r.counts.requests, 3*r.completed, r.counts.repeated, r.emittedText(), r.completed)
	}
}

// oneLine is an error's text on one line, for a table cell.
func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

func (r report) emittedText() string {
	if r.emitted < 0 {
		return "?"
	}
	return fmt.Sprint(r.emitted)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// moduleVersion is the version of a module built into this binary.
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == path {
				return m.Version
			}
		}
	}
	return "(unknown version)"
}

func randomHex() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// redact drops the password of a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
