package flow

import (
	"context"
	"errors"
	"sync"

	"github.com/junctionhq/junction/internal/connector"
)

// Batching limits of a sink: at most maxBatch messages per Write, and writers Writes
// running at once. While one Write is in progress the next batch fills up from the
// other workers, so batches grow with load and a lone message is written at once.
const (
	maxBatch    = 256
	sinkWriters = 2
)

// sinkWriter groups the messages that concurrent workers send to one sink into batches.
type sinkWriter struct {
	ctx      context.Context // the flow's work context: a batch is not one caller's
	maxBatch int
	name     string
	sink     connector.Sink
	reqs     chan *writeReq
	wg       sync.WaitGroup
}

type writeReq struct {
	ctx  context.Context
	msg  connector.Message
	done chan error
}

var writeReqPool = sync.Pool{New: func() any { return &writeReq{done: make(chan error, 1)} }}

func newSinkWriter(ctx context.Context, name string, sink connector.Sink) *sinkWriter {
	batch, writers := maxBatch, sinkWriters
	if b, ok := sink.(connector.Batching); ok {
		batch, writers = b.Batching()
		batch, writers = max(batch, 1), max(writers, 1)
	}
	w := &sinkWriter{ctx: ctx, maxBatch: batch, name: name, sink: sink, reqs: make(chan *writeReq, batch*writers)}
	w.wg.Add(writers)
	for range writers {
		go w.loop()
	}
	return w
}

// write sends one message and waits until the sink accepted it or failed. A
// *connector.MessageError means this message can never be written.
func (w *sinkWriter) write(ctx context.Context, m connector.Message) error {
	r := writeReqPool.Get().(*writeReq)
	r.ctx, r.msg = ctx, m
	select {
	case w.reqs <- r:
	case <-ctx.Done():
		writeReqPool.Put(r)
		return ctx.Err()
	}
	// The batch's Write runs under its own context, so waiting here for its answer is
	// bounded by the sink, not by ctx: the request must not be reused while in a batch.
	err := <-r.done
	r.ctx, r.msg = nil, connector.Message{}
	writeReqPool.Put(r)
	return err
}

// close stops the writers once every pending request is answered, then the sink.
func (w *sinkWriter) close() error {
	close(w.reqs)
	w.wg.Wait()
	return w.sink.Close()
}

func (w *sinkWriter) loop() {
	defer w.wg.Done()
	batch := make([]*writeReq, 0, w.maxBatch)
	msgs := make([]connector.Message, 0, w.maxBatch)
	for first := range w.reqs {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < w.maxBatch {
			select {
			case r, ok := <-w.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		w.flush(batch, msgs)
	}
}

// flush writes a batch. A message the sink rejects as such is answered with that error
// and the rest written again without it; any other error goes to every request, and
// each worker retries on its own schedule.
func (w *sinkWriter) flush(batch []*writeReq, msgs []connector.Message) {
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
