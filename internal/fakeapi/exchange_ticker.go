package fakeapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// ExchangeTickerConfig configures the exchange ticker fake.
type ExchangeTickerConfig struct {
	// Symbols are the markets it knows; default BTCUSDT and ETHUSDT.
	Symbols []string
	// TickEvery is the time between two ticker messages of one subscription; default
	// 10 ms.
	TickEvery time.Duration
	// HeartbeatEvery is the time between two heartbeat messages on every connection;
	// 0 sends none.
	HeartbeatEvery time.Duration
	// Token, when set, is the bearer token the handshake must carry (401 otherwise).
	Token string
	// TLS, when set, makes it a wss:// server with this configuration.
	TLS *tls.Config
	// Padding adds a member "pad" of this many bytes to each ticker message, so a test
	// fills the network's buffers with few messages.
	Padding int
}

// ExchangeTicker is a fake of a crypto exchange's market-data WebSocket, in the shape of
// Binance's (wss://stream.binance.com:9443/ws and its WebSocket API):
//
//   - GET /ws upgrades to a WebSocket; with Token set, a handshake without
//     Authorization: Bearer TOKEN is answered 401 {"code":-2015,"msg":"Invalid API-key"}
//   - {"method":"SUBSCRIBE","params":["btcusdt@ticker"],"id":1} is answered
//     {"result":null,"id":1}; from then on, every TickEvery, each subscribed market gets a
//     ticker message {"e":"24hrTicker","E":<ms>,"s":"BTCUSDT","c":"<last price>",
//     "seq":<n>}. seq counts every ticker message the fake sends, over all connections,
//     as an exchange's update id does. A stream of an unknown market, or a name that is
//     not MARKET@ticker, is answered {"error":{"code":2,"msg":"Invalid request: …"},
//     "id":1} and subscribes nothing; UNSUBSCRIBE stops a market's messages
//   - {"method":"ticker.price","params":{"symbol":"BTCUSDT"},"id":"x"} is answered
//     {"id":"x","status":200,"result":{"symbol":"BTCUSDT","price":"…"}}, an unknown
//     market {"id":"x","status":400,"error":{"code":-1121,"msg":"Invalid symbol."}}
//   - {"method":"ping","id":7} is answered {"id":7,"status":200,"result":{}}; ping frames
//     are answered with pongs; with HeartbeatEvery, {"e":"heartbeat","E":<ms>} messages
//   - a message that is not JSON, or an unknown method, is answered {"error":{"code":1,
//     "msg":"…"},"id":…}
//
// The test's knobs: Drop closes every connection without a close frame (a network cut);
// Freeze leaves connections open but deaf (no pong, no answer, no message), as a peer
// that hung; Pause stops the ticker messages. Sent lists, per connection, the seq of
// every ticker message written on it.
type ExchangeTicker struct {
	cfg ExchangeTickerConfig
	srv *httptest.Server

	mu         sync.Mutex
	conns      []*tickerConn
	seq        int64
	frozen     bool
	paused     bool
	pings      int
	handshakes []http.Header
	received   []string
}

// tickerConn is one client connection.
type tickerConn struct {
	id     int
	ws     *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc
	subs   []string // subscribed markets, guarded by ExchangeTicker.mu
	sent   []int64  // seq of the ticker messages written, guarded by ExchangeTicker.mu
	// writing is when the ticker message being written started (unix ns), 0 between
	// writes: a write that lasts is a client that does not read.
	writing atomic.Int64
}

// TickerSent is what the fake wrote on one connection.
type TickerSent struct {
	Connection int     // from 1, in the order of the handshakes
	Seqs       []int64 // seq of every ticker message written on it, in order
}

// NewExchangeTicker starts the fake; it is closed when the test ends.
func NewExchangeTicker(t testing.TB, cfg ExchangeTickerConfig) *ExchangeTicker {
	t.Helper()
	if len(cfg.Symbols) == 0 {
		cfg.Symbols = []string{"BTCUSDT", "ETHUSDT"}
	}
	if cfg.TickEvery <= 0 {
		cfg.TickEvery = 10 * time.Millisecond
	}
	x := &ExchangeTicker{cfg: cfg}
	x.srv = httptest.NewUnstartedServer(http.HandlerFunc(x.serve))
	x.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are what some tests do
	if cfg.TLS != nil {
		x.srv.TLS = cfg.TLS
		x.srv.StartTLS()
	} else {
		x.srv.Start()
	}
	t.Cleanup(func() {
		x.Drop() // the handlers end with their connections, so Close does not wait for them
		x.srv.Close()
	})
	return x
}

