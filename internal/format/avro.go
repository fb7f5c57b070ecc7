package format

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hamba/avro/v2"
)

// This file converts between Avro's binary encoding and trees, walking a schema that
// hamba/avro parsed. How Avro values become tree values:
//
//	null, boolean, string, enum     nil, bool, string, the symbol
//	int, long, float, double        json.Number ("NaN", "Infinity", "-Infinity" as strings, as protojson writes them)
//	bytes, fixed                    a base64 string (standard alphabet, padded)
//	array, map, record              []any, map[string]any, map[string]any of the fields
//	union                           the value of the branch, unwrapped
//	decimal (bytes or fixed)        json.Number, exact ("12.50" at scale 2)
//	timestamp-millis/-micros        RFC 3339 in UTC ("2026-01-02T15:04:05.123Z")
//	local-timestamp-millis/-micros  the same without a zone ("2026-01-02T15:04:05.123")
//	date, time-millis/-micros       "2026-01-02", "15:04:05.123"
//
// Encoding takes the same forms (and plain numbers for the logical types over int and
// long). A union value is written as the first branch it fits, in the schema's order,
// so ["null", "string"] takes nil and strings. A record must not have members its
// schema does not declare; a field left out takes the schema's default, else fails.

// parseAvroSchema parses a schema's JSON text on its own: named types do not leak into
// hamba's global cache, where two schemas naming a type differently would collide.
func parseAvroSchema(text string) (avro.Schema, error) {
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("invalid Avro schema: %w", err)
	}
	return s, nil
}

// avroReader reads Avro's binary encoding from a message.
type avroReader struct {
	b   []byte
	pos int
}

var errAvroShort = errors.New("unexpected end of the message")

func (r *avroReader) fail(format string, args ...any) error {
	return fmt.Errorf("invalid Avro at offset %d: %s", r.pos, fmt.Sprintf(format, args...))
}

// long reads a zig-zag varint, which is what encoding/binary's Varint reads.
func (r *avroReader) long() (int64, error) {
	v, n := binary.Varint(r.b[r.pos:])
	switch {
	case n == 0:
		return 0, r.fail("%v", errAvroShort)
	case n < 0:
		return 0, r.fail("a number longer than 64 bits")
	}
	r.pos += n
	return v, nil
}

func (r *avroReader) take(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.pos {
		return nil, r.fail("%v", errAvroShort)
	}
	out := r.b[r.pos : r.pos+n]
	r.pos += n
	return out, nil
}

// bytes reads a length and that many bytes.
func (r *avroReader) bytes() ([]byte, error) {
	n, err := r.long()
	if err != nil {
		return nil, err
	}
	if n < 0 || n > int64(len(r.b)-r.pos) {
		return nil, r.fail("a length of %d with %d bytes left", n, len(r.b)-r.pos)
	}
	return r.take(int(n))
}

// blockCount reads the item count of an array or map block. Every item takes at least
// one byte in practice, so a count beyond the bytes left is refused: it would otherwise
// let a ten-byte message ask for billions of empty items.
func (r *avroReader) blockCount() (int64, error) {
	n, err := r.long()
	if err != nil {
		return 0, err
	}
	if n < 0 { // a negative count is followed by the block's size in bytes
		if n == math.MinInt64 {
			return 0, r.fail("an invalid block count")
		}
		n = -n
		if _, err := r.long(); err != nil {
			return 0, err
		}
	}
	if n > int64(len(r.b)-r.pos) {
		return 0, r.fail("a block of %d items with %d bytes left", n, len(r.b)-r.pos)
	}
	return n, nil
}

// blocks reads the blocks of an array or a map, item reading each item.
func (r *avroReader) blocks(item func() error) error {
	for {
		n, err := r.blockCount()
		if err != nil || n == 0 {
			return err
		}
		for range n {
			if err := item(); err != nil {
				return err
			}
		}
	}
}

