// Command webhooks measures webhook delivery on loopback: Junction (in-process, on
// SQLite or PostgreSQL) with 4 local receivers subscribed to every event.
//
// Phase 1 publishes -events events through POST /events as fast as 8 publishers can and
// reports sustained deliveries per second (from the first publish to the last delivery
// received). Phase 2 publishes at half that rate for -duration and reports the
// publish-to-delivery latency (from sending POST /events to the receiver getting it).
//
//	go run ./bench/webhooks [-db postgres://postgres@127.0.0.1:5432/test] [-events 5000]
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

	"github.com/junctionhq/junction/internal/app"
	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/backend"
)

const receivers = 4

func main() {
	db := flag.String("db", "", "DATABASE_URL (default: a fresh SQLite file)")
	events := flag.Int("events", 5000, "events published in phase 1")
	duration := flag.Duration("duration", 10*time.Second, "phase 2 length")
	rate := flag.Float64("rate", 0, "phase 2 deliveries per second (default: half the phase 1 rate)")
	flag.Parse()
	if err := run(*db, *events, *duration, *rate); err != nil {
		fmt.Fprintln(os.Stderr, "bench/webhooks:", err)
		os.Exit(1)
	}
}

// sink is the receivers' shared record of when each event arrived.
type sink struct {
	mu       sync.Mutex
	sent     map[string]time.Time   // event id → publish start
	arrived  map[string][]time.Time // event id → arrival per receiver
	count    atomic.Int64
	complete chan struct{}
	want     int64
}

func run(dbURL string, events int, duration time.Duration, phase2Rate float64) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "junction-webhook-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if dbURL == "" {
		dbURL = filepath.Join(dir, "junction.db")
	}
	if strings.HasPrefix(dbURL, "postgres") {
		dbURL, err = freshSchema(ctx, dbURL)
		if err != nil {
			return err
		}
	}

	s := &sink{sent: map[string]time.Time{}, arrived: map[string][]time.Time{}, complete: make(chan struct{}, 1)}
	var urls []string
	for range receivers {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var ev struct{ ID string }
			_ = json.NewDecoder(r.Body).Decode(&ev)
			now := time.Now()
			s.mu.Lock()
			s.arrived[ev.ID] = append(s.arrived[ev.ID], now)
			s.mu.Unlock()
			if s.count.Add(1) == s.want {
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
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for i, u := range urls {
		body := fmt.Sprintf(`{"name":"r%d","url":%q,"events":["*"]}`, i, u)
		if err := post(client, base+"/webhooks", token, body, http.StatusCreated); err != nil {
			return err
		}
	}
	fmt.Printf("Storage: %s; %d receivers, each subscribed to every event\n\n", backend.Describe(dbURL), receivers)

	// Phase 1: sustained throughput.
	s.want = int64(events * receivers)
	start := time.Now()
	publish(client, base, token, s, events, 8, 0, "p1")
	published := time.Since(start)
	select {
	case <-s.complete:
	case <-time.After(5 * time.Minute):
		return fmt.Errorf("phase 1: only %d of %d deliveries arrived", s.count.Load(), s.want)
	}
	elapsed := time.Since(start)
	rate := float64(s.want) / elapsed.Seconds()
	fmt.Println("| phase | events | deliveries | time | deliveries/s | publish rate (events/s) |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: |")
	fmt.Printf("| sustained | %d | %d | %.2f s | %.0f | %.0f |\n", events, s.want, elapsed.Seconds(), rate, float64(events)/published.Seconds())

	// Phase 2: latency at half the sustained delivery rate (or the rate asked for).
	eventRate := rate / 2 / receivers
	if phase2Rate > 0 {
		eventRate = phase2Rate / receivers
	}
	n := int(eventRate * duration.Seconds())
	s.mu.Lock()
	s.sent, s.arrived = map[string]time.Time{}, map[string][]time.Time{}
	s.mu.Unlock()
	s.count.Store(0)
	s.want = int64(n * receivers)
	publish(client, base, token, s, n, 32, time.Duration(float64(time.Second)/eventRate), "p2")
	select {
	case <-s.complete:
	case <-time.After(5 * time.Minute):
		return fmt.Errorf("phase 2: only %d of %d deliveries arrived", s.count.Load(), s.want)
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
	fmt.Printf("\nAt %.0f deliveries/s (%.0f events/s for %v): publish-to-delivery latency p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
		eventRate*receivers, eventRate, duration, ms(at(0.5)), ms(at(0.99)), ms(lat[len(lat)-1]))
	return nil
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
				for post(c, base+"/events", token, body, http.StatusAccepted) != nil {
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
}

func post(c *http.Client, url, token, body string, want int) error {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("POST %s: %d %s", url, resp.StatusCode, b)
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

// freshSchema gives the run an empty schema of its own in the PostgreSQL database.
func freshSchema(ctx context.Context, dbURL string) (string, error) {
	schema := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", err
	}
	sep := "?"
	if strings.Contains(dbURL, "?") {
		sep = "&"
	}
	return dbURL + sep + "search_path=" + schema, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
