// Command tracing measures what OpenTelemetry tracing costs the gateway as a user sees
// it: `junction serve` binaries in processes of their own, driven over loopback at a
// fixed concurrency on POST /integrations/{name}/operations/{op} (every policy on) or
// on the /proxy path, in three variants that take turns round after round:
//
//	before  a binary built from the commit before tracing (-before)
//	off     this tree's binary, no OTEL_* variable: tracing off
//	on      the same binary with OTEL_EXPORTER_OTLP_ENDPOINT set and
//	        OTEL_TRACES_SAMPLER=always_on, exporting over OTLP/HTTP to a sink in this
//	        process that counts the spans and discards them
//
// Each run starts a fresh Junction (SQLite in a temporary directory, logs at warn) and
// reports requests/s, p50 and p99 of the closed loop, and Junction's own CPU time per
// request (from /proc, Linux only), which varies less than the rate on a shared machine.
// For "on" it also reports the spans the sink received per request sent, counted after
// Junction stopped and flushed, so spans dropped by a full queue would show.
//
//	go run ./bench/tracing -before 51dc83c [-target operation|proxy] [-rounds 3] [-duration 10s] [-conns 32]
package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

func main() {
	before := flag.String("before", "", "the junction binary for the 'before' variant, or a git revision to build it from (such as 51dc83c); empty: no 'before' variant")
	current := flag.String("junction", ".", "the junction binary for 'off' and 'on', or a git revision to build it from; '.': build this working tree")
	targetName := flag.String("target", "operation", "operation (POST /integrations/Payments/operations/create_charge) or proxy (POST /proxy/Payments/charges)")
	rounds := flag.Int("rounds", 3, "runs of each variant, taking turns")
	duration := flag.Duration("duration", 10*time.Second, "measuring time per run")
	warmup := flag.Duration("warmup", 3*time.Second, "unmeasured load before each measurement")
	conns := flag.Int("conns", 32, "concurrent connections (closed loop)")
	variants := flag.String("variants", "before,off,on", "variants to run, in this order each round; off@BIN and on@BIN run another binary")
	flag.Parse()
	if err := run(*before, *current, *targetName, *variants, *rounds, *duration, *warmup, *conns); err != nil {
		fmt.Fprintln(os.Stderr, "bench/tracing:", err)
		os.Exit(1)
	}
}

// variant is one way of running Junction.
type variant struct {
	name string
	bin  string
	env  []string // OTEL_* variables on top of the clean environment
}

