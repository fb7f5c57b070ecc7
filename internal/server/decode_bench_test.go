package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// benchEvent is a POST /events body of about 1 MiB (the default body limit): event data
// with many small objects, the shape that costs checkBody most (a name per member).
func benchEvent() []byte {
	var b bytes.Buffer
	b.WriteString(`{"id":"evt_1","type":"order.created","data":{"items":[`)
	for i := 0; b.Len() < 1<<20-200; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"sku":"SKU-%06d","qty":%d,"price":12.50,"note":"ça va \u00e9","tags":["a","b"]}`, i, i%7)
	}
	b.WriteString(`]}}`)
	return b.Bytes()
}

type benchEventRequest struct {
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// BenchmarkDecodeEvent compares encoding/json's decoding of a 1 MiB event with the whole
// of decodeBody and with checkBody alone, the pass this package adds:
//
//	go test -run '^$' -bench DecodeEvent -benchmem ./internal/server/
func BenchmarkDecodeEvent(b *testing.B) {
	body := benchEvent()
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var req benchEventRequest
			if err := json.Unmarshal(body, &req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decodeBody", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var req benchEventRequest
			if p := decodeBody(body, &req, false); p != nil {
				b.Fatal(p)
			}
		}
	})
	b.Run("checkBody", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		t := reflect.TypeFor[*benchEventRequest]()
		for b.Loop() {
			if fe := checkBody(body, t); fe != nil {
				b.Fatal(fe)
			}
		}
	})
}
