package format

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/hamba/avro/v2"
)

// Avro is the Avro codec: messages are the binary encoding of one value of a schema,
// or, with a schema registry, Confluent's wire format: a zero byte, the schema's id in
// four bytes (big-endian), then the binary encoding. See avro.go for how Avro values
// become tree values, and avroresolve.go for how a registry's writer schemas are read
// as the schema given.
type Avro struct {
	schema   avro.Schema // nil: with a registry, the subject's latest version
	text     string      // the schema as written, what is registered
	registry *Registry
	subject  string

	// plans holds, with a registry and a schema, the resolution of each writer schema
	// id read so far to the schema (int → readPlan): ids never change their schema, so
	// each pair is matched once, an incompatible one too.
	plans sync.Map
}

// readPlan is how the messages of one writer schema id are read, or why they cannot be.
type readPlan struct {
	res *resolution
	err error
}

// AvroOptions configure NewAvro.
type AvroOptions struct {
	// Schema is the schema's JSON text. Without a registry it is required: messages
	// are written and read with it. With a registry, encoding registers it under
	// Subject (or, when empty, uses the subject's latest version); decoding reads each
	// message with the schema whose id it carries (the writer's) and, when Schema is
	// set, resolves it to Schema (the reader's) by Avro's schema resolution, so every
	// message comes out in Schema's shape.
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

// Decode reads one value: with a registry, with the schema of the message's id, resolved
// to the codec's schema when it has one. A schema fetch that fails for a reason a retry
// may mend is an *UnavailableError; anything else is about the message.
func (a *Avro) Decode(b []byte) (any, error) {
	if a.registry == nil {
		return decodeAvro(a.schema, b)
	}
	if len(b) < 5 || b[0] != confluentMagic {
		return nil, errors.New("invalid Avro: not in the schema registry's wire format (a zero byte and a 4-byte schema id first)")
	}
	id := int(binary.BigEndian.Uint32(b[1:5]))
	var (
		v   any
		err error
	)
	if a.schema != nil { // the reader's schema: the writer's is resolved to it
		var plan *resolution
		if plan, err = a.readPlan(id); err != nil {
			return nil, err
		}
		v, err = decodeResolved(plan, b[5:])
	} else {
		var s avro.Schema
		if s, err = a.registry.SchemaByID(context.Background(), id); err != nil {
			return nil, err
		}
		v, err = decodeAvro(s, b[5:])
	}
	if err != nil {
		return nil, fmt.Errorf("schema %d: %w", id, err)
	}
	return v, nil
}

// readPlan is the resolution of writer schema id to the reader's schema, made on its
// first message. A registry that fails is not kept (a retry may mend it); schemas
// that do not match are (the same id is the same schema for good).
func (a *Avro) readPlan(id int) (*resolution, error) {
	if p, ok := a.plans.Load(id); ok {
		return p.(readPlan).res, p.(readPlan).err
	}
	w, err := a.registry.SchemaByID(context.Background(), id)
	if err != nil {
		return nil, err
	}
	res, err := resolveSchemas(w, a.schema)
	if err != nil {
		err = fmt.Errorf("schema %d: the writer's %s cannot be read as the reader's %s: %w", id, schemaName(w), schemaName(a.schema), err)
	}
	p, _ := a.plans.LoadOrStore(id, readPlan{res: res, err: err})
	return p.(readPlan).res, p.(readPlan).err
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
