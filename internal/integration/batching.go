package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/policy/batch"
)

// Batching (B11): with `batching { max_batch_size, max_delay, operation }`, concurrent
// calls of the integration's other POST operations are queued and sent together as one
// call of the batch operation (`operation`, default `send_batch`). The batch body is
//
//	{ "<list field>": [ {"operation": "send_email", …that call's body…}, … ] }
//
// where <list field> is the batch operation's one list-typed body field. If the batch
// answer holds a list with one element per call (the answer itself, or its first such
// list member in name order), each caller gets its element; otherwise every caller gets
// the whole answer. A failed batch fails every call in it.
type batcher struct {
	c         *client
	op        *operation // the batch operation
	listField string
	b         *batch.Batcher[*exchange, *Result]
}

// BatchOperationDefault is the batch operation's name when batching does not say.
const BatchOperationDefault = "send_batch"

func newBatcher(c *client, in *config.Integration, cfg *config.Batching) (*batcher, error) {
	name := cfg.Operation
	if name == "" {
		name = BatchOperationDefault
	}
	decl := in.Operation(name)
	if decl == nil {
		return nil, fmt.Errorf("batching: integration %s has no operation %q to send batches with (set batching { operation: NAME })", in.Name, name)
	}
	bt := &batcher{c: c, op: c.ops[name]}
	for _, f := range decl.Body {
		if f.Type != nil && f.Type.Kind == config.KindList {
			if bt.listField != "" {
				return nil, fmt.Errorf("batching: operation %s has several list fields in its body; it needs exactly one", name)
			}
			bt.listField = f.Name
		}
	}
	if bt.listField == "" {
		return nil, fmt.Errorf("batching: operation %s needs one list field in its body to carry the calls", name)
	}
	b, err := batch.New(batch.Config[*exchange, *Result]{
		MaxSize: cfg.MaxBatchSize, MaxDelay: cfg.MaxDelay, Clock: c.env.clock, Send: bt.send,
	})
	if err != nil {
		return nil, fmt.Errorf("batching: %w", err)
	}
	bt.b = b
	// The integration's other POST operations with a JSON body go through the batcher.
	for _, op := range c.ops {
		op.batched = op != bt.op && op.method == "POST" && op.graphql == nil && !op.binary && !op.form && !op.xmlBody && op.codec == nil
	}
	return bt, nil
}

func (bt *batcher) submit(ctx context.Context, x *exchange) (*Result, error) {
	return bt.b.Submit(ctx, x)
}

func (bt *batcher) close() { bt.b.Close() }

func (bt *batcher) send(ctx context.Context, reqs []*exchange) ([]*Result, error) {
	items := make([]map[string]any, len(reqs))
	for i, r := range reqs {
		item := map[string]any{}
		if len(r.body) > 0 {
			dec := json.NewDecoder(bytes.NewReader(r.body))
			dec.UseNumber()
			if err := dec.Decode(&item); err != nil {
				return nil, fmt.Errorf("batch item %d: %w", i, err)
			}
		}
		item["operation"] = r.op.name
		items[i] = item
	}
	body, err := json.Marshal(map[string]any{bt.listField: items})
	if err != nil {
		return nil, err
	}
	u, err := parseHTTPURL(bt.c.baseURL + bt.op.path)
	if err != nil {
		return nil, err
	}
	header := bt.c.staticHeaders.Clone()
	header.Set("Content-Type", "application/json")
	header.Set("Accept", "application/json")
	res, err := bt.op.run(ctx, &exchange{op: bt.op, method: bt.op.method, url: u, header: header, body: body})
	if err != nil {
		return nil, err
	}
	out := make([]*Result, len(reqs))
	parts := splitBatchAnswer(res.Body, len(reqs))
	for i := range out {
		r := *res
		r.Cache = CacheBypass
		if parts != nil {
			r.Body = parts[i]
		}
		out[i] = &r
	}
	return out, nil
}

// splitBatchAnswer finds the list with one element per call in a batch answer: the answer
// itself, or its first member (in name order) that is such a list.
func splitBatchAnswer(body []byte, n int) []json.RawMessage {
	var list []json.RawMessage
	if json.Unmarshal(body, &list) == nil {
		if len(list) == n {
			return list
		}
		return nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return nil
	}
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if json.Unmarshal(obj[k], &list) == nil && len(list) == n {
			return list
		}
	}
	return nil
}
