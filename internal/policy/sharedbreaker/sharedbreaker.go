package sharedbreaker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/policy/breaker"
)

// Defaults of Options.
const (
	DefaultPrefix = "junction:circuit:"
	DefaultPoll   = 500 * time.Millisecond
	// keyTTL drops the key of an integration that no longer exists; versions never
	// depend on the key surviving (see setScript).
	keyTTL = 7 * 24 * time.Hour
	// opTimeout bounds one Redis command, so that a Redis that does not answer holds up
	// only the announcing goroutine, and not for long.
	opTimeout = 2 * time.Second
	// queueSize bounds the announcements waiting to be written; beyond it they are
	// dropped (logged): Redis is then too slow to matter.
	queueSize = 1024
)

// setScript writes a transition and publishes it. KEYS[1] the key; ARGV: state, open
// time left in ms, node, channel, ttl ms, name. The version is max(previous+1, now in
// µs): always newer than what the key held, and newer than any earlier write even if the
// key expired meanwhile. Numbers are formatted by hand: cjson would round them.
var setScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local v = 0
local cur = redis.call('GET', KEYS[1])
if cur then v = tonumber(string.match(cur, '^(%d+)|')) or 0 end
v = math.max(v + 1, now)
local val = string.format('%.0f|%s|%s|%.0f|%s|%s', v, ARGV[1], ARGV[2], now, ARGV[3], ARGV[6])
redis.call('SET', KEYS[1], val, 'PX', ARGV[5])
redis.call('PUBLISH', ARGV[4], val)
return string.format('%.0f', v)
`)

// readScript returns the server's time in µs and the values of KEYS.
var readScript = redis.NewScript(`
local t = redis.call('TIME')
return {string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2])), redis.call('MGET', unpack(KEYS))}
`)

// Options configure a Sync.
type Options struct {
	Redis  redis.UniversalClient // required
	Logger *slog.Logger          // required
	Prefix string                // keys and channel; default DefaultPrefix
	Poll   time.Duration         // how often every key is read again; default DefaultPoll
}

// Sync shares the transitions of the breakers registered with it through Redis. One per
// process and Redis; safe for concurrent use.
type Sync struct {
	rdb     redis.UniversalClient
	log     *slog.Logger
	prefix  string
	channel string
	poll    time.Duration
	node    string // this process, in what it writes (for debugging; versions do the work)

	mu      sync.Mutex
	entries map[string]*entry

	queue  chan announcement
	down   atomic.Bool // Redis failing; logged once per outage
	stop   chan struct{}
	done   sync.WaitGroup
	closed sync.Once
}

type entry struct {
	b       *breaker.Breaker
	ver     int64 // newest version applied or written
	pending int   // own announcements not yet written
}

type announcement struct {
	name       string
	to         breaker.State
	retryAfter time.Duration
}

// New returns a Sync; Start starts it.
func New(opts Options) *Sync {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	return &Sync{
		rdb: opts.Redis, log: opts.Logger, prefix: opts.Prefix, channel: opts.Prefix + "changes",
		poll: opts.Poll, node: hex.EncodeToString(id[:]), entries: map[string]*entry{},
		queue: make(chan announcement, queueSize), stop: make(chan struct{}),
	}
}

// Start subscribes and starts the writer and the poller. It does not wait for Redis.
func (s *Sync) Start() {
	s.done.Add(2)
	go s.write()
	go s.listen()
}

// Close stops the goroutines; announcements not yet written are dropped.
func (s *Sync) Close() {
	s.closed.Do(func() { close(s.stop) })
	s.done.Wait()
}

// Register makes b the breaker of name, replacing any earlier one (a reload that changed
// the integration's settings builds a new breaker). The current shared state, if any, is
// applied at the next read, within Poll.
func (s *Sync) Register(name string, b *breaker.Breaker) {
	s.mu.Lock()
	s.entries[name] = &entry{b: b}
	s.mu.Unlock()
}

// Unregister forgets name if b is still its breaker.
func (s *Sync) Unregister(name string, b *breaker.Breaker) {
	s.mu.Lock()
	if e := s.entries[name]; e != nil && e.b == b {
		delete(s.entries, name)
	}
	s.mu.Unlock()
}

// Announce queues a breaker's own transition for the other processes; call it from
// breaker.Config.OnChange. Remote transitions and half-open are not announced. It never
// blocks.
func (s *Sync) Announce(name string, c breaker.Change) {
	if c.Remote || c.To == breaker.HalfOpen {
		return
	}
	s.mu.Lock()
	e := s.entries[name]
	if e != nil {
		e.pending++
	}
	s.mu.Unlock()
	select {
	case s.queue <- announcement{name: name, to: c.To, retryAfter: c.RetryAfter}:
	default:
		s.written(name, 0)
		s.log.Warn("circuit change not shared: too many waiting for Redis", "integration", name, "to", c.To.String())
	}
}

// written ends one pending announcement of name, recording the version it got (0: none).
func (s *Sync) written(name string, ver int64) {
	s.mu.Lock()
	if e := s.entries[name]; e != nil {
		if e.pending > 0 {
			e.pending--
		}
		e.ver = max(e.ver, ver)
	}
	s.mu.Unlock()
}

func (s *Sync) write() {
	defer s.done.Done()
	for {
		select {
		case <-s.stop:
			return
		case a := <-s.queue:
			ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			state := "closed"
			if a.to == breaker.Open {
				state = "open"
			}
			res, err := setScript.Run(ctx, s.rdb, []string{s.prefix + a.name},
				state, a.retryAfter.Milliseconds(), s.node, s.channel, keyTTL.Milliseconds(), a.name).Text()
			cancel()
			s.health(err)
			ver, _ := strconv.ParseInt(res, 10, 64)
			s.written(a.name, ver)
		}
	}
}

// health logs the first failure of an outage and the first success after it.
func (s *Sync) health(err error) {
	if err != nil {
		if !s.down.Swap(true) {
			s.log.Warn("circuits are per node until Redis answers again", "error", err.Error())
		}
		return
	}
	if s.down.Swap(false) {
		s.log.Info("circuits shared through Redis again")
	}
}

// listen applies published transitions and reads every key on (re)subscription and
// every Poll.
func (s *Sync) listen() {
	defer s.done.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ps := s.rdb.Subscribe(ctx, s.channel)
	defer ps.Close()
	msgs := make(chan any, 64)
	go func() {
		// ReceiveTimeout rather than Channel(): Channel hides re-subscriptions, and a
		// process that reconnected must read the keys for what it missed.
		for ctx.Err() == nil {
			m, err := ps.ReceiveTimeout(ctx, s.poll)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
					continue // nothing published for a while
				}
				s.health(err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(s.poll):
				}
				continue
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	tick := time.NewTicker(s.poll)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case m := <-msgs:
			switch m := m.(type) {
			case *redis.Subscription:
				s.readAll(ctx)
			case *redis.Message:
				if r, ok := parse(m.Payload); ok {
					s.apply(r, r.retryAfter)
				}
			}
		case <-tick.C:
			s.readAll(ctx)
		}
	}
}

// record is one stored transition.
type record struct {
	ver        int64
	state      breaker.State
	retryAfter time.Duration // open time left when written
	at         int64         // Redis time of the write, µs
	name       string
}

// parse reads "version|state|ms left|at µs|node|name".
func parse(v string) (record, bool) {
	f := strings.SplitN(v, "|", 6)
	if len(f) != 6 {
		return record{}, false
	}
	var r record
	var err1, err2, err3 error
	r.ver, err1 = strconv.ParseInt(f[0], 10, 64)
	ms, err2 := strconv.ParseInt(f[2], 10, 64)
	r.at, err3 = strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return record{}, false
	}
	switch f[1] {
	case "open":
		r.state = breaker.Open
	case "closed":
		r.state = breaker.Closed
	default:
		return record{}, false
	}
	r.retryAfter, r.name = time.Duration(ms)*time.Millisecond, f[5]
	return r, true
}

// apply hands r to its breaker unless it is not newer than what was seen, or the
// process's own announcement for that name is still being written.
func (s *Sync) apply(r record, retryAfter time.Duration) {
	s.mu.Lock()
	e := s.entries[r.name]
	if e == nil || e.pending > 0 || r.ver <= e.ver {
		s.mu.Unlock()
		return
	}
	e.ver = r.ver
	b := e.b
	s.mu.Unlock()
	// Outside mu: Apply runs OnChange, which may call Announce (it returns at once for
	// remote changes, but must not deadlock if it did not).
	b.Apply(r.state, retryAfter)
}

// readAll reads every registered key with the server's time and applies what is newer.
func (s *Sync) readAll(ctx context.Context) {
	s.mu.Lock()
	keys := make([]string, 0, len(s.entries))
	for name := range s.entries {
		keys = append(keys, s.prefix+name)
	}
	s.mu.Unlock()
	if len(keys) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	res, err := readScript.Run(ctx, s.rdb, keys).Slice()
	s.health(err)
	if err != nil || len(res) != 2 {
		return
	}
	nowStr, _ := res[0].(string)
	now, _ := strconv.ParseInt(nowStr, 10, 64)
	vals, _ := res[1].([]any)
	for _, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		r, ok := parse(str)
		if !ok {
			continue
		}
		// The time left as of now, on the Redis server's clock: processes' clocks may differ.
		s.apply(r, r.retryAfter-time.Duration(now-r.at)*time.Microsecond)
	}
}
