package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// watching is a junction command that runs until Ctrl-C (tail, --follow), its output
// read as it comes.
type watching struct {
	t    *testing.T
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	errs bytes.Buffer
	done chan error
}

// lockedWriter appends to a buffer under the watching command's lock.
type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func startWatching(t *testing.T, dir string, env []string, args ...string) *watching {
	t.Helper()
	w := &watching{t: t, done: make(chan error, 1)}
	w.cmd = exec.Command(junctionBin, args...)
	w.cmd.Dir = dir
	w.cmd.Env = append(cleanEnv(), env...)
	w.cmd.Stdout, w.cmd.Stderr = lockedWriter{&w.mu, &w.out}, lockedWriter{&w.mu, &w.errs}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { w.done <- w.cmd.Wait() }()
	t.Cleanup(func() {
		_ = w.cmd.Process.Kill()
		<-w.done
	})
	return w
}

func (w *watching) output() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.String()
}

// waitLine waits for an output line holding every one of parts, and returns it.
func (w *watching) waitLine(parts ...string) string {
	w.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for line := range strings.SplitSeq(w.output(), "\n") {
			found := true
			for _, p := range parts {
				found = found && strings.Contains(line, p)
			}
			if found {
				return line
			}
		}
		if time.Now().After(deadline) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.t.Fatalf("%v: no line with %q in:\n%s\nstderr:\n%s", w.cmd.Args[1:], parts, w.out.String(), w.errs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// interrupt sends Ctrl-C and expects a clean exit.
func (w *watching) interrupt() {
	w.t.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGINT); err != nil {
		w.t.Fatal(err)
	}
	select {
	case err := <-w.done:
		w.done <- err // for the cleanup
		if err != nil {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.t.Errorf("%v after Ctrl-C: %v\nstderr:\n%s", w.cmd.Args[1:], err, w.errs.String())
		}
	case <-time.After(30 * time.Second):
		w.t.Fatalf("%v did not stop after Ctrl-C", w.cmd.Args[1:])
	}
}

// TestWatchingWork: `junction tail`, `junction flow logs -f` and `junction webhook
// deliveries -f` show a message's way through a flow and a delivery's attempts as they
// happen, against the real server, and stop cleanly on Ctrl-C.
func TestWatchingWork(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "watch.cai")
	writeFile(t, cfg, `integration Hooks {
    type: webhook
    retry_delays: [1s, 1s, 1s, 1s, 1s]
    circuit_breaker: { threshold: 50 consecutive failures, reset_after: 1s }
    allowed_networks: ["127.0.0.0/8"]
}
connector inbox { type: http }
connector trace { type: log }
flow intake {
    source: inbox { path: "intake" }
    sink out { connector: trace }
}`)
	token := adminToken(t, dir, nil)
	s := startServer(t, dir, nil, "-c", cfg)
	a := api{t: t, base: s.base, token: token}
	cli := []string{"JUNCTION_URL=" + s.base, "JUNCTION_TOKEN=" + token}
	eventually(t, "the flow to run", func() bool { return a.expect(200, "GET", "/flows/intake", nil)["state"] == "running" })

	var answerOK atomic.Bool // the receiver answers 503 until the test has seen a retry
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !answerOK.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(receiver.Close)
	id := a.expect(201, "POST", "/webhooks", map[string]any{"name": "watched", "url": receiver.URL, "events": []string{"order.*"}})["id"].(string)

	tail := startWatching(t, dir, cli, "tail", "order.*", "junction.*", "watch.probe")
	// tail prints nothing until it watches: publish probes until one shows.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(tail.output(), "watch.probe") {
		if time.Now().After(deadline) {
			t.Fatalf("tail shows no event:\n%s", tail.output())
		}
		a.expect(202, "POST", "/events", map[string]any{"type": "watch.probe"})
		time.Sleep(200 * time.Millisecond)
	}
	logs := startWatching(t, dir, cli, "flow", "logs", "intake", "-f")
	deliveries := startWatching(t, dir, cli, "webhook", "deliveries", id, "--follow")

	// A message through the flow: its outcome in flow logs -f and in tail.
	a.expect(202, "POST", "/in/intake", map[string]any{"id": "m-1"})
	logs.waitLine("delivered", "sinks=out")
	tail.waitLine("junction.flow.message junction", `"flow":"intake"`, `"outcome":"delivered"`)

	// An event delivered on the second attempt: each attempt in deliveries -f and tail.
	a.expect(202, "POST", "/events", map[string]any{"id": "evt-watch-1", "type": "order.created", "data": map[string]any{"n": 1}})
	tail.waitLine("order.created api", `{"n":1}`)
	deliveries.waitLine("order.created retrying", "attempt 1/6", "http=503", `error="endpoint answered 503"`, "next=")
	tail.waitLine("junction.webhook.delivery junction", `"attempt":1`, `"status":"retrying"`, `"response_status":503`, `"endpoint_id":"`+id+`"`)
	answerOK.Store(true) // the next attempt, 1 s after the last, succeeds
	deliveries.waitLine("order.created delivered", "/6 http=200")
	tail.waitLine("junction.webhook.delivery junction", `"event_type":"order.created"`, `"status":"delivered"`)

	// The one-shot commands.
	out, errOut, code := run(t, dir, cli, "webhook", "list")
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "watched") || !strings.Contains(out, "order.*") {
		t.Errorf("webhook list: %d %s %s", code, out, errOut)
	}
	out, errOut, code = run(t, dir, cli, "webhook", "deliveries", id, "--status", "delivered")
	if code != 0 || !strings.Contains(out, "order.created delivered") || strings.Count(out, "\n") != 1 {
		t.Errorf("webhook deliveries --status delivered: %d %s %s", code, out, errOut)
	}
	if _, errOut, code := run(t, dir, cli, "webhook", "deliveries", id, "--status", "lost"); code == 0 || !strings.Contains(errOut, "status") {
		t.Errorf("a bad status: %d %s", code, errOut)
	}

	t.Logf("tail:\n%s\nflow logs -f:\n%s\nwebhook deliveries -f:\n%s", tail.output(), logs.output(), deliveries.output())
	for _, w := range []*watching{tail, logs, deliveries} {
		w.interrupt()
	}
	if n := strings.Count(logs.output(), "\n"); n != 1 {
		t.Errorf("flow logs -f printed %d lines, want the one outcome once:\n%s", n, logs.output())
	}
}

// TestTailRefused: tail with a pattern the server refuses ends at once with the reason.
func TestTailRefused(t *testing.T) {
	dir := t.TempDir()
	token := adminToken(t, dir, nil)
	s := startServer(t, dir, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, junctionBin, "tail", "--server", s.base, "--token", token, "order.**")
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "400") || !strings.Contains(string(out), `"order.**" is not an event pattern`) {
		t.Errorf("tail order.**: %v %s", err, out)
	}
}
