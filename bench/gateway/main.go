// Command gateway measures, in one run on loopback, the request rate and latency of:
//
//	direct     the upstream called directly
//	bare-proxy a bare net/http/httputil.ReverseProxy in front of it (the practical ceiling
//	           for any gateway on the machine)
//	proxy      Junction's /proxy/{name}/… path
//	operation  Junction's /integrations/{name}/operations/{op} path with every policy of
//	           the integration enabled (auth, idempotency, retry, circuit breaker with
//	           bulkhead, rate limit, timeout, fallback, response contract check; the
//	           call is a POST, so the cache does not apply)
//	cached     the operations path for a GET answered from the cache
//
// The load comes from a child process (this binary with -load), so the generator's CPU
// and garbage collection stay out of the servers' process. Phase 1 runs each target closed-loop with -conns connections for -duration and
// reports the peak rate and latencies. Phase 2 offers every target the same open-loop
// rate, half of the bare proxy's peak, and reports the latencies (measured from the
// scheduled send time, so queueing counts) and what each adds at p99 over the bare proxy.
//
//	go run ./bench/gateway [-duration 10s] [-conns 64]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junctionhq/junction/internal/app"
	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/backend"
)

func main() {
	duration := flag.Duration("duration", 10*time.Second, "measuring time per target and phase")
	warmup := flag.Duration("warmup", 2*time.Second, "unmeasured load before each measurement")
	conns := flag.Int("conns", 64, "concurrent connections in the closed-loop phase")
	rounds := flag.Int("rounds", 3, "phase 2 repetitions per target (the median p99 is reported)")
	load := flag.String("load", "", "internal: run as the load generator for this JSON job")
	flag.BoolVar(&pin, "pin", false, "pin the servers to CPU 0 and the load generator to CPU 1 (taskset), for steadier tail latencies")
	flag.Parse()
	if pin && *load == "" && os.Getenv("JUNCTION_BENCH_PINNED") == "" {
		// Re-run this process on CPU 0 only; its children are started on CPU 1.
		self, _ := os.Executable()
		cmd := exec.Command("taskset", append([]string{"-c", "0", self}, os.Args[1:]...)...)
		cmd.Env = append(os.Environ(), "JUNCTION_BENCH_PINNED=1")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "bench/gateway:", err)
			os.Exit(1)
		}
		return
	}
	var err error
	if *load != "" {
		err = generate(*load)
	} else {
		err = run(*duration, *warmup, *conns, *rounds)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/gateway:", err)
		os.Exit(1)
	}
}

// pin is -pin: servers on CPU 0, load on CPU 1.
var pin bool

const upstreamBody = `{"id":"ch_1","status":"succeeded","amount":1000}`

