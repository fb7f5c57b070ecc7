package connectortest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
)

// Timeout bounds every wait of the suite, so a broken connector fails instead of hanging.
const Timeout = 20 * time.Second

// Messages returns n JSON messages {"n": i}.
func Messages(n int) []connector.Message {
	out := make([]connector.Message, n)
	for i := range out {
		out[i] = connector.Message{Body: fmt.Appendf(nil, `{"n":%d}`, i), Time: time.Now()}
	}
	return out
}

// Number reads the "n" of a message made by Messages.
func Number(tb testing.TB, body []byte) int {
	tb.Helper()
	var v struct{ N *int }
	if err := json.Unmarshal(body, &v); err != nil || v.N == nil {
		tb.Fatalf("message %q is not one of the suite's", body)
		return -1
	}
	return *v.N
}

// Receive reads deliveries until n arrived or Timeout passed, and returns them unsettled.
func Receive(tb testing.TB, ch <-chan connector.Delivery, n int) []connector.Delivery {
	tb.Helper()
	var got []connector.Delivery
	deadline := time.After(Timeout)
	for len(got) < n {
		select {
		case d, ok := <-ch:
			if !ok {
				tb.Fatalf("source closed its channel after %d of %d messages", len(got), n)
				return got
			}
			got = append(got, d)
		case <-deadline:
			tb.Fatalf("received %d of %d messages within %s", len(got), n, Timeout)
			return got
		}
	}
	return got
}

// Quiet checks that nothing arrives on ch for d.
func Quiet(tb testing.TB, ch <-chan connector.Delivery, d time.Duration) {
	tb.Helper()
	select {
	case m, ok := <-ch:
		if ok {
			tb.Fatalf("unexpected delivery %s: %q", m.ID, m.Body)
		}
	case <-time.After(d):
	}
}

// RoundTrip writes n messages with sink, in batches of batch, and checks that the source
// (opened before writing when the system only delivers what arrives while subscribed)
// delivers each exactly once, acknowledging them as they come.
func RoundTrip(t *testing.T, src connector.Source, sink connector.Sink, n, batch int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	ch, err := src.Open(ctx, 64)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	msgs := Messages(n)
	// Waited for below: a system may deliver the last messages before their writer hears
	// they were accepted, and returning would cancel that Write.
	written := make(chan struct{})
	go func() {
		defer close(written)
		for i := 0; i < n; i += batch {
			end := min(i+batch, n)
			if err := sink.Write(ctx, msgs[i:end]); err != nil {
				t.Errorf("Write %d..%d: %v", i, end, err)
				return
			}
		}
	}()
	// On a failure below too, the writer ends before the test does.
	defer func() { cancel(); <-written }()
	seen := make(map[int]int, n)
	// One at a time, acknowledging each before taking the next: a source keeps at most
	// inFlight deliveries unsettled, so taking all n first would stall it.
	deadline := time.After(Timeout)
	for received := 0; received < n; received++ {
		var d connector.Delivery
		select {
		case got, ok := <-ch:
			if !ok {
				t.Fatalf("source closed its channel after %d of %d messages", received, n)
			}
			d = got
		case <-deadline:
			t.Fatalf("received %d of %d messages within %s", received, n, Timeout)
		}
		seen[Number(t, d.Body)]++
		if err := d.Ack(ctx); err != nil {
			t.Fatalf("Ack %s: %v", d.ID, err)
		}
	}
	select {
	case <-written:
	case <-ctx.Done():
		t.Fatalf("Write did not return within %s", Timeout)
	}
	var missing, twice []int
	for i := range n {
		switch seen[i] {
		case 0:
			missing = append(missing, i)
		case 1:
		default:
			twice = append(twice, i)
		}
	}
	sort.Ints(missing)
	if len(missing) > 0 || len(twice) > 0 {
		t.Fatalf("missing %v, delivered more than once %v", missing, twice)
	}
}

// Redelivery writes one message, takes it from a source and hands it back with Nack,
// then checks that it is delivered again (by the same source, or after reopening one
// with reopen when the system only redelivers to a new consumer), and acknowledges it.
func Redelivery(t *testing.T, open func() connector.Source, sink connector.Sink, reopen bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	src := open()
	ch, err := src.Open(ctx, 8)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := sink.Write(ctx, Messages(1)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	first := Receive(t, ch, 1)[0]
	if err := first.Nack(ctx); err != nil {
		t.Fatalf("Nack: %v", err)
	}
	if reopen {
		if err := src.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		src = open()
		if ch, err = src.Open(ctx, 8); err != nil {
			t.Fatalf("reopen: %v", err)
		}
	}
	again := Receive(t, ch, 1)[0]
	if string(again.Body) != string(first.Body) {
		t.Fatalf("redelivered %q, want %q", again.Body, first.Body)
	}
	if err := again.Ack(ctx); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	Quiet(t, ch, 300*time.Millisecond)
	if err := src.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// SettleAfterStop checks the stopping half of the contract: once the context given to
// Open ends (a flow stopping), no more deliveries come, but one already handed out can
// still be acknowledged until Close, and is then not delivered again. Without that, every
// graceful stop would make the system redeliver whatever the flow was finishing.
func SettleAfterStop(t *testing.T, open func() connector.Source, sink connector.Sink) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	src := open()
	srcCtx, stop := context.WithCancel(ctx)
	ch, err := src.Open(srcCtx, 1)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := sink.Write(ctx, Messages(3)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	held := Receive(t, ch, 1)[0]
	stop()
	for d := range ch {
		// A delivery already on its way when the stop came is handed back.
		_ = d.Nack(ctx)
	}
	if err := held.Ack(ctx); err != nil {
		t.Fatalf("Ack after the stop, before Close: %v", err)
	}
	if err := src.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	again := open()
	ch2, err := again.Open(ctx, 8)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	for _, d := range Receive(t, ch2, 2) {
		if string(d.Body) == string(held.Body) {
			t.Errorf("the message acknowledged during the stop was delivered again")
		}
		if err := d.Ack(ctx); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
	Quiet(t, ch2, 300*time.Millisecond)
	if err := again.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// Settings decodes a connector block of type typ named name, and a flow's options for it
// (use, written as a second block), into Settings as the flow engine builds them: the
// use's options over the connector's. Logs are discarded.
func Settings(t *testing.T, typ, name, block, use string) connector.Settings {
	t.Helper()
	src := "connector " + name + " {\n type: " + typ + "\n" + block + "\n}\nconnector use {\n type: " + typ + "\n" + use + "\n}\n"
	cfg, diags := config.Decode("test.cai", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("decode: %v", diags.Err())
	}
	u := cfg.Connectors[1].Options
	var entries []config.Option
	for _, e := range u.Entries {
		if e.Key != "type" {
			entries = append(entries, e)
		}
	}
	u.Entries = entries
	c := cfg.Connectors[0]
	return connector.Settings{
		Connector: c,
		Options:   connector.Merge(c.Options, u),
		Env:       connector.Env{Logger: slog.New(slog.DiscardHandler)},
	}
}
