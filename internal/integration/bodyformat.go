package integration

import (
	"fmt"
	"mime"
	"net/http"
	"path/filepath"
	"slices"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector/option"
	"github.com/junctionhq/junction/internal/format"
)

// An operation of `body_type: avro` or `body_type: protobuf` declares its codec with a
// `format` block: the connectors' format option (schema or schema_file; descriptor_set
// and message), so an API's schema is written the way a topic's is. Its body fields are
// encoded as one record (message) with the codec, and a successful answer in the
// codec's media type is decoded into JSON (in the contract stage, as XML answers are),
// so callers, `returns`, mappings and the cache see JSON. Operations send plain Avro
// with the declared schema: a schema registry is for broker connectors.

// answerTypes are the media types an answer of each codec may come in: the one Encode
// names first, then the others in use for the same encoding.
var answerTypes = map[string][]string{
	format.NameAvro:     {"application/avro", "avro/binary", "application/vnd.apache.avro+binary"},
	format.NameProtobuf: {"application/x-protobuf", "application/protobuf", "application/vnd.google.protobuf"},
}

// operationCodec builds the codec of a body_type: avro or protobuf operation from its
// format declaration, as option.FormatOf builds a connector's: files are read relative
// to the configuration file, and each problem is a *config.OptionError at its key. It
// returns nil for the other body types.
func operationCodec(in *config.Integration, decl *config.Operation, lookup config.LookupEnv) (format.Codec, error) {
	if decl.Format == nil || (decl.BodyType != config.BodyTypeAvro && decl.BodyType != config.BodyTypeProtobuf) {
		return nil, nil
	}
	f := *decl.Format
	if block, ok := f.Value.(config.Options); ok {
		if _, typed := block.Get("type"); !typed {
			// The body type names the format; the block may leave type out.
			block.Entries = append([]config.Option{{Pos: block.Pos, Key: "type", Value: decl.BodyType}}, block.Entries...)
			f.Value = block
		}
	}
	what := "integration " + in.Name + " operation " + decl.Name
	c, err := option.FormatOf(what, config.Options{Pos: f.Pos, Entries: []config.Option{f}}, option.Source, lookup)
	if err != nil {
		return nil, err
	}
	if c == nil {
		// config refuses a type other than the body type; kept for safety.
		return nil, &config.OptionError{Pos: f.Pos, Msg: fmt.Sprintf("%s: format: expected a %s format", what, decl.BodyType)}
	}
	return c, nil
}

// CheckFormats builds the codec of every body_type: avro or protobuf operation as the
// runtime does when it starts, for `junction validate`: a schema file that cannot be
// read, a schema that does not parse, a descriptor set without the message, each as a
// *config.OptionError at the key in question.
func CheckFormats(integrations []*config.Integration, lookup config.LookupEnv) []error {
	var errs []error
	for _, in := range integrations {
		for _, decl := range in.Operations {
			if _, err := operationCodec(in, decl, lookup); err != nil {
				errs = append(errs, unjoin(err)...)
			}
		}
	}
	return errs
}

// unjoin is the errors an errors.Join holds, or err alone.
func unjoin(err error) []error {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range joined.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// formatFiles are the files an integration's operation formats read, for the
// fingerprint: a changed schema is a changed integration.
func formatFiles(in *config.Integration) []string {
	var out []string
	for _, decl := range in.Operations {
		if decl.Format == nil {
			continue
		}
		block, _ := decl.Format.Value.(config.Options)
		for _, key := range []string{"schema_file", "descriptor_set"} {
			e, ok := block.Get(key)
			p, isString := e.Value.(string)
			if !ok || !isString || p == "" {
				continue
			}
			if !filepath.IsAbs(p) && e.Pos.File != "" {
				p = filepath.Join(filepath.Dir(e.Pos.File), p)
			}
			out = append(out, p)
		}
	}
	return out
}

// codedBody is the body fields as one record (message) in the operation's codec. A
// body that does not fit the schema is a problem with the parameters.
func (b *builder) codedBody(codec format.Codec, fields []*config.Field) []byte {
	out, err := codec.Encode(jsonNumbers(b.bodyObject(fields)))
	if err != nil {
		b.problem("", "cannot encode the body as %s: %v", format.Name(codec), err)
	}
	return out
}

// isCodecAnswer says whether a response's Content-Type is one of the codec's media
// types.
func isCodecAnswer(h http.Header, codec format.Codec) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return false
	}
	name := format.NameAvro
	if _, ok := codec.(*format.Protobuf); ok {
		name = format.NameProtobuf
	}
	return slices.Contains(answerTypes[name], mt)
}
