// Command benthos is the Benthos side of the peer benchmark (bench/peer runs it): seed
// 002's order flow as a Benthos stream, over -n generated orders.
//
//	generate (count -n, batch_size -batch, the Bloblang of orders.Mapping)
//	  → mapping to {id, email, item_count, total}
//	  → json_schema (orders.Schema)
//	  → switch: errored() → rejected, total >= 1000 → high, else → regular
//
// The three outputs drop what they get, like Benthos's drop output, and count it, so
// the driver can check that Benthos did the same work as Junction. It prints one JSON
// line: the counts and the seconds from Run to its return (every message written).
//
// -input go replaces the generate input by one that builds the same bytes in Go
// (orders.Append), in batches of -batch, as Junction's side does; -digest runs only
// the generate input and prints a digest of what it produced (the driver compares it
// with orders.Append's).
//
// It is a module of its own, so the product's go.mod never requires Benthos.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	"github.com/junctionhq/junction/bench/internal/orders"
)

// counters of the counting outputs, by name.
var counters = map[string]*atomic.Int64{"high": {}, "regular": {}, "rejected": {}}

// digest sums what the digest output received (-digest).
var digest orders.Digest

type result struct {
	Variant string        `json:"variant"`
	N       int           `json:"n"`
	Seconds float64       `json:"seconds"`
	Counts  orders.Counts `json:"counts"`
	Digest  string        `json:"digest,omitempty"`
	PeakRSS int64         `json:"peak_rss"`
}

func main() {
	n := flag.Int("n", 200000, "orders to generate")
	batch := flag.Int("batch", 100, "batch_size of the input (1: no batching)")
	input := flag.String("input", "generate", "generate (Bloblang) or go (orders.Append)")
	digestOnly := flag.Bool("digest", false, "only generate, and print a digest of the orders")
	flag.Parse()
	if err := run(*n, *batch, *input, *digestOnly); err != nil {
		fmt.Fprintln(os.Stderr, "bench/benthos:", err)
		os.Exit(1)
	}
}

func run(n, batch int, input string, digestOnly bool) error {
	if err := register(); err != nil {
		return err
	}
	b := service.NewStreamBuilder()
	if err := b.SetLoggerYAML("level: error"); err != nil {
		return err
	}
	var in string
	switch input {
	case "generate":
		in = fmt.Sprintf("generate:\n  count: %d\n  interval: \"\"\n  batch_size: %d\n  mapping: |\n%s", n, batch, indent(orders.Mapping, "    "))
	case "go":
		in = fmt.Sprintf("go_orders:\n  count: %d\n  batch_size: %d\n", n, batch)
	default:
		return fmt.Errorf("-input %q: want generate or go", input)
	}
	if err := b.AddInputYAML(in); err != nil {
		return err
	}
	if digestOnly {
		if err := b.AddOutputYAML("digest: {}"); err != nil {
			return err
		}
	} else {
		if err := b.AddProcessorYAML(`mapping: |
  root.id = this.orderId
  root.email = this.customerEmail
  root.item_count = this.orderItems.length()
  root.total = this.orderTotal
`); err != nil {
			return err
		}
		if err := b.AddProcessorYAML("json_schema:\n  schema: |\n" + indent(orders.Schema, "    ")); err != nil {
			return err
		}
		if err := b.AddOutputYAML(`switch:
  cases:
    - check: errored()
      output: { counted_drop: { name: rejected } }
    - check: this.total >= 1000
      output: { counted_drop: { name: high } }
    - output: { counted_drop: { name: regular } }
`); err != nil {
			return err
		}
	}
	stream, err := b.Build()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := stream.Run(context.Background()); err != nil {
		return err
	}
	took := time.Since(start)

	variant := "benthos"
	if input == "go" {
		variant += "-go-input"
	}
	if batch > 1 {
		variant += fmt.Sprintf("-batch%d", batch)
	}
	r := result{Variant: variant, N: n, Seconds: took.Seconds(), Counts: orders.Counts{
		High: counters["high"].Load(), Regular: counters["regular"].Load(), Rejected: counters["rejected"].Load(),
	}}
	if digestOnly {
		r.Digest = digest.Sum()
	}
	r.PeakRSS = orders.PeakRSS()
	return json.NewEncoder(os.Stdout).Encode(r)
}

func indent(s, by string) string {
	return by + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+by) + "\n"
}

func register() error {
	err := service.RegisterBatchOutput("counted_drop",
		service.NewConfigSpec().Field(service.NewStringEnumField("name", "high", "regular", "rejected")),
		func(conf *service.ParsedConfig, _ *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			name, err := conf.FieldString("name")
			if err != nil {
				return nil, service.BatchPolicy{}, 0, err
			}
			// One write at a time, as Benthos's drop output.
			return &countedDrop{n: counters[name]}, service.BatchPolicy{}, 1, nil
		})
	if err != nil {
		return err
	}
	err = service.RegisterBatchOutput("digest", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			return digestOutput{}, service.BatchPolicy{}, 1, nil
		})
	if err != nil {
		return err
	}
	return service.RegisterBatchInput("go_orders",
		service.NewConfigSpec().Field(service.NewIntField("count")).Field(service.NewIntField("batch_size")),
		func(conf *service.ParsedConfig, _ *service.Resources) (service.BatchInput, error) {
			n, err := conf.FieldInt("count")
			if err != nil {
				return nil, err
			}
			size, err := conf.FieldInt("batch_size")
			if err != nil {
				return nil, err
			}
			return &goOrders{n: n, size: max(size, 1)}, nil
		})
}

// countedDrop drops batches, counting their messages.
type countedDrop struct{ n *atomic.Int64 }

func (c *countedDrop) Connect(context.Context) error { return nil }
func (c *countedDrop) WriteBatch(_ context.Context, b service.MessageBatch) error {
	c.n.Add(int64(len(b)))
	return nil
}
func (c *countedDrop) Close(context.Context) error { return nil }

// digestOutput adds every message's bytes to the digest (one write at a time, in order).
type digestOutput struct{}

func (digestOutput) Connect(context.Context) error { return nil }
func (digestOutput) WriteBatch(_ context.Context, b service.MessageBatch) error {
	for _, m := range b {
		body, err := m.AsBytes()
		if err != nil {
			return err
		}
		digest.Add(body)
	}
	return nil
}
func (digestOutput) Close(context.Context) error { return nil }

// goOrders yields orders 1…n built by orders.Append, size at a time.
type goOrders struct {
	n, size, next int
}

func (g *goOrders) Connect(context.Context) error { return nil }
func (g *goOrders) ReadBatch(context.Context) (service.MessageBatch, service.AckFunc, error) {
	if g.next >= g.n {
		return nil, nil, service.ErrEndOfInput
	}
	k := min(g.size, g.n-g.next)
	b := make(service.MessageBatch, k)
	for j := range b {
		g.next++
		b[j] = service.NewMessage(orders.Append(make([]byte, 0, 320), g.next))
	}
	return b, func(context.Context, error) error { return nil }, nil
}
func (g *goOrders) Close(context.Context) error { return nil }
