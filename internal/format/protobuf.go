package format

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/junctionhq/junction/internal/transform"
)

// Protobuf is the Protocol Buffers codec: messages are the binary encoding of one
// message type, described by a descriptor set (a FileDescriptorSet, as `protoc
// --include_imports --descriptor_set_out` or `buf build -o` write it).
//
// A message becomes the tree of its canonical JSON form (protojson) with the field
// names of the .proto file (order_id, not orderId), every field present (unset scalars
// with their zero value, unset messages null), enums by name, bytes as base64, and the
// well-known types in their JSON forms (a Timestamp is RFC 3339 text). Unlike protojson,
// 64-bit integers are numbers, not strings, so that expressions compare them as numbers
// (json.Number keeps them exact). Encoding takes the same tree, or any JSON form
// protojson accepts (lowerCamelCase names, 64-bit integers as strings); a member the
// message does not declare is an error. Unknown fields of a decoded message (from a
// newer writer) are left out of the tree.
type Protobuf struct {
	md    protoreflect.MessageDescriptor
	types *dynamicpb.Types // resolves google.protobuf.Any's contents
}

// NewProtobuf reads a descriptor set and finds the message named message (its full
// name, package included: "shop.Order").
func NewProtobuf(descriptorSet []byte, message string) (*Protobuf, error) {
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(descriptorSet, &set); err != nil {
		return nil, fmt.Errorf("not a protobuf descriptor set (a FileDescriptorSet): %w", err)
	}
	if len(set.GetFile()) == 0 {
		return nil, errors.New("the descriptor set holds no file")
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		return nil, fmt.Errorf("invalid descriptor set (it must hold every imported file: protoc --include_imports, or buf build): %w", err)
	}
	d, err := files.FindDescriptorByName(protoreflect.FullName(message))
	if err != nil {
		return nil, &MessageNameError{fmt.Sprintf("no message %q in the descriptor set; it has %s", message, messageNames(files))}
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, &MessageNameError{fmt.Sprintf("%q is not a message in the descriptor set; it has %s", message, messageNames(files))}
	}
	return &Protobuf{md: md, types: dynamicpb.NewTypes(files)}, nil
}

// MessageNameError is NewProtobuf's error when the descriptor set is fine but holds no
// message of the name, so a configuration can point at the name rather than the file.
type MessageNameError struct{ msg string }

func (e *MessageNameError) Error() string { return e.msg }

// messageNames lists the messages a set declares (the first few), for errors.
func messageNames(files *protoregistry.Files) string {
	var names []string
	var walk func(protoreflect.MessageDescriptors)
	walk = func(ms protoreflect.MessageDescriptors) {
		for i := range ms.Len() {
			if !ms.Get(i).IsMapEntry() {
				names = append(names, string(ms.Get(i).FullName()))
			}
			walk(ms.Get(i).Messages())
		}
	}
	files.RangeFiles(func(f protoreflect.FileDescriptor) bool {
		walk(f.Messages())
		return true
	})
	if len(names) == 0 {
		return "none"
	}
	slices.Sort(names)
	if len(names) > 10 {
		names = append(names[:10], "…")
	}
	return strings.Join(names, ", ")
}

// ContentType is the media type protobuf bodies are commonly sent with.
func (p *Protobuf) ContentType() string { return "application/x-protobuf" }

// Decode reads one message.
func (p *Protobuf) Decode(b []byte) (any, error) {
	m := dynamicpb.NewMessage(p.md)
	if err := p.unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("invalid protobuf %s: %w", p.md.FullName(), err)
	}
	js, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true, Resolver: p.types}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("protobuf %s: %w", p.md.FullName(), err)
	}
	tree, err := transform.Decode(js)
	if err != nil {
		return nil, fmt.Errorf("protobuf %s: %w", p.md.FullName(), err)
	}
	return numbers64(p.md, tree), nil
}

// unmarshal is proto.Unmarshal, turning a panic into an error: protobuf-go v1.36
// panics on a map entry whose key has the wrong wire type when the message is dynamic
// (FuzzProtobufDecode found it; testdata/fuzz keeps the input), and one bad message
// must not stop the process.
func (p *Protobuf) unmarshal(b []byte, m *dynamicpb.Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot parse invalid wire-format data (%v)", r)
		}
	}()
	return proto.UnmarshalOptions{Resolver: p.types}.Unmarshal(b, m)
}

// Encode writes v as one message.
func (p *Protobuf) Encode(v any) ([]byte, error) {
	js, err := transform.Encode(v)
	if err != nil {
		return nil, err
	}
	m := dynamicpb.NewMessage(p.md)
	if err := (protojson.UnmarshalOptions{Resolver: p.types}).Unmarshal(js, m); err != nil {
		return nil, fmt.Errorf("the message does not fit protobuf %s: %w", p.md.FullName(), err)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("protobuf %s: %w", p.md.FullName(), err)
	}
	return b, nil
}

// numbers64 turns the 64-bit integers protojson writes as strings back into numbers,
// in the fields of md (the well-known types keep their own JSON forms).
func numbers64(md protoreflect.MessageDescriptor, v any) any {
	obj, ok := v.(map[string]any)
	if !ok || md.FullName().Parent() == "google.protobuf" {
		return v
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		name := string(fd.Name())
		val, present := obj[name]
		if !present || val == nil {
			continue
		}
		switch {
		case fd.IsMap():
			if m, ok := val.(map[string]any); ok {
				for k, e := range m {
					m[k] = number64(fd.MapValue(), e)
				}
			}
		case fd.IsList():
			if list, ok := val.([]any); ok {
				for j, e := range list {
					list[j] = number64(fd, e)
				}
			}
		default:
			obj[name] = number64(fd, val)
		}
	}
	return obj
}

func number64(fd protoreflect.FieldDescriptor, v any) any {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return numbers64(fd.Message(), v)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if s, ok := v.(string); ok {
			return json.Number(s)
		}
	}
	return v
}
