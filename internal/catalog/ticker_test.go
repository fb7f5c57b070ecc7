package catalog_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/fakeapi"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/testkit"
)

// testExchangeTicker: the entry's feed subscribes to a market and reads its ticker
// messages, subscribes again after the connection is cut and reads on; a refused
// subscription is the exchange's error in the integration's status; the price operation answers
// with its reply, and an unknown symbol with the exchange's error as 400.
func testExchangeTicker(t *testing.T) {
	fake := fakeapi.NewExchangeTicker(t, fakeapi.ExchangeTickerConfig{TickEvery: time.Millisecond})
	// Real time: the feed's heartbeat and reconnection run on the integration's clock.
	e := useEntry(t, nil, "Ticker", `integration Ticker from catalog "exchange-ticker" { base_url: "`+fake.URL()+`" }`, nil)

	res := e.call(t, "price", map[string]any{"symbol": "BTCUSDT"})
	want(t, res, 200, `"symbol":"BTCUSDT"`, `"price":`)
	if len(res.ContractMismatches) > 0 {
		t.Errorf("price: contract mismatches %v", res.ContractMismatches)
	}
	want(t, e.call(t, "price", map[string]any{"symbol": "NOPEUSDT"}), 400, "Invalid symbol")

	feed, err := e.rt.Feed("Ticker", map[string]any{"symbol": "btcusdt"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu  sync.Mutex
		got []integration.FeedMessage
	)
	done := make(chan error, 1)
	go func() {
		done <- feed.Read(ctx, func(_ context.Context, m integration.FeedMessage) error {
			mu.Lock()
			got = append(got, m)
			mu.Unlock()
			return nil
		})
	}()
	last := func() (int, integration.FeedMessage) {
		mu.Lock()
		defer mu.Unlock()
		if len(got) == 0 {
			return 0, integration.FeedMessage{}
		}
		return len(got), got[len(got)-1]
	}
	testkit.WaitFor(t, "five ticker messages", func() bool { n, _ := last(); return n >= 5 })
	fake.Drop()
	testkit.WaitFor(t, "ticker messages on a second connection", func() bool { _, m := last(); return m.Connection >= 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("feed: %v", err)
	}
	if _, m := last(); !strings.Contains(string(m.Body), `"e":"24hrTicker"`) || !strings.Contains(string(m.Body), `"s":"BTCUSDT"`) {
		t.Errorf("a ticker message: %s", m.Body)
	}

	// A refused subscription is the exchange's error in the integration's status, and
	// the feed tries again with back-off (a market may be listed later).
	bad, err := e.rt.Feed("Ticker", map[string]any{"symbol": "nopeusdt"})
	if err != nil {
		t.Fatal(err)
	}
	bctx, bcancel := context.WithCancel(context.Background())
	badDone := make(chan error, 1)
	go func() { badDone <- bad.Read(bctx, func(context.Context, integration.FeedMessage) error { return nil }) }()
	testkit.WaitFor(t, "the refusal in the integration's status", func() bool {
		h, err := e.rt.Health("Ticker")
		return err == nil && strings.Contains(h.LastError, "Invalid request")
	})
	bcancel()
	if err := <-badDone; err != nil {
		t.Errorf("the refused feed, stopped: %v", err)
	}
}
