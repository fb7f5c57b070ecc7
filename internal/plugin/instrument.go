package plugin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// A call's time limit is kept by the module itself. Before compiling, Junction adds two
// globals, stop (exported as stopGlobal) and fuel, and at the top of every loop body
// counts fuel down; every fuelPerExit iterations it resets the count, leaves the compiled
// code for Go once (memory.grow 0, which wazero runs in Go) and traps if stop is set. A
// call that runs past its limit has stop set by a timer and traps at its next exit.
//
// The exit matters as much as the check: compiled code cannot be preempted, so a call
// that never leaves it would hold up the garbage collector's stop-the-world, and with it
// every goroutine of the process, the timer's included. wazero's WithCloseOnContextDone
// leaves the compiled code at every loop iteration instead, which makes Go-built plugins
// 30 to 60 times slower; a count is a load, a store and a branch.

// stopGlobal is the export name of the global that stops a running call.
const stopGlobal = "junction_stop"

// fuelPerExit is how many loop iterations run between two exits to Go: microseconds of
// work, so a garbage collection waits that long at most for a plugin's call, and an exit
// (a fraction of a microsecond) costs little per iteration.
const fuelPerExit = 1000

// The section ids of the WebAssembly binary format.
const (
	sectionCustom = 0
	sectionGlobal = 6
	sectionExport = 7
	sectionImport = 2
	sectionCode   = 10
)

var wasmHeader = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}

