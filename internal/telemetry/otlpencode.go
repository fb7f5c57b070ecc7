package telemetry

import (
	"math"
	"slices"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"
)

// The OTLP/HTTP exporter writes the ExportTraceServiceRequest protobuf message straight
// from the ended spans into one reused buffer. The SDK's exporter first copies every
// span into generated message structs and then marshals those: at 100 % sampling that
// took more CPU than recording the spans did, and most of the garbage (bench/tracing).
// The field numbers are those of opentelemetry-proto's trace/v1, common/v1 and
// resource/v1 messages, which are stable; TestOTLPEncodingMatchesTheSDK decodes the
// output with the generated messages and compares it with the SDK exporter's.

// Field numbers, by message.
const (
	requestResourceSpans protowire.Number = 1 // ExportTraceServiceRequest

	resourceSpansResource   protowire.Number = 1 // ResourceSpans
	resourceSpansScopeSpans protowire.Number = 2
	resourceSpansSchemaURL  protowire.Number = 3

	resourceAttributes protowire.Number = 1 // Resource

	scopeSpansScope     protowire.Number = 1 // ScopeSpans
	scopeSpansSpans     protowire.Number = 2
	scopeSpansSchemaURL protowire.Number = 3

	scopeName       protowire.Number = 1 // InstrumentationScope
	scopeVersion    protowire.Number = 2
	scopeAttributes protowire.Number = 3

	spanTraceID           protowire.Number = 1 // Span
	spanSpanID            protowire.Number = 2
	spanTraceState        protowire.Number = 3
	spanParentSpanID      protowire.Number = 4
	spanName              protowire.Number = 5
	spanKind              protowire.Number = 6
	spanStart             protowire.Number = 7
	spanEnd               protowire.Number = 8
	spanAttributes        protowire.Number = 9
	spanDroppedAttributes protowire.Number = 10
	spanEvents            protowire.Number = 11
	spanDroppedEvents     protowire.Number = 12
	spanLinks             protowire.Number = 13
	spanDroppedLinks      protowire.Number = 14
	spanStatus            protowire.Number = 15
	spanFlagsField        protowire.Number = 16

	eventTime              protowire.Number = 1 // Span.Event
	eventName              protowire.Number = 2
	eventAttributes        protowire.Number = 3
	eventDroppedAttributes protowire.Number = 4

	linkTraceID           protowire.Number = 1 // Span.Link
	linkSpanID            protowire.Number = 2
	linkTraceState        protowire.Number = 3
	linkAttributes        protowire.Number = 4
	linkDroppedAttributes protowire.Number = 5
	linkFlags             protowire.Number = 6

	statusMessage protowire.Number = 2 // Status
	statusCode    protowire.Number = 3

	keyValueKey   protowire.Number = 1 // KeyValue
	keyValueValue protowire.Number = 2

	anyString protowire.Number = 1 // AnyValue
	anyBool   protowire.Number = 2
	anyInt    protowire.Number = 3
	anyDouble protowire.Number = 4
	anyArray  protowire.Number = 5
	anyKVList protowire.Number = 6
	anyBytes  protowire.Number = 7

	listValues protowire.Number = 1 // ArrayValue, KeyValueList
)

// Span flags: the low byte is the W3C trace flags; these say whether the parent is
// remote (SpanFlags in trace/v1).
const (
	flagHasIsRemote = 0x100
	flagIsRemote    = 0x200
)

// otlpEncoder appends protobuf to b. A nested message is written after its tag and its
// length is put in front of it when it ends (open, close): the length of a message is
// only known once it is written.
type otlpEncoder struct {
	b []byte
	// groups is reused from batch to batch: the spans of a batch by resource and scope.
	groups []spanGroup
}

type spanGroup struct {
	resource *resource.Resource
	scope    instrumentation.Scope
	spans    []sdktrace.ReadOnlySpan
}

// open starts a nested message, field f; it returns where the message begins.
func (e *otlpEncoder) open(f protowire.Number) int {
	e.b = protowire.AppendTag(e.b, f, protowire.BytesType)
	return len(e.b)
}

// close ends the message open began at start: it moves the message to make room for
// its length and writes the length.
func (e *otlpEncoder) close(start int) {
	n := len(e.b) - start
	size := protowire.SizeVarint(uint64(n))
	for range size {
		e.b = append(e.b, 0)
	}
	copy(e.b[start+size:], e.b[start:start+n])
	protowire.AppendVarint(e.b[:start], uint64(n)) // writes in place: the capacity is there
}

func (e *otlpEncoder) bytes(f protowire.Number, v []byte) {
	e.b = protowire.AppendTag(e.b, f, protowire.BytesType)
	e.b = protowire.AppendBytes(e.b, v)
}

// string writes a string field, omitted when empty as proto3 does.
func (e *otlpEncoder) string(f protowire.Number, v string) {
	if v != "" {
		e.stringAlways(f, v)
	}
}