// list reads an array, item reading each item.
func (r *avroReader) list(item func() (any, error)) (any, error) {
	list := []any{}
	err := r.blocks(func() error {
		v, err := item()
		list = append(list, v)
		return err
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}

// object reads a map, value reading each value.
func (r *avroReader) object(value func() (any, error)) (any, error) {
	obj := map[string]any{}
	err := r.blocks(func() error {
		k, err := r.bytes()
		if err != nil {
			return err
		}
		v, err := value()
		obj[string(k)] = v
		return err
	})
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// index reads an enum's symbol index or a union's branch index, one of n; format says
// what it is when it is out of range (it is given the index and n).
func (r *avroReader) index(n int, format string) (int, error) {
	i, err := r.long()
	if err != nil {
		return 0, err
	}
	if i < 0 || i >= int64(n) {
		return 0, r.fail(format, i, n)
	}
	return int(i), nil
}

// decodeAvro reads one value of schema s from b, all of b.
func decodeAvro(s avro.Schema, b []byte) (any, error) {
	r := &avroReader{b: b}
	v, err := r.value(s, 0)
	if err != nil {
		return nil, err
	}
	if r.pos != len(b) {
		return nil, r.fail("%d bytes after the value", len(b)-r.pos)
	}
	return v, nil
}

// maxAvroDepth bounds the nesting of recursive schemas, as JSON messages are bounded.
const maxAvroDepth = 10000

func (r *avroReader) value(s avro.Schema, depth int) (any, error) {
	if depth > maxAvroDepth {
		return nil, r.fail("nested deeper than %d", maxAvroDepth)
	}
	switch s := s.(type) {
	case *avro.NullSchema:
		return nil, nil
	case *avro.RefSchema:
		return r.value(s.Schema(), depth)
	case *avro.PrimitiveSchema:
		return r.primitive(s)
	case *avro.RecordSchema:
		obj := make(map[string]any, len(s.Fields()))
		for _, f := range s.Fields() {
			v, err := r.value(f.Type(), depth+1)
			if err != nil {
				return nil, err
			}
			obj[f.Name()] = v
		}
		return obj, nil
	case *avro.EnumSchema:
		i, err := r.index(len(s.Symbols()), "enum index %d of %d symbols")
		if err != nil {
			return nil, err
		}
		return s.Symbols()[i], nil
	case *avro.ArraySchema:
		return r.list(func() (any, error) { return r.value(s.Items(), depth+1) })
	case *avro.MapSchema:
		return r.object(func() (any, error) { return r.value(s.Values(), depth+1) })
	case *avro.UnionSchema:
		i, err := r.index(len(s.Types()), "union branch %d of %d")
		if err != nil {
			return nil, err
		}
		return r.value(s.Types()[i], depth+1)
	case *avro.FixedSchema:
		b, err := r.take(s.Size())
		if err != nil {
			return nil, err
		}
		if dec, ok := s.Logical().(*avro.DecimalLogicalSchema); ok {
			return r.decimal(b, dec)
		}
		return base64.StdEncoding.EncodeToString(b), nil
	}
	return nil, fmt.Errorf("unsupported Avro schema %s", s.Type())
}

func (r *avroReader) primitive(s *avro.PrimitiveSchema) (any, error) {
	logical := avro.LogicalType("")
	if l := s.Logical(); l != nil {
		logical = l.Type()
	}
	switch s.Type() {
	case avro.Boolean:
		b, err := r.take(1)
		if err != nil {
			return nil, err
		}
		if b[0] > 1 {
			return nil, r.fail("a boolean byte of %d", b[0])
		}
		return b[0] == 1, nil
	case avro.Int, avro.Long:
		n, err := r.long()
		if err != nil {
			return nil, err
		}
		if s.Type() == avro.Int && (n < math.MinInt32 || n > math.MaxInt32) {
			return nil, r.fail("an int beyond 32 bits")
		}
		return fromAvroInteger(n, logical), nil
	case avro.Float:
		b, err := r.take(4)
		if err != nil {
			return nil, err
		}
		return floatValue(float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), 32), nil
	case avro.Double:
		b, err := r.take(8)
		if err != nil {
			return nil, err
		}
		return floatValue(math.Float64frombits(binary.LittleEndian.Uint64(b)), 64), nil
	case avro.String:
		b, err := r.bytes()
		return string(b), err
	case avro.Bytes:
		b, err := r.bytes()
		if err != nil {
			return nil, err
		}
		if dec, ok := s.Logical().(*avro.DecimalLogicalSchema); ok {
			return r.decimal(b, dec)
		}
		return base64.StdEncoding.EncodeToString(b), nil
	}
	return nil, fmt.Errorf("unsupported Avro type %s", s.Type())
}

// Layouts of the logical types written as text.
const (
	layoutTimestamp = "2006-01-02T15:04:05.999999Z07:00"
	layoutLocal     = "2006-01-02T15:04:05.999999"
	layoutDate      = "2006-01-02"
	layoutTime      = "15:04:05.999999"
)

// fromAvroInteger is an int or long as a tree value: text for the date and time logical
// types, unless it lies outside what the text can say (a year beyond 0–9999, a time of
// day beyond 24 h), which stays the number it is.
func fromAvroInteger(n int64, logical avro.LogicalType) any {
	var t time.Time
	layout := layoutTimestamp
	switch logical {
	case avro.Date:
		t, layout = time.Unix(n*86400, 0).UTC(), layoutDate
	case avro.TimeMillis, avro.TimeMicros:
		unit := time.Millisecond
		if logical == avro.TimeMicros {
			unit = time.Microsecond
		}
		if n < 0 || n >= int64(24*time.Hour/unit) {
			return json.Number(strconv.FormatInt(n, 10))
		}
		t, layout = time.Unix(0, 0).UTC().Add(time.Duration(n)*unit), layoutTime
	case avro.TimestampMillis, avro.LocalTimestampMillis:
		t = time.UnixMilli(n).UTC()
	case avro.TimestampMicros, avro.LocalTimestampMicros:
		t = time.UnixMicro(n).UTC()
	default:
		return json.Number(strconv.FormatInt(n, 10))
	}
	if logical == avro.LocalTimestampMillis || logical == avro.LocalTimestampMicros {
		layout = layoutLocal
	}
	if t.Year() < 0 || t.Year() > 9999 || (logical == avro.Date && n > math.MaxInt64/86400) || (logical == avro.Date && n < math.MinInt64/86400) {
		return json.Number(strconv.FormatInt(n, 10))
	}
	return t.Format(layout)
}

// floatValue is a float as a tree number, or the text protojson uses for the values
// JSON has no number for.
func floatValue(f float64, bits int) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, bits))
}

