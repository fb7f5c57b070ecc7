package telemetry

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// gateExporter records the batches it exports; while gate is non-nil an export waits
// for it to close.
type gateExporter struct {
	mu      sync.Mutex
	batches []int
	gate    chan struct{}
	entered chan struct{}
	closed  bool
}

func (e *gateExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if e.gate != nil {
		select {
		case e.entered <- struct{}{}:
		default:
		}
		<-e.gate
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.batches = append(e.batches, len(spans))
	return nil
}

func (e *gateExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	return nil
}

func (e *gateExporter) exported() (batches []int, total int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, n := range e.batches {
		total += n
	}
	return append([]int(nil), e.batches...), total
}

// endSpans ends n sampled spans through a provider built on p.
func endSpans(p sdktrace.SpanProcessor, n int) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p), sdktrace.WithResource(resource.Empty()))
	for range n {
		_, span := tp.Tracer("test").Start(context.Background(), "s", trace.WithSpanKind(trace.SpanKindInternal))
		span.End()
	}
}

// A full batch is exported without waiting for the schedule delay; the rest waits for
// ForceFlush; a full queue drops spans and counts them; Shutdown exports what is left
// and shuts the exporter down.
func TestBatcher(t *testing.T) {
	exp := &gateExporter{}
	b := newBatcher(exp, batchSettings{delay: time.Hour, timeout: time.Minute, maxQueue: 5, maxExport: 3})
	endSpans(b, 4)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if batches, _ := exp.exported(); len(batches) == 1 && batches[0] == 3 {
			break
		}
		if time.Now().After(deadline) {
			batches, _ := exp.exported()
			t.Fatalf("batches %v, want one of 3 without waiting for the delay", batches)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := b.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if batches, _ := exp.exported(); len(batches) != 2 || batches[1] != 1 {
		t.Fatalf("after ForceFlush: batches %v, want [3 1]", batches)
	}

	// While an export hangs, the queue holds maxQueue spans and drops the others.
	exp.gate, exp.entered = make(chan struct{}), make(chan struct{}, 1)
	endSpans(b, 3)
	select {
	case <-exp.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the full batch was not exported")
	}
	endSpans(b, 7) // 5 queued, 2 dropped
	b.mu.Lock()
	queued, dropped := len(b.pending), b.dropped
	b.mu.Unlock()
	if queued != 5 || dropped != 2 {
		t.Errorf("queued %d, dropped %d; want 5 and 2", queued, dropped)
	}
	close(exp.gate)
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, total := exp.exported(); total != 4+3+5 || !exp.closed {
		t.Errorf("exported %d spans (closed %v), want 12 and the exporter shut down", total, exp.closed)
	}
	endSpans(b, 1) // after Shutdown: neither queued nor counted as dropped
	if len(b.pending) != 0 || b.dropped != 2 {
		t.Errorf("after Shutdown: %d queued, %d dropped", len(b.pending), b.dropped)
	}
}

func TestBatchSettingsFrom(t *testing.T) {
	got := batchSettingsFrom(func(string) string { return "" })
	want := batchSettings{delay: 5 * time.Second, timeout: 30 * time.Second, maxQueue: 2048, maxExport: 512}
	if got != want {
		t.Errorf("defaults %+v, want %+v", got, want)
	}
	env := map[string]string{"OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_BSP_EXPORT_TIMEOUT": "x",
		"OTEL_BSP_MAX_QUEUE_SIZE": "100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "400"}
	got = batchSettingsFrom(func(k string) string { return env[k] })
	want = batchSettings{delay: 200 * time.Millisecond, timeout: 30 * time.Second, maxQueue: 100, maxExport: 100}
	if got != want {
		t.Errorf("from %v: %+v, want %+v", env, got, want)
	}
}
