package integration

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/fakeapi"
	"github.com/junctionhq/junction/internal/testkit"
	"github.com/junctionhq/junction/internal/tlsfiles/tlstest"
)

// tickerIntegration is a websocket integration of the exchange ticker fake.
const tickerIntegration = `
integration Ticker {
    type: websocket
    base_url: "UPSTREAM"
    auth: bearer(env(TICKER_TOKEN))
    headers: { "X-Client": "junction" }
    timeout: 2s
    subscribe {
        message: { method: "SUBSCRIBE", params: ["{symbol}@ticker"], id: "{request_id}" }
        reply: { match: "$.id", error: "$.error" }
    }
    operation price {
        message: { method: "ticker.price", params: { symbol: "{symbol}" }, id: "{request_id}" }
        reply: { match: "$.id", error: "$.error" }
        returns: { id: integer, status: integer, result: { symbol: string, price: string } }
    }
}`

var tickerEnv = map[string]string{"TICKER_TOKEN": "tok-secret-1234"}

// TestWebSocketOperation: an operation sends its message on a connection made with the
// integration's headers and credentials and answers with the matching reply; a refusal
// is the upstream's 400; parameters are checked as for any operation.
func TestWebSocketOperation(t *testing.T) {
	fake := fakeapi.NewExchangeTicker(t, fakeapi.ExchangeTickerConfig{Token: "tok-secret-1234"})
	h := newHarness(t, tickerIntegration, fake.URL(), tickerEnv)

	res := h.mustCall(t, "Ticker", "price", map[string]any{"symbol": "BTCUSDT"})
	var reply struct {
		ID     int `json:"id"`
		Result struct{ Symbol, Price string }
	}
	if err := json.Unmarshal(res.Body, &reply); err != nil || res.Status != 200 || reply.Result.Symbol != "BTCUSDT" || reply.ID == 0 {
		t.Fatalf("price: %d %s (%v)", res.Status, res.Body, err)
	}
	if res.Header.Get("Content-Type") != "application/json" || res.Attempts != 1 || len(res.ContractMismatches) > 0 {
		t.Errorf("result %+v", res)
	}
	hs := fake.Handshakes()
	if len(hs) != 1 || hs[0].Get("Authorization") != "Bearer tok-secret-1234" || hs[0].Get("X-Client") != "junction" {
		t.Errorf("handshakes: %v", hs)
	}

	// Concurrent calls share the connection, each with its own id and reply.
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if res, err := h.call(t, "Ticker", "price", map[string]any{"symbol": "ETHUSDT"}); err != nil || !strings.Contains(string(res.Body), "ETHUSDT") {
				t.Errorf("concurrent call: %v %v", res, err)
			}
		})
	}
	wg.Wait()
	if n := fake.Connections(); n != 1 {
		t.Errorf("%d connections, want the one shared", n)
	}

	res = h.mustCall(t, "Ticker", "price", map[string]any{"symbol": "NOPE"})
	if res.Status != 400 || !strings.Contains(string(res.Body), "Invalid symbol") {
		t.Errorf("refused: %d %s", res.Status, res.Body)
	}

	_, err := h.call(t, "Ticker", "price", map[string]any{"symbl": "BTCUSDT"})
	e, ok := errorOf(err)
	if !ok || e.Kind != KindInvalidParams || len(e.Params) != 2 {
		t.Fatalf("misspelt parameter: %v", err)
	}
	if got := fmt.Sprint(e.Params); !strings.Contains(got, "symbl unknown parameter; the message takes: symbol") || !strings.Contains(got, "symbol required") {
		t.Errorf("problems: %s", got)
	}

	// The proxy is for HTTP integrations.
	if _, err := h.rt.Forward(context.Background(), "Ticker", ForwardRequest{Method: "GET", Path: "/"}); KindOf(err) != KindInvalidParams {
		t.Errorf("proxy: %v", err)
	}
}

