package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

var (
	// ErrSettled is returned by a second Ack or Nack of the same delivery.
	ErrSettled = errors.New("kafka: delivery already settled")
	// ErrClosed is returned when settling after Close: the record was not committed and
	// will be delivered again.
	ErrClosed = errors.New("kafka: source closed; the record will be delivered again")
)

// Source consumes topics as a member of a consumer group.
type Source struct {
	o     *options
	log   *slog.Logger
	clock clock.Clock

	wg sync.WaitGroup
	// wake is signalled when a slot frees up or a record is handed back, so the poll
	// loop re-checks what to do.
	wake chan struct{}

	mu         sync.Mutex
	cl         *kgo.Client
	opened     bool
	closed     bool
	cancel     context.CancelFunc
	pollCancel context.CancelFunc // interrupts a waiting PollRecords so a Nack is redelivered at once
	inFlight   int
	unsettled  int                        // records handed out (or queued for redelivery) and not yet acknowledged
	parts      map[partitionID]*partition // the partitions this member owns
	redeliver  []*entry                   // nacked records, delivered again before new ones
}

var _ connector.Source = (*Source)(nil)

type partitionID struct {
	topic     string
	partition int32
}

// partition tracks the records of one owned partition that are not yet part of the
// committed offset.
type partition struct {
	pending   []*entry        // in offset order; the head is the oldest unacknowledged record
	commit    kgo.EpochOffset // what to commit next: one past the longest acknowledged prefix
	committed int64           // the offset last committed successfully, -1 if none
	revoked   bool            // the group gave the partition to another member
}

type entry struct {
	rec   *kgo.Record
	p     *partition
	acked bool
}

func newPartition() *partition {
	return &partition{commit: kgo.EpochOffset{Epoch: -1, Offset: -1}, committed: -1}
}

// ack marks e acknowledged and moves the commit point over the acknowledged prefix.
// Offsets are taken from the records themselves, because compaction and transaction
// markers leave gaps between consecutive offsets.
func (p *partition) ack(e *entry) {
	e.acked = true
	for len(p.pending) > 0 && p.pending[0].acked {
		head := p.pending[0]
		p.pending[0] = nil
		p.pending = p.pending[1:]
		p.commit = kgo.EpochOffset{Epoch: head.rec.LeaderEpoch, Offset: head.rec.Offset + 1}
	}
}

func (p *partition) dirty() bool { return p.commit.Offset > p.committed }

// NewSource checks the options and returns a source; it connects in Open.
func NewSource(s connector.Settings) (connector.Source, error) {
	o, err := readOptions(s, option.Source)
	if err != nil {
		return nil, err
	}
	return &Source{
		o:     o,
		log:   s.Env.Log().With("connector", s.Connector.Name),
		clock: s.Env.Time(),
		wake:  make(chan struct{}, 1),
		parts: map[partitionID]*partition{},
	}, nil
}

// Open joins the consumer group and starts handing out records.
func (s *Source) Open(ctx context.Context, inFlight int) (<-chan connector.Delivery, error) {
	s.mu.Lock()
	if s.opened || s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("%s: source already opened or closed", s.o.what)
	}
	s.opened = true
	s.mu.Unlock()

	opts := append(s.o.clientOpts(s.log),
		kgo.ConsumerGroup(s.o.group),
		kgo.ConsumeTopics(s.o.topics...),
		kgo.ConsumeResetOffset(s.o.start),
		// Offsets are committed only for acknowledged records, by this package.
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.lost),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.o.what, err)
	}
	// Fail early on unreachable brokers instead of retrying silently in the background.
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("%s: no broker reachable at %s: %w", s.o.what, strings.Join(s.o.brokers, ", "), err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		cl.Close()
		return nil, fmt.Errorf("%s: source closed while opening", s.o.what)
	}
	ctx, cancel := context.WithCancel(ctx)
	s.cl, s.cancel, s.inFlight = cl, cancel, max(inFlight, 1)
	out := make(chan connector.Delivery)
	s.wg.Add(2)
	go s.poll(ctx, out)
	go s.commitLoop(ctx)
	return out, nil
}

