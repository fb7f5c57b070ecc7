package transform

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Decode parses one JSON document into a tree whose numbers are json.Number; anything
// but white space after the document is an error, since a message is exactly one value.
//
// The result is what encoding/json's Decoder with UseNumber produces (the same grammar,
// the same replacement of invalid UTF-8 and lone surrogates by U+FFFD, the same nesting
// limit, the last of duplicate keys wins; FuzzDecode compares the two), but in less
// than half the time (BenchmarkDecodeEncodingJSON is the reference): it builds the tree
// in one pass over the bytes instead of scanning them once to validate and again to
// decode, sizes each map and slice once, and reuses the strings of member names that
// messages repeat. Decoding is the first cost of every message a flow handles. The
// tree never refers to b, which the caller may reuse.
func Decode(b []byte) (any, error) {
	d := decoderPool.Get().(*decoder)
	defer d.release()
	d.buf, d.pos = b, 0
	d.skipSpace()
	if d.pos == len(b) {
		return nil, errors.New("invalid JSON: empty input")
	}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos < len(b) {
		return nil, fmt.Errorf("invalid JSON: data after the value at offset %d", d.pos)
	}
	return v, nil
}

// Encode renders a tree as JSON; json.Number values are written as their literal, so
// numbers come out exactly as they were decoded.
func Encode(v any) ([]byte, error) {
	return json.Marshal(v)
}