func run(before, current, targetName, variantList string, rounds int, duration, warmup time.Duration, conns int) error {
	tmp, err := os.MkdirTemp("", "junction-tracebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	upstream, err := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"ch_1","status":"succeeded","amount":1000}`)
	}))
	if err != nil {
		return err
	}
	sink := &otlpSink{}
	sinkURL, err := serve(sink)
	if err != nil {
		return err
	}

	var vs []variant
	for name := range strings.SplitSeq(variantList, ",") {
		if mode, bin, ok := strings.Cut(name, "@"); ok && (mode == "off" || mode == "on") {
			// Another build, to compare two versions of the tracing code.
			v := variant{name: name, bin: bin}
			if mode == "on" {
				v.env = tracingEnv(sinkURL)
			}
			vs = append(vs, v)
			continue
		}
		switch name {
		case "before":
			if before == "" {
				return errors.New("the before variant needs -before")
			}
			bin, err := binary(before, filepath.Join(tmp, "junction-before"))
			if err != nil {
				return err
			}
			vs = append(vs, variant{name: name, bin: bin})
		case "off", "on":
			bin, err := binary(current, filepath.Join(tmp, "junction"))
			if err != nil {
				return err
			}
			v := variant{name: name, bin: bin}
			if name == "on" {
				v.env = tracingEnv(sinkURL)
			}
			vs = append(vs, v)
		default:
			return fmt.Errorf("unknown variant %q: use before, off, on", name)
		}
	}

	fmt.Printf("target %s, closed loop, %d connections, %v per run after %v warm-up, %d rounds\n\n", targetName, conns, duration, warmup, rounds)
	fmt.Println("| round | variant | req/s | p50 | p99 | Junction CPU per request | spans per request | errors |")
	fmt.Println("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	results := map[string][]result{}
	for round := 1; round <= rounds; round++ {
		for _, v := range vs {
			r, err := runOnce(tmp, v, upstream, sink, targetName, duration, warmup, conns)
			if err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			results[v.name] = append(results[v.name], r)
			fmt.Printf("| %d | %s | %.0f | %s | %s | %.1f µs | %s | %d |\n", round, v.name, r.rate, ms(r.p50), ms(r.p99), r.cpuPerReq, spans(r), r.errors)
		}
	}

	fmt.Println("\n| variant | req/s (median) | req/s (runs) | vs before | vs off | p99 (median) | CPU per request (median) |")
	fmt.Println("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
	med := func(name string, f func(result) float64) float64 {
		var xs []float64
		for _, r := range results[name] {
			xs = append(xs, f(r))
		}
		if len(xs) == 0 {
			return 0
		}
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	rate := func(r result) float64 { return r.rate }
	for _, v := range vs {
		var each []string
		for _, r := range results[v.name] {
			each = append(each, fmt.Sprintf("%.0f", r.rate))
		}
		fmt.Printf("| %s | %.0f | %s | %s | %s | %s | %.1f µs |\n", v.name, med(v.name, rate), strings.Join(each, ", "),
			change(med(v.name, rate), med("before", rate)), change(med(v.name, rate), med("off", rate)),
			ms(time.Duration(med(v.name, func(r result) float64 { return float64(r.p99) }))),
			med(v.name, func(r result) float64 { return r.cpuPerReq }))
	}
	return nil
}

// tracingEnv turns tracing on, every trace sampled, exporting to the sink.
func tracingEnv(sinkURL string) []string {
	return []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + sinkURL, "OTEL_TRACES_SAMPLER=always_on", "OTEL_SERVICE_NAME=junction-bench"}
}

func change(x, base float64) string {
	if base == 0 {
		return "—"
	}
	return fmt.Sprintf("%+.1f %%", 100*(x-base)/base)
}

func spans(r result) string {
	if r.sent == 0 || r.spans == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", float64(r.spans)/float64(r.sent))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// binary returns the path of a junction binary: spec itself when it is a file, else
// one built at out from this working tree (".") or from a git revision's files.
func binary(spec, out string) (string, error) {
	if st, err := os.Stat(spec); err == nil && !st.IsDir() {
		return spec, nil
	}
	if _, err := os.Stat(out); err == nil {
		return out, nil // built for an earlier variant
	}
	src := "."
	if spec != "." {
		src = out + "-src"
		if err := os.MkdirAll(src, 0o755); err != nil {
			return "", err
		}
		archive := exec.Command("git", "archive", spec)
		untar := exec.Command("tar", "-x", "-C", src)
		pipe, err := archive.StdoutPipe()
		if err != nil {
			return "", err
		}
		untar.Stdin, archive.Stderr, untar.Stderr = pipe, os.Stderr, os.Stderr
		if err := untar.Start(); err != nil {
			return "", err
		}
		if err := archive.Run(); err != nil {
			return "", fmt.Errorf("git archive %s: %w", spec, err)
		}
		if err := untar.Wait(); err != nil {
			return "", err
		}
	}
	fmt.Fprintf(os.Stderr, "building junction from %s\n", spec)
	build := exec.Command("go", "build", "-o", out, "./cmd/junction")
	build.Dir, build.Stdout, build.Stderr = src, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build junction from %s: %w", spec, err)
	}
	return out, nil
}

// config is the integration of bench/gateway: every policy on; POST, so no cache.
const config = `
integration Payments {
    base_url: "%s"
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
}`

type result struct {
	rate      float64
	p50, p99  time.Duration
	errors    int64
	cpuPerReq float64 // µs of Junction's CPU time per request measured
	sent      int64   // every request of the run, warm-up included
	spans     int64   // spans the sink received from the run
}

// runOnce starts a fresh Junction for v, loads it and stops it.
func runOnce(tmp string, v variant, upstream string, sink *otlpSink, targetName string, duration, warmup time.Duration, conns int) (result, error) {
	dir, err := os.MkdirTemp(tmp, "run-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "bench.cai")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, config, upstream), 0o644); err != nil {
		return result{}, err
	}
	env := append(cleanEnv(), "DATABASE_URL="+filepath.Join(dir, "junction.db"), "BENCH_TOKEN=upstream-secret")
	tokenCmd := exec.Command(v.bin, "token", "create", "--role", "user", "--name", "bench")
	tokenCmd.Env, tokenCmd.Stderr = env, os.Stderr
	out, err := tokenCmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("token create: %w", err)
	}
	token := strings.TrimSpace(string(out))

	addr, err := freeAddr()
	if err != nil {
		return result{}, err
	}
	srv := exec.Command(v.bin, "serve", "-c", cfg, "--addr", addr, "--log-level", "warn")
	srv.Env, srv.Stdout, srv.Stderr = append(env, v.env...), os.Stderr, os.Stderr
	if err := srv.Start(); err != nil {
		return result{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		_ = srv.Process.Signal(syscall.SIGTERM) // a graceful stop flushes the spans
		select {
		case err := <-exited:
			return err
		case <-time.After(30 * time.Second):
			_ = srv.Process.Kill()
			return errors.New("junction did not stop within 30 s")
		}
	}
	defer stop()
	base := "http://" + addr
	if err := waitHealthy(base, exited); err != nil {
		return result{}, err
	}

	t := target{Token: token, Body: `{"amount":1000,"currency":"eur"}`}
	switch targetName {
	case "operation":
		t.URL = base + "/integrations/Payments/operations/create_charge"
	case "proxy":
		t.URL = base + "/proxy/Payments/charges"
	default:
		return result{}, fmt.Errorf("unknown target %q: use operation or proxy", targetName)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * conns, MaxConnsPerHost: 2 * conns}}
	if err := t.check(client); err != nil {
		return result{}, err
	}
	spansBefore := sink.spans.Load()
	sent := int64(1)
	w := closedLoop(client, t, conns, warmup)
	sent += w.sent
	cpu0, err := cpuTime(srv.Process.Pid)
	if err != nil {
		return result{}, err
	}
	r := closedLoop(client, t, conns, duration)
	cpu1, err := cpuTime(srv.Process.Pid)
	if err != nil {
		return result{}, err
	}
	client.CloseIdleConnections()
	if err := stop(); err != nil {
		return result{}, fmt.Errorf("stopping junction: %w", err)
	}
	r.cpuPerReq = float64((cpu1-cpu0)/time.Microsecond) / float64(r.sent)
	r.sent += sent
	r.spans = sink.spans.Load() - spansBefore
	return r, nil
}

