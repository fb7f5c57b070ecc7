package format

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/junctionhq/junction/internal/format/formattest"
)

func orderProto(t testing.TB) *Protobuf {
	t.Helper()
	p, err := NewProtobuf(formattest.DescriptorSet(t, filepath.Join("testdata", "order.proto")), "shop.Order")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProtobufRoundTrip(t *testing.T) {
	p := orderProto(t)
	in := mustTree(t, `{"id": "9007199254740993", "customer": "c-7", "lines": [{"sku": "s1", "qty": 2, "cents": -1250}],
	  "status": "STATUS_PAID", "attrs": {"x": 1}, "created": "2026-01-02T15:04:05.123Z", "raw": "AAEC/w==", "total": 12.5,
	  "note": "door", "big": 18446744073709551615}`)
	b, err := p.Encode(in)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	got, err := p.Decode(b)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	// 64-bit integers are numbers; unset fields are there with their zero value.
	want := mustTree(t, `{"id": 9007199254740993, "customer": "c-7", "lines": [{"sku": "s1", "qty": 2, "cents": -1250}],
	  "status": "STATUS_PAID", "attrs": {"x": 1}, "created": "2026-01-02T15:04:05.123Z", "raw": "AAEC/w==", "total": 12.5,
	  "note": "door", "big": 18446744073709551615, "first": null}`)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	again, err := p.Encode(got)
	if err != nil || string(again) != string(b) {
		t.Errorf("encoding the decoded tree gave other bytes (err %v)", err)
	}
	empty, err := p.Decode(nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(mustTree(t, `{"id": 0, "customer": "", "lines": [], "status": "STATUS_UNSPECIFIED", "attrs": {}, "created": null,
	  "raw": "", "total": 0, "big": 0, "first": null}`), empty); diff != "" {
		t.Errorf("empty message (-want +got):\n%s", diff)
	}
}

func TestProtobufErrors(t *testing.T) {
	p := orderProto(t)
	for _, tt := range []struct{ in, wantErr string }{
		{`{"nope": 1}`, `the message does not fit protobuf shop.Order: proto:`},
		{`{"id": "x"}`, `the message does not fit protobuf shop.Order: proto:`},
		{`{"status": "STATUS_GONE"}`, `the message does not fit protobuf shop.Order: proto:`},
		{`[1]`, `the message does not fit protobuf shop.Order: proto:`},
	} {
		if _, err := p.Encode(mustTree(t, tt.in)); err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
			t.Errorf("Encode(%s) error = %v, want %q…", tt.in, err, tt.wantErr)
		}
	}
	if _, err := p.Decode([]byte{0x0a, 0x05, 'a'}); err == nil || !strings.HasPrefix(err.Error(), "invalid protobuf shop.Order: ") {
		t.Errorf("Decode(truncated) error = %v", err)
	}
}

func TestNewProtobufErrors(t *testing.T) {
	set := formattest.DescriptorSet(t, filepath.Join("testdata", "order.proto"))
	var parsed descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(set, &parsed); err != nil {
		t.Fatal(err)
	}
	withoutImports, _ := proto.Marshal(&descriptorpb.FileDescriptorSet{File: parsed.File[len(parsed.File)-1:]})
	for _, tt := range []struct {
		set     []byte
		message string
		wantErr string
	}{
		{set, "shop.Missing", `no message "shop.Missing" in the descriptor set; it has google.protobuf.Timestamp, shop.Line, shop.Order`},
		{set, "Order", `no message "Order" in the descriptor set; it has google.protobuf.Timestamp, shop.Line, shop.Order`},
		{set, "shop.Status", `"shop.Status" is not a message in the descriptor set`},
		{[]byte("syntax = proto3"), "shop.Order", "not a protobuf descriptor set (a FileDescriptorSet): "},
		{nil, "shop.Order", "the descriptor set holds no file"},
		{withoutImports, "shop.Order", "invalid descriptor set (it must hold every imported file: protoc --include_imports, or buf build): "},
	} {
		if _, err := NewProtobuf(tt.set, tt.message); err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
			t.Errorf("NewProtobuf(…, %q) error = %v, want %q…", tt.message, err, tt.wantErr)
		}
	}
}

// FuzzProtobufDecode: Decode never panics, and what it decodes encodes back to a
// message that decodes to the same tree.
func FuzzProtobufDecode(f *testing.F) {
	p := orderProto(f)
	seed, err := p.Encode(mustTree(f, `{"id": 7, "lines": [{"sku": "s", "cents": -1}], "attrs": {"a": 1}, "created": "2026-01-02T15:04:05Z", "first": {"qty": 1}}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, in []byte) {
		tree, err := p.Decode(in)
		if err != nil {
			return
		}
		out, err := p.Encode(tree)
		if err != nil {
			t.Fatalf("Encode(Decode(%x)): %v", in, err)
		}
		again, err := p.Decode(out)
		if err != nil {
			t.Fatalf("Decode(%x): %v", out, err)
		}
		if diff := cmp.Diff(tree, again); diff != "" {
			t.Fatalf("round trip of %x (-first +second):\n%s", in, diff)
		}
	})
}
