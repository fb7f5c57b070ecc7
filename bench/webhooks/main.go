// Command webhooks measures webhook delivery on loopback: Junction (in-process, on
// SQLite or PostgreSQL) with -receivers local receivers subscribed to every event.
//
// The phases (-phases, in this order):
//
//   - sustained publishes -events events through POST /events as fast as -publishers
//     can and reports sustained deliveries per second (from the first publish to the
//     last delivery received) and the POST /events rate reached meanwhile.
//
//   - drain stores a backlog of -events events (their deliveries to endpoints that are
//     paused, straight through the store) and resumes the endpoints: deliveries per
//     second from the first delivery received to the last, the claim/attempt/record
//     path alone, without publishing.
//
//   - latency publishes at -rate deliveries per second (default: half the sustained
//     rate, or 2,000 without it) for -duration and reports the publish-to-delivery
//     latency (from sending POST /events to the receiver getting it).
//
//     go run ./bench/webhooks [-db postgres://postgres@127.0.0.1:5432/test] [-events 5000]
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
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"runtime/pprof"

	"github.com/junctionhq/junction/internal/app"
	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/backend"
)

// options are the command's flags.
type options struct {
	db         string
	events     int
	publishers int
	receivers  int
	phases     map[string]bool
	duration   time.Duration
	rate       float64
}

func main() {
	var o options
	flag.StringVar(&o.db, "db", "", "DATABASE_URL (default: a fresh SQLite file)")
	flag.IntVar(&o.events, "events", 5000, "events published by the sustained phase, and stored by the drain phase")
	flag.IntVar(&o.publishers, "publishers", 8, "concurrent POST /events clients of the sustained phase")
	flag.IntVar(&o.receivers, "receivers", 4, "receivers (endpoints), each subscribed to every event")
	phases := flag.String("phases", "sustained,latency", "phases to run, in order: sustained, drain, latency")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "latency phase length")
	flag.Float64Var(&o.rate, "rate", 0, "latency phase deliveries per second (default: half the sustained rate, or 2000)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole process (Junction and the bench) to this file")
	flag.Parse()
	o.phases = map[string]bool{}
	for _, p := range strings.Split(*phases, ",") {
		switch p = strings.TrimSpace(p); p {
		case "sustained", "drain", "latency":
			o.phases[p] = true
		default:
			fmt.Fprintf(os.Stderr, "bench/webhooks: -phases: unknown phase %q (sustained, drain, latency)\n", p)
			os.Exit(2)
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench/webhooks:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(o); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "bench/webhooks:", err)
		os.Exit(1)
	}
}

// sink is the receivers' shared record of when each event arrived.
type sink struct {
	mu       sync.Mutex
	sent     map[string]time.Time   // event id → publish start
	arrived  map[string][]time.Time // event id → arrival per receiver
	first    time.Time              // first and last arrival of the phase
	last     time.Time
	count    atomic.Int64
	complete chan struct{}
	want     atomic.Int64
}

func run(o options) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "junction-webhook-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	dbURL := o.db
	if dbURL == "" {
		dbURL = filepath.Join(dir, "junction.db")
	}
	if strings.HasPrefix(dbURL, "postgres") {
		var drop func()
		dbURL, drop, err = freshSchema(ctx, dbURL)
		if err != nil {
			return err
		}
		defer drop()
	}

	s := &sink{sent: map[string]time.Time{}, arrived: map[string][]time.Time{}, complete: make(chan struct{}, 1)}
	var urls []string
	for range o.receivers {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var ev struct{ ID string }
			_ = json.NewDecoder(r.Body).Decode(&ev)
			now := time.Now()
			s.mu.Lock()
			s.arrived[ev.ID] = append(s.arrived[ev.ID], now)
			if s.first.IsZero() {
				s.first = now
			}
			s.last = now
			s.mu.Unlock()
			if s.count.Add(1) == s.want.Load() {
				s.complete <- struct{}{}
			}
		}))
		defer ts.Close()
		urls = append(urls, ts.URL)
	}

	base, token, stop, err := startJunction(ctx, dir, dbURL)
	if err != nil {
		return err
	}
	defer stop()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	var endpoints []string
	for i, u := range urls {
		body := fmt.Sprintf(`{"name":"r%d","url":%q,"events":["*"]}`, i, u)
		var ep struct{ ID string }
		if err := call(client, http.MethodPost, base+"/webhooks", token, body, http.StatusCreated, &ep); err != nil {
			return err
		}
		endpoints = append(endpoints, ep.ID)
	}
	fmt.Printf("Storage: %s; %d receivers, each subscribed to every event\n\n", backend.Describe(dbURL), o.receivers)
	fmt.Println("| phase | events | deliveries | time | deliveries/s | POST /events per s | CPU per delivery: bench process, postgres |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")

	// Sustained: publishing as fast as the publishers can, with delivery running.
	var sustained float64
	if o.phases["sustained"] {
		s.reset(o.events * o.receivers)
		start, cpu0 := time.Now(), readCPU()
		publish(client, base, token, s, o.events, o.publishers, 0, "p1")
		published := time.Since(start)
		if err := s.wait("sustained"); err != nil {
			return err
		}
		elapsed := time.Since(start)
		sustained = float64(s.want.Load()) / elapsed.Seconds()
		fmt.Printf("| sustained (%d publishers) | %d | %d | %.2f s | %.0f | %.0f | %s |\n",
			o.publishers, o.events, s.want.Load(), elapsed.Seconds(), sustained, float64(o.events)/published.Seconds(),
			readCPU().since(cpu0, s.want.Load()))
	}

	// Drain: a backlog in the store, delivered once the endpoints resume.
	if o.phases["drain"] {
		if err := drain(ctx, client, base, token, dbURL, endpoints, s, o.events); err != nil {
			return err
		}
	}

	// Latency: at a fixed offered rate.
	if o.phases["latency"] {
		rate := o.rate
		if rate <= 0 {
			rate = 2000
			if sustained > 0 {
				rate = sustained / 2
			}
		}
		if err := latency(client, base, token, s, o.receivers, rate, o.duration); err != nil {
			return err
		}
	}
	return nil
}

