package workflow

import (
	"context"
	"sync"

	"github.com/junctionhq/junction/internal/store"
)

// writer is the group commit of new runs and step outcomes: callers queue them and wait;
// each flusher takes everything queued (up to maxBatch) and stores the new runs in one
// transaction, then the outcomes in another. Several flushers let one batch commit while
// the next fills.
type writer struct {
	st       store.WorkflowStore
	queue    chan *pendingWrite
	maxBatch int
	wg       sync.WaitGroup
	stop     chan struct{}
}

type pendingWrite struct {
	w      store.WorkflowWrite
	create *store.WorkflowRun // a new run instead of a write
	done   chan writeResult   // buffered: the flusher never blocks on it
}

type writeResult struct {
	err     error
	created bool // for a create: the run was new
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
	return w.submit(ctx, &pendingWrite{w: wr}).err
}

// create stores a new run and reports whether it was new (false: its ID exists).
func (w *writer) create(ctx context.Context, r store.WorkflowRun) (bool, error) {
	res := w.submit(ctx, &pendingWrite{create: &r})
	return res.created, res.err
}

func (w *writer) submit(ctx context.Context, p *pendingWrite) writeResult {
	p.done = make(chan writeResult, 1)
	select {
	case w.queue <- p:
	case <-ctx.Done():
		return writeResult{err: ctx.Err()}
	case <-w.stop:
		return writeResult{err: errStopping}
	}
	// Once queued it is committed or not regardless of ctx: wait for the answer, so the
	// caller knows which.
	return <-p.done
}

func (w *writer) flush() {
	defer w.wg.Done()
	batch := make([]*pendingWrite, 0, w.maxBatch)
	for {
		select {
		case p := <-w.queue:
			batch = append(batch[:0], p)
		case <-w.stop:
			// Answer what is left so no run waits forever.
			for {
				select {
				case p := <-w.queue:
					p.done <- writeResult{err: errStopping}
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
		w.store(batch)
	}
}

// store commits one batch: the new runs first, then the outcomes, and answers each.
func (w *writer) store(batch []*pendingWrite) {
	var creates, saves []*pendingWrite
	for _, p := range batch {
		if p.create != nil {
			creates = append(creates, p)
		} else {
			saves = append(saves, p)
		}
	}
	if len(creates) > 0 {
		runs := make([]store.WorkflowRun, len(creates))
		for i, p := range creates {
			runs[i] = *p.create
		}
		created, err := w.st.WorkflowRunCreateMany(context.Background(), runs)
		for i, p := range creates {
			p.done <- writeResult{err: err, created: err == nil && created[i]}
		}
	}
	if len(saves) > 0 {
		writes := make([]store.WorkflowWrite, len(saves))
		for i, p := range saves {
			writes[i] = p.w
		}
		results, err := w.st.WorkflowSave(context.Background(), writes)
		for i, p := range saves {
			switch {
			case err != nil:
				p.done <- writeResult{err: err}
			case i < len(results):
				p.done <- writeResult{err: results[i]}
			default:
				p.done <- writeResult{}
			}
		}
	}
}

// close stops the flushers once the writes queued so far are answered.
func (w *writer) close() {
	close(w.stop)
	w.wg.Wait()
}
