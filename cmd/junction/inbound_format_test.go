package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/servicetest"
)

// TestFlowInboundXML: a flow whose http source declares `format: xml` takes an XML
// document POSTed to its /in/ path, and its sink writes the decoded tree (as JSON, the
// sink's default format); a body that is not XML is refused with 400 and never reaches
// the flow; a JSON flow still refuses XML.
func TestFlowInboundXML(t *testing.T) {
	addr := servicetest.RedisAddr(t)
	key := uniqueName("inbound-xml")
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Del(context.Background(), key); rdb.Close() })
	dir := t.TempDir()
	cfg := filepath.Join(dir, "flows.cai")
	writeFile(t, cfg, fmt.Sprintf(`
connector inbox { type: http }
connector out { type: redis  url: "redis://%s/0"  stream: %q }
flow xml-orders {
    source: inbox { path: "partners/xml"  format: { type: xml, xml_arrays: ["line"] } }
    sink s { connector: out }
}
flow json-orders {
    source: inbox { path: "partners/json" }
    sink s { connector: out }
}`, addr, key))
	token := adminToken(t, dir, nil)
	s := startServer(t, dir, nil, "-c", cfg)
	a := api{t: t, base: s.base, token: token}
	eventually(t, "the flows to run", func() bool {
		return a.expect(200, "GET", "/flows/xml-orders", nil)["state"] == "running" &&
			a.expect(200, "GET", "/flows/json-orders", nil)["state"] == "running"
	})

	const order = `<?xml version="1.0"?><order id="7"><total>12.50</total><line><sku>a</sku></line></order>`
	if status, body := postRaw(t, a, "/in/partners/xml", "application/xml", order); status != 202 {
		t.Fatalf("XML to the XML flow: %d %s", status, body)
	}
	// Answered once written: the entry is there.
	entries, err := rdb.XRange(context.Background(), key, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("stream after the XML message: %v", entries)
	}
	var got any
	if err := json.Unmarshal([]byte(fmt.Sprint(entries[0].Values["body"])), &got); err != nil {
		t.Fatalf("body %v: %v", entries[0].Values["body"], err)
	}
	want := map[string]any{"order": map[string]any{"@id": "7", "total": "12.50", "line": []any{map[string]any{"sku": "a"}}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded message %v, want %v", got, want)
	}

	for _, c := range []struct{ path, contentType, body string }{
		{"/in/partners/xml", "application/xml", `<order><total>12.50</order>`}, // not well-formed
		{"/in/partners/xml", "", `{"order":1}`},                                // JSON to the XML flow
		{"/in/partners/json", "", order},                                       // XML to the JSON flow
	} {
		status, body := postRaw(t, a, c.path, c.contentType, c.body)
		if status != 400 || !strings.Contains(body, `"status":400`) {
			t.Errorf("%s %q: %d %s, want a 400 problem", c.path, c.body, status, body)
		}
	}
	if status, body := postRaw(t, a, "/in/partners/json", "application/xml", order); status != 415 {
		t.Errorf("XML Content-Type to the JSON flow: %d %s, want 415", status, body)
	}
	for _, name := range []string{"xml-orders", "json-orders"} {
		st := a.expect(200, "GET", "/flows/"+name, nil)
		c := st["counters"].(map[string]any)
		if c["dead_lettered"] != 0.0 {
			t.Errorf("flow %s dead-lettered a refused body: %v", name, c)
		}
	}
	if n, _ := rdb.XLen(context.Background(), key).Result(); n != 1 {
		t.Errorf("stream has %d entries; the refused bodies must not reach a sink", n)
	}
}

// postRaw POSTs body as it is with contentType (none when empty), and returns the
// status and the answer.
func postRaw(t *testing.T, a api, path, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", a.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}
