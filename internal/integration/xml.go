package integration

import (
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/format"
	"github.com/junctionhq/junction/internal/transform"
)

// An operation that declares a structured `returns` shape asks for data, and Junction's
// answers are JSON: a successful answer in XML (S3's listings, SOAP-era APIs) is decoded
// into the tree package format defines and answered as JSON, so that `returns` is
// checked against it and mappings (flow enrich steps, workflow steps) read it as any
// other answer. Members the shape declares as lists are decoded as lists even when the
// XML holds one element of the name (S3's <Contents>), so a mapping of "$.x.Contents[*]"
// works for one result as for many. Answers of operations without a shape, and failure
// answers, go back as the upstream sent them.

// isXML says whether a response's Content-Type is XML: application/xml, text/xml or a
// +xml type.
func isXML(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && (mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml"))
}

// listNames are the names of the members a shape declares as lists, at any depth.
func listNames(t *config.Type) []string {
	var out []string
	var walk func(t *config.Type)
	walk = func(t *config.Type) {
		if t == nil {
			return
		}
		switch t.Kind {
		case config.KindObject:
			for _, f := range t.Fields {
				if f.Type != nil && f.Type.Kind == config.KindList {
					out = append(out, f.Name)
				}
				walk(f.Type)
			}
		case config.KindList:
			walk(t.Elem)
		}
	}
	walk(t)
	return out
}

// decodeAnswer replaces an XML (Avro, Protobuf) body with its JSON; an undecodable
// body is left as it came, and the reason returned.
func decodeAnswer(res *Result, codec format.Codec) error {
	tree, err := codec.Decode(res.Body)
	if err != nil {
		return fmt.Errorf("body is declared as %s and is not: %w", format.Name(codec), err)
	}
	body, err := transform.Encode(tree)
	if err != nil {
		return err
	}
	header := res.Header.Clone()
	header.Set("Content-Type", "application/json")
	header.Del("Content-Length")
	header.Del("Content-Md5")
	res.Header, res.Body = header, body
	return nil
}