// decimal is the number of a big-endian two's-complement unscaled integer of dec, which
// must have no more digits than dec's precision.
func (r *avroReader) decimal(b []byte, dec *avro.DecimalLogicalSchema) (any, error) {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
	}
	digits := new(big.Int).Abs(n).String()
	if dec.Precision() > 0 && len(digits) > dec.Precision() && n.Sign() != 0 {
		return nil, r.fail("a decimal of %d digits, more than its precision of %d", len(digits), dec.Precision())
	}
	scale := dec.Scale()
	sign := ""
	if n.Sign() < 0 {
		sign = "-"
	}
	if scale <= 0 {
		return json.Number(sign + digits), nil
	}
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	return json.Number(sign + digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]), nil
}

// avroWriter writes Avro's binary encoding of trees.
type avroWriter struct {
	buf []byte
	// path is where the value being written sits in the tree, for errors; it is made
	// into text only when something fails.
	path []pathStep
	// trying counts the unions whose branches are being tried: a failure there is only
	// a branch that does not fit, so it is not described.
	trying int
}

// pathStep is a member name, or an index when name is "".
type pathStep struct {
	name  string
	index int
}

// errBranch is a failure while trying a union's branch.
var errBranch = errors.New("the value does not fit this branch")

func (w *avroWriter) long(n int64) { w.buf = binary.AppendVarint(w.buf, n) }

func (w *avroWriter) bytes(b []byte) {
	w.long(int64(len(b)))
	w.buf = append(w.buf, b...)
}

// fail says where err happened ("$.lines[0].price: …").
func (w *avroWriter) fail(err error) error {
	if w.trying > 0 {
		return errBranch
	}
	var b strings.Builder
	b.WriteString("$")
	for _, p := range w.path {
		if p.name != "" {
			b.WriteString(".")
			b.WriteString(p.name)
		} else {
			b.WriteString("[" + strconv.Itoa(p.index) + "]")
		}
	}
	return fmt.Errorf("%s: %w", b.String(), err)
}

