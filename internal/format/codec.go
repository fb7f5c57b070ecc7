package format

import (
	"mime"
	"strings"

	"github.com/junctionhq/junction/internal/transform"
)

// Codec converts one format. Decode turns a message's bytes into a tree; Encode turns
// a tree into bytes. Both are safe for concurrent use, and a failure is an error about
// that one message, never a panic.
type Codec interface {
	Decode(b []byte) (any, error)
	Encode(v any) ([]byte, error)
	// ContentType is the media type of what Encode writes, for HTTP bodies and
	// message headers.
	ContentType() string
}

// Format names, as the configuration spells them.
const (
	NameJSON     = "json"
	NameXML      = "xml"
	NameAvro     = "avro"
	NameProtobuf = "protobuf"
)

// JSON is the default format: transform.Decode and transform.Encode.
type JSON struct{}

// Decode parses one JSON document.
func (JSON) Decode(b []byte) (any, error) { return transform.Decode(b) }

// Encode writes v as JSON.
func (JSON) Encode(v any) ([]byte, error) { return transform.Encode(v) }

// ContentType is application/json.
func (JSON) ContentType() string { return "application/json" }

// IsXMLContentType says whether an HTTP Content-Type names XML: application/xml,
// text/xml, or any type with the +xml suffix (application/atom+xml, …).
func IsXMLContentType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml")
}

// Name is the name of a codec's format, for messages: "JSON", "XML", "Avro",
// "Protobuf".
func Name(c Codec) string {
	switch c.(type) {
	case XML:
		return "XML"
	case *Avro:
		return "Avro"
	case *Protobuf:
		return "Protobuf"
	}
	return "JSON"
}
