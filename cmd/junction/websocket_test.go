package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/junctionhq/junction/internal/fakeapi"
	"github.com/junctionhq/junction/internal/servicetest"
)

// tickerConfig is an exchange's ticker over WebSocket: a flow from its feed into the
// PostgreSQL table, and an operation that asks for a price.
func tickerConfig(table string) string {
	return fmt.Sprintf(`
integration Ticker {
    type: websocket
    base_url: env(TICKER_URL)
    auth: bearer(env(TICKER_TOKEN))
    timeout: 5s
    subscribe {
        message: { method: "SUBSCRIBE", params: ["{symbol}@ticker"], id: "{request_id}" }
        reply: { match: "$.id", error: "$.error" }
    }
    heartbeat { interval: 1s, timeout: 2s }
    reconnect: exponential_backoff(50ms, max 500ms)
    operation price {
        message: { method: "ticker.price", params: { symbol: "{symbol}" }, id: "{request_id}" }
        reply: { match: "$.id", error: "$.error" }
    }
}

connector ticks { type: websocket  integration: "Ticker" }
connector warehouse { type: postgres  url: env(WAREHOUSE_URL) }

flow ticker {
    source: ticks { params: { symbol: "btcusdt" } }
    step tickers-only { filter: "e == '24hrTicker'" }
    sink prices {
        connector: warehouse
        table: %q
        mode: upsert
        key: ["seq"]
        columns: { seq: "$.seq", symbol: "$.s", price: "$.c" }
    }
    max_in_flight: 8
}
`, table)
}

// TestWebSocketTickerFlow is the ticker flow of issue 15 on the built binary: messages
// from a local WebSocket fake of an exchange flow into PostgreSQL; the fake drops the
// connection in the middle; Junction reconnects and subscribes again, and every ticker
// message the fake sent after the resubscription is in the table (checked by its seq).
// The same integration's operation answers
// through `junction call` and the gateway API, a refusal being the upstream's 400.
// Junction keeps its own state on SQLite, then on PostgreSQL.
func TestWebSocketTickerFlow(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { webSocketTickerFlow(t, nil) })
	t.Run("postgres", func(t *testing.T) { webSocketTickerFlow(t, []string{"DATABASE_URL=" + servicetest.PostgresDSN(t)}) })
}