// stringAlways writes a string field even when empty (a oneof member has presence).
func (e *otlpEncoder) stringAlways(f protowire.Number, v string) {
	e.b = protowire.AppendTag(e.b, f, protowire.BytesType)
	e.b = protowire.AppendString(e.b, v)
}

// uint writes a varint field, omitted when 0.
func (e *otlpEncoder) uint(f protowire.Number, v uint64) {
	if v != 0 {
		e.b = protowire.AppendTag(e.b, f, protowire.VarintType)
		e.b = protowire.AppendVarint(e.b, v)
	}
}

func (e *otlpEncoder) fixed64(f protowire.Number, v uint64) {
	if v != 0 {
		e.b = protowire.AppendTag(e.b, f, protowire.Fixed64Type)
		e.b = protowire.AppendFixed64(e.b, v)
	}
}

func (e *otlpEncoder) fixed32(f protowire.Number, v uint32) {
	if v != 0 {
		e.b = protowire.AppendTag(e.b, f, protowire.Fixed32Type)
		e.b = protowire.AppendFixed32(e.b, v)
	}
}

// request writes the ExportTraceServiceRequest of spans into e.b (reset first): spans
// grouped by resource, then by instrumentation scope, in the order they first appear.
func (e *otlpEncoder) request(spans []sdktrace.ReadOnlySpan) []byte {
	e.b = e.b[:0]
	e.group(spans)
	for i, g := range e.groups {
		if slices.ContainsFunc(e.groups[:i], func(o spanGroup) bool { return o.resource == g.resource }) {
			continue // written with its resource's first group
		}
		rs := e.open(requestResourceSpans)
		if g.resource != nil {
			r := e.open(resourceSpansResource)
			for it := g.resource.Iter(); it.Next(); {
				e.keyValue(resourceAttributes, it.Attribute())
			}
			e.close(r)
		}
		for j := i; j < len(e.groups); j++ {
			if e.groups[j].resource == g.resource {
				e.scopeSpans(&e.groups[j])
			}
		}
		if g.resource != nil {
			e.string(resourceSpansSchemaURL, g.resource.SchemaURL())
		}
		e.close(rs)
	}
	for i := range e.groups { // let the spans be collected
		clear(e.groups[i].spans)
	}
	return e.b
}

// group sorts spans into e.groups by resource and scope (a batch has a few), reusing
// the groups' slices.
func (e *otlpEncoder) group(spans []sdktrace.ReadOnlySpan) {
	groups := e.groups[:0]
	for _, s := range spans {
		res, scope := s.Resource(), s.InstrumentationScope()
		i := slices.IndexFunc(groups, func(g spanGroup) bool { return g.resource == res && g.scope == scope })
		if i < 0 {
			i = len(groups)
			var reused []sdktrace.ReadOnlySpan
			if i < cap(groups) {
				reused = groups[:i+1][i].spans[:0]
			}
			groups = append(groups, spanGroup{resource: res, scope: scope, spans: reused})
		}
		groups[i].spans = append(groups[i].spans, s)
	}
	e.groups = groups
}

func (e *otlpEncoder) scopeSpans(g *spanGroup) {
	ss := e.open(resourceSpansScopeSpans)
	if g.scope != (instrumentation.Scope{}) {
		sc := e.open(scopeSpansScope)
		e.string(scopeName, g.scope.Name)
		e.string(scopeVersion, g.scope.Version)
		for it := g.scope.Attributes.Iter(); it.Next(); {
			e.keyValue(scopeAttributes, it.Attribute())
		}
		e.close(sc)
	}
	for _, s := range g.spans {
		e.span(s)
	}
	e.string(scopeSpansSchemaURL, g.scope.SchemaURL)
	e.close(ss)
}

