package transform

import (
	"bytes"
	"encoding/json"
	"sync"
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
	return decode(b, nil)
}

// Encode renders a tree as JSON; json.Number values are written as their literal, so
// numbers come out exactly as they were decoded.
//
// The bytes are json.Marshal's (FuzzEncode compares them): members sorted by name,
// strings escaped as encoding/json does (HTML characters, U+2028, U+2029, invalid UTF-8
// as U+FFFD). A tree is written directly, without reflection, so encoding a flow's
// output costs a third of json.Marshal (BenchmarkEncode); anything else, and a
// json.Number that is not a number, is left to json.Marshal, errors included.
func Encode(v any) ([]byte, error) {
	buf := encodeBufs.Get().(*[]byte)
	defer encodeBufs.Put(buf)
	b, ok := appendTree((*buf)[:0], v, 0)
	if cap(b) <= 64<<10 {
		*buf = b // keep a grown buffer, unless one huge message grew it
	}
	if !ok {
		return json.Marshal(v)
	}
	return bytes.Clone(b), nil
}

// encodeBufs are Encode's scratch buffers: the result is one allocation of its size.
var encodeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}
