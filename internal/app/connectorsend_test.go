package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/junctionhq/junction/internal/format"
	"github.com/junctionhq/junction/internal/transform"
)

// TestConnectorSendEncodesFormat: `junction connector send` writes the JSON messages
// it is given in the connector's format, as a flow's sink would, and refuses one the
// format cannot carry before sending anything.
func TestConnectorSendEncodesFormat(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "points"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const schema = `{"type": "record", "name": "Point", "fields": [{"name": "x", "type": "int"}]}`
	cfg := filepath.Join(t.TempDir(), "send.cai")
	src := fmt.Sprintf(`connector points { type: kafka, brokers: [%q], topic: "points", format: { type: avro, schema: %s } }`, c.ListenAddrs()[0], strconv.Quote(schema))
	if err := os.WriteFile(cfg, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out strings.Builder
	if err := ConnectorSend(ctx, []string{cfg}, "points", nil, []string{`{"x": 1}`, `{"x": -2}`}, nil, os.LookupEnv, &out); err != nil {
		t.Fatalf("ConnectorSend: %v", err)
	}
	err = ConnectorSend(ctx, []string{cfg}, "points", nil, []string{`{"x": 3}`, `{"y": 4}`}, nil, os.LookupEnv, &out)
	if err == nil || !strings.Contains(err.Error(), `message 2: as Avro: $: record Point has no field "y"`) {
		t.Errorf("a message Avro cannot carry: %v", err)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()[0]), kgo.ConsumeTopics("points"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	avro, err := format.NewAvro(format.AvroOptions{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	var got []any
	for len(got) < 2 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("timed out with %v", got)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			v, err := avro.Decode(r.Value)
			if err != nil {
				t.Fatalf("a record is not Avro: %v", err)
			}
			got = append(got, v)
		})
	}
	want := []any{mustTree(t, `{"x": 1}`), mustTree(t, `{"x": -2}`)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func mustTree(t *testing.T, s string) any {
	t.Helper()
	v, err := transform.Decode([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}
