package fakeapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/junctionhq/junction/internal/fakeapi"
)

// TestExchangeTicker walks the fake's protocol: the handshake's token, a subscription
// and its ticker messages with increasing seq, a refused subscription, a price and an
// unknown market, heartbeats, and a dropped connection.
func TestExchangeTicker(t *testing.T) {
	x := fakeapi.NewExchangeTicker(t, fakeapi.ExchangeTickerConfig{Token: "tok", TickEvery: time.Millisecond, HeartbeatEvery: 5 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	_, resp, err := websocket.Dial(ctx, x.URL(), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("handshake without the token: %v", err)
	}
	c, _, err := websocket.Dial(ctx, x.URL(), &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer tok"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	send := func(msg string) {
		t.Helper()
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	// next reads until a message satisfies keep.
	next := func(keep func(map[string]any) bool) map[string]any {
		t.Helper()
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatalf("%s: %v", data, err)
			}
			if keep(m) {
				return m
			}
		}
	}
	byID := func(id any) func(map[string]any) bool {
		return func(m map[string]any) bool { return m["id"] == id }
	}
	ofType := func(e string) func(map[string]any) bool {
		return func(m map[string]any) bool { return m["e"] == e }
	}

	send(`{"method":"SUBSCRIBE","params":["dogeusdt@ticker"],"id":1}`)
	if m := next(byID(1.0)); !strings.Contains(m["error"].(map[string]any)["msg"].(string), "unknown stream") {
		t.Errorf("bad subscription: %v", m)
	}
	send(`{"method":"SUBSCRIBE","params":["btcusdt@ticker"],"id":2}`)
	if m := next(byID(2.0)); m["result"] != nil || m["error"] != nil {
		t.Errorf("subscription: %v", m)
	}
	first := next(ofType("24hrTicker"))
	second := next(ofType("24hrTicker"))
	if first["s"] != "BTCUSDT" || second["seq"].(float64) != first["seq"].(float64)+1 {
		t.Errorf("ticks %v then %v", first, second)
	}
	next(ofType("heartbeat"))

	send(`{"method":"ticker.price","params":{"symbol":"ETHUSDT"},"id":"p"}`)
	if m := next(byID("p")); m["status"] != 200.0 || m["result"].(map[string]any)["symbol"] != "ETHUSDT" {
		t.Errorf("price: %v", m)
	}
	send(`{"method":"ticker.price","params":{"symbol":"NOPE"},"id":"q"}`)
	if m := next(byID("q")); m["status"] != 400.0 || m["error"].(map[string]any)["msg"] != "Invalid symbol." {
		t.Errorf("unknown market: %v", m)
	}
	send(`not json`)
	if m := next(func(m map[string]any) bool { return m["error"] != nil }); !strings.Contains(m["error"].(map[string]any)["msg"].(string), "Invalid JSON") {
		t.Errorf("not JSON: %v", m)
	}
	drained := make(chan struct{})
	go func() { // a pong is read by a reader
		defer close(drained)
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	}()
	if err := c.Ping(ctx); err != nil || x.Pings() != 1 {
		t.Errorf("ping: %v, %d pings", err, x.Pings())
	}

	x.Drop()
	<-drained
	if sent := x.Sent(); len(sent) != 1 || len(sent[0].Seqs) < 2 || x.Open() != 0 {
		t.Errorf("sent %v, %d open", sent, x.Open())
	}
}