// poll hands out redeliveries first, then new records, never more than inFlight
// unsettled at once.
func (s *Source) poll(ctx context.Context, out chan<- connector.Delivery) {
	defer s.wg.Done()
	defer close(out)
	for ctx.Err() == nil {
		s.mu.Lock()
		if len(s.redeliver) > 0 {
			e := s.redeliver[0]
			s.redeliver[0] = nil
			s.redeliver = s.redeliver[1:]
			s.mu.Unlock()
			if !s.send(ctx, out, e) {
				return
			}
			continue
		}
		free := s.inFlight - s.unsettled
		if free <= 0 {
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
			}
			continue
		}
		pollCtx, cancelPoll := context.WithCancel(ctx)
		s.pollCancel = cancelPoll
		s.mu.Unlock()

		fetches := s.cl.PollRecords(pollCtx, free)

		s.mu.Lock()
		s.pollCancel = nil
		s.mu.Unlock()
		cancelPoll()

		stop := false
		fetches.EachError(func(topic string, partition int32, err error) {
			switch {
			case errors.Is(err, kgo.ErrClientClosed):
				stop = true
			case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			default:
				s.log.Warn("kafka: fetch", "topic", topic, "partition", partition, "error", err)
			}
		})
		if stop {
			return
		}
		for _, e := range s.track(fetches) {
			if !s.send(ctx, out, e) {
				return
			}
		}
	}
}

// track registers polled records as unsettled. Records of partitions this member no
// longer owns (a poll that raced with a rebalance) are dropped: their new owner
// consumes them from the committed offset.
func (s *Source) track(fetches kgo.Fetches) []*entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*entry
	fetches.EachRecord(func(r *kgo.Record) {
		p := s.parts[partitionID{r.Topic, r.Partition}]
		if p == nil {
			return
		}
		e := &entry{rec: r, p: p}
		p.pending = append(p.pending, e)
		out = append(out, e)
	})
	s.unsettled += len(out)
	return out
}

