package redisstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

var (
	// ErrSettled is returned by a second Ack or Nack of the same delivery.
	ErrSettled = errors.New("redis: delivery already settled")
	// ErrClosed is returned when settling after Close: the entry stays pending and is
	// delivered again.
	ErrClosed = errors.New("redis: source closed; the entry stays pending and will be delivered again")
)

// Source reads a stream as one consumer of a consumer group.
type Source struct {
	o     *options
	log   *slog.Logger
	clock clock.Clock
	rdb   *redis.Client

	wg   sync.WaitGroup
	wake chan struct{} // a slot freed up or an entry was handed back

	mu         sync.Mutex
	opened     bool
	closed     bool
	cancel     context.CancelFunc
	inFlight   int
	unsettled  int
	held       map[string]bool // ids handed out or queued for redelivery, not yet acknowledged
	recentAcks map[string]bool // ids acknowledged since the current read began (see fetch)
	redeliver  []redis.XMessage

	// Owned by the read loop.
	pendingCursor string // reading this consumer's own pending entries from here; "" when done
	claimCursor   string // where the next XAUTOCLAIM continues its scan
	lastClaim     time.Time
}

var _ connector.Source = (*Source)(nil)

// NewSource checks the options and returns a source; it connects in Open.
func NewSource(s connector.Settings) (connector.Source, error) {
	o, err := readOptions(s, option.Source)
	if err != nil {
		return nil, err
	}
	return &Source{
		o:             o,
		log:           s.Env.Log().With("connector", s.Connector.Name, "stream", o.stream, "consumer", o.consumer),
		clock:         s.Env.Time(),
		wake:          make(chan struct{}, 1),
		held:          map[string]bool{},
		recentAcks:    map[string]bool{},
		pendingCursor: "0",
		claimCursor:   "0-0",
	}, nil
}

// Open connects, creates the group (and the stream) if needed and starts reading.
func (s *Source) Open(ctx context.Context, inFlight int) (<-chan connector.Delivery, error) {
	s.mu.Lock()
	if s.opened || s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("%s: source already opened or closed", s.o.what)
	}
	s.opened = true
	s.mu.Unlock()

	rdb := redis.NewClient(s.o.redis)
	setupCtx, cancelSetup := withDefaultTimeout(ctx)
	defer cancelSetup()
	if err := rdb.Ping(setupCtx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("%s: cannot reach Redis at %s: %w", s.o.what, s.o.addr, err)
	}
	err := rdb.XGroupCreateMkStream(setupCtx, s.o.stream, s.o.group, s.o.start).Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		_ = rdb.Close()
		return nil, fmt.Errorf("%s: create group %s on %s: %w", s.o.what, s.o.group, s.o.stream, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = rdb.Close()
		return nil, fmt.Errorf("%s: source closed while opening", s.o.what)
	}
	ctx, cancel := context.WithCancel(ctx)
	s.rdb, s.cancel, s.inFlight = rdb, cancel, max(inFlight, 1)
	out := make(chan connector.Delivery)
	s.wg.Add(1)
	go s.read(ctx, out)
	return out, nil
}

// read hands out redeliveries first, then entries from Redis, never more than inFlight
// unsettled at once.
func (s *Source) read(ctx context.Context, out chan<- connector.Delivery) {
	defer s.wg.Done()
	defer close(out)
	for ctx.Err() == nil {
		s.mu.Lock()
		if len(s.redeliver) > 0 {
			m := s.redeliver[0]
			s.redeliver[0] = redis.XMessage{}
			s.redeliver = s.redeliver[1:]
			s.mu.Unlock()
			if !s.send(ctx, out, m) {
				return
			}
			continue
		}
		free := s.inFlight - s.unsettled
		clear(s.recentAcks)
		s.mu.Unlock()
		if free <= 0 {
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
			}
			continue
		}

		msgs, err := s.fetch(ctx, int64(free))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("redis: read stream", "error", err)
			if s.clock.Sleep(ctx, retryDelay) != nil {
				return
			}
			continue
		}
		for _, m := range s.track(msgs) {
			if !s.send(ctx, out, m) {
				return
			}
		}
	}
}

// fetch reads up to count entries: first this consumer's own pending entries (left by
// a previous run under the same name), then, now and then, entries other consumers
// left idle for claim_after, then new entries.
func (s *Source) fetch(ctx context.Context, count int64) ([]redis.XMessage, error) {
	if s.pendingCursor != "" {
		res, err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: s.o.group, Consumer: s.o.consumer, Streams: []string{s.o.stream, s.pendingCursor},
			Count: count, Block: -1, // no BLOCK: the pending list is read as it is
		}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("read own pending entries: %w", err)
		}
		var msgs []redis.XMessage
		if len(res) > 0 {
			msgs = res[0].Messages
		}
		if len(msgs) == 0 {
			s.pendingCursor = ""
			return nil, nil
		}
		s.pendingCursor = msgs[len(msgs)-1].ID
		return s.dropDeleted(ctx, msgs), nil
	}

	if now := s.clock.Now(); now.Sub(s.lastClaim) >= s.claimEvery() {
		msgs, next, err := s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: s.o.stream, Group: s.o.group, Consumer: s.o.consumer,
			MinIdle: s.o.claimAfter, Start: s.claimCursor, Count: count,
		}).Result()
		if err != nil {
			return nil, fmt.Errorf("claim idle entries: %w", err)
		}
		s.claimCursor = next
		if next == "0-0" || next == "" {
			// The scan of the pending list is complete; the next one starts over later.
			s.claimCursor, s.lastClaim = "0-0", now
		}
		if msgs = s.dropDeleted(ctx, msgs); len(msgs) > 0 {
			s.log.Info("redis: claimed idle entries", "count", len(msgs), "idle_over", s.o.claimAfter)
			return msgs, nil
		}
	}

	res, err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: s.o.group, Consumer: s.o.consumer, Streams: []string{s.o.stream, ">"},
		Count: count, Block: s.o.block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read new entries: %w", err)
	}
	if len(res) == 0 {
		return nil, nil
	}
	return res[0].Messages, nil
}

