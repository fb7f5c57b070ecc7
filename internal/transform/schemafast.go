package transform

import (
	"encoding/json"
	"math/big"
	"reflect"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// This file is a fast path for Schema.Validate: it can tell that a document is valid,
// without allocating, for schemas made of the common keywords (type, required,
// properties, additionalProperties, items, lengths and sizes, pattern, format, string
// enum and const, integer bounds, $ref), which is what message schemas mostly are.
// It only ever answers "valid" or "ask the library": every document it does not accept,
// and every schema that uses anything else, goes to jsonschema, whose verdict and
// problems are the answer. So it can never change an error message, and it can change a
// verdict only by calling valid a document the library rejects, which
// FuzzSchemaFastPath and TestSchemaFastPathAgrees look for.
//
// The library's cost is in its generality: a validator, scope and evaluation record per
// value, and a fmt + big.Rat parse per number checked against "type": "integer" or a
// bound (BenchmarkSchemaValidate).

// fastNode is one compiled (sub)schema of the fast path.
type fastNode struct {
	boolean    *bool // a boolean schema: true accepts everything
	types      fastTypes
	enum       []string // enum of strings only (nil: no enum)
	hasEnum    bool
	constStr   *string
	format     func(any) error
	ref        *fastNode
	refOnly    bool // before draft 2019, a $ref's siblings are ignored
	minProps   int  // -1: none
	maxProps   int
	required   []string
	props      map[string]*fastNode
	noMore     bool      // additionalProperties: false
	additional *fastNode // additionalProperties: a schema
	minItems   int
	maxItems   int
	items      *fastNode
	minLength  int
	maxLength  int
	pattern    jsonschema.Regexp
	bounds     []fastBound

	readsNumbers bool // type integer or bounds: numbers are parsed
	checksValue  bool // enum, const or format
}

// fastTypes is a set of JSON types; integer is a number that is whole.
type fastTypes uint8

const (
	fastNull fastTypes = 1 << iota
	fastBoolean
	fastNumber
	fastInteger
	fastString
	fastArray
	fastObject
)

// fastBound is minimum (cmp >= 0 holds), maximum (<= 0), exclusiveMinimum (> 0) or
// exclusiveMaximum (< 0), with an integer limit.
type fastBound struct {
	limit int64
	ok    func(cmp int) bool
}

// fastFields are the fields of jsonschema.Schema the fast path implements or that do
// not affect validation (annotations, identifiers). A schema with any other field set
// is left to the library, so a keyword added to jsonschema later is too.
var fastFields = map[string]bool{
	"DraftVersion": true, "Location": true, "ID": true, "Anchor": true, "DynamicAnchor": true,
	"RecursiveAnchor": true, "Bool": true, "Ref": true, "Types": true, "Enum": true, "Const": true,
	"Format": true, "MaxProperties": true, "MinProperties": true, "Required": true,
	"Properties": true, "AdditionalProperties": true, "MinItems": true, "MaxItems": true,
	"Items": true, "Items2020": true, "MinLength": true, "MaxLength": true, "Pattern": true,
	"Maximum": true, "Minimum": true, "ExclusiveMaximum": true, "ExclusiveMinimum": true,
	"Title": true, "Description": true, "Default": true, "Comment": true, "ReadOnly": true,
	"WriteOnly": true, "Examples": true, "Deprecated": true,
}

// newFastPath compiles the fast path of a schema, or returns nil when the schema uses
// something it does not implement.
func newFastPath(s *jsonschema.Schema) *fastNode {
	c := fastCompiler{nodes: map[*jsonschema.Schema]*fastNode{}}
	n := c.compile(s)
	if c.unsupported {
		return nil
	}
	return n
}

type fastCompiler struct {
	nodes       map[*jsonschema.Schema]*fastNode // compiled, for $ref cycles
	unsupported bool
}

func (c *fastCompiler) compile(s *jsonschema.Schema) *fastNode {
	if s == nil || c.unsupported {
		return nil
	}
	if n, ok := c.nodes[s]; ok {
		return n
	}
	n := &fastNode{minProps: -1, maxProps: -1, minItems: -1, maxItems: -1, minLength: -1, maxLength: -1}
	c.nodes[s] = n
	if !onlyFastFields(s) || !n.setValueKeywords(s) {
		return c.unsupport()
	}
	if s.Ref != nil {
		n.ref = c.compile(s.Ref)
		n.refOnly = s.DraftVersion < 2019
	}
	c.compileObject(n, s)
	if !c.compileArray(n, s) {
		return c.unsupport()
	}
	n.minLength, n.maxLength = intOr(s.MinLength), intOr(s.MaxLength)
	n.pattern = s.Pattern
	if !n.setBounds(s) {
		return c.unsupport()
	}
	n.readsNumbers = n.types&fastInteger != 0 || len(n.bounds) > 0
	n.checksValue = n.hasEnum || n.constStr != nil || n.format != nil
	return n
}

// unsupport marks the schema as one the fast path does not implement.
func (c *fastCompiler) unsupport() *fastNode {
	c.unsupported = true
	return nil
}

// onlyFastFields reports whether s sets no field outside fastFields.
func onlyFastFields(s *jsonschema.Schema) bool {
	rv := reflect.ValueOf(s).Elem()
	for i := range rv.NumField() {
		f := rv.Type().Field(i)
		if f.IsExported() && !fastFields[f.Name] && !rv.Field(i).IsZero() {
			return false
		}
	}
	return true
}

var fastTypeNames = map[string]fastTypes{"null": fastNull, "boolean": fastBoolean, "number": fastNumber,
	"integer": fastInteger, "string": fastString, "array": fastArray, "object": fastObject}

// setValueKeywords sets what applies to a value of any type: a boolean schema, type,
// enum, const and format. false: a const that is not a string, which is not implemented.
func (n *fastNode) setValueKeywords(s *jsonschema.Schema) bool {
	n.boolean = s.Bool
	if s.Types != nil {
		for _, t := range s.Types.ToStrings() {
			n.types |= fastTypeNames[t]
		}
	}
	if s.Enum != nil {
		n.hasEnum = true
		for _, v := range s.Enum.Values {
			if str, ok := v.(string); ok {
				n.enum = append(n.enum, str)
			}
		}
	}
	if s.Const != nil {
		str, ok := (*s.Const).(string)
		if !ok {
			return false
		}
		n.constStr = &str
	}
	if s.Format != nil {
		n.format = s.Format.Validate
	}
	return true
}

// compileObject compiles the object keywords: property counts, required, properties and
// additionalProperties.
func (c *fastCompiler) compileObject(n *fastNode, s *jsonschema.Schema) {
	n.minProps, n.maxProps = intOr(s.MinProperties), intOr(s.MaxProperties)
	n.required = s.Required
	if len(s.Properties) > 0 {
		n.props = make(map[string]*fastNode, len(s.Properties))
		for name, p := range s.Properties {
			n.props[name] = c.compile(p)
		}
	}
	switch a := s.AdditionalProperties.(type) {
	case bool:
		n.noMore = !a
	case *jsonschema.Schema:
		n.additional = c.compile(a)
	}
}

// compileArray compiles the array keywords. false: items is a list of schemas, one per
// position, which is not implemented.
func (c *fastCompiler) compileArray(n *fastNode, s *jsonschema.Schema) bool {
	n.minItems, n.maxItems = intOr(s.MinItems), intOr(s.MaxItems)
	switch {
	case s.DraftVersion >= 2020:
		n.items = c.compile(s.Items2020)
	case s.Items != nil:
		items, ok := s.Items.(*jsonschema.Schema)
		if !ok {
			return false
		}
		n.items = c.compile(items)
	}
	return true
}

// setBounds sets minimum, maximum, exclusiveMinimum and exclusiveMaximum. false: a
// limit that is not an integer of magnitude below 10^18, which is not implemented.
func (n *fastNode) setBounds(s *jsonschema.Schema) bool {
	for _, b := range []struct {
		r  *big.Rat
		ok func(int) bool
	}{
		{s.Minimum, func(c int) bool { return c >= 0 }},
		{s.Maximum, func(c int) bool { return c <= 0 }},
		{s.ExclusiveMinimum, func(c int) bool { return c > 0 }},
		{s.ExclusiveMaximum, func(c int) bool { return c < 0 }},
	} {
		if b.r == nil {
			continue
		}
		if !b.r.IsInt() || !b.r.Num().IsInt64() || abs64(b.r.Num().Int64()) >= 1e18 {
			return false
		}
		n.bounds = append(n.bounds, fastBound{limit: b.r.Num().Int64(), ok: b.ok})
	}
	return true
}

func intOr(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// maxFastRefs is how many $refs in a row, without descending into the document, the
// fast path follows before leaving the document to the library (which reports a
// cycle, if that is what it is).
const maxFastRefs = 64

// valid reports whether v is certainly valid; false means "ask the library".
func (n *fastNode) valid(v any, refs int) bool {
	if n.boolean != nil {
		return *n.boolean
	}
	t := fastTypeOf(v)
	num, ok := schemaNumber{}, true
	if t == fastNumber && n.readsNumbers {
		num, ok = parseSchemaNumber(string(v.(json.Number)))
	}
	if !ok || !n.validType(t, num.integer()) || n.checksValue && !n.validValue(t, v) {
		return false
	}
	if !n.validRef(v, refs) {
		return false
	}
	if n.refOnly {
		return true
	}
	switch x := v.(type) {
	case map[string]any:
		return n.validObject(x)
	case []any:
		return n.validArray(x)
	case string:
		return n.validString(x)
	case json.Number:
		return len(n.bounds) == 0 || n.validBounds(&num)
	}
	return true
}

// fastTypeOf is the JSON type of a tree value (a number is fastNumber, whole or not);
// 0 for a value that is not part of a tree.
func fastTypeOf(v any) fastTypes {
	switch v.(type) {
	case nil:
		return fastNull
	case bool:
		return fastBoolean
	case string:
		return fastString
	case json.Number:
		return fastNumber
	case []any:
		return fastArray
	case map[string]any:
		return fastObject
	}
	return 0
}

// validType checks type for a value of type t (0: not a tree value, which the library
// reports), whole when it is a number that is an integer.
func (n *fastNode) validType(t fastTypes, whole bool) bool {
	return t != 0 && (n.types == 0 || n.types&t != 0 || t == fastNumber && n.types&fastInteger != 0 && whole)
}

// validRef checks $ref, following at most maxFastRefs in a row.
func (n *fastNode) validRef(v any, refs int) bool {
	return n.ref == nil || refs < maxFastRefs && n.ref.valid(v, refs+1)
}

// validValue checks enum, const (of strings only) and format.
func (n *fastNode) validValue(t fastTypes, v any) bool {
	if n.hasEnum && !(t == fastString && containsString(n.enum, v.(string))) {
		return false
	}
	if n.constStr != nil && !(t == fastString && v.(string) == *n.constStr) {
		return false
	}
	return n.format == nil || n.format(v) == nil
}

func (n *fastNode) validBounds(num *schemaNumber) bool {
	for _, b := range n.bounds {
		if !b.ok(num.cmp(b.limit)) {
			return false
		}
	}
	return true
}

func (n *fastNode) validObject(obj map[string]any) bool {
	if !within(len(obj), n.minProps, n.maxProps) {
		return false
	}
	for _, r := range n.required {
		if _, ok := obj[r]; !ok {
			return false
		}
	}
	if n.props == nil && !n.noMore && n.additional == nil {
		return true
	}
	for k, v := range obj {
		if p, ok := n.props[k]; ok {
			if !p.valid(v, 0) {
				return false
			}
		} else if n.noMore || n.additional != nil && !n.additional.valid(v, 0) {
			return false
		}
	}
	return true
}

func (n *fastNode) validArray(list []any) bool {
	if !within(len(list), n.minItems, n.maxItems) {
		return false
	}
	if n.items != nil {
		for _, v := range list {
			if !n.items.valid(v, 0) {
				return false
			}
		}
	}
	return true
}

func (n *fastNode) validString(s string) bool {
	if n.minLength >= 0 || n.maxLength >= 0 {
		if !within(utf8.RuneCountInString(s), n.minLength, n.maxLength) {
			return false
		}
	}
	return n.pattern == nil || n.pattern.MatchString(s)
}

// within reports whether size is within the bounds lo and hi, -1 meaning none.
func within(size, lo, hi int) bool {
	return (lo < 0 || size >= lo) && (hi < 0 || size <= hi)
}

func containsString(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// schemaNumber is a JSON number literal as an integer part, whether a fraction follows
// it, and its sign; only numbers whose integer part fits 18 digits are parsed.
type schemaNumber struct {
	neg   bool
	ip    int64 // |integer part|
	frac  bool  // a nonzero fraction follows ip
	whole bool  // the value is an integer (beyond 18 digits too)
	big   bool  // the integer part has more than 18 digits (|v| >= 10^18): ip is unknown
}

func (p *schemaNumber) integer() bool { return p.whole }

// cmp compares the number with limit (|limit| < 10^18): -1, 0 or 1.
func (p *schemaNumber) cmp(limit int64) int {
	if p.big { // |v| >= 10^18
		if p.neg {
			return -1
		}
		return 1
	}
	if p.ip == 0 && !p.frac {
		p.neg = false // -0 is 0
	}
	if !p.neg {
		switch {
		case p.ip < limit:
			return -1
		case p.ip > limit || p.frac:
			return 1
		}
		return 0
	}
	// v = -(ip + frac)
	switch {
	case p.ip > -limit || p.ip == -limit && p.frac:
		return -1
	case p.ip < -limit:
		return 1
	}
	return 0
}

// parseSchemaNumber reads a JSON number literal exactly: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?.
// It refuses (ok false) what is not one, exponents of more than four digits, and
// integer parts of more than 18 digits, leaving those to the library.
func parseSchemaNumber(s string) (p schemaNumber, ok bool) {
	p.neg = s != "" && s[0] == '-'
	i := 0
	if p.neg {
		i++
	}
	end := skipDigits(s, i)
	intDigits := s[i:end]
	if len(intDigits) == 0 || len(intDigits) > 1 && intDigits[0] == '0' {
		return p, false
	}
	fracDigits, i, ok := scanFraction(s, end)
	if !ok {
		return p, false
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		exp, i, ok = scanExponent(s, i+1)
	}
	if !ok || i != len(s) {
		return p, false
	}
	// The value is digits × 10^exp10.
	digits, exp10 := significantDigits(intDigits+fracDigits, exp-len(fracDigits))
	if digits == "" { // zero
		p.whole = true
		return p, true
	}
	p.whole = exp10 >= 0
	intLen := len(digits) + exp10 // digits of the integer part
	if intLen > 18 {
		p.big = true
		return p, true
	}
	p.ip = leadingValue(digits, intLen)
	p.frac = exp10 < 0
	return p, true
}

// scanFraction reads the fraction at s[i:], if there is one: its digits and where it
// ends. ok is false for a point without digits.
func scanFraction(s string, i int) (digits string, next int, ok bool) {
	if i >= len(s) || s[i] != '.' {
		return "", i, true
	}
	next = skipDigits(s, i+1)
	return s[i+1 : next], next, next > i+1
}

// scanExponent reads the sign and digits of an exponent at s[i:], after the 'e': its
// value and where it ends. ok is false for an exponent without digits or with more
// than four.
func scanExponent(s string, i int) (exp, next int, ok bool) {
	neg := i < len(s) && s[i] == '-'
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	next = skipDigits(s, i)
	if next == i || next-i > 4 {
		return 0, next, false
	}
	for ; i < next; i++ {
		exp = exp*10 + int(s[i]-'0')
	}
	if neg {
		exp = -exp
	}
	return exp, next, true
}

// significantDigits drops the leading and trailing zeros of digits × 10^exp10.
func significantDigits(digits string, exp10 int) (string, int) {
	for len(digits) > 0 && digits[0] == '0' {
		digits = digits[1:]
	}
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
		exp10++
	}
	return digits, exp10
}

// leadingValue is the value of the first n digits, digits being followed by zeros.
func leadingValue(digits string, n int) (v int64) {
	for k := 0; k < n; k++ {
		d := byte('0')
		if k < len(digits) {
			d = digits[k]
		}
		v = v*10 + int64(d-'0')
	}
	return v
}

// skipDigits returns the index of the first byte of s at or after i that is not an
// ASCII digit.
func skipDigits(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}
