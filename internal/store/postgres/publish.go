package postgres

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Publications are committed in groups. Each EventPublish is one implicit transaction
// that must wait for its WAL flush before POST /events may answer; with many at once
// most of their time went to that (waits on WALWrite in pg_stat_activity) and to
// locking the endpoints' rows once per publication. So concurrent calls without
// handler executions queue for one committer, which sends what has queued, up to
// publishBatchMax, as one publishSQL statement: one round trip and one implicit
// transaction, one commit and one flush for all of them. While a batch commits the
// next one fills, so batches grow with the load. One committer rather than several:
// concurrent batches insert into the same index pages and lock the same endpoint rows,
// and with four of them PostgreSQL spent 290 µs of CPU per delivery in bench/webhooks
// against 200 µs with one (and delivered 4,000/s against 4,900/s with 32 publishers);
// a second one taking only batches of 32 or more did not raise POST /events/s either. Every caller
// still returns only once its event and deliveries are committed. A batch that fails
// (a deadlock between two batches holding the same new event id, an invalid row) is
// sent again one publication at a time, so each caller gets its own outcome.
const (
	publishBatchMax = 64
	publishTimeout  = 30 * time.Second // of one batch, whatever its callers' deadlines
)

var errClosed = errors.New("store closed")

// publishGroup queues publications for the committers, started by the first.
type publishGroup struct {
	mu      sync.Mutex
	started bool
	stopped bool
	calls   chan *publishCall
	quit    chan struct{}
	running sync.WaitGroup
}

// publishCall is one EventPublish waiting in the group.
type publishCall struct {
	ctx     context.Context // the caller's: a call given up before its batch starts is not written
	pub     publication
	created bool
	count   int
	err     error
	done    chan struct{}
}

// publishGrouped publishes pub in the next batch and returns whether it created the
// event, and with how many deliveries.
func (s *Store) publishGrouped(ctx context.Context, pub publication) (bool, int, error) {
	g := &s.publish
	g.mu.Lock()
	if s.closed.Load() {
		g.mu.Unlock()
		return false, 0, errClosed
	}
	if !g.started {
		g.started = true
		g.calls, g.quit = make(chan *publishCall, publishBatchMax), make(chan struct{})
		g.running.Go(func() { s.commitPublications(g) })
	}
	g.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return false, 0, err
	}
	c := &publishCall{ctx: ctx, pub: pub, done: make(chan struct{})}
	select {
	case g.calls <- c:
	case <-g.quit:
		return false, 0, errClosed
	case <-ctx.Done():
		return false, 0, ctx.Err()
	}
	select {
	case <-c.done:
		return c.created, c.count, c.err
	case <-g.quit:
		// Closed: the committers finish the batches they hold; a call queued after
		// the last of them would wait for good.
		g.running.Wait()
		select {
		case <-c.done:
			return c.created, c.count, c.err
		default:
			return false, 0, errClosed
		}
	case <-ctx.Done():
		// It may yet commit: publishing the same event id again creates nothing.
		return false, 0, ctx.Err()
	}
}

// commitPublications sends the queued publications in batches until the store closes.
func (s *Store) commitPublications(g *publishGroup) {
	for {
		var first *publishCall
		select {
		case first = <-g.calls:
		case <-g.quit:
			return
		}
		batch := []*publishCall{first}
	fill:
		for len(batch) < publishBatchMax {
			select {
			case c := <-g.calls:
				batch = append(batch, c)
			default:
				break fill
			}
		}
		s.publishBatch(batch)
	}
}

// publishBatch commits the batch's publications together, or, if that fails, one by
// one.
func (s *Store) publishBatch(batch []*publishCall) {
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	live := make([]*publishCall, 0, len(batch))
	for _, c := range batch {
		if c.err = c.ctx.Err(); c.err == nil {
			live = append(live, c)
		}
	}
	s.publishLive(ctx, live)
	for _, c := range batch {
		close(c.done)
	}
}

// publishLive commits the calls together, or, if that fails, one by one. A call whose
// event ID an earlier call of the batch has goes on its own after the others: one
// statement cannot tell whose deliveries an event it creates gets.
func (s *Store) publishLive(ctx context.Context, calls []*publishCall) {
	together := make([]*publishCall, 0, len(calls))
	var alone []*publishCall
	seen := make(map[string]bool, len(calls))
	for _, c := range calls {
		if seen[c.pub.event.ID] {
			alone = append(alone, c)
			continue
		}
		seen[c.pub.event.ID] = true
		together = append(together, c)
	}
	if len(together) > 1 {
		pubs := make([]publication, len(together))
		for i, c := range together {
			pubs[i] = c.pub
		}
		created, err := publish(ctx, s.pool, pubs...)
		if err == nil {
			for _, c := range together {
				c.count, c.created = created[c.pub.event.ID]
			}
			together = nil
		}
	}
	for _, c := range append(together, alone...) {
		var created map[string]int
		created, c.err = publish(ctx, s.pool, c.pub)
		c.count, c.created = created[c.pub.event.ID]
	}
}

// stopPublishing stops the committers once the batches in flight are done; calls still
// queued get errClosed.
func (s *Store) stopPublishing() {
	g := &s.publish
	g.mu.Lock()
	stop := g.started && !g.stopped
	g.stopped = true
	g.mu.Unlock()
	if !stop {
		return // never started, or stopped by an earlier Close
	}
	close(g.quit)
	g.running.Wait()
	for {
		select {
		case c := <-g.calls:
			c.err = errClosed
			close(c.done)
		default:
			return
		}
	}
}
