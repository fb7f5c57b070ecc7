package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestWebSocketSameModelFromEveryFormat: a websocket integration, its connector and a
// flow reading it decode to one model from both dialects of the language and YAML.
func TestWebSocketSameModelFromEveryFormat(t *testing.T) {
	want, diags := Load("testdata/websocket/ticker.cai")
	if diags.HasErrors() || len(diags) > 0 {
		t.Fatalf("ticker.cai: %v", diags)
	}
	for _, other := range []string{"testdata/websocket/ticker_colonless.cai", "testdata/websocket/ticker.yaml"} {
		got, diags := Load(other)
		if len(diags) > 0 {
			t.Fatalf("%s: %v", other, diags)
		}
		if diff := cmp.Diff(want, got, ignorePos); diff != "" {
			t.Errorf("%s decodes differently from ticker.cai (-cai +other):\n%s", other, diff)
		}
	}

	in := want.Integration("Ticker")
	ws := in.WebSocket
	wantWS := &WebSocket{
		Subscribe: &SocketRequest{
			Message: map[string]any{"method": "SUBSCRIBE", "params": []any{"{symbol}@ticker"}, "id": "{request_id}"},
			Params:  []string{"symbol"},
			Reply:   &Reply{Match: "$.id", Request: "$.id", Error: "$.error"},
		},
		Heartbeat: &Heartbeat{Interval: 20 * time.Second, Timeout: 5 * time.Second,
			Message: map[string]any{"method": "PING", "id": "{request_id}"},
			Reply:   &Reply{Match: "$.id", Request: "$.id"}},
		Reconnect: &Retry{Backoff: BackoffExponential, Initial: 200 * time.Millisecond, Max: 10 * time.Second},
	}
	if in.Type != TypeWebSocket {
		t.Errorf("type = %q", in.Type)
	}
	if diff := cmp.Diff(wantWS, ws, ignorePos); diff != "" {
		t.Errorf("websocket settings (-want +got):\n%s", diff)
	}
	op := in.Operation("price")
	wantSend := &SocketRequest{
		Message: map[string]any{"method": "ticker.price", "params": map[string]any{"symbol": "{symbol}"}, "id": "{request_id}"},
		Params:  []string{"symbol"},
		Reply:   &Reply{Match: "$.id", Request: "$.id", Error: "$.error"},
	}
	if diff := cmp.Diff(wantSend, op.Send, ignorePos); diff != "" {
		t.Errorf("operation price sends (-want +got):\n%s", diff)
	}
	if got := op.Params(); strings.Join(got, ",") != "symbol" {
		t.Errorf("operation price takes %v, want [symbol]", got)
	}
}

// TestWebSocketDefaults: a websocket integration needs little; what it leaves out is
// nil for the runtime's defaults, and a text message keeps its text.
func TestWebSocketDefaults(t *testing.T) {
	cfg := decodeOK(t, `
integration Feed {
    type: websocket
    base_url: "wss://stream.example.com/ws"
    heartbeat: off
    operation echo { message: "hello {name}", reply: "$" }
}`)
	in := cfg.Integration("Feed")
	if in.WebSocket == nil || in.WebSocket.Subscribe != nil || in.WebSocket.Reconnect != nil || !in.WebSocket.Heartbeat.Off {
		t.Fatalf("websocket = %+v", in.WebSocket)
	}
	send := in.Operation("echo").Send
	if send.Message != "hello {name}" || strings.Join(send.Params, ",") != "name" {
		t.Errorf("echo sends %#v with %v", send.Message, send.Params)
	}
	// A websocket integration of another type's settings is refused, and the other
	// types do not take websocket settings (errors/websocket.cai has the messages).
	if cfg := decodeOK(t, `integration R { base_url: "https://api.example.com" }`); cfg.Integration("R").WebSocket != nil {
		t.Error("a rest integration has websocket settings")
	}
}
