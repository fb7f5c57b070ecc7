package format

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hamba/avro/v2"
)

// This file reads a message written with one schema (the writer's, named by the
// registry id the message carries) into the shape of another (the reader's, the one the
// configuration gives), following the Avro specification's schema resolution, so that a
// flow sees one shape across the versions of a subject. The two schemas are matched once
// per writer schema into a resolution, which then reads the writer's bytes straight into
// the reader's tree:
//
//   - records match by name (namespace aside) or the reader's aliases; their fields by
//     name or the reader field's aliases. A writer's field the reader lacks is skipped;
//     a reader's field the writer lacks takes the reader's default.
//   - int, long and float read as float or double keep the writer's number (JSON numbers
//     carry no width: a float 0.1 read as a double stays 0.1, not 0.10000000149011612);
//     int as long and string as bytes and back are the same bytes, read the reader's way.
//   - logical types are the reader's when only one side has one; two different ones
//     (timestamp-millis and timestamp-micros, decimals of other scales) do not match,
//     rather than read one as the other.
//   - a writer's union reads the branch the message chose; a reader's union takes, for
//     the writer's type, its first branch of that type (and name), else the first the
//     writer's type promotes to.
//
// Incompatibility is reported when the schemas are matched, so every message of that
// writer fails alike, except for what only some messages hold: a branch of the writer's
// union the reader has no type for, or an enum symbol the reader lacks (and has no
// default for), fails the messages that hold it.

// resolveKind says how a resolution reads.
type resolveKind uint8

const (
	resolveNull      resolveKind = iota // nothing to read
	resolvePrimitive                    // the same encoding both ways: read as prim (the reader's)
	resolveNumber                       // int, long or float promoted to float or double: the writer's number, read as prim (the writer's type, no logical type)
	resolveFixed                        // the same size both ways: read as fixed (the reader's)
	resolveRecord
	resolveEnum
	resolveArray
	resolveMap
	resolveUnion // the writer's union: one resolution per branch
	resolveFail  // a writer's union branch the reader cannot hold: err, for the messages that hold it
)

// resolution reads a value of the writer's schema as a value of the reader's.
type resolution struct {
	kind  resolveKind
	prim  *avro.PrimitiveSchema
	fixed *avro.FixedSchema
	enum  *avro.EnumSchema // the reader's
	path  string           // where the value sits, for the errors of enums

	fields   []resolvedField   // record: the writer's fields, in the order written
	defaults []resolvedDefault // record: the reader's fields the writer lacks
	size     int               // record: the reader's field count

	symbols  []string      // enum: the reader's symbol of each of the writer's, "" when it has none
	written  []string      // enum: the writer's symbols
	elem     *resolution   // array items, map values
	branches []*resolution // union: by the writer's branch index
	err      error         // fail
}

// resolvedField is one of the writer's record fields: read into the reader's field
// name, or skipped (res nil) when the reader has no such field.
type resolvedField struct {
	name string
	res  *resolution
	skip avro.Schema
}

// resolvedDefault is a reader's field the writer lacks: its default, encoded once with
// the field's schema and decoded for each message, so that each gets its own tree (steps
// may change trees) in the reader's shape (logical types included).
type resolvedDefault struct {
	name    string
	schema  avro.Schema
	encoded []byte
}

// resolveError is an incompatibility at path (a field path such as lines[*].price, ""
// for the value itself).
type resolveError struct {
	path string
	msg  string
}

func (e *resolveError) Error() string {
	if e.path == "" {
		return e.msg
	}
	return "field " + e.path + ": " + e.msg
}

func incompatible(path, format string, args ...any) error {
	return &resolveError{path: path, msg: fmt.Sprintf(format, args...)}
}

// resolver matches two schemas; records already being matched are kept so that a
// recursive schema's resolution refers to itself.
type resolver struct {
	records map[[2]avro.Schema]*resolution
}

// resolveSchemas matches the writer's schema to the reader's.
func resolveSchemas(writer, reader avro.Schema) (*resolution, error) {
	rs := &resolver{records: map[[2]avro.Schema]*resolution{}}
	return rs.resolve(writer, reader, "")
}

func deref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