func (e *otlpEncoder) span(s sdktrace.ReadOnlySpan) {
	start := e.open(scopeSpansSpans)
	sc := s.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	e.bytes(spanTraceID, tid[:])
	e.bytes(spanSpanID, sid[:])
	e.string(spanTraceState, sc.TraceState().String())
	parent := s.Parent()
	if psid := parent.SpanID(); psid.IsValid() {
		e.bytes(spanParentSpanID, psid[:])
	}
	e.string(spanName, s.Name())
	if k := s.SpanKind(); k >= trace.SpanKindInternal && k <= trace.SpanKindConsumer {
		e.uint(spanKind, uint64(k)) // trace.SpanKind's values are OTLP's
	}
	e.fixed64(spanStart, unixNano(s.StartTime().UnixNano()))
	e.fixed64(spanEnd, unixNano(s.EndTime().UnixNano()))
	for _, kv := range s.Attributes() {
		e.keyValue(spanAttributes, kv)
	}
	e.uint(spanDroppedAttributes, count32(s.DroppedAttributes()))
	for _, ev := range s.Events() {
		m := e.open(spanEvents)
		e.fixed64(eventTime, unixNano(ev.Time.UnixNano()))
		e.string(eventName, ev.Name)
		for _, kv := range ev.Attributes {
			e.keyValue(eventAttributes, kv)
		}
		e.uint(eventDroppedAttributes, count32(ev.DroppedAttributeCount))
		e.close(m)
	}
	e.uint(spanDroppedEvents, count32(s.DroppedEvents()))
	for _, l := range s.Links() {
		m := e.open(spanLinks)
		ltid, lsid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		e.bytes(linkTraceID, ltid[:])
		e.bytes(linkSpanID, lsid[:])
		e.string(linkTraceState, l.SpanContext.TraceState().String())
		for _, kv := range l.Attributes {
			e.keyValue(linkAttributes, kv)
		}
		e.uint(linkDroppedAttributes, count32(l.DroppedAttributeCount))
		e.fixed32(linkFlags, spanFlags(l.SpanContext.TraceFlags(), l.SpanContext.IsRemote()))
		e.close(m)
	}
	e.uint(spanDroppedLinks, count32(s.DroppedLinks()))
	st := e.open(spanStatus)
	status := s.Status()
	e.string(statusMessage, status.Description)
	switch status.Code { // the Go API's codes are numbered otherwise than OTLP's
	case codes.Ok:
		e.uint(statusCode, 1)
	case codes.Error:
		e.uint(statusCode, 2)
	}
	e.close(st)
	e.fixed32(spanFlagsField, spanFlags(sc.TraceFlags(), parent.IsRemote()))
	e.close(start)
}

// spanFlags are the W3C trace flags and whether the parent (or a link's span) is remote.
func spanFlags(tf trace.TraceFlags, remote bool) uint32 {
	f := uint32(tf) | flagHasIsRemote
	if remote {
		f |= flagIsRemote
	}
	return f
}

func (e *otlpEncoder) keyValue(f protowire.Number, kv attribute.KeyValue) {
	m := e.open(f)
	e.string(keyValueKey, string(kv.Key))
	v := e.open(keyValueValue)
	e.anyValue(kv.Value)
	e.close(v)
	e.close(m)
}

// anyValue writes the fields of an AnyValue message holding v.
func (e *otlpEncoder) anyValue(v attribute.Value) {
	switch v.Type() {
	case attribute.BOOL:
		e.b = protowire.AppendTag(e.b, anyBool, protowire.VarintType)
		e.b = protowire.AppendVarint(e.b, protowire.EncodeBool(v.AsBool()))
	case attribute.INT64:
		e.b = protowire.AppendTag(e.b, anyInt, protowire.VarintType)
		e.b = protowire.AppendVarint(e.b, uint64(v.AsInt64()))
	case attribute.FLOAT64:
		e.b = protowire.AppendTag(e.b, anyDouble, protowire.Fixed64Type)
		e.b = protowire.AppendFixed64(e.b, math.Float64bits(v.AsFloat64()))
	case attribute.STRING:
		e.stringAlways(anyString, v.AsString())
	case attribute.BYTESLICE:
		e.bytes(anyBytes, v.AsByteSlice())
	case attribute.BOOLSLICE:
		e.array(func() {
			for _, x := range v.AsBoolSlice() {
				e.element(attribute.BoolValue(x))
			}
		})
	case attribute.INT64SLICE:
		e.array(func() {
			for _, x := range v.AsInt64Slice() {
				e.element(attribute.Int64Value(x))
			}
		})
	case attribute.FLOAT64SLICE:
		e.array(func() {
			for _, x := range v.AsFloat64Slice() {
				e.element(attribute.Float64Value(x))
			}
		})
	case attribute.STRINGSLICE:
		e.array(func() {
			for _, x := range v.AsStringSlice() {
				e.element(attribute.StringValue(x))
			}
		})
	case attribute.SLICE:
		e.array(func() {
			for _, x := range v.AsSlice() {
				e.element(x)
			}
		})
	case attribute.MAP:
		m := e.open(anyKVList)
		for _, kv := range v.AsMap() {
			e.keyValue(listValues, kv)
		}
		e.close(m)
	case attribute.EMPTY: // an AnyValue with nothing set
	default:
		e.stringAlways(anyString, "INVALID")
	}
}

// array writes an ArrayValue whose elements each writes with element.
func (e *otlpEncoder) array(each func()) {
	m := e.open(anyArray)
	each()
	e.close(m)
}

func (e *otlpEncoder) element(v attribute.Value) {
	m := e.open(listValues)
	e.anyValue(v)
	e.close(m)
}

func unixNano(n int64) uint64 { return uint64(max(0, n)) }

func count32(n int) uint64 { return uint64(min(max(n, 0), math.MaxUint32)) }