func run(duration, warmup time.Duration, conns, rounds int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	upstream, err := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, upstreamBody)
	}))
	if err != nil {
		return err
	}
	upURL, _ := url.Parse(upstream)
	rp := httputil.NewSingleHostReverseProxy(upURL)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 1024}
	bare, err := serve(rp)
	if err != nil {
		return err
	}

	junction, token, stop, err := startJunction(ctx, upstream)
	if err != nil {
		return err
	}
	defer stop()

	chargeBody := `{"amount":1000,"currency":"eur"}`
	targets := []target{
		{Name: "direct", Method: "POST", URL: upstream + "/charges", Body: chargeBody},
		{Name: "bare-proxy", Method: "POST", URL: bare + "/charges", Body: chargeBody},
		{Name: "proxy", Method: "POST", URL: junction + "/proxy/Payments/charges", Body: chargeBody, Token: token},
		{Name: "operation", Method: "POST", URL: junction + "/integrations/Payments/operations/create_charge", Body: chargeBody, Token: token},
		{Name: "cached", Method: "POST", URL: junction + "/integrations/Payments/operations/get_charge", Body: `{"id":"ch_1"}`, Token: token},
	}
	check := &http.Client{}
	for _, t := range targets { // every target must answer 2xx before we measure it
		if err := t.check(check); err != nil {
			return err
		}
	}

	where := "load from a separate process"
	if pin {
		where = "servers pinned to CPU 0, load generator to CPU 1"
	}
	fmt.Printf("Phase 1: closed loop, %d connections, %v per target (after %v warm-up); %s\n\n", conns, duration, warmup, where)
	fmt.Println("| target | req/s | % of bare proxy | p50 | p99 | errors |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: |")
	peaks := map[string]float64{}
	for _, t := range targets {
		r, err := measure(job{Target: t, Conns: conns, Warmup: warmup, Duration: duration})
		if err != nil {
			return err
		}
		peaks[t.Name] = r.Rate
		fmt.Printf("| %s | %.0f | %s | %s | %s | %d |\n", t.Name, r.Rate, pct(r.Rate, peaks["bare-proxy"], t.Name), ms(r.P50), ms(r.P99), r.Errors)
	}

	rate := peaks["bare-proxy"] / 2
	fmt.Printf("\nPhase 2: open loop at %.0f req/s (half the bare proxy's peak), %v per target, %d rounds (median p99)\n\n", rate, duration, rounds)
	p99s := map[string][]time.Duration{}
	p50s := map[string][]time.Duration{}
	errs := map[string]int64{}
	for range rounds {
		for _, t := range targets {
			r, err := measure(job{Target: t, Rate: rate, Conns: conns, Warmup: warmup, Duration: duration})
			if err != nil {
				return err
			}
			p99s[t.Name] = append(p99s[t.Name], r.P99)
			p50s[t.Name] = append(p50s[t.Name], r.P50)
			errs[t.Name] += r.Errors
		}
	}
	fmt.Println("| target | p50 | p99 (median of rounds) | p99 of each round | added p99 over bare proxy | errors |")
	fmt.Println("| --- | ---: | ---: | --- | ---: | ---: |")
	bareP99 := median(p99s["bare-proxy"])
	for _, t := range targets {
		added := "—"
		if t.Name != "direct" && t.Name != "bare-proxy" {
			added = ms(median(p99s[t.Name]) - bareP99)
		}
		var each []string
		for _, d := range p99s[t.Name] {
			each = append(each, ms(d))
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %d |\n", t.Name, ms(median(p50s[t.Name])), ms(median(p99s[t.Name])), strings.Join(each, ", "), added, errs[t.Name])
	}
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// job is one measurement, run by a child process so the load generator's own CPU and
// garbage collection do not land in the servers' process.
type job struct {
	Target   target
	Rate     float64 // 0: closed loop with Conns connections; >0: open loop at this rate
	Conns    int
	Warmup   time.Duration
	Duration time.Duration
}

func measure(j job) (result, error) {
	spec, _ := json.Marshal(j)
	self, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	cmd := exec.Command(self, "-load", string(spec))
	if pin {
		cmd = exec.Command("taskset", "-c", "1", self, "-load", string(spec))
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("load generator for %s: %w", j.Target.Name, err)
	}
	var r result
	return r, json.Unmarshal(out, &r)
}

// generate is the child process: it runs one job and prints its result as JSON.
func generate(spec string) error {
	var j job
	if err := json.Unmarshal([]byte(spec), &j); err != nil {
		return err
	}
	// A bounded pool: without it a momentary stall makes hundreds of senders open new
	// connections at once, and the dropped SYNs of that storm (retried after 1 s) would
	// dominate the tail, whatever the target.
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4 * j.Conns, MaxConnsPerHost: 4 * j.Conns}}
	var r result
	if j.Rate > 0 {
		openLoop(c, j.Target, j.Rate, j.Warmup)
		runtime.GC()
		r = openLoop(c, j.Target, j.Rate, j.Duration)
	} else {
		closedLoop(c, j.Target, j.Conns, j.Warmup)
		runtime.GC()
		r = closedLoop(c, j.Target, j.Conns, j.Duration)
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// serve starts h on a loopback port and returns its URL.
func serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go func() { _ = http.Serve(ln, h) }()
	return "http://" + ln.Addr().String(), nil
}

