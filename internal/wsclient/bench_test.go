package wsclient_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"

	"github.com/junctionhq/junction/internal/wsclient"
)

// pushServer writes n ticker-sized messages as fast as the client reads them, once the
// client subscribed; echo answers every message it receives with itself.
func pushServer(b *testing.B, n int) string {
	msg := []byte(`{"e":"24hrTicker","E":1760000000000,"s":"BTCUSDT","c":"65000.42","seq":12345}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		if _, _, err := c.Read(ctx); err != nil { // the subscription
			return
		}
		for range n {
			if c.Write(ctx, websocket.MessageText, msg) != nil {
				return
			}
		}
		_, _, _ = c.Read(ctx) // until the client goes
	}))
	b.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// BenchmarkFeed is the feed's throughput: messages read and handed to a receiver that
// takes them at once (go test -bench Feed ./internal/wsclient).
func BenchmarkFeed(b *testing.B) {
	url := pushServer(b, b.N)
	var got atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		defer close(done)
		_ = wsclient.Feed(ctx, wsclient.FeedOptions{
			Options: wsclient.Options{Name: "bench", Dial: dialer(url)},
			Subscribe: func() (*wsclient.Request, error) {
				return &wsclient.Request{Message: []byte(`{"method":"SUBSCRIBE"}`)}, nil
			},
		}, func(context.Context, wsclient.Message) error {
			if got.Add(1) == int64(b.N) {
				cancel()
			}
			return nil
		})
	}()
	<-done
	b.StopTimer()
	cancel()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}

// BenchmarkCall is an operation's round trip on a shared connection, from 8 callers at
// once, against an upstream that answers at once.
func BenchmarkCall(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			_, data, err := c.Read(r.Context())
			if err != nil || c.Write(r.Context(), websocket.MessageText, data) != nil {
				return
			}
		}
	}))
	b.Cleanup(srv.Close)
	k := wsclient.NewCaller(wsclient.Options{Name: "bench", Dial: dialer("ws" + strings.TrimPrefix(srv.URL, "http"))})
	b.Cleanup(k.Close)
	idPath := pathB(b, "$.id")
	var ids atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprint(ids.Add(1))
			req := &wsclient.Request{Message: []byte(`{"method":"ticker.price","id":` + id + `}`), Reply: &wsclient.Match{Path: idPath, Value: id}}
			if _, err := k.Call(context.Background(), req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
