package workflow

import (
	"context"
	"sync"

	"github.com/junctionhq/junction/internal/store"
)

// writer is the group commit of step outcomes: runs queue their writes and wait; each
// flusher takes everything queued (up to maxBatch) and stores it in one transaction.
// Several flushers let one batch commit while the next fills.
type writer struct {
	st       store.WorkflowStore
	queue    chan *pendingWrite
	maxBatch int
	wg       sync.WaitGroup
	stop     chan struct{}
}

type pendingWrite struct {
	w    store.WorkflowWrite
	done chan error // buffered: the flusher never blocks on it
}

func newWriter(st store.WorkflowStore, flushers, maxBatch int) *writer {
	w := &writer{st: st, queue: make(chan *pendingWrite, 4*maxBatch), maxBatch: maxBatch, stop: make(chan struct{})}
	for range flushers {
		w.wg.Add(1)
		go w.flush()
	}
	return w
}

// save stores one write and returns once it is committed (nil), refused
// (store.ErrLeaseLost) or failed.
func (w *writer) save(ctx context.Context, wr store.WorkflowWrite) error {
	p := &pendingWrite{w: wr, done: make(chan error, 1)}
	select {
	case w.queue <- p:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.stop:
		return errStopping
	}
	// Once queued the write is committed or not regardless of ctx: wait for the answer,
	// so the caller knows which.
	return <-p.done
}

func (w *writer) flush() {
	defer w.wg.Done()
	batch := make([]*pendingWrite, 0, w.maxBatch)
	writes := make([]store.WorkflowWrite, 0, w.maxBatch)
	for {
		select {
		case p := <-w.queue:
			batch = append(batch[:0], p)
		case <-w.stop:
			// Answer what is left so no run waits forever.
			for {
				select {
				case p := <-w.queue:
					p.done <- errStopping
				default:
					return
				}
			}
		}
	more:
		for len(batch) < w.maxBatch {
			select {
			case p := <-w.queue:
				batch = append(batch, p)
			default:
				break more
			}
		}
		writes = writes[:0]
		for _, p := range batch {
			writes = append(writes, p.w)
		}
		results, err := w.st.WorkflowSave(context.Background(), writes)
		for i, p := range batch {
			switch {
			case err != nil:
				p.done <- err
			case i < len(results):
				p.done <- results[i]
			default:
				p.done <- nil
			}
		}
	}
}

// close stops the flushers once the writes queued so far are answered.
func (w *writer) close() {
	close(w.stop)
	w.wg.Wait()
}
