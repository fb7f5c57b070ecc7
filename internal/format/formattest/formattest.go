package formattest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// DescriptorSet compiles the .proto file at path (its imports found beside it, and the
// well-known types built in) into a serialized FileDescriptorSet holding it and every
// file it imports, dependencies first.
func DescriptorSet(t testing.TB, path string) []byte {
	t.Helper()
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{filepath.Dir(path)}})}
	files, err := c.Compile(context.Background(), filepath.Base(path))
	if err != nil {
		t.Fatalf("compiling %s: %v", path, err)
	}
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(f protoreflect.FileDescriptor)
	add = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		for i := range f.Imports().Len() {
			add(f.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(f))
	}
	for _, f := range files {
		add(f)
	}
	b, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// DescriptorSetFile writes DescriptorSet(path) into a file of the test's temporary
// directory and returns its path, for configurations that name one.
func DescriptorSetFile(t testing.TB, path string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(path)+".binpb")
	if err := os.WriteFile(out, DescriptorSet(t, path), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}