// encodeAvro writes v as a value of schema s, appending to dst.
func encodeAvro(dst []byte, s avro.Schema, v any) ([]byte, error) {
	w := &avroWriter{buf: dst}
	if err := w.value(s, v); err != nil {
		return nil, err
	}
	return w.buf, nil
}

// child writes v as the member or element step of the value being written.
func (w *avroWriter) child(step pathStep, s avro.Schema, v any) error {
	w.path = append(w.path, step)
	err := w.value(s, v)
	w.path = w.path[:len(w.path)-1]
	return err
}

func (w *avroWriter) value(s avro.Schema, v any) error {
	switch s := s.(type) {
	case *avro.NullSchema:
		if v != nil {
			return w.fail(mismatch("null", v))
		}
		return nil
	case *avro.RefSchema:
		return w.value(s.Schema(), v)
	case *avro.PrimitiveSchema:
		if err := w.primitive(s, v); err != nil {
			return w.fail(err)
		}
		return nil
	case *avro.RecordSchema:
		return w.record(s, v)
	case *avro.EnumSchema:
		sym, _ := v.(string)
		i := slices.Index(s.Symbols(), sym)
		if i < 0 {
			return w.fail(mismatch("one of "+strings.Join(s.Symbols(), ", "), v))
		}
		w.long(int64(i))
		return nil
	case *avro.ArraySchema:
		list, ok := v.([]any)
		if !ok {
			return w.fail(mismatch("an array", v))
		}
		if len(list) > 0 {
			w.long(int64(len(list)))
			for i, e := range list {
				if err := w.child(pathStep{index: i}, s.Items(), e); err != nil {
					return err
				}
			}
		}
		w.long(0)
		return nil
	case *avro.MapSchema:
		obj, ok := v.(map[string]any)
		if !ok {
			return w.fail(mismatch("an object (map)", v))
		}
		if len(obj) > 0 {
			keys := make([]string, 0, len(obj))
			for k := range obj {
				keys = append(keys, k)
			}
			slices.Sort(keys) // the same tree always makes the same bytes
			w.long(int64(len(keys)))
			for _, k := range keys {
				w.bytes([]byte(k))
				if err := w.child(pathStep{name: k}, s.Values(), obj[k]); err != nil {
					return err
				}
			}
		}
		w.long(0)
		return nil
	case *avro.UnionSchema:
		return w.union(s, v)
	case *avro.FixedSchema:
		var b []byte
		var err error
		if dec, ok := s.Logical().(*avro.DecimalLogicalSchema); ok {
			b, err = decimalBytes(v, dec, s.Size())
		} else if b, err = base64Value(v); err == nil && len(b) != s.Size() {
			err = fmt.Errorf("fixed %s holds %d bytes, found %d", s.FullName(), s.Size(), len(b))
		}
		if err != nil {
			return w.fail(err)
		}
		w.buf = append(w.buf, b...)
		return nil
	}
	return w.fail(fmt.Errorf("unsupported Avro schema %s", s.Type()))
}

func (w *avroWriter) record(s *avro.RecordSchema, v any) error {
	obj, ok := v.(map[string]any)
	if !ok {
		return w.fail(mismatch("an object (record "+s.FullName()+")", v))
	}
	found := 0
	for _, f := range s.Fields() {
		if _, present := obj[f.Name()]; present {
			found++
		}
	}
	if found < len(obj) { // a member no field takes
		for k := range obj {
			if !slices.ContainsFunc(s.Fields(), func(f *avro.Field) bool { return f.Name() == k }) {
				return w.fail(fmt.Errorf("record %s has no field %q", s.FullName(), k))
			}
		}
	}
	for _, f := range s.Fields() {
		fv, present := obj[f.Name()]
		if !present {
			if !f.HasDefault() {
				w.path = append(w.path, pathStep{name: f.Name()})
				err := w.fail(errors.New("missing, and the schema gives no default"))
				w.path = w.path[:len(w.path)-1]
				return err
			}
			d, err := defaultTree(f.Type(), f.Default())
			if err != nil {
				return w.fail(fmt.Errorf("%s: the schema's default: %w", f.Name(), err))
			}
			fv = d
		}
		if err := w.child(pathStep{name: f.Name()}, f.Type(), fv); err != nil {
			return err
		}
	}
	return nil
}

