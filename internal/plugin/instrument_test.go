package plugin

import (
	"testing"
)

// tinyModule is a module with a global, an export and a function that loops: what
// instrument rewrites.
func tinyModule() []byte {
	section := func(id byte, body ...byte) []byte { return append([]byte{id, byte(len(body))}, body...) }
	code := []byte{0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b} // no locals; loop; br 0; end; end
	m := append([]byte(nil), wasmHeader...)
	m = append(m, section(1, 0x01, 0x60, 0x00, 0x00)...)                                // type () -> ()
	m = append(m, section(3, 0x01, 0x00)...)                                            // one function
	m = append(m, section(6, 0x01, 0x7f, 0x01, 0x41, 0x00, 0x0b)...)                    // one global
	m = append(m, section(7, 0x01, 0x01, 'f', 0x00, 0x00)...)                           // export f
	return append(m, section(10, append([]byte{0x01, byte(len(code))}, code...)...)...) // code
}

// TestInstrumentAddsTheCheck: every loop gets the count-down, and the stop global is
// exported after the module's own.
func TestInstrumentAddsTheCheck(t *testing.T) {
	out, err := instrument(tinyModule())
	if err != nil {
		t.Fatal(err)
	}
	r := &reader{b: out, at: len(wasmHeader)}
	var exports, code []byte
	for !r.done() {
		id, body := r.byte(), r.bytes(int(r.u32()))
		switch id {
		case sectionExport:
			exports = body
		case sectionCode:
			code = body
		}
	}
	if want := append([]byte{0x02, 0x01, 'f', 0x00, 0x00, byte(len(stopGlobal))}, append([]byte(stopGlobal), 0x03, 0x01)...); string(exports) != string(want) {
		t.Errorf("exports = %x, want %x", exports, want)
	}
	// global.get 2 (fuel) right after the loop's block type.
	if i := indexOf(code, []byte{0x03, 0x40, 0x23, 0x02}); i < 0 {
		t.Errorf("no count-down after the loop: %x", code)
	}
}

func indexOf(b, sub []byte) int {
	for i := 0; i+len(sub) <= len(b); i++ {
		if string(b[i:i+len(sub)]) == string(sub) {
			return i
		}
	}
	return -1
}

// FuzzInstrument: no input makes instrument panic or hang; what it accepts starts with
// the header.
func FuzzInstrument(f *testing.F) {
	f.Add(tinyModule())
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x0a\x05\x01\x03\x00\x03\x40"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x0a\x07\x01\x05\x00\x0e\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, err := instrument(wasm)
		if err == nil && (len(out) < len(wasmHeader) || string(out[:8]) != string(wasmHeader)) {
			t.Fatalf("accepted %x as %x", wasm, out)
		}
	})
}
