package format

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/hamba/avro/v2"
)

// Avro is the Avro codec: messages are the binary encoding of one value of a schema,
// or, with a schema registry, Confluent's wire format: a zero byte, the schema's id in
// four bytes (big-endian), then the binary encoding. See avro.go for how Avro values
// become tree values.
type Avro struct {
	schema   avro.Schema // nil: with a registry, the subject's latest version
	text     string      // the schema as written, what is registered
	registry *Registry
	subject  string
}

// AvroOptions configure NewAvro.
type AvroOptions struct {
	// Schema is the schema's JSON text. Without a registry it is required: messages
	// are written and read with it. With a registry, encoding registers it under
	// Subject (or, when empty, uses the subject's latest version); decoding always uses
	// the schema whose id the message carries.
	Schema string
	// Registry, when set, makes messages Confluent's wire format.
	Registry *Registry
	// Subject is what encoding registers the schema under, or takes the latest version
	// of (Kafka's convention: TOPIC-value). A registry codec without one only decodes.
	Subject string
}

// NewAvro checks the options and parses the schema.
func NewAvro(o AvroOptions) (*Avro, error) {
	a := &Avro{registry: o.Registry, subject: o.Subject, text: o.Schema}
	if o.Schema != "" {
		s, err := parseAvroSchema(o.Schema)
		if err != nil {
			return nil, err
		}
		a.schema = s
	}
	if a.registry == nil && a.schema == nil {
		return nil, errors.New("an Avro schema is required without a schema registry")
	}
	return a, nil
}

// ContentType is Avro's binary encoding's media type.
func (a *Avro) ContentType() string { return "application/avro" }

// confluentMagic starts every message of Confluent's wire format.
const confluentMagic = 0

// Decode reads one value. With a registry a schema fetch that fails for a reason a
// retry may mend is an *UnavailableError.
func (a *Avro) Decode(b []byte) (any, error) {
	if a.registry == nil {
		return decodeAvro(a.schema, b)
	}
	if len(b) < 5 || b[0] != confluentMagic {
		return nil, errors.New("invalid Avro: not in the schema registry's wire format (a zero byte and a 4-byte schema id first)")
	}
	id := int(binary.BigEndian.Uint32(b[1:5]))
	s, err := a.registry.SchemaByID(context.Background(), id)
	if err != nil {
		return nil, err
	}
	v, err := decodeAvro(s, b[5:])
	if err != nil {
		return nil, fmt.Errorf("schema %d: %w", id, err)
	}
	return v, nil
}

// Encode writes v with the schema (the registry's id first, with a registry).
func (a *Avro) Encode(v any) ([]byte, error) {
	if a.registry == nil {
		return encodeAvro(nil, a.schema, v)
	}
	if a.subject == "" {
		return nil, errors.New("encoding Avro with a schema registry needs a subject")
	}
	ctx := context.Background()
	var (
		id     int
		schema = a.schema
		err    error
	)
	if schema != nil {
		id, err = a.registry.Register(ctx, a.subject, a.text)
	} else {
		id, schema, err = a.registry.Latest(ctx, a.subject)
	}
	if err != nil {
		return nil, err
	}
	head := binary.BigEndian.AppendUint32([]byte{confluentMagic}, uint32(id))
	return encodeAvro(head, schema, v)
}
