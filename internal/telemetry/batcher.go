package telemetry

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// batcher is the span processor StartTracing installs: it hands the ended spans to the
// exporter in batches, as the SDK's BatchSpanProcessor does and with its settings
// (OTEL_BSP_*), but an ended span is appended to a slice under a lock where the SDK's
// processor sends it on a channel, which wakes its goroutine for every span: a gateway
// request ends four spans, and those wake-ups cost more than the spans themselves
// (bench/tracing). The export goroutine wakes when a batch is full or the schedule
// delay has passed.
type batcher struct {
	exporter sdktrace.SpanExporter
	settings batchSettings

	mu      sync.Mutex
	pending []sdktrace.ReadOnlySpan // ended, not yet taken for export
	dropped int                     // spans refused because pending was full
	stopped bool

	exportMu sync.Mutex    // one export at a time: the loop, ForceFlush, Shutdown
	full     chan struct{} // a batch is ready (capacity 1)
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// batchSettings are the OTEL_BSP_* settings, with the specification's defaults.
type batchSettings struct {
	delay     time.Duration // OTEL_BSP_SCHEDULE_DELAY, 5000 ms
	timeout   time.Duration // OTEL_BSP_EXPORT_TIMEOUT, 30000 ms
	maxQueue  int           // OTEL_BSP_MAX_QUEUE_SIZE, 2048
	maxExport int           // OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512 (at most maxQueue)
}

// batchSettingsFrom reads the OTEL_BSP_* variables; a value that is not a positive
// integer leaves the default, as the SDK does.
func batchSettingsFrom(getenv func(string) string) batchSettings {
	num := func(name string, def int) int {
		if n, err := strconv.Atoi(strings.TrimSpace(getenv(name))); err == nil && n > 0 {
			return n
		}
		return def
	}
	s := batchSettings{
		delay:     time.Duration(num("OTEL_BSP_SCHEDULE_DELAY", 5000)) * time.Millisecond,
		timeout:   time.Duration(num("OTEL_BSP_EXPORT_TIMEOUT", 30000)) * time.Millisecond,
		maxQueue:  num("OTEL_BSP_MAX_QUEUE_SIZE", 2048),
		maxExport: num("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512),
	}
	s.maxExport = min(s.maxExport, s.maxQueue)
	return s
}

func newBatcher(exporter sdktrace.SpanExporter, settings batchSettings) *batcher {
	b := &batcher{
		exporter: exporter, settings: settings,
		full: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go b.loop()
	return b
}

func (b *batcher) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd queues a sampled span, or drops it when the queue is full.
func (b *batcher) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	b.mu.Lock()
	if b.stopped || len(b.pending) >= b.settings.maxQueue {
		if !b.stopped {
			b.dropped++
		}
		b.mu.Unlock()
		return
	}
	b.pending = append(b.pending, s)
	ready := len(b.pending) == b.settings.maxExport
	b.mu.Unlock()
	if ready {
		select {
		case b.full <- struct{}{}:
		default: // already told
		}
	}
}

// loop exports full batches when told, and everything queued every schedule delay.
func (b *batcher) loop() {
	defer close(b.done)
	timer := time.NewTimer(b.settings.delay)
	defer timer.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-b.full:
			b.export(context.Background(), false)
		case <-timer.C:
			b.export(context.Background(), true)
			timer.Reset(b.settings.delay)
		}
	}
}

// export sends the queued spans in batches of at most maxExport: only full batches
// unless all, each within the export timeout (and ctx). It returns the first error.
func (b *batcher) export(ctx context.Context, all bool) error {
	b.exportMu.Lock()
	defer b.exportMu.Unlock()
	var first error
	for {
		b.mu.Lock()
		n := min(len(b.pending), b.settings.maxExport)
		if n == 0 || (!all && n < b.settings.maxExport) {
			b.mu.Unlock()
			return first
		}
		// The batch is the front of pending, which goes on behind it: no copy under the
		// lock, and appends reuse the array until it is full.
		batch := b.pending[:n:n]
		b.pending = b.pending[n:]
		b.mu.Unlock()

		ectx, cancel := context.WithTimeout(ctx, b.settings.timeout)
		err := b.exporter.ExportSpans(ectx, batch)
		cancel()
		clear(batch) // let the exported spans be collected
		if err != nil {
			otel.Handle(err)
			if first == nil {
				first = err
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// setExporter makes the batcher export to exporter from now on, and shuts the one it
// replaces down once its export under way, if any, has ended.
func (b *batcher) setExporter(ctx context.Context, exporter sdktrace.SpanExporter) {
	b.exportMu.Lock()
	old := b.exporter
	b.exporter = exporter
	b.exportMu.Unlock()
	if err := old.Shutdown(ctx); err != nil {
		otel.Handle(err)
	}
}

// ForceFlush exports every span queued.
func (b *batcher) ForceFlush(ctx context.Context) error {
	return b.export(ctx, true)
}

// Shutdown stops the export goroutine, exports what is queued, reports the spans
// dropped, if any, and shuts the exporter down. Spans ended after it are dropped.
func (b *batcher) Shutdown(ctx context.Context) error {
	var err error
	b.stopOnce.Do(func() {
		close(b.stop)
		<-b.done
		err = b.export(ctx, true)
		b.mu.Lock()
		b.stopped = true
		dropped := b.dropped
		b.mu.Unlock()
		if dropped > 0 {
			otel.Handle(fmt.Errorf("%d spans dropped: the export queue (OTEL_BSP_MAX_QUEUE_SIZE, %d) was full", dropped, b.settings.maxQueue))
		}
		b.exportMu.Lock()
		exporter := b.exporter
		b.exportMu.Unlock()
		if serr := exporter.Shutdown(ctx); err == nil {
			err = serr
		}
	})
	return err
}