func (rs *resolver) resolve(w, r avro.Schema, path string) (*resolution, error) {
	w, r = deref(w), deref(r)
	if wu, ok := w.(*avro.UnionSchema); ok {
		return rs.writerUnion(wu, r, path)
	}
	if ru, ok := r.(*avro.UnionSchema); ok {
		b := readerBranch(w, ru)
		if b == nil {
			return nil, incompatible(path, "the writer's %s is none of the types of the reader's %s", schemaName(w), schemaName(ru))
		}
		r = b
	}
	if logicalMismatch(w, r) {
		return nil, incompatible(path, "the writer's %s cannot be read as the reader's %s", schemaName(w), schemaName(r))
	}
	switch w := w.(type) {
	case *avro.NullSchema:
		if _, ok := r.(*avro.NullSchema); ok {
			return &resolution{kind: resolveNull}, nil
		}
	case *avro.PrimitiveSchema:
		rp, ok := r.(*avro.PrimitiveSchema)
		switch {
		case !ok:
		case w.Type() == rp.Type(), w.Type() == avro.Int && rp.Type() == avro.Long,
			w.Type() == avro.String && rp.Type() == avro.Bytes, w.Type() == avro.Bytes && rp.Type() == avro.String:
			return &resolution{kind: resolvePrimitive, prim: rp}, nil
		case promotes(w, rp):
			return &resolution{kind: resolveNumber, prim: avro.NewPrimitiveSchema(w.Type(), nil)}, nil
		}
	case *avro.RecordSchema:
		if rr, ok := r.(*avro.RecordSchema); ok {
			if !sameName(w, rr) {
				return nil, namesDiffer(path, w, rr)
			}
			return rs.record(w, rr, path)
		}
	case *avro.EnumSchema:
		if re, ok := r.(*avro.EnumSchema); ok {
			if !sameName(w, re) {
				return nil, namesDiffer(path, w, re)
			}
			p := &resolution{kind: resolveEnum, enum: re, path: path, written: w.Symbols(), symbols: make([]string, len(w.Symbols()))}
			for i, s := range w.Symbols() {
				if slices.Contains(re.Symbols(), s) {
					p.symbols[i] = s
				}
			}
			return p, nil
		}
	case *avro.FixedSchema:
		if rf, ok := r.(*avro.FixedSchema); ok {
			if !sameName(w, rf) {
				return nil, namesDiffer(path, w, rf)
			}
			if w.Size() != rf.Size() {
				return nil, incompatible(path, "the writer's %s holds %d bytes, the reader's %d", schemaName(w), w.Size(), rf.Size())
			}
			return &resolution{kind: resolveFixed, fixed: rf}, nil
		}
	case *avro.ArraySchema:
		if ra, ok := r.(*avro.ArraySchema); ok {
			items, err := rs.resolve(w.Items(), ra.Items(), path+"[*]")
			if err != nil {
				return nil, err
			}
			return &resolution{kind: resolveArray, elem: items}, nil
		}
	case *avro.MapSchema:
		if rm, ok := r.(*avro.MapSchema); ok {
			values, err := rs.resolve(w.Values(), rm.Values(), fieldPath(path, "*"))
			if err != nil {
				return nil, err
			}
			return &resolution{kind: resolveMap, elem: values}, nil
		}
	}
	return nil, incompatible(path, "the writer's %s cannot be read as the reader's %s", schemaName(w), schemaName(r))
}

func namesDiffer(path string, w, r avro.NamedSchema) error {
	return incompatible(path, "the writer's %s is not the reader's %s (the names differ, and no alias of the reader's names the writer's)", schemaName(w), schemaName(r))
}

// writerUnion resolves each branch of the writer's union. A branch the reader has no
// type for fails only the messages that hold it (["null", "string"] read as a string
// works while no null comes), unless no branch at all can be read.
func (rs *resolver) writerUnion(wu *avro.UnionSchema, r avro.Schema, path string) (*resolution, error) {
	p := &resolution{kind: resolveUnion, branches: make([]*resolution, len(wu.Types()))}
	var unmatched error
	for i, b := range wu.Types() {
		b = deref(b)
		var matched bool
		if ru, ok := r.(*avro.UnionSchema); ok {
			matched = readerBranch(b, ru) != nil
		} else {
			matched = sameKind(b, r) || promotes(b, r)
		}
		if !matched {
			err := incompatible(path, "the writer's %s cannot be read as the reader's %s", schemaName(b), schemaName(r))
			p.branches[i] = &resolution{kind: resolveFail, err: err}
			if unmatched == nil {
				unmatched = err
			}
			continue
		}
		res, err := rs.resolve(b, r, path)
		if err != nil {
			return nil, err
		}
		p.branches[i] = res
	}
	if !slices.ContainsFunc(p.branches, func(b *resolution) bool { return b.kind != resolveFail }) {
		return nil, unmatched
	}
	return p, nil
}