// claimEvery is how often the pending list is scanned for idle entries: often enough
// that an entry is taken over not much later than claim_after.
func (s *Source) claimEvery() time.Duration { return min(s.o.claimAfter/2, 30*time.Second) }

// dropDeleted acknowledges pending entries whose data is gone (deleted or trimmed from
// the stream): there is nothing left to deliver, and they would stay pending forever.
func (s *Source) dropDeleted(ctx context.Context, msgs []redis.XMessage) []redis.XMessage {
	keep := msgs[:0]
	var gone []string
	for _, m := range msgs {
		if len(m.Values) == 0 {
			gone = append(gone, m.ID)
			continue
		}
		keep = append(keep, m)
	}
	if len(gone) > 0 {
		if err := s.rdb.XAck(ctx, s.o.stream, s.o.group, gone...).Err(); err != nil {
			s.log.Warn("redis: acknowledge deleted entries", "ids", gone, "error", err)
		}
	}
	return keep
}

// track marks entries as handed out. XAUTOCLAIM also returns entries this consumer is
// still working on, and may return one whose XACK raced with the claim; both are
// skipped, so an entry is never out twice at once.
func (s *Source) track(msgs []redis.XMessage) []redis.XMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := msgs[:0]
	for _, m := range msgs {
		if s.held[m.ID] || s.recentAcks[m.ID] {
			continue
		}
		s.held[m.ID] = true
		keep = append(keep, m)
	}
	s.unsettled += len(keep)
	return keep
}

func (s *Source) send(ctx context.Context, out chan<- connector.Delivery, m redis.XMessage) bool {
	select {
	case out <- s.delivery(m):
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Source) delivery(m redis.XMessage) connector.Delivery {
	headers := make(map[string]string, len(m.Values)+2)
	var body []byte
	hasBody := false
	for k, v := range m.Values {
		text := fmt.Sprint(v)
		if k == s.o.field {
			body, hasBody = []byte(text), true
			continue
		}
		headers[k] = text
	}
	if !hasBody {
		// An entry written by another producer, without the body field: its fields are
		// the message.
		body, _ = json.Marshal(m.Values)
	}
	headers["stream"] = s.o.stream
	headers["id"] = m.ID
	var settled atomic.Bool
	settle := func(ctx context.Context, ack bool) error {
		if !settled.CompareAndSwap(false, true) {
			return ErrSettled
		}
		return s.settle(ctx, m, ack)
	}
	return connector.Delivery{
		Message: connector.Message{Body: body, Headers: headers, Time: idTime(m.ID)},
		ID:      "redis:" + s.o.stream + "/" + m.ID,
		Ack:     func(ctx context.Context) error { return settle(ctx, true) },
		Nack:    func(ctx context.Context) error { return settle(ctx, false) },
	}
}

// idTime is the time Redis gave the entry: the milliseconds part of its id.
func idTime(id string) time.Time {
	ms, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

func (s *Source) settle(ctx context.Context, m redis.XMessage, ack bool) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if !ack {
		// The entry stays pending in Redis and keeps its slot; it is handed out again
		// before new entries.
		s.redeliver = append(s.redeliver, m)
		s.signal()
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()

	err := s.rdb.XAck(ctx, s.o.stream, s.o.group, m.ID).Err()

	s.mu.Lock()
	delete(s.held, m.ID)
	s.recentAcks[m.ID] = true
	s.unsettled--
	s.signal()
	s.mu.Unlock()
	if err != nil {
		// Still pending: after claim_after this consumer (or another) claims it again.
		return fmt.Errorf("%s: XACK %s: %w", s.o.what, m.ID, err)
	}
	return nil
}

// signal wakes the read loop; s.mu is held.
func (s *Source) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close stops reading and closes the connection. Entries not acknowledged stay pending:
// a consumer with the same name gets them at once when it starts, any other after
// claim_after. A generated consumer name is removed from the group when nothing is
// pending for it, so restarts do not pile up dead consumers.
func (s *Source) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	cancel, rdb := s.cancel, s.rdb
	s.mu.Unlock()
	if rdb == nil {
		return nil
	}
	cancel()
	s.wg.Wait() // at most one read's block
	if s.o.generatedConsumer {
		ctx, stop := context.WithTimeout(context.Background(), checkTimeout)
		pending, err := rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
			Stream: s.o.stream, Group: s.o.group, Start: "-", End: "+", Count: 1, Consumer: s.o.consumer,
		}).Result()
		if err == nil && len(pending) == 0 {
			err = rdb.XGroupDelConsumer(ctx, s.o.stream, s.o.group, s.o.consumer).Err()
		}
		stop()
		if err != nil {
			s.log.Warn("redis: remove consumer from group", "group", s.o.group, "error", err)
		}
	}
	return rdb.Close()
}