// TestWebSocketOperationPolicies: the attempt's timeout bounds the wait for the reply,
// retry sends the message again, and a handshake the upstream refuses fails the call
// without quoting the credential.
func TestWebSocketOperationPolicies(t *testing.T) {
	fake := fakeapi.NewExchangeTicker(t, fakeapi.ExchangeTickerConfig{Token: "tok-secret-1234"})
	src := strings.Replace(tickerIntegration, "timeout: 2s", "timeout: 100ms\n    retry: 2 times with constant_backoff(10ms)", 1)
	h := newHarness(t, src, fake.URL(), tickerEnv)
	h.mustCall(t, "Ticker", "price", map[string]any{"symbol": "BTCUSDT"})

	fake.Freeze(true)
	_, err := h.call(t, "Ticker", "price", map[string]any{"symbol": "BTCUSDT"})
	e, ok := errorOf(err)
	if !ok || e.Kind != KindTimeout || e.Attempts != 3 {
		t.Fatalf("unanswered: %v (%+v)", err, e)
	}
	sent := 0
	for _, m := range fake.Received() {
		if strings.Contains(m, "ticker.price") {
			sent++
		}
	}
	if sent != 1 {
		t.Errorf("%d price requests reached the frozen fake's log; want only the first (the frozen fake logs nothing)", sent)
	}
	fake.Freeze(false)

	bad := newHarness(t, tickerIntegration, fake.URL(), map[string]string{"TICKER_TOKEN": "wrong-token-5678"})
	_, err = bad.call(t, "Ticker", "price", map[string]any{"symbol": "BTCUSDT"})
	if kindOf(t, err) != KindUnreachable || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong-token-5678") {
		t.Errorf("refused handshake: %v", err)
	}
	health, _ := bad.rt.Health("Ticker")
	if !strings.Contains(health.LastError, "401") || strings.Contains(health.LastError, "wrong-token") {
		t.Errorf("health's last error: %q", health.LastError)
	}
}

// TestWebSocketAPIKeyInQuery: an api_key in the query goes into the handshake's URL, and
// a failed handshake does not show it.
func TestWebSocketAPIKeyInQuery(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	src := `integration Closed {
    type: websocket
    base_url: "ws://` + addr + `/ws"
    auth: api_key(env(KEY), "apikey")
    timeout: 1s
    operation ping { message: { method: "ping", id: "{request_id}" }, reply: "$.id" }
}`
	h := newHarness(t, src, "", map[string]string{"KEY": "query-key-abcdef"})
	_, err = h.call(t, "Closed", "ping", nil)
	if kindOf(t, err) != KindUnreachable || strings.Contains(err.Error(), "query-key-abcdef") {
		t.Fatalf("call to nothing: %v", err)
	}

	fake := fakeapi.NewExchangeTicker(t, fakeapi.ExchangeTickerConfig{})
	src = strings.ReplaceAll(strings.Replace(src, "ws://"+addr+"/ws", fake.URL(), 1), "Closed", "Open")
	h = newHarness(t, src, "", map[string]string{"KEY": "query-key-abcdef"})
	if res := h.mustCall(t, "Open", "ping", nil); res.Status != 200 {
		t.Fatalf("ping: %d %s", res.Status, res.Body)
	}
}

// TestWebSocketTLS: a wss:// integration trusts the CA its tls block names.
func TestWebSocketTLS(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "exchange CA")
	fake := fakeapi.NewExchangeTicker(t, fakeapi.ExchangeTickerConfig{TLS: &tls.Config{Certificates: []tls.Certificate{ca.Server().TLS(t)}}})
	if !strings.HasPrefix(fake.URL(), "wss://") {
		t.Fatalf("fake at %s", fake.URL())
	}
	ops := `
    operation ping { message: { method: "ping", id: "{request_id}" }, reply: "$.id" }
}`
	h := newHarness(t, `integration Private { type: websocket  base_url: "UPSTREAM"
    tls { ca: "`+ca.WriteCA(dir, "ca.pem")+`" }`+ops, fake.URL(), nil)
	if res := h.mustCall(t, "Private", "ping", nil); res.Status != 200 {
		t.Fatalf("ping over wss: %d %s", res.Status, res.Body)
	}
	h = newHarness(t, `integration Public { type: websocket  base_url: "UPSTREAM"`+ops, fake.URL(), nil)
	if _, err := h.call(t, "Public", "ping", nil); kindOf(t, err) != KindUnreachable || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the CA: %v", err)
	}
}