func webSocketTickerFlow(t *testing.T, junctionDB []string) {
	table := strings.ReplaceAll(uniqueName("ticks"), "-", "_")
	db := newPG(t, fmt.Sprintf(`CREATE TABLE %s (seq bigint PRIMARY KEY, symbol text NOT NULL, price numeric NOT NULL)`, table))
	t.Cleanup(func() { _, _ = db.conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })
	fake := fakeapi.NewExchangeTicker(t, fakeapi.ExchangeTickerConfig{Token: "exchange-token-1234", TickEvery: 2 * time.Millisecond, HeartbeatEvery: 50 * time.Millisecond})

	dir := t.TempDir()
	cfg := filepath.Join(dir, "ticker.cai")
	writeFile(t, cfg, tickerConfig(table))
	env := append([]string{"WAREHOUSE_URL=" + db.dsn, "TICKER_URL=" + fake.URL(), "TICKER_TOKEN=exchange-token-1234"}, junctionDB...)
	if out, errOut, code := run(t, dir, env, "validate", cfg); code != 0 {
		t.Fatalf("validate: %s %s", out, errOut)
	}
	token := adminToken(t, dir, env)
	s := startServer(t, dir, env, "-c", cfg)
	a := api{t: t, base: s.base, token: token}

	seqs := func() map[int64]bool {
		rows, err := db.conn.Query(context.Background(), "SELECT seq FROM "+table)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			t.Fatal(err)
		}
		set := make(map[int64]bool, len(got))
		for _, s := range got {
			set[s] = true
		}
		return set
	}
	eventually(t, "100 ticks in PostgreSQL", func() bool { return db.count(table) >= 100 })
	fake.Drop()
	eventually(t, "a second connection with 100 ticks written", func() bool {
		sent := fake.Sent()
		return len(sent) >= 2 && len(sent[1].Seqs) >= 100
	})
	fake.Pause(true)
	// Every tick the fake wrote is in the table once the flow has caught up; a tick being
	// written when the fake paused is written still, so the snapshot is taken each time.
	var sent []fakeapi.TickerSent
	var have map[int64]bool
	eventually(t, "every tick sent after the resubscription in PostgreSQL", func() bool {
		// The table first: every row in it was sent before the snapshot of what was sent.
		have, sent = seqs(), fake.Sent()
		for _, c := range sent[1:] {
			for _, s := range c.Seqs {
				if !have[s] {
					return false
				}
			}
		}
		return true
	})
	// The first connection's ticks arrive too, as a rule; but a cut connection may lose
	// what was in flight (the fake's kernel drops its unsent bytes when it resets the
	// connection), which is the upstream's to replay, so they are reported, not required.
	var lost []int64
	for _, s := range sent[0].Seqs {
		if !have[s] {
			lost = append(lost, s)
		}
	}
	total := 0
	for _, c := range sent {
		total += len(c.Seqs)
	}
	t.Logf("%d ticks on %d connections, %d rows in %s; of the first connection's %d, %d were cut off with it", total, len(sent), len(have), table, len(sent[0].Seqs), len(lost))
	if len(have) > total {
		t.Errorf("%d rows for %d ticks sent", len(have), total)
	}
	subs := 0
	for _, m := range fake.Received() {
		if strings.Contains(m, `"SUBSCRIBE"`) {
			subs++
		}
	}
	if subs != len(sent) {
		t.Errorf("%d subscriptions for %d connections", subs, len(sent))
	}

	status := a.expect(200, "GET", "/flows/ticker", nil)
	if status["state"] != "running" || status["source"] != "ticks" {
		t.Errorf("flow status: %v", status)
	}
	health := a.expect(200, "GET", "/integrations/Ticker/health", nil)
	if le, _ := health["last_error"].(string); !strings.Contains(le, "websocket") || strings.Contains(le, "exchange-token") {
		t.Errorf("health after the drop: %v", health)
	}

	// The operation: through the gateway API, and through `junction call` without a server.
	out := a.expect(200, "POST", "/integrations/Ticker/operations/price", map[string]any{"symbol": "ETHUSDT"})
	if r, _ := out["result"].(map[string]any); r["symbol"] != "ETHUSDT" || r["price"] == nil {
		t.Errorf("price: %v", out)
	}
	out = a.expect(400, "POST", "/integrations/Ticker/operations/price", map[string]any{"symbol": "NOPE"})
	if e, _ := out["error"].(map[string]any); e["msg"] != "Invalid symbol." {
		t.Errorf("refused price: %v", out)
	}
	stdout, stderr, code := run(t, dir, env, "call", "-c", cfg, "Ticker", "price", "symbol=BTCUSDT")
	if code != 0 || !strings.Contains(stdout, `"symbol":"BTCUSDT"`) {
		t.Errorf("junction call: %d %s %s", code, stdout, stderr)
	}
	if strings.Contains(s.log(), "exchange-token-1234") {
		t.Error("the token is in the server's log")
	}
}

// TestValidateWebSocket: `junction validate` names a bad websocket declaration's
// position and exits 1.
func TestValidateWebSocket(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bad.cai")
	writeFile(t, cfg, `integration Ticker {
    type: websocket
    base_url: "https://stream.example.com/ws"
    operation price { message: { method: "ticker.price" }, reply: "$.id" }
}
connector ticks { type: websocket  integration: "Ticker" }
connector out { type: log }
flow f { source: ticks { params: { symbol: "btc" } }  sink o { connector: out } }
`)
	stdout, stderr, code := run(t, dir, nil, "validate", cfg)
	out := stdout + stderr
	for _, want := range []string{
		"bad.cai:3:15: base_url: a websocket integration connects to a ws:// or wss:// URL",
		"bad.cai:4:60: operation price: reply: the message has nothing at $.id",
		"bad.cai:8:26: flow f: params: symbol is not a parameter of integration Ticker's subscribe message",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("validate does not say %q:\n%s", want, out)
		}
	}
	if code != 1 {
		t.Errorf("exit %d", code)
	}
}
