package format

import "testing"

// The codecs' cost per message, for the sample order of the Avro and Protobuf tests
// (go test -bench . ./internal/format).

func BenchmarkAvro(b *testing.B) {
	a := mustAvro(b, AvroOptions{Schema: orderSchema})
	tree := mustTree(b, orderTree)
	msg, err := a.Encode(tree)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := a.Decode(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			if _, err := a.Encode(tree); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkProtobuf(b *testing.B) {
	p := orderProto(b)
	tree := mustTree(b, `{"id": 9007199254740993, "customer": "c-7", "lines": [{"sku": "s1", "qty": 2, "cents": -1250}, {"sku": "s2", "qty": 1}],
	  "status": "STATUS_PAID", "attrs": {"x": 1}, "created": "2026-01-02T15:04:05.123Z", "total": 12.5}`)
	msg, err := p.Encode(tree)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := p.Decode(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			if _, err := p.Encode(tree); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkXML(b *testing.B) {
	doc := []byte(`<order id="7"><customer>c-7</customer><lines><line sku="s1"><qty>2</qty></line><line sku="s2"><qty>1</qty></line></lines><total>12.50</total></order>`)
	tree, err := XML{}.Decode(doc)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := (XML{}).Decode(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			if _, err := (XML{}).Encode(tree); err != nil {
				b.Fatal(err)
			}
		}
	})
}