// instrument returns wasm with the stop global and the loop checks added. It drops the
// DWARF sections (their offsets into the code no longer hold). A module that uses
// instructions Junction does not know (SIMD, exceptions) is refused: its loops could not
// all be found.
func instrument(wasm []byte) ([]byte, error) {
	if !bytes.HasPrefix(wasm, wasmHeader) {
		return nil, errors.New("not a WebAssembly module (version 1)")
	}
	r := &reader{b: wasm, at: len(wasmHeader)}
	var importedGlobals, globals uint32
	type section struct {
		id   byte
		body []byte
	}
	var sections []section
	for !r.done() {
		id := r.byte()
		size := r.u32()
		body := r.bytes(int(size))
		if r.err != nil {
			return nil, fmt.Errorf("reading section %d: %w", id, r.err)
		}
		switch id {
		case sectionCustom:
			name, err := customName(body)
			if err != nil || strings.HasPrefix(name, ".debug") {
				continue
			}
		case sectionImport:
			n, err := countImportedGlobals(body)
			if err != nil {
				return nil, fmt.Errorf("import section: %w", err)
			}
			importedGlobals = n
		case sectionGlobal:
			globals = (&reader{b: body}).u32()
		}
		sections = append(sections, section{id, body})
	}
	stop := importedGlobals + globals
	out := bytes.Clone(wasmHeader)
	addedGlobal, addedExport := false, false
	emit := func(id byte, body []byte) {
		out = append(out, id)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	newGlobal := func(existing []byte) []byte {
		// Two more globals: stop and fuel, mutable i32 = 0 (fuel runs out at once and is
		// then reset: the first iteration checks stop).
		r := &reader{b: existing}
		n := uint32(0)
		if existing != nil {
			n = r.u32()
		}
		body := appendU32(nil, n+2)
		body = append(body, existing[r.at:]...)
		return append(body, 0x7f, 0x01, 0x41, 0x00, 0x0b, 0x7f, 0x01, 0x41, 0x00, 0x0b)
	}
	newExport := func(existing []byte) []byte {
		r := &reader{b: existing}
		n := uint32(0)
		if existing != nil {
			n = r.u32()
		}
		body := appendU32(nil, n+1)
		body = append(body, existing[r.at:]...)
		body = appendU32(body, uint32(len(stopGlobal)))
		body = append(body, stopGlobal...)
		body = append(body, 0x03) // global
		return appendU32(body, stop)
	}
	// Sections keep their order; a missing global or export section is made where it
	// belongs (before exports, before start/element/code).
	for _, s := range sections {
		if s.id != sectionCustom && s.id > sectionGlobal && !addedGlobal {
			emit(sectionGlobal, newGlobal(nil))
			addedGlobal = true
		}
		if s.id != sectionCustom && s.id > sectionExport && !addedExport {
			emit(sectionExport, newExport(nil))
			addedExport = true
		}
		switch s.id {
		case sectionGlobal:
			emit(s.id, newGlobal(s.body))
			addedGlobal = true
		case sectionExport:
			emit(s.id, newExport(s.body))
			addedExport = true
		case sectionCode:
			code, err := instrumentCode(s.body, stop)
			if err != nil {
				return nil, err
			}
			emit(s.id, code)
		default:
			emit(s.id, s.body)
		}
	}
	return out, nil
}

// instrumentCode adds the check to every loop of every function body.
func instrumentCode(body []byte, stop uint32) ([]byte, error) {
	r := &reader{b: body}
	n := r.count()
	out := appendU32(nil, n)
	fuel := stop + 1
	var check []byte
	check = appendU32(append(check, 0x23), fuel)        // global.get fuel
	check = append(check, 0x41, 0x01, 0x6b)             // i32.const 1; i32.sub
	check = appendU32(append(check, 0x24), fuel)        // global.set fuel
	check = appendU32(append(check, 0x23), fuel)        // global.get fuel
	check = append(check, 0x45, 0x04, 0x40)             // i32.eqz; if
	check = appendS32(append(check, 0x41), fuelPerExit) //   i32.const fuelPerExit
	check = appendU32(append(check, 0x24), fuel)        //   global.set fuel
	check = append(check, 0x41, 0x00, 0x40, 0x00, 0x1a) //   i32.const 0; memory.grow; drop
	check = appendU32(append(check, 0x23), stop)        //   global.get stop
	check = append(check, 0x04, 0x40, 0x00, 0x0b, 0x0b) //   if; unreachable; end; end
	for i := range n {
		size := r.u32()
		fn := r.bytes(int(size))
		if r.err != nil {
			return nil, fmt.Errorf("function %d: %w", i, r.err)
		}
		f, err := instrumentFunction(fn, check)
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		out = appendU32(out, uint32(len(f)))
		out = append(out, f...)
	}
	return out, nil
}

func instrumentFunction(fn, check []byte) ([]byte, error) {
	r := &reader{b: fn}
	groups := r.count()
	for range groups {
		r.u32()  // count
		r.byte() // type
	}
	if r.err != nil {
		return nil, r.err
	}
	out := make([]byte, 0, len(fn)+len(fn)/8)
	out = append(out, fn[:r.at]...)
	for !r.done() {
		start := r.at
		op := r.byte()
		if err := skipImmediates(r, op); err != nil {
			return nil, err
		}
		if r.err != nil {
			return nil, r.err
		}
		out = append(out, fn[start:r.at]...)
		if op == 0x03 { // loop: check at the top of each iteration
			out = append(out, check...)
		}
	}
	return out, nil
}

// skipImmediates reads past the immediates of the instruction op.
func skipImmediates(r *reader, op byte) error {
	switch {
	case op == 0x02 || op == 0x03 || op == 0x04: // block, loop, if: a block type
		r.s33()
	case op == 0x0c || op == 0x0d || op == 0x10 || (op >= 0x20 && op <= 0x26) || op == 0xd2:
		r.u32()
	case op == 0x0e: // br_table
		n := r.count()
		for range n + 1 {
			r.u32()
		}
	case op == 0x11: // call_indirect
		r.u32()
		r.u32()
	case op == 0x1c: // select with types
		n := r.count()
		for range n {
			r.byte()
		}
	case op >= 0x28 && op <= 0x3e: // loads and stores: align, offset
		r.u32()
		r.u32()
	case op == 0x3f || op == 0x40: // memory.size, memory.grow
		r.u32()
	case op == 0x41:
		r.s64()
	case op == 0x42:
		r.s64()
	case op == 0x43:
		r.bytes(4)
	case op == 0x44:
		r.bytes(8)
	case op == 0xd0: // ref.null
		r.byte()
	case op == 0xfc:
		switch sub := r.u32(); {
		case sub <= 7: // saturating truncations
		case sub == 8, sub == 12, sub == 14: // memory.init, table.init, table.copy
			r.u32()
			r.u32()
		case sub == 10: // memory.copy
			r.u32()
			r.u32()
		case sub == 9, sub == 11, sub == 13, sub == 15, sub == 16, sub == 17:
			r.u32()
		default:
			return fmt.Errorf("unknown instruction 0xfc %d", sub)
		}
	case op <= 0x01, op == 0x05, op == 0x0b, op == 0x0f, op == 0x1a, op == 0x1b,
		op >= 0x45 && op <= 0xc4, op == 0xd1:
	default:
		return fmt.Errorf("instruction 0x%02x is not supported in plugins (SIMD, exceptions and tail calls are not)", op)
	}
	return nil
}

func customName(body []byte) (string, error) {
	r := &reader{b: body}
	n := r.u32()
	name := r.bytes(int(n))
	return string(name), r.err
}

// countImportedGlobals counts the globals among the imports.
func countImportedGlobals(body []byte) (uint32, error) {
	r := &reader{b: body}
	n := r.count()
	var globals uint32
	for range n {
		r.bytes(int(r.u32())) // module
		r.bytes(int(r.u32())) // name
		switch kind := r.byte(); kind {
		case 0x00: // function: type index
			r.u32()
		case 0x01: // table: reftype, limits
			r.byte()
			limits(r)
		case 0x02: // memory: limits
			limits(r)
		case 0x03: // global: valtype, mutability
			r.byte()
			r.byte()
			globals++
		default:
			return 0, fmt.Errorf("unknown import kind %d", kind)
		}
	}
	return globals, r.err
}

func limits(r *reader) {
	if flags := r.byte(); flags&1 != 0 {
		r.u32()
		r.u32()
	} else {
		r.u32()
	}
}

// reader reads the binary format; the first error sticks and later reads return zero.
type reader struct {
	b   []byte
	at  int
	err error
}

var errTruncated = errors.New("the module is truncated or malformed")

func (r *reader) done() bool { return r.err != nil || r.at >= len(r.b) }

func (r *reader) byte() byte {
	if r.err != nil || r.at >= len(r.b) {
		r.err = errTruncated
		return 0
	}
	c := r.b[r.at]
	r.at++
	return c
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || r.at+n > len(r.b) {
		r.err = errTruncated
		return nil
	}
	b := r.b[r.at : r.at+n]
	r.at += n
	return b
}

func (r *reader) u32() uint32 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.at:])
	if n <= 0 || n > 5 || v > 1<<32-1 {
		r.err = errTruncated
		return 0
	}
	r.at += n
	return uint32(v)
}

// count reads the length of a vector, each of whose items takes at least a byte: a
// length beyond what is left is an error, not a long loop.
func (r *reader) count() uint32 {
	n := r.u32()
	if r.err == nil && int(n) > len(r.b)-r.at {
		r.err = errTruncated
		return 0
	}
	return n
}

// s33 and s64 read signed LEB128 numbers (block types, constants).
func (r *reader) s33() { r.signed(5) }
func (r *reader) s64() { r.signed(10) }

func (r *reader) signed(maxBytes int) {
	for i := 0; ; i++ {
		c := r.byte()
		if r.err != nil {
			return
		}
		if c&0x80 == 0 {
			return
		}
		if i+1 >= maxBytes {
			r.err = errTruncated
			return
		}
	}
}

func appendU32(b []byte, v uint32) []byte { return binary.AppendUvarint(b, uint64(v)) }

// appendS32 appends a small non-negative constant as signed LEB128.
func appendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