// URL is the WebSocket's URL: ws://127.0.0.1:port/ws, or wss:// with TLS.
func (x *ExchangeTicker) URL() string {
	return strings.Replace(x.srv.URL, "http", "ws", 1) + "/ws"
}

// Drop closes every open connection abruptly, as a network cut would: no close frame.
func (x *ExchangeTicker) Drop() {
	x.mu.Lock()
	conns := slices.Clone(x.conns)
	x.mu.Unlock()
	for _, c := range conns {
		c.cancel()
		_ = c.ws.CloseNow()
	}
}

// Freeze makes open and new connections deaf while on: they answer no ping, no request
// and send no message, but stay open.
func (x *ExchangeTicker) Freeze(on bool) {
	x.mu.Lock()
	x.frozen = on
	x.mu.Unlock()
}

// Pause stops the ticker messages while on (heartbeats and answers go on). A message
// being written when it is called is still sent, and Sent lists it once written.
func (x *ExchangeTicker) Pause(on bool) {
	x.mu.Lock()
	x.paused = on
	x.mu.Unlock()
}

// Connections is how many handshakes succeeded so far.
func (x *ExchangeTicker) Connections() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.conns)
}

// Open is how many connections are open now.
func (x *ExchangeTicker) Open() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	n := 0
	for _, c := range x.conns {
		if c.ctx.Err() == nil {
			n++
		}
	}
	return n
}

// Sent lists the ticker messages written on every connection so far.
func (x *ExchangeTicker) Sent() []TickerSent {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]TickerSent, len(x.conns))
	for i, c := range x.conns {
		out[i] = TickerSent{Connection: c.id, Seqs: slices.Clone(c.sent)}
	}
	return out
}

// Backlogged reports whether a ticker message has been waiting to be written for at
// least d on some connection: the client stopped reading and TCP pushed back.
func (x *ExchangeTicker) Backlogged(d time.Duration) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, c := range x.conns {
		if start := c.writing.Load(); start != 0 && time.Since(time.Unix(0, start)) >= d {
			return true
		}
	}
	return false
}

// Pings is how many ping frames the fake received.
func (x *ExchangeTicker) Pings() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.pings
}

// Handshakes returns the headers of every handshake request, refused ones included.
func (x *ExchangeTicker) Handshakes() []http.Header {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]http.Header, len(x.handshakes))
	for i, h := range x.handshakes {
		out[i] = h.Clone()
	}
	return out
}

// Received returns every message the clients sent, in order.
func (x *ExchangeTicker) Received() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return slices.Clone(x.received)
}

func (x *ExchangeTicker) isFrozen() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.frozen
}

func (x *ExchangeTicker) serve(w http.ResponseWriter, r *http.Request) {
	x.mu.Lock()
	x.handshakes = append(x.handshakes, r.Header.Clone())
	x.mu.Unlock()
	if r.URL.Path != "/ws" {
		writeJSON(w, http.StatusNotFound, map[string]any{"code": -1, "msg": "Not found"})
		return
	}
	if x.cfg.Token != "" && r.Header.Get("Authorization") != "Bearer "+x.cfg.Token {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"code": -2015, "msg": "Invalid API-key"})
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		OnPingReceived: func(context.Context, []byte) bool {
			x.mu.Lock()
			defer x.mu.Unlock()
			x.pings++
			return !x.frozen
		},
	})
	if err != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	x.mu.Lock()
	c := &tickerConn{id: len(x.conns) + 1, ws: ws, ctx: ctx, cancel: cancel}
	x.conns = append(x.conns, c)
	x.mu.Unlock()
	defer cancel()
	defer ws.CloseNow()

	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { x.tick(c) })
	if x.cfg.HeartbeatEvery > 0 {
		wg.Go(func() { x.heartbeat(c) })
	}
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			cancel()
			return
		}
		if x.isFrozen() {
			continue
		}
		x.mu.Lock()
		x.received = append(x.received, string(data))
		x.mu.Unlock()
		if answer := x.answer(c, data); answer != nil {
			if ws.Write(ctx, websocket.MessageText, answer) != nil {
				cancel()
				return
			}
		}
	}
}

// tickerRequest is a request of the stream and WebSocket APIs.
type tickerRequest struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	ID     any             `json:"id"`
}

