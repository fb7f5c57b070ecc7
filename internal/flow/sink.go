package flow

import (
	"context"
	"errors"
	"sync"

	"github.com/junctionhq/junction/internal/connector"
)

// Batching limits of a sink: at most maxBatch messages per Write, and sinkWriters
// Writes running at once. While one Write is in progress the next batch fills up from
// the other workers, so batches grow with load and a lone message is written at once.
const (
	maxBatch    = 256
	sinkWriters = 2
)

// sinkWriter groups the messages that concurrent workers send to one sink into batches,
// without a goroutine of its own (group commit): a worker that finds a write slot free
// writes whatever is queued, its own message and the others', and answers them all;
// the others wait for that answer. With a fast sink each worker writes its own message
// on its own goroutine; with a slow one, batches form behind the write in progress.
type sinkWriter struct {
	ctx      context.Context // the flow's work context: a batch is not one caller's
	name     string
	sink     connector.Sink
	maxBatch int
	slots    chan struct{} // one per Write that may run at once

	mu    sync.Mutex
	queue []*writeReq
}

type writeReq struct {
	ctx   context.Context
	msg   connector.Message
	done  chan error // buffered: answered exactly once
	taken bool       // in a batch being written (guarded by sinkWriter.mu)
}

var writeReqPool = sync.Pool{New: func() any { return &writeReq{done: make(chan error, 1)} }}

func newSinkWriter(ctx context.Context, name string, sink connector.Sink) *sinkWriter {
	batch, writers := maxBatch, sinkWriters
	if b, ok := sink.(connector.Batching); ok {
		batch, writers = b.Batching()
		batch, writers = max(batch, 1), max(writers, 1)
	}
	return &sinkWriter{ctx: ctx, name: name, sink: sink, maxBatch: batch, slots: make(chan struct{}, writers)}
}

// write sends one message and waits until the sink accepted it or failed. A
// *connector.MessageError means this message can never be written.
func (w *sinkWriter) write(ctx context.Context, m connector.Message) error {
	r := writeReqPool.Get().(*writeReq)
	r.ctx, r.msg, r.taken = ctx, m, false
	w.mu.Lock()
	w.queue = append(w.queue, r)
	w.mu.Unlock()
	for {
		// Once taken, only the answer is awaited: competing for slots then would wake
		// waiters in a chain while a write is in progress.
		if w.isTaken(r) {
			return w.finish(r, <-r.done)
		}
		select {
		case err := <-r.done:
			return w.finish(r, err)
		case w.slots <- struct{}{}:
			// A write slot: write what is queued (r, unless another writer took it).
			if batch := w.take(); len(batch) > 0 {
				w.flush(batch)
			}
			<-w.slots
		}
	}
}

func (w *sinkWriter) finish(r *writeReq, err error) error {
	r.ctx, r.msg = nil, connector.Message{}
	writeReqPool.Put(r)
	return err
}

func (w *sinkWriter) isTaken(r *writeReq) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return r.taken
}

// take removes up to maxBatch queued requests.
func (w *sinkWriter) take() []*writeReq {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := min(len(w.queue), w.maxBatch)
	if n == 0 {
		return nil
	}
	batch := make([]*writeReq, n)
	copy(batch, w.queue)
	for _, r := range batch {
		r.taken = true
	}
	rest := copy(w.queue, w.queue[n:])
	clear(w.queue[rest:])
	w.queue = w.queue[:rest]
	return batch
}

// close closes the sink; the flow calls it once no worker writes any more.
func (w *sinkWriter) close() error { return w.sink.Close() }

// flush writes a batch. A message the sink rejects as such is answered with that error
// and the rest written again without it; any other error goes to every request, and
// each worker retries on its own schedule.
func (w *sinkWriter) flush(batch []*writeReq) {
	msgs := make([]connector.Message, 0, len(batch))
	for len(batch) > 0 {
		// Requests whose caller gave up are answered without being written.
		live := batch[:0]
		for _, r := range batch {
			if err := r.ctx.Err(); err != nil {
				r.done <- err
				continue
			}
			live = append(live, r)
		}
		batch = live
		if len(batch) == 0 {
			return
		}
		msgs = msgs[:0]
		for _, r := range batch {
			msgs = append(msgs, r.msg)
		}
		err := w.sink.Write(w.ctx, msgs)
		var bad *connector.MessageError
		if errors.As(err, &bad) && bad.Index >= 0 && bad.Index < len(batch) {
			batch[bad.Index].done <- err
			batch = append(batch[:bad.Index], batch[bad.Index+1:]...)
			continue
		}
		for _, r := range batch {
			r.done <- err
		}
		return
	}
}