// cleanEnv is this process's environment without the variables that would change
// what Junction does: OTEL_*, JUNCTION_*, DATABASE_URL, REDIS_URL.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "OTEL_") || strings.HasPrefix(name, "JUNCTION_") || name == "DATABASE_URL" || name == "REDIS_URL" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitHealthy polls /healthz for up to 30 s.
func waitHealthy(base string, exited <-chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("junction exited before it was healthy: %v", err)
		default:
		}
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("junction was not healthy within 30 s")
}

// cpuTime is the user and system CPU time process pid has used, from /proc/pid/stat
// (fields 14 and 15, in clock ticks of 10 ms: USER_HZ is 100 on Linux).
func cpuTime(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	_, rest, ok := strings.Cut(string(raw), ") ")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
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

type target struct {
	URL, Token, Body string
}

func (t target) do(c *http.Client) (int, []byte, error) {
	req, _ := http.NewRequest(http.MethodPost, t.URL, strings.NewReader(t.Body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+t.Token)
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

func (t target) check(c *http.Client) error {
	status, body, err := t.do(c)
	if err != nil {
		return err
	}
	if status/100 != 2 || !bytes.Contains(body, []byte(`"succeeded"`)) {
		return fmt.Errorf("%s answered %d %s", t.URL, status, body)
	}
	return nil
}

// closedLoop keeps conns requests in flight for d.
func closedLoop(c *http.Client, t target, conns int, d time.Duration) result {
	var (
		wg      sync.WaitGroup
		errs    atomic.Int64
		mu      sync.Mutex
		samples []time.Duration
	)
	start := time.Now()
	deadline := start.Add(d)
	for range conns {
		wg.Go(func() {
			local := make([]time.Duration, 0, 8192)
			for time.Now().Before(deadline) {
				begin := time.Now()
				if status, _, err := t.do(c); err != nil || status/100 != 2 {
					errs.Add(1)
				}
				local = append(local, time.Since(begin))
			}
			mu.Lock()
			samples = append(samples, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start) // the last requests end after the deadline
	if len(samples) == 0 {
		return result{errors: errs.Load()}
	}
	slices.Sort(samples)
	at := func(p float64) time.Duration { return samples[min(len(samples)-1, int(p*float64(len(samples))))] }
	return result{rate: float64(len(samples)) / elapsed.Seconds(), p50: at(0.50), p99: at(0.99), errors: errs.Load(), sent: int64(len(samples))}
}

// otlpSink is an OTLP/HTTP trace receiver that counts the spans of each export
// request, walking the protobuf without decoding it into messages, and discards them.
type otlpSink struct {
	spans atomic.Int64
}

func (s *otlpSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n, err := countSpans(raw)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.spans.Add(int64(n))
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK) // an empty ExportTraceServiceResponse: all accepted
}

// countSpans counts ExportTraceServiceRequest.resource_spans(1).scope_spans(2).spans(2).
func countSpans(b []byte) (int, error) {
	n := 0
	err := eachField(b, 1, func(rs []byte) error {
		return eachField(rs, 2, func(ss []byte) error {
			return eachField(ss, 2, func([]byte) error { n++; return nil })
		})
	})
	return n, err
}

// eachField calls f with the bytes of every length-delimited field num of message b.
func eachField(b []byte, num protowire.Number, f func([]byte) error) error {
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return protowire.ParseError(l)
		}
		b = b[l:]
		if n == num && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return protowire.ParseError(l)
			}
			if err := f(v); err != nil {
				return err
			}
			b = b[l:]
			continue
		}
		l = protowire.ConsumeFieldValue(n, typ, b)
		if l < 0 {
			return protowire.ParseError(l)
		}
		b = b[l:]
	}
	return nil
}