// union writes the first branch v fits: each is tried in turn, and the bytes of the
// one that fits are kept.
func (w *avroWriter) union(s *avro.UnionSchema, v any) error {
	mark, depth := len(w.buf), len(w.path)
	w.trying++
	for i, t := range s.Types() {
		w.long(int64(i))
		if err := w.value(t, v); err == nil {
			w.trying--
			return nil
		}
		w.buf, w.path = w.buf[:mark], w.path[:depth]
	}
	w.trying--
	names := make([]string, 0, len(s.Types()))
	for _, t := range s.Types() {
		names = append(names, branchName(t))
	}
	return w.fail(mismatch("a value of one of the union's types ("+strings.Join(names, ", ")+")", v))
}

func branchName(s avro.Schema) string {
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	if l, ok := s.(avro.LogicalTypeSchema); ok && l.Logical() != nil {
		return string(s.Type()) + "." + string(l.Logical().Type())
	}
	return string(s.Type())
}

func (w *avroWriter) primitive(s *avro.PrimitiveSchema, v any) error {
	switch s.Type() {
	case avro.Boolean:
		b, ok := v.(bool)
		if !ok {
			return mismatch("true or false", v)
		}
		if b {
			w.buf = append(w.buf, 1)
		} else {
			w.buf = append(w.buf, 0)
		}
	case avro.Int, avro.Long:
		n, err := toAvroInteger(s, v)
		if err != nil {
			return err
		}
		w.long(n)
	case avro.Float:
		f, err := floatOf(v, 32)
		if err != nil {
			return err
		}
		w.buf = binary.LittleEndian.AppendUint32(w.buf, math.Float32bits(float32(f)))
	case avro.Double:
		f, err := floatOf(v, 64)
		if err != nil {
			return err
		}
		w.buf = binary.LittleEndian.AppendUint64(w.buf, math.Float64bits(f))
	case avro.String:
		str, ok := v.(string)
		if !ok {
			return mismatch("a string", v)
		}
		w.bytes([]byte(str))
	case avro.Bytes:
		if dec, ok := s.Logical().(*avro.DecimalLogicalSchema); ok {
			b, err := decimalBytes(v, dec, 0)
			if err != nil {
				return err
			}
			w.bytes(b)
			return nil
		}
		b, err := base64Value(v)
		if err != nil {
			return err
		}
		w.bytes(b)
	default:
		return fmt.Errorf("unsupported Avro type %s", s.Type())
	}
	return nil
}

// toAvroInteger is v as an int or long of s: a whole number, or for the date and time
// logical types their text.
func toAvroInteger(s *avro.PrimitiveSchema, v any) (int64, error) {
	logical := avro.LogicalType("")
	if l := s.Logical(); l != nil {
		logical = l.Type()
	}
	if text, ok := v.(string); ok && logical != "" {
		n, err := parseAvroTime(text, logical)
		if err != nil {
			return 0, err
		}
		return n, nil
	}
	num, ok := v.(json.Number)
	if !ok {
		want := "a whole number"
		if logical != "" {
			want += " or " + string(logical) + " text"
		}
		return 0, mismatch(want, v)
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("expected a whole number that fits %s, found %s", s.Type(), num)
	}
	if s.Type() == avro.Int && (n < math.MinInt32 || n > math.MaxInt32) {
		return 0, fmt.Errorf("%s does not fit an Avro int (32 bits)", num)
	}
	return n, nil
}

func parseAvroTime(text string, logical avro.LogicalType) (int64, error) {
	bad := func(layout string) error {
		return fmt.Errorf("expected %s as %q, found %q", logical, layout, text)
	}
	switch logical {
	case avro.Date:
		t, err := time.Parse(layoutDate, text)
		if err != nil {
			return 0, bad(layoutDate)
		}
		return t.Unix() / 86400, nil
	case avro.TimeMillis, avro.TimeMicros:
		t, err := time.Parse(layoutTime, text)
		if err != nil {
			return 0, bad("15:04:05.000")
		}
		d := t.Sub(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC))
		if logical == avro.TimeMillis {
			return d.Milliseconds(), nil
		}
		return d.Microseconds(), nil
	case avro.TimestampMillis, avro.TimestampMicros:
		t, err := time.Parse(time.RFC3339Nano, text)
		if err != nil {
			return 0, bad("RFC 3339")
		}
		if logical == avro.TimestampMillis {
			return t.UnixMilli(), nil
		}
		return t.UnixMicro(), nil
	case avro.LocalTimestampMillis, avro.LocalTimestampMicros:
		t, err := time.Parse(layoutLocal, text)
		if err != nil {
			return 0, bad(layoutLocal)
		}
		if logical == avro.LocalTimestampMillis {
			return t.UnixMilli(), nil
		}
		return t.UnixMicro(), nil
	}
	return 0, fmt.Errorf("expected a whole number, found %q", text)
}