// TestWebSocketFeed: a feed subscribes with the parameters given, hands on every
// message, and subscribes again, with a new request id, after the connection dropped.
func TestWebSocketFeed(t *testing.T) {
	fake := fakeapi.NewExchangeTicker(t, fakeapi.ExchangeTickerConfig{Token: "tok-secret-1234", TickEvery: time.Millisecond})
	h := newHarness(t, tickerIntegration+`
integration Rest { base_url: "https://api.example.com" }`, fake.URL(), tickerEnv)

	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var got []FeedMessage
	done := make(chan error, 1)
	feed, err := h.rt.Feed("Ticker", map[string]any{"symbol": "btcusdt"})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		done <- feed.Read(ctx, func(_ context.Context, m FeedMessage) error {
			mu.Lock()
			got = append(got, m)
			mu.Unlock()
			return nil
		})
	}()
	received := func() []FeedMessage {
		mu.Lock()
		defer mu.Unlock()
		return append([]FeedMessage(nil), got...)
	}
	testkit.WaitFor(t, "ten messages", func() bool { return len(received()) >= 10 })
	fake.Drop()
	testkit.WaitFor(t, "messages on a second connection", func() bool {
		g := received()
		return g[len(g)-1].Connection == 2
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Feed: %v", err)
	}
	var subs []string
	for _, m := range fake.Received() {
		if strings.Contains(m, "SUBSCRIBE") {
			subs = append(subs, m)
		}
	}
	if len(subs) != 2 || subs[0] == subs[1] || !strings.Contains(subs[0], `"params":["btcusdt@ticker"]`) {
		t.Errorf("subscriptions: %v", subs)
	}
	if m := received()[0]; !strings.Contains(string(m.Body), `"24hrTicker"`) || m.Binary || m.Seq == 0 {
		t.Errorf("first message: %+v", m)
	}

	for _, c := range []struct {
		in     string
		params map[string]any
		kind   Kind
	}{
		{"Ticker", nil, KindInvalidParams},
		{"Ticker", map[string]any{"symbol": "x", "depth": 5}, KindInvalidParams},
		{"Rest", nil, KindInvalidParams},
		{"Nope", nil, KindUnknownIntegration},
	} {
		_, err := h.rt.Feed(c.in, c.params)
		if KindOf(err) != c.kind {
			t.Errorf("Feed(%s, %v) = %v, want %s", c.in, c.params, err, c.kind)
		}
	}
}

func TestRenderMessage(t *testing.T) {
	s := &socket{}
	tmpl := &messageTemplate{
		message: map[string]any{"id": "{request_id}", "n": "{limit}", "name": "{symbol}@ticker", "list": []any{"{symbol}", int64(3)}},
		params:  []string{"limit", "symbol"},
	}
	req, problems := s.request(tmpl, map[string]any{"limit": json.Number("5"), "symbol": "btc"})
	if problems != nil {
		t.Fatal(problems)
	}
	if want := `{"id":1,"list":["btc",3],"n":5,"name":"btc@ticker"}`; string(req.Message) != want {
		t.Errorf("rendered %s, want %s", req.Message, want)
	}
	_, problems = s.request(tmpl, map[string]any{"limit": 5, "symbol": map[string]any{"x": 1}})
	if len(problems) != 1 || problems[0].Param != "symbol" {
		t.Errorf("an object in a text: %v", problems)
	}
	text := &messageTemplate{message: "ping {request_id}"}
	if req, _ := s.request(text, nil); string(req.Message) != "ping 3" {
		t.Errorf("text message %q", req.Message)
	}
}
