package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/junctionhq/junction/internal/fakeapi"
)

const pointSchema = `{"type": "record", "name": "Point", "fields": [{"name": "x", "type": "int"}, {"name": "label", "type": ["null", "string"], "default": null}]}`

func newRegistryCodec(t *testing.T, reg *fakeapi.SchemaRegistry, o AvroOptions) *Avro {
	t.Helper()
	r, err := NewRegistry(reg.URL(), "u", "p")
	if err != nil {
		t.Fatal(err)
	}
	o.Registry = r
	return mustAvro(t, o)
}

// TestAvroRegistryRoundTrip: encoding registers the schema under the subject and
// writes Confluent's wire format; decoding fetches the schema by the id in the message,
// once.
func TestAvroRegistryRoundTrip(t *testing.T) {
	reg := fakeapi.NewSchemaRegistry(t, fakeapi.SchemaRegistryConfig{Username: "u", Password: "p"})
	reg.Register("other-value", `{"type": "string"}`) // so the ids are not all 1
	enc := newRegistryCodec(t, reg, AvroOptions{Schema: pointSchema, Subject: "points-value"})
	dec := newRegistryCodec(t, reg, AvroOptions{})

	var msgs [][]byte
	for _, tree := range []string{`{"x": 1, "label": "a"}`, `{"x": -2}`} {
		b, err := enc.Encode(mustTree(t, tree))
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		msgs = append(msgs, b)
	}
	if id := binary.BigEndian.Uint32(msgs[0][1:5]); msgs[0][0] != 0 || id != 2 {
		t.Fatalf("message starts % x, want 00 and schema id 2", msgs[0][:5])
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			got, err := dec.Decode(msgs[1])
			if err != nil {
				t.Errorf("Decode: %v", err)
			} else if diff := cmp.Diff(mustTree(t, `{"x": -2, "label": null}`), got); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
		})
	}
	wg.Wait()
	if n := len(reg.RequestsTo(http.MethodPost, "/subjects/points-value/versions")); n != 1 {
		t.Errorf("%d registrations, want 1 (the id is kept)", n)
	}
	if n := len(reg.RequestsTo(http.MethodGet, "/schemas/ids/2")); n != 1 {
		t.Errorf("%d fetches of schema 2, want 1 (kept, concurrent misses shared)", n)
	}
	if got := reg.Requests()[0].Header.Get("Authorization"); !strings.HasPrefix(got, "Basic ") {
		t.Errorf("Authorization = %q, want basic authentication", got)
	}
}

// TestAvroRegistryLatest: without a schema, encoding uses the subject's latest version.
func TestAvroRegistryLatest(t *testing.T) {
	reg := fakeapi.NewSchemaRegistry(t, fakeapi.SchemaRegistryConfig{Username: "u", Password: "p"})
	id, err := reg.Register("points-value", pointSchema)
	if err != nil {
		t.Fatal(err)
	}
	enc := newRegistryCodec(t, reg, AvroOptions{Subject: "points-value"})
	b, err := enc.Encode(mustTree(t, `{"x": 5}`))
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte{0, 0, 0, 0, byte(id)}, 0x0a, 0x00)
	if !bytes.Equal(b, want) {
		t.Errorf("Encode = % x, want % x", b, want)
	}
}

func TestAvroRegistryErrors(t *testing.T) {
	reg := fakeapi.NewSchemaRegistry(t, fakeapi.SchemaRegistryConfig{Username: "u", Password: "p"})
	dec := newRegistryCodec(t, reg, AvroOptions{})
	unavailable := func(err error) bool {
		var u *UnavailableError
		return errors.As(err, &u)
	}

	_, err := dec.Decode([]byte{0, 0, 0, 0, 9, 0})
	if err == nil || err.Error() != "schema 9: schema registry answered 404 (error 40403: Schema 9 not found)" || unavailable(err) {
		t.Errorf("unknown id: %v (want a permanent 404 error)", err)
	}
	if _, err := dec.Decode([]byte(`{"x":1}`)); err == nil || !strings.Contains(err.Error(), "not in the schema registry's wire format") {
		t.Errorf("JSON message: %v", err)
	}

	enc := newRegistryCodec(t, reg, AvroOptions{Subject: "nobody-value"})
	if _, err := enc.Encode(mustTree(t, `{"x": 1}`)); err == nil || err.Error() != "subject nobody-value: schema registry answered 404 (error 40401: Subject 'nobody-value' not found.)" {
		t.Errorf("unknown subject: %v", err)
	}

	id, _ := reg.Register("points-value", pointSchema)
	reg.FailNext(1, http.StatusInternalServerError)
	msg := append([]byte{0, 0, 0, 0, byte(id)}, 0x02, 0x00)
	if _, err := dec.Decode(msg); !unavailable(err) || !strings.Contains(err.Error(), "answered 500 (error 50001") {
		t.Errorf("registry failing: %v (want an UnavailableError)", err)
	}
	if _, err := dec.Decode(msg); err != nil {
		t.Errorf("after the registry recovered: %v", err)
	}

	wrong, _ := NewRegistry(reg.URL(), "u", "wrong")
	if _, err := mustAvro(t, AvroOptions{Registry: wrong}).Decode(msg); !unavailable(err) || !strings.Contains(err.Error(), "answered 401") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("bad credentials: %v (want an UnavailableError naming no secret)", err)
	}

	down, _ := NewRegistry("http://127.0.0.1:1", "", "")
	if _, err := mustAvro(t, AvroOptions{Registry: down}).Decode(msg); !unavailable(err) {
		t.Errorf("registry unreachable: %v (want an UnavailableError)", err)
	}

	enc = newRegistryCodec(t, reg, AvroOptions{Schema: pointSchema, Subject: "points-value"})
	reg.FailNext(1, http.StatusServiceUnavailable)
	if _, err := enc.Encode(mustTree(t, `{"x": 1}`)); !unavailable(err) {
		t.Errorf("registering while the registry fails: %v (want an UnavailableError)", err)
	}
}

func TestNewRegistry(t *testing.T) {
	for _, tt := range []struct{ url, wantErr string }{
		{"ftp://x", `the schema registry URL must be http:// or https://, found "ftp://x"`},
		{"registry:8081", `the schema registry URL must be http:// or https://, found "registry:8081"`},
		{"http://u:secret@registry:8081", "the schema registry URL must not hold credentials: set username and password"},
		{"ftp://u:secret@registry", "the schema registry URL must not hold credentials: set username and password"},
	} {
		if _, err := NewRegistry(tt.url, "", ""); err == nil || err.Error() != tt.wantErr {
			t.Errorf("NewRegistry(%q) error = %v, want %q", tt.url, err, tt.wantErr)
		}
	}
}