func floatOf(v any, bits int) (float64, error) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), bits)
		if err != nil {
			return 0, fmt.Errorf("%s does not fit a %d-bit float", x, bits)
		}
		return f, nil
	case string:
		switch x {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
	}
	return 0, mismatch("a number", v)
}

func base64Value(v any) ([]byte, error) {
	s, ok := v.(string)
	if !ok {
		return nil, mismatch("a base64 string", v)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("expected base64: %v", err)
	}
	return b, nil
}

// decimalBytes is v (a number, or its text) as the two's-complement unscaled integer of
// dec, in size bytes (0: as few as it takes).
func decimalBytes(v any, dec *avro.DecimalLogicalSchema, size int) ([]byte, error) {
	var text string
	switch x := v.(type) {
	case json.Number:
		text = string(x)
	case string:
		text = x
	default:
		return nil, mismatch("a decimal number", v)
	}
	r, ok := new(big.Rat).SetString(text)
	if !ok {
		return nil, fmt.Errorf("expected a decimal number, found %q", text)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(dec.Scale())), nil)))
	if !r.IsInt() {
		return nil, fmt.Errorf("%s has more than %d decimals", text, dec.Scale())
	}
	n := r.Num()
	if digits := len(new(big.Int).Abs(n).String()); dec.Precision() > 0 && digits > dec.Precision() {
		return nil, fmt.Errorf("%s has more than %d digits", text, dec.Precision())
	}
	// Two's complement in the fewest bytes that keep the sign.
	nbytes := (n.BitLen() + 8) / 8 // one bit more than the magnitude, for the sign
	if size > 0 {
		if nbytes > size {
			return nil, fmt.Errorf("%s does not fit %d bytes", text, size)
		}
		nbytes = size
	}
	u := new(big.Int).Set(n)
	if n.Sign() < 0 {
		u.Add(u, new(big.Int).Lsh(big.NewInt(1), uint(nbytes)*8))
	}
	return u.FillBytes(make([]byte, nbytes)), nil
}

// defaultTree turns a field default, as hamba/avro parsed it from the schema's JSON,
// into a tree: bytes and fixed defaults come as []byte and [n]byte, which become
// base64 text, or the number of a decimal. A union's default is of its first branch.
func defaultTree(s avro.Schema, d any) (any, error) {
	if d == nil {
		return nil, nil
	}
	if u, ok := deref(s).(*avro.UnionSchema); ok && len(u.Types()) > 0 {
		s = u.Types()[0]
	}
	s = deref(s)
	if rv := reflect.ValueOf(d); rv.Kind() == reflect.Array && rv.Type().Elem().Kind() == reflect.Uint8 {
		b := make([]byte, rv.Len())
		reflect.Copy(reflect.ValueOf(b), rv)
		d = b
	}
	if b, ok := d.([]byte); ok {
		if l, ok := s.(avro.LogicalTypeSchema); ok {
			if dec, ok := l.Logical().(*avro.DecimalLogicalSchema); ok {
				return (&avroReader{}).decimal(b, dec)
			}
		}
		return base64.StdEncoding.EncodeToString(b), nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var v any
	return v, dec.Decode(&v)
}

// mismatch is a value not of the kind wanted; it is described only when shown, since
// a union's branches that do not fit are never shown.
func mismatch(want string, v any) error { return &mismatchError{want: want, v: v} }

type mismatchError struct {
	want string
	v    any
}

func (e *mismatchError) Error() string { return "expected " + e.want + ", found " + describe(e.v) }

// describe names a tree value for errors without quoting long text.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return string(x)
	case string:
		if len(x) > 40 {
			return "a string"
		}
		return strconv.Quote(x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}
