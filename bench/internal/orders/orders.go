// Package orders is the input and the expected outcome of the peer benchmark
// (bench/peer): generated orders, byte for byte the same whether Junction's side builds
// them in Go (Append) or Benthos's side with its generate input (Mapping); the JSON
// Schema both sides validate with; and how many orders each route receives.
package orders

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"sync"
)

// Order i (1, 2, …) as JSON, keys sorted (as Benthos writes a structured message):
//
//	{"currency":"EUR","customerEmail":"c5@example.com","customerId":"c-5","orderId":"o-0000005",
//	 "orderItems":[{"price":0.61,"qty":1,"sku":"s-6"},…],"orderTotal":1.85,"status":"paid"}
//
// Every 50th order has no customerEmail, so the schema rejects it. An order has 1 to 4
// items; its total is spread over 0–1999.99, about half at or above 1000.

// Invalid reports whether order i lacks its e-mail address.
func Invalid(i int) bool { return i%50 == 0 }

// Total is order i's orderTotal.
func Total(i int) float64 { return float64(i*37%200000) / 100 }

// Append appends order i to dst.
func Append(dst []byte, i int) []byte {
	dst = append(dst, `{"currency":"EUR",`...)
	if !Invalid(i) {
		dst = append(dst, `"customerEmail":"c`...)
		dst = strconv.AppendInt(dst, int64(i%97), 10)
		dst = append(dst, `@example.com",`...)
	}
	dst = append(dst, `"customerId":"c-`...)
	dst = strconv.AppendInt(dst, int64(i%97), 10)
	dst = append(dst, `","orderId":"o-`...)
	id := strconv.AppendInt(nil, int64(i), 10)
	for range 7 - len(id) {
		dst = append(dst, '0')
	}
	dst = append(dst, id...)
	dst = append(dst, `","orderItems":[`...)
	for j := range i%4 + 1 {
		if j > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"price":`...)
		dst = strconv.AppendFloat(dst, float64((i*7+j*13)%5000)/100, 'f', -1, 64)
		dst = append(dst, `,"qty":`...)
		dst = strconv.AppendInt(dst, int64((i+j)%3+1), 10)
		dst = append(dst, `,"sku":"s-`...)
		dst = strconv.AppendInt(dst, int64((i+j)%1000), 10)
		dst = append(dst, `"}`...)
	}
	dst = append(dst, `],"orderTotal":`...)
	dst = strconv.AppendFloat(dst, Total(i), 'f', -1, 64)
	dst = append(dst, `,"status":"paid"}`...)
	return dst
}

// Mapping is the Bloblang of Benthos's generate input that yields the same orders, in
// the same order (counter() counts from 1). Bloblang's "/" always gives a float, which
// Benthos writes as encoding/json does, as Append does.
const Mapping = `let i = counter()
root.currency = "EUR"
root.customerEmail = if $i % 50 != 0 { "c%d@example.com".format($i % 97) }
root.customerId = "c-%d".format($i % 97)
root.orderId = "o-%07d".format($i)
root.orderItems = range(0, $i % 4 + 1).map_each(j -> {"price": (($i * 7 + j * 13) % 5000) / 100, "qty": ($i + j) % 3 + 1, "sku": "s-%d".format(($i + j) % 1000)})
root.orderTotal = ($i * 37 % 200000) / 100
root.status = "paid"
`

// Schema is the JSON Schema both sides validate the mapped order with; it uses only
// keywords that mean the same in every draft, since Benthos's json_schema processor is
// a draft-7 validator and Junction's defaults to 2020-12.
const Schema = `{
  "type": "object",
  "required": ["id", "email"],
  "properties": {
    "id": {"type": "string", "minLength": 1},
    "email": {"type": "string"},
    "item_count": {"type": "integer"},
    "total": {"type": "number"}
  }
}`

// Counts is what became of the orders: routed to each sink, or rejected by the schema.
type Counts struct {
	High     int64 `json:"high"`
	Regular  int64 `json:"regular"`
	Rejected int64 `json:"rejected"`
}

// Expect is what the flow must do with orders 1…n.
func Expect(n int) Counts {
	var c Counts
	for i := 1; i <= n; i++ {
		switch {
		case Invalid(i):
			c.Rejected++
		case Total(i) >= 1000:
			c.High++
		default:
			c.Regular++
		}
	}
	return c
}

// Digest sums the bodies of a run, in any order (each body's SHA-256, added word by
// word), so the two generators can be compared without keeping either's output and
// whatever order a pipeline's threads hand the messages on in.
type Digest struct {
	mu    sync.Mutex
	n     int
	words [4]uint64
}

// Add adds one body.
func (d *Digest) Add(body []byte) {
	sum := sha256.Sum256(body)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n++
	for i := range d.words {
		d.words[i] += binary.BigEndian.Uint64(sum[8*i:])
	}
}

// Sum is the number of bodies and their digest.
func (d *Digest) Sum() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return fmt.Sprintf("%d:%016x%016x%016x%016x", d.n, d.words[0], d.words[1], d.words[2], d.words[3])
}

// PeakRSS is this process's peak resident set size in bytes (VmHWM in /proc/self/status,
// Linux), or -1. Each side reports its own: the kernel's maxrss of a child, as wait4
// returns it, also counts its parent's memory from before the exec (os/exec starts
// children with vfork, sharing the parent's memory until then), which made every
// side look as big as the driver.
func PeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			kib, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(" kB"))), 10, 64)
			if err != nil {
				return -1
			}
			return kib * 1024
		}
	}
	return -1
}
