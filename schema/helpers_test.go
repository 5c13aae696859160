package schema_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/schema"
)

// optionsProto is the source of the gateway's options, which .proto files under test import.
func optionsProto(t testing.TB) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "proto", "gateway", "options", "v1", "options.proto"))
	if err != nil {
		t.Fatal(err)
	}
	return string(src)
}

// compile compiles .proto sources as the registry does (comments kept) and returns the services
// they declare, outside google.* and gateway.*.
func compile(t testing.TB, sources map[string]string) []protoreflect.ServiceDescriptor {
	t.Helper()
	all := map[string]string{"gateway/options/v1/options.proto": optionsProto(t)}
	var entries []string
	for name, src := range sources {
		all[name] = src
		entries = append(entries, name)
	}
	slices.Sort(entries)
	files, err := registry.FilesFromProtos(context.Background(), all, entries)
	if err != nil {
		t.Fatal(err)
	}
	var services []protoreflect.ServiceDescriptor
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if slices.Contains(entries, fd.Path()) {
			for i := range fd.Services().Len() {
				services = append(services, fd.Services().Get(i))
			}
		}
		return true
	})
	return services
}

// compileOne compiles one file, "test.proto", with a proto3 header and the usual imports added.
func compileOne(t testing.TB, body string) []protoreflect.ServiceDescriptor {
	t.Helper()
	return compile(t, map[string]string{"test.proto": testHeader + body})
}

const testHeader = `syntax = "proto3";
package test.v1;
import "gateway/options/v1/options.proto";
import "google/api/annotations.proto";
import "google/api/field_behavior.proto";
import "google/protobuf/empty.proto";
`

// mustBuild builds a schema or fails the test.
func mustBuild(t testing.TB, services []protoreflect.ServiceDescriptor, opts schema.Options) *schema.Schema {
	t.Helper()
	s, err := schema.Build(services, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// buildErr builds a schema that must fail and returns the error text.
func buildErr(t testing.TB, services []protoreflect.ServiceDescriptor, opts schema.Options) string {
	t.Helper()
	s, err := schema.Build(services, opts)
	if err == nil {
		t.Fatalf("Build succeeded, want an error; SDL:\n%s", s.SDL())
	}
	return err.Error()
}

// fieldType returns the GraphQL type of field typ.field in the loaded schema, e.g. "[String!]!".
func fieldType(t testing.TB, s *schema.Schema, typ, field string) string {
	t.Helper()
	def := s.AST().Types[typ]
	if def == nil {
		t.Fatalf("no type %s in\n%s", typ, s.SDL())
	}
	f := def.Fields.ForName(field)
	if f == nil {
		t.Fatalf("no field %s.%s in\n%s", typ, field, s.SDL())
	}
	return f.Type.String()
}

// argType returns the GraphQL type of argument arg of root field op.field.
func argType(t testing.TB, s *schema.Schema, op ast.Operation, field, arg string) string {
	t.Helper()
	var def *ast.Definition
	switch op {
	case ast.Query:
		def = s.AST().Query
	case ast.Mutation:
		def = s.AST().Mutation
	case ast.Subscription:
		def = s.AST().Subscription
	}
	if def == nil || def.Fields.ForName(field) == nil {
		t.Fatalf("no root field %s %s in\n%s", op, field, s.SDL())
	}
	a := def.Fields.ForName(field).Arguments.ForName(arg)
	if a == nil {
		t.Fatalf("no argument %s of %s in\n%s", arg, field, s.SDL())
	}
	return a.Type.String()
}

// wantContains fails unless err text contains every part.
func wantContains(t testing.TB, text string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(text, p) {
			t.Errorf("error %q does not mention %q", text, p)
		}
	}
}