// answer handles one request and returns the answer.
func (x *ExchangeTicker) answer(c *tickerConn, data []byte) []byte {
	var req tickerRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return mustJSON(map[string]any{"error": map[string]any{"code": 1, "msg": "Invalid JSON: " + err.Error()}, "id": nil})
	}
	refuse := func(msg string) []byte {
		return mustJSON(map[string]any{"error": map[string]any{"code": 2, "msg": msg}, "id": req.ID})
	}
	switch req.Method {
	case "SUBSCRIBE", "UNSUBSCRIBE":
		var streams []string
		if err := json.Unmarshal(req.Params, &streams); err != nil || len(streams) == 0 {
			return refuse("Invalid request: params must be a list of stream names")
		}
		var markets []string
		for _, s := range streams {
			market, kind, _ := strings.Cut(s, "@")
			market = strings.ToUpper(market)
			if kind != "ticker" || !slices.Contains(x.cfg.Symbols, market) {
				return refuse(fmt.Sprintf("Invalid request: unknown stream %q", s))
			}
			markets = append(markets, market)
		}
		x.mu.Lock()
		for _, m := range markets {
			if req.Method == "SUBSCRIBE" && !slices.Contains(c.subs, m) {
				c.subs = append(c.subs, m)
			}
			if req.Method == "UNSUBSCRIBE" {
				c.subs = slices.DeleteFunc(c.subs, func(s string) bool { return s == m })
			}
		}
		x.mu.Unlock()
		return mustJSON(map[string]any{"result": nil, "id": req.ID})
	case "ticker.price":
		var p struct {
			Symbol string `json:"symbol"`
		}
		_ = json.Unmarshal(req.Params, &p)
		if !slices.Contains(x.cfg.Symbols, p.Symbol) {
			return mustJSON(map[string]any{"id": req.ID, "status": 400, "error": map[string]any{"code": -1121, "msg": "Invalid symbol."}})
		}
		x.mu.Lock()
		price := priceOf(p.Symbol, x.seq)
		x.mu.Unlock()
		return mustJSON(map[string]any{"id": req.ID, "status": 200, "result": map[string]any{"symbol": p.Symbol, "price": price}})
	case "ping":
		return mustJSON(map[string]any{"id": req.ID, "status": 200, "result": map[string]any{}})
	}
	return mustJSON(map[string]any{"error": map[string]any{"code": 1, "msg": fmt.Sprintf("Unknown method %q", req.Method)}, "id": req.ID})
}

// tick writes a ticker message for each subscribed market every TickEvery. A client
// that does not read holds the write up, as TCP does with a real exchange.
func (x *ExchangeTicker) tick(c *tickerConn) {
	t := time.NewTicker(x.cfg.TickEvery)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		x.mu.Lock()
		markets := slices.Clone(c.subs)
		quiet := x.frozen || x.paused
		x.mu.Unlock()
		if quiet {
			continue
		}
		for _, m := range markets {
			x.mu.Lock()
			x.seq++
			seq := x.seq
			x.mu.Unlock()
			tick := map[string]any{"e": "24hrTicker", "E": time.Now().UnixMilli(), "s": m, "c": priceOf(m, seq), "seq": seq}
			if x.cfg.Padding > 0 {
				tick["pad"] = strings.Repeat("x", x.cfg.Padding)
			}
			c.writing.Store(time.Now().UnixNano())
			err := c.ws.Write(c.ctx, websocket.MessageText, mustJSON(tick))
			c.writing.Store(0)
			if err != nil {
				c.cancel()
				return
			}
			x.mu.Lock()
			c.sent = append(c.sent, seq)
			x.mu.Unlock()
		}
	}
}

// heartbeat writes a heartbeat message every HeartbeatEvery.
func (x *ExchangeTicker) heartbeat(c *tickerConn) {
	t := time.NewTicker(x.cfg.HeartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		if x.isFrozen() {
			continue
		}
		if c.ws.Write(c.ctx, websocket.MessageText, mustJSON(map[string]any{"e": "heartbeat", "E": time.Now().UnixMilli()})) != nil {
			c.cancel()
			return
		}
	}
}

// priceOf is a market's price after seq messages: deterministic, so tests can check it.
func priceOf(market string, seq int64) string {
	base := 100.0
	if market == "BTCUSDT" {
		base = 65000
	}
	return strconv.FormatFloat(base+float64(seq%100)/100, 'f', 2, 64)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // the fake's own values always encode
	}
	return b
}