func (s *Source) send(ctx context.Context, out chan<- connector.Delivery, e *entry) bool {
	select {
	case out <- s.delivery(e):
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Source) delivery(e *entry) connector.Delivery {
	r := e.rec
	headers := make(map[string]string, len(r.Headers)+4)
	for _, h := range r.Headers {
		headers[h.Key] = string(h.Value)
	}
	headers["topic"] = r.Topic
	headers["partition"] = strconv.Itoa(int(r.Partition))
	headers["offset"] = strconv.FormatInt(r.Offset, 10)
	if r.Key != nil {
		headers["key"] = string(r.Key)
	}
	// Each delivery settles once; a Nack creates a new delivery of the same entry.
	var settled atomic.Bool
	settle := func(ack bool) error {
		if !settled.CompareAndSwap(false, true) {
			return ErrSettled
		}
		return s.settle(e, ack)
	}
	return connector.Delivery{
		Message: connector.Message{Body: r.Value, Headers: headers, Time: r.Timestamp},
		ID:      fmt.Sprintf("kafka:%s/%d/%d", r.Topic, r.Partition, r.Offset),
		Ack:     func(context.Context) error { return settle(true) },
		Nack:    func(context.Context) error { return settle(false) },
	}
}

func (s *Source) settle(e *entry, ack bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	switch {
	case e.p.revoked:
		// Another member owns the partition now and delivers the record from the
		// committed offset; this one only frees its slot.
		s.unsettled--
	case ack:
		e.p.ack(e)
		s.unsettled--
	default:
		// The record keeps its slot and its place in the partition's pending list, so
		// the commit point cannot pass it until a later delivery of it is acknowledged.
		s.redeliver = append(s.redeliver, e)
		if s.pollCancel != nil {
			s.pollCancel()
		}
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

func (s *Source) commitLoop(ctx context.Context) {
	defer s.wg.Done()
	for {
		if err := s.clock.Sleep(ctx, commitInterval); err != nil {
			return
		}
		if err := s.commitAcked(ctx, nil); err != nil && ctx.Err() == nil {
			s.log.Warn("kafka: commit offsets", "group", s.o.group, "error", err)
		}
	}
}

// commitAcked commits the acknowledged prefix of the owned partitions (of only, when
// not nil) that moved since the last commit.
func (s *Source) commitAcked(ctx context.Context, only map[string][]int32) error {
	type target struct {
		id     partitionID
		p      *partition
		offset int64
	}
	var targets []target
	offsets := map[string]map[int32]kgo.EpochOffset{}
	s.mu.Lock()
	add := func(id partitionID, p *partition) {
		if p == nil || !p.dirty() {
			return
		}
		if offsets[id.topic] == nil {
			offsets[id.topic] = map[int32]kgo.EpochOffset{}
		}
		offsets[id.topic][id.partition] = p.commit
		targets = append(targets, target{id, p, p.commit.Offset})
	}
	if only == nil {
		for id, p := range s.parts {
			add(id, p)
		}
	} else {
		for topic, ps := range only {
			for _, n := range ps {
				id := partitionID{topic, n}
				add(id, s.parts[id])
			}
		}
	}
	cl := s.cl
	s.mu.Unlock()
	if len(targets) == 0 || cl == nil {
		return nil
	}

	var commitErr error
	cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			commitErr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil && commitErr == nil {
					commitErr = fmt.Errorf("topic %s partition %d: %w", t.Topic, p.Partition, err)
				}
			}
		}
	})
	if commitErr != nil {
		return commitErr
	}
	s.mu.Lock()
	for _, t := range targets {
		t.p.committed = max(t.p.committed, t.offset)
	}
	s.mu.Unlock()
	return nil
}

// assigned starts tracking newly owned partitions; kgo calls it before fetching them.
func (s *Source) assigned(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for topic, ps := range m {
		for _, n := range ps {
			id := partitionID{topic, n}
			if s.parts[id] == nil {
				s.parts[id] = newPartition()
			}
		}
	}
}

// revoked commits what was acknowledged of the partitions leaving this member, so their
// next owner starts right after it, then stops tracking them.
func (s *Source) revoked(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	if err := s.commitAcked(ctx, m); err != nil {
		s.log.Warn("kafka: commit offsets of revoked partitions", "group", s.o.group, "error", err)
	}
	s.drop(m)
}

// lost stops tracking partitions without committing: the group has already moved on,
// so a commit would be rejected.
func (s *Source) lost(_ context.Context, _ *kgo.Client, m map[string][]int32) { s.drop(m) }

func (s *Source) drop(m map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for topic, ps := range m {
		for _, n := range ps {
			id := partitionID{topic, n}
			if p := s.parts[id]; p != nil {
				p.revoked = true
				delete(s.parts, id)
			}
		}
	}
	keep := s.redeliver[:0]
	for _, e := range s.redeliver {
		if e.p.revoked {
			s.unsettled--
			continue
		}
		keep = append(keep, e)
	}
	clear(s.redeliver[len(keep):])
	s.redeliver = keep
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close stops consuming, commits what was acknowledged and leaves the group; records
// not acknowledged by then are delivered again, to this group's next member.
func (s *Source) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	// From here on settling is refused, so the final commit below is the last word.
	s.closed = true
	cancel, cl := s.cancel, s.cl
	s.mu.Unlock()
	if cl == nil {
		return nil
	}
	cancel()
	s.wg.Wait()
	ctx, stop := context.WithTimeout(context.Background(), closeTimeout)
	defer stop()
	err := s.commitAcked(ctx, nil)
	cl.Close()
	if err != nil {
		return fmt.Errorf("%s: commit offsets on close: %w", s.o.what, err)
	}
	return nil
}