// readerBranch is the branch of the reader's union that a value of the writer's type w
// is read as: the first of the same type (and name), else the first w promotes to.
func readerBranch(w avro.Schema, u *avro.UnionSchema) avro.Schema {
	for _, b := range u.Types() {
		if b = deref(b); sameKind(w, b) {
			return b
		}
	}
	for _, b := range u.Types() {
		if b = deref(b); promotes(w, b) {
			return b
		}
	}
	return nil
}

// sameKind says whether w and r are of one type and, for named types, of one name.
func sameKind(w, r avro.Schema) bool {
	if w.Type() != r.Type() {
		return false
	}
	if wn, ok := w.(avro.NamedSchema); ok {
		return sameName(wn, r.(avro.NamedSchema))
	}
	return true
}

// sameName is the specification's match of named types: the same name (namespace
// aside), or an alias of the reader's that is the writer's full name.
func sameName(w, r avro.NamedSchema) bool {
	return w.Name() == r.Name() || slices.Contains(r.Aliases(), w.FullName())
}

// promotes says whether the writer's w is read as the reader's r of another type.
func promotes(w, r avro.Schema) bool {
	switch w.Type() {
	case avro.Int:
		return r.Type() == avro.Long || r.Type() == avro.Float || r.Type() == avro.Double
	case avro.Long:
		return r.Type() == avro.Float || r.Type() == avro.Double
	case avro.Float:
		return r.Type() == avro.Double
	case avro.String:
		return r.Type() == avro.Bytes
	case avro.Bytes:
		return r.Type() == avro.String
	}
	return false
}

func logicalOf(s avro.Schema) avro.LogicalSchema {
	if l, ok := s.(avro.LogicalTypeSchema); ok {
		return l.Logical()
	}
	return nil
}

// logicalMismatch says whether w and r both have a logical type and they differ (for
// decimals, in scale: a value's digits are checked against the reader's precision).
func logicalMismatch(w, r avro.Schema) bool {
	wl, rl := logicalOf(w), logicalOf(r)
	if wl == nil || rl == nil {
		return false
	}
	if wl.Type() != rl.Type() {
		return true
	}
	wd, ok := wl.(*avro.DecimalLogicalSchema)
	return ok && wd.Scale() != rl.(*avro.DecimalLogicalSchema).Scale()
}

func (rs *resolver) record(w, r *avro.RecordSchema, path string) (*resolution, error) {
	key := [2]avro.Schema{w, r}
	if p, ok := rs.records[key]; ok {
		return p, nil
	}
	p := &resolution{kind: resolveRecord, size: len(r.Fields())}
	rs.records[key] = p

	// Each reader's field takes the writer's field of its name, else (among those no
	// field took by name) the first named by one of its aliases.
	from := make([]int, len(r.Fields())) // the writer's field index, -1 for none
	taken := make([]bool, len(w.Fields()))
	for i, f := range r.Fields() {
		from[i] = slices.IndexFunc(w.Fields(), func(wf *avro.Field) bool { return wf.Name() == f.Name() })
		if from[i] >= 0 {
			taken[from[i]] = true
		}
	}
	for i, f := range r.Fields() {
		if from[i] >= 0 {
			continue
		}
		for j, wf := range w.Fields() {
			if !taken[j] && slices.Contains(f.Aliases(), wf.Name()) {
				from[i], taken[j] = j, true
				break
			}
		}
	}

	byWriter := make([]resolvedField, len(w.Fields()))
	for j, wf := range w.Fields() {
		byWriter[j].skip = wf.Type()
	}
	for i, f := range r.Fields() {
		fp := fieldPath(path, f.Name())
		if j := from[i]; j >= 0 {
			res, err := rs.resolve(w.Fields()[j].Type(), f.Type(), fp)
			if err != nil {
				return nil, err
			}
			byWriter[j] = resolvedField{name: f.Name(), res: res}
			continue
		}
		if !f.HasDefault() {
			return nil, incompatible(fp, "not in the writer's %s, and the reader's gives no default", schemaName(w))
		}
		d, err := defaultTree(f.Type(), f.Default())
		if err == nil {
			var enc []byte
			if enc, err = encodeAvro(nil, f.Type(), d); err == nil {
				p.defaults = append(p.defaults, resolvedDefault{name: f.Name(), schema: f.Type(), encoded: enc})
				continue
			}
		}
		return nil, incompatible(fp, "the reader's default: %v", err)
	}
	p.fields = byWriter
	return p, nil
}

func fieldPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// schemaName names a schema for errors: "record shop.Order", "long (timestamp-millis)",
// "bytes (decimal, scale 2)", "union [null, string]".
func schemaName(s avro.Schema) string {
	s = deref(s)
	name := string(s.Type())
	switch s := s.(type) {
	case avro.NamedSchema:
		name += " " + s.FullName()
	case *avro.UnionSchema:
		branches := make([]string, 0, len(s.Types()))
		for _, b := range s.Types() {
			branches = append(branches, schemaName(b))
		}
		name += " [" + strings.Join(branches, ", ") + "]"
	}
	switch l := logicalOf(s).(type) {
	case nil:
	case *avro.DecimalLogicalSchema:
		name += fmt.Sprintf(" (decimal, scale %d)", l.Scale())
	default:
		name += " (" + string(l.Type()) + ")"
	}
	return name
}

// decodeResolved reads one value with resolution p from b, all of b.
func decodeResolved(p *resolution, b []byte) (any, error) {
	r := &avroReader{b: b}
	v, err := r.resolved(p, 0)
	if err != nil {
		return nil, err
	}
	if r.pos != len(b) {
		return nil, r.fail("%d bytes after the value", len(b)-r.pos)
	}
	return v, nil
}

func (r *avroReader) resolved(p *resolution, depth int) (any, error) {
	if depth > maxAvroDepth {
		return nil, r.fail("nested deeper than %d", maxAvroDepth)
	}
	switch p.kind {
	case resolveNull:
		return nil, nil
	case resolvePrimitive, resolveNumber:
		return r.primitive(p.prim)
	case resolveFixed:
		return r.value(p.fixed, depth)
	case resolveRecord:
		obj := make(map[string]any, p.size)
		for _, f := range p.fields {
			if f.res == nil {
				if err := r.skip(f.skip, depth+1); err != nil {
					return nil, err
				}
				continue
			}
			v, err := r.resolved(f.res, depth+1)
			if err != nil {
				return nil, err
			}
			obj[f.name] = v
		}
		for _, d := range p.defaults {
			v, err := decodeAvro(d.schema, d.encoded)
			if err != nil {
				return nil, err
			}
			obj[d.name] = v
		}
		return obj, nil
	case resolveEnum:
		i, err := r.index(len(p.symbols), "enum index %d of %d symbols")
		if err != nil {
			return nil, err
		}
		if s := p.symbols[i]; s != "" {
			return s, nil
		}
		if p.enum.HasDefault() {
			return p.enum.Default(), nil
		}
		return nil, incompatible(p.path, "the writer's symbol %s is not one of the reader's %s, which has no default", p.written[i], schemaName(p.enum))
	case resolveArray:
		return r.list(func() (any, error) { return r.resolved(p.elem, depth+1) })
	case resolveMap:
		return r.object(func() (any, error) { return r.resolved(p.elem, depth+1) })
	case resolveUnion:
		i, err := r.index(len(p.branches), "union branch %d of %d")
		if err != nil {
			return nil, err
		}
		return r.resolved(p.branches[i], depth+1)
	}
	return nil, p.err
}

// skip reads past a value of s: a writer's field the reader does not have.
func (r *avroReader) skip(s avro.Schema, depth int) error {
	if depth > maxAvroDepth {
		return r.fail("nested deeper than %d", maxAvroDepth)
	}
	var err error
	switch s := s.(type) {
	case *avro.RefSchema:
		return r.skip(s.Schema(), depth)
	case *avro.PrimitiveSchema:
		switch s.Type() {
		case avro.Boolean:
			_, err = r.take(1)
		case avro.Int, avro.Long:
			_, err = r.long()
		case avro.Float:
			_, err = r.take(4)
		case avro.Double:
			_, err = r.take(8)
		case avro.String, avro.Bytes:
			_, err = r.bytes()
		}
	case *avro.RecordSchema:
		for _, f := range s.Fields() {
			if err := r.skip(f.Type(), depth+1); err != nil {
				return err
			}
		}
	case *avro.EnumSchema:
		_, err = r.long()
	case *avro.ArraySchema:
		return r.blocks(func() error { return r.skip(s.Items(), depth+1) })
	case *avro.MapSchema:
		return r.blocks(func() error {
			if _, err := r.bytes(); err != nil {
				return err
			}
			return r.skip(s.Values(), depth+1)
		})
	case *avro.UnionSchema:
		i, err := r.index(len(s.Types()), "union branch %d of %d")
		if err != nil {
			return err
		}
		return r.skip(s.Types()[i], depth+1)
	case *avro.FixedSchema:
		_, err = r.take(s.Size())
	}
	return err
}