// startJunction runs `junction serve` in-process on a fresh SQLite file with an
// integration whose every policy is on, and returns its URL and an API token.
func startJunction(ctx context.Context, upstream string) (string, string, func(), error) {
	dir, err := os.MkdirTemp("", "junction-bench-")
	if err != nil {
		return "", "", nil, err
	}
	cfgPath := filepath.Join(dir, "bench.cai")
	cfg := `
integration Payments {
    base_url: "` + upstream + `"
    auth: bearer(env(BENCH_TOKEN))
    headers: { "Api-Version": "2026-01-01" }
    timeout: 5s
    retry: 2 times with exponential_backoff
    circuit_breaker: { threshold: 50 failures in 1m, reset_after: 30s, max_concurrent: 10000 }
    rate_limit: { requests: 100000000, window: 1s, header: "X-RateLimit-Remaining" }
    default_cache_ttl: 1m
    fallback: cache
    idempotency: { header: "Idempotency-Key", generate: true }
    operation create_charge {
        method: POST
        path: "/charges"
        body: { amount: integer, required  currency: string, default("usd") }
        returns: { id: string, status: string, amount: integer }
    }
    operation get_charge {
        method: GET
        path: "/charges/{id}"
        returns: { id: string, status: string, amount: integer }
    }
}`
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return "", "", nil, err
	}
	dbURL := filepath.Join(dir, "junction.db")
	st, err := backend.Open(ctx, dbURL)
	if err != nil {
		return "", "", nil, err
	}
	if _, err := st.MigrateUp(ctx); err != nil {
		return "", "", nil, err
	}
	token, _, err := auth.Issue(ctx, st, store.RoleUser, "bench", time.Now())
	st.Close()
	if err != nil {
		return "", "", nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Serve(sctx, app.Options{
			ConfigPaths: []string{cfgPath}, DatabaseURL: dbURL, Addr: "127.0.0.1:0",
			// Access logs at info are one line per request; the benchmark measures the
			// gateway, so it logs warnings only.
			Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
			Stderr: io.Discard,
			LookupEnv: func(k string) (string, bool) {
				return map[string]string{"BENCH_TOKEN": "upstream-secret"}[k], k == "BENCH_TOKEN"
			},
			Listening: func(a net.Addr) { addr <- a },
		})
	}()
	select {
	case a := <-addr:
		stop := func() {
			cancel()
			<-done
			os.RemoveAll(dir)
		}
		return "http://" + a.String(), token, stop, nil
	case err := <-done:
		cancel()
		return "", "", nil, fmt.Errorf("junction did not start: %w", err)
	}
}

type target struct {
	Name, Method, URL, Token, Body string
}

func (t target) request() *http.Request {
	req, _ := http.NewRequest(t.Method, t.URL, strings.NewReader(t.Body))
	req.Header.Set("Content-Type", "application/json")
	if t.Token != "" {
		req.Header.Set("Authorization", "Bearer "+t.Token)
	}
	return req
}

func (t target) check(c *http.Client) error {
	resp, err := c.Do(t.request())
	if err != nil {
		return fmt.Errorf("%s: %w", t.Name, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 || !strings.Contains(string(body), `"succeeded"`) {
		return fmt.Errorf("%s: answered %d %s", t.Name, resp.StatusCode, body)
	}
	return nil
}

type result struct {
	Rate     float64
	P50, P99 time.Duration
	Errors   int64
}

// do sends one request and reports whether it succeeded.
func do(c *http.Client, t target) bool {
	resp, err := c.Do(t.request())
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode/100 == 2
}

func closedLoop(c *http.Client, t target, conns int, d time.Duration) result {
	var (
		wg      sync.WaitGroup
		errs    atomic.Int64
		mu      sync.Mutex
		samples []time.Duration
	)
	deadline := time.Now().Add(d)
	for range conns {
		wg.Go(func() {
			local := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) {
				start := time.Now()
				if !do(c, t) {
					errs.Add(1)
				}
				local = append(local, time.Since(start))
			}
			mu.Lock()
			samples = append(samples, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return summarize(samples, d, errs.Load())
}

func openLoop(c *http.Client, t target, rate float64, d time.Duration) result {
	interval := time.Duration(float64(time.Second) / rate)
	n := int(d / interval)
	jobs := make(chan time.Time, n)
	var (
		wg      sync.WaitGroup
		errs    atomic.Int64
		mu      sync.Mutex
		samples = make([]time.Duration, 0, n)
	)
	for range 512 {
		wg.Go(func() {
			for scheduled := range jobs {
				if wait := time.Until(scheduled); wait > 0 {
					time.Sleep(wait)
				}
				if !do(c, t) {
					errs.Add(1)
				}
				lat := time.Since(scheduled) // includes any queueing behind a slow server
				mu.Lock()
				samples = append(samples, lat)
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	for i := range n {
		jobs <- start.Add(time.Duration(i) * interval)
	}
	close(jobs)
	wg.Wait()
	return summarize(samples, d, errs.Load())
}

func summarize(samples []time.Duration, d time.Duration, errs int64) result {
	if len(samples) == 0 {
		return result{Errors: errs}
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	at := func(p float64) time.Duration { return samples[min(len(samples)-1, int(p*float64(len(samples))))] }
	return result{Rate: float64(len(samples)) / d.Seconds(), P50: at(0.50), P99: at(0.99), Errors: errs}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func pct(rate, bare float64, name string) string {
	if name == "direct" || bare == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f %%", 100*rate/bare)
}
