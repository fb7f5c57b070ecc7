package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/connector"
)

// Reconnection waits of the listen source.
const (
	listenBackoffMin = 500 * time.Millisecond
	listenBackoffMax = 30 * time.Second
	closeTimeout     = 5 * time.Second
)

// listenSource delivers the payloads of NOTIFY on one channel, received on a connection
// of its own. PostgreSQL keeps no notification for a listener that is not connected, so
// whatever is sent while the source is closed or reconnecting is lost; Ack and Nack only
// free the slot the delivery held (Nack cannot ask PostgreSQL for it again).
type listenSource struct {
	opts  *options
	log   *slog.Logger
	clock clock.Clock

	mu     sync.Mutex
	opened bool
	closed bool
	cancel context.CancelFunc
	done   chan struct{}
	seq    atomic.Uint64
}

var _ connector.Source = (*listenSource)(nil)

// Open connects and runs LISTEN before it returns, so a NOTIFY sent after Open returned
// is received.
func (l *listenSource) Open(ctx context.Context, inFlight int) (<-chan connector.Delivery, error) {
	l.mu.Lock()
	if l.opened || l.closed {
		l.mu.Unlock()
		return nil, errors.New("postgres source: Open called twice or after Close")
	}
	l.opened = true
	l.mu.Unlock()

	conn, err := l.listen(ctx)
	if err != nil {
		return nil, err
	}
	loopCtx, cancel := context.WithCancel(ctx)
	ch := make(chan connector.Delivery)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		cancel()
		l.closeConn(conn)
		return nil, errors.New("postgres source: closed")
	}
	l.cancel, l.done = cancel, make(chan struct{})
	go l.run(loopCtx, conn, ch, make(chan struct{}, max(inFlight, 1)))
	return ch, nil
}

func (l *listenSource) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, l.opts.pool.ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("postgres source: connect: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+quote(l.opts.channel)); err != nil {
		l.closeConn(conn)
		return nil, fmt.Errorf("postgres source: LISTEN %s: %w", l.opts.channel, err)
	}
	return conn, nil
}

func (l *listenSource) closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_ = conn.Close(ctx)
}

// run receives notifications; slots holds one token per unsettled delivery, so at most
// inFlight are out (the rest wait in PostgreSQL's notification queue).
func (l *listenSource) run(ctx context.Context, conn *pgx.Conn, ch chan<- connector.Delivery, slots chan struct{}) {
	defer close(l.done)
	defer close(ch)
	defer func() {
		if conn != nil {
			l.closeConn(conn)
		}
	}()
	backoff := listenBackoffMin
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		if conn == nil {
			var err error
			if conn, err = l.listen(ctx); err != nil {
				<-slots
				if ctx.Err() != nil {
					return
				}
				l.log.Warn("postgres source: reconnect for LISTEN", "channel", l.opts.channel, "err", err, "retry_in", backoff)
				_ = l.clock.Sleep(ctx, backoff)
				backoff = min(backoff*2, listenBackoffMax)
				continue
			}
			backoff = listenBackoffMin
		}
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			<-slots
			if ctx.Err() != nil {
				return
			}
			l.log.Warn("postgres source: connection for LISTEN lost; notifications sent until it is back are lost",
				"channel", l.opts.channel, "err", err)
			l.closeConn(conn)
			conn = nil
			continue
		}
		select {
		case ch <- l.delivery(n, slots):
		case <-ctx.Done():
			return
		}
	}
}

func (l *listenSource) delivery(n *pgconn.Notification, slots chan struct{}) connector.Delivery {
	var settled atomic.Bool
	release := func(context.Context) error {
		if !settled.CompareAndSwap(false, true) {
			return ErrSettled
		}
		<-slots
		return nil
	}
	return connector.Delivery{
		Message: connector.Message{
			Body:    []byte(n.Payload),
			Headers: map[string]string{"channel": n.Channel, "pid": strconv.FormatUint(uint64(n.PID), 10)},
			Time:    l.clock.Now(),
		},
		ID:   "postgres:listen:" + n.Channel + ":" + strconv.FormatUint(l.seq.Add(1), 10),
		Ack:  release,
		Nack: release,
	}
}

// Close stops listening and closes the connection.
func (l *listenSource) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	cancel, done := l.cancel, l.done
	l.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return nil
}