// drain pauses the endpoints, stores events events with a delivery to each straight
// through the store (as a publication would), resumes the endpoints and times the
// deliveries from the first received to the last.
func drain(ctx context.Context, c *http.Client, base, token, dbURL string, endpoints []string, s *sink, events int) error {
	for _, id := range endpoints {
		if err := call(c, http.MethodPut, base+"/webhooks/"+id, token, `{"is_active":false}`, http.StatusOK, nil); err != nil {
			return err
		}
	}
	st, err := backend.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	s.reset(events * len(endpoints))
	jobs := make(chan int, events)
	for i := range events {
		jobs <- i
	}
	close(jobs)
	var (
		wg       sync.WaitGroup
		failed   atomic.Pointer[error]
		payloads = `{"id":%q,"type":"bench.event","timestamp":"2026-01-01T00:00:00Z","data":{"n":%d}}`
	)
	for range 8 {
		wg.Go(func() {
			for i := range jobs {
				id := fmt.Sprintf("d-%d", i)
				now := time.Now().UTC()
				ds := make([]store.Delivery, len(endpoints))
				for j, ep := range endpoints {
					ds[j] = store.Delivery{ID: fmt.Sprintf("%s-%d", id, j), EndpointID: ep, EventID: id, EventType: "bench.event",
						Payload: fmt.Appendf(nil, payloads, id, i), Status: store.DeliveryPending, MaxAttempts: 3,
						NextRetryAt: &now, CreatedAt: now, UpdatedAt: now}
				}
				e := event.Event{ID: id, Type: "bench.event", Data: json.RawMessage(`{}`), Source: event.SourceAPI, Time: now}
				if _, _, err := st.EventPublish(ctx, e, ds); err != nil {
					failed.Store(&err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		return fmt.Errorf("drain: storing the backlog: %w", *err)
	}
	start, cpu0 := time.Now(), readCPU()
	for _, id := range endpoints {
		if err := call(c, http.MethodPut, base+"/webhooks/"+id, token, `{"is_active":true}`, http.StatusOK, nil); err != nil {
			return err
		}
	}
	if err := s.wait("drain"); err != nil {
		return err
	}
	s.mu.Lock()
	first, last := s.first, s.last
	s.mu.Unlock()
	rate := float64(s.want.Load()-1) / last.Sub(first).Seconds()
	fmt.Printf("| drain (backlog; %.2f s from resuming to the first) | %d | %d | %.2f s | %.0f | | %s |\n",
		first.Sub(start).Seconds(), events, s.want.Load(), last.Sub(first).Seconds(), rate, readCPU().since(cpu0, s.want.Load()))
	return nil
}

// latency publishes at rate deliveries per second for duration and reports the
// publish-to-delivery latency.
func latency(c *http.Client, base, token string, s *sink, receivers int, rate float64, duration time.Duration) error {
	eventRate := rate / float64(receivers)
	n := int(eventRate * duration.Seconds())
	s.reset(n * receivers)
	start := time.Now()
	publish(c, base, token, s, n, 64, time.Duration(float64(time.Second)/eventRate), "p2")
	published := time.Since(start)
	if err := s.wait("latency"); err != nil {
		return err
	}
	var lat []time.Duration
	s.mu.Lock()
	for id, arrivals := range s.arrived {
		for _, at := range arrivals {
			lat = append(lat, at.Sub(s.sent[id]))
		}
	}
	s.mu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	at := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Printf("\nAt %.0f deliveries/s offered (%.0f events/s for %v; published in %.2f s): publish-to-delivery latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
		rate, eventRate, duration, published.Seconds(), ms(at(0.5)), ms(at(0.9)), ms(at(0.99)), ms(lat[len(lat)-1]))
	return nil
}

// reset starts counting a phase's want deliveries.
func (s *sink) reset(want int) {
	s.mu.Lock()
	s.sent, s.arrived = map[string]time.Time{}, map[string][]time.Time{}
	s.first, s.last = time.Time{}, time.Time{}
	s.mu.Unlock()
	s.count.Store(0)
	s.want.Store(int64(want))
}

// wait waits for the phase's deliveries, at most 5 minutes.
func (s *sink) wait(phase string) error {
	select {
	case <-s.complete:
		return nil
	case <-time.After(5 * time.Minute):
		return fmt.Errorf("%s: only %d of %d deliveries arrived", phase, s.count.Load(), s.want.Load())
	}
}

// publish sends n events with `workers` publishers; with interval > 0 at that pace.
func publish(c *http.Client, base, token string, s *sink, n, workers int, interval time.Duration, prefix string) {
	jobs := make(chan int, n)
	start := time.Now()
	for i := range n {
		jobs <- i
	}
	close(jobs)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				if interval > 0 {
					if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
						time.Sleep(wait)
					}
				}
				id := fmt.Sprintf("%s-%d", prefix, i)
				s.mu.Lock()
				s.sent[id] = time.Now()
				s.mu.Unlock()
				body := fmt.Sprintf(`{"id":%q,"type":"bench.event","data":{"n":%d}}`, id, i)
				for call(c, http.MethodPost, base+"/events", token, body, http.StatusAccepted, nil) != nil {
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
}

// call sends a request and decodes the answer into out (unless nil).
func call(c *http.Client, method, url, token, body string, want int, out any) error {
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func startJunction(ctx context.Context, dir, dbURL string) (string, string, func(), error) {
	cfgPath := filepath.Join(dir, "hooks.cai")
	cfg := `integration Hooks { type: webhook timeout: 5s retry_delays: [1s, 5s]
		allowed_networks: ["127.0.0.0/8"] workers: 64 per_endpoint_concurrency: 16 }`
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return "", "", nil, err
	}
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
			Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
			Stderr:    io.Discard,
			LookupEnv: func(string) (string, bool) { return "", false },
			Listening: func(a net.Addr) { addr <- a },
		})
	}()
	select {
	case a := <-addr:
		return "http://" + a.String(), token, func() { cancel(); <-done }, nil
	case err := <-done:
		cancel()
		return "", "", nil, fmt.Errorf("junction did not start: %w", err)
	}
}

// freshSchema gives the run an empty schema of its own in the PostgreSQL database, and
// a function that drops it.
func freshSchema(ctx context.Context, dbURL string) (string, func(), error) {
	schema := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, err
	}
	sep := "?"
	if strings.Contains(dbURL, "?") {
		sep = "&"
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, dbURL); err == nil {
			_, _ = conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			_ = conn.Close(ctx)
		}
	}
	return dbURL + sep + "search_path=" + schema, drop, nil
}

// cpuTimes are CPU times used so far (Linux /proc; zero elsewhere): by this process
// (Junction, its receivers and publishers) and by every process named postgres (the
// server's, including other clients' backends if the database is shared).
type cpuTimes struct{ self, postgres time.Duration }

func readCPU() cpuTimes {
	var t cpuTimes
	t.self, _ = procCPU("/proc/self/stat")
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		if comm, err := os.ReadFile(d + "/comm"); err == nil && strings.TrimSpace(string(comm)) == "postgres" {
			if c, ok := procCPU(d + "/stat"); ok {
				t.postgres += c
			}
		}
	}
	return t
}

// procCPU is utime + stime of a /proc/PID/stat file (in clock ticks of 10 ms).
func procCPU(path string) (time.Duration, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	var u, s int64
	_, _ = fmt.Sscan(f[11], &u)
	_, _ = fmt.Sscan(f[12], &s)
	return time.Duration(u+s) * 10 * time.Millisecond, true
}

// since says how much CPU each of n deliveries took since t0.
func (t cpuTimes) since(t0 cpuTimes, n int64) string {
	per := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) / float64(n) }
	return fmt.Sprintf("%.0f µs, %.0f µs", per(t.self-t0.self), per(t.postgres-t0.postgres))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
