package schema_test

import (
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protogate/gateway/schema"
)

const operationsProto = `
service Ops {
  rpc GetThing(Req) returns (Resp) { option (google.api.http) = {get: "/v1/things/{id}"}; }
  rpc FindThing(Req) returns (Resp) {
    option (google.api.http) = {post: "/v1/things:find" body: "*" additional_bindings {get: "/v1/things:find"}};
  }
  rpc CountThings(Req) returns (Resp) { option idempotency_level = NO_SIDE_EFFECTS; }
  rpc PutThing(Req) returns (Resp) { option idempotency_level = IDEMPOTENT; }
  rpc MakeThing(Req) returns (Resp) { option (google.api.http) = {post: "/v1/things" body: "*"}; }
  rpc Plain(Req) returns (Resp);
  rpc WatchThings(Req) returns (stream Resp) { option (google.api.http) = {get: "/v1/things:watch"}; }
  rpc UploadThings(stream Req) returns (Resp);
  rpc ChatThings(stream Req) returns (stream Resp);
  rpc URLLookup(Req) returns (Resp) { option idempotency_level = NO_SIDE_EFFECTS; }
}
message Req {
  string id = 1 [(google.api.field_behavior) = REQUIRED];
  string note = 2;
  repeated string tags = 3 [(google.api.field_behavior) = REQUIRED];
  string server_only = 4 [(google.api.field_behavior) = OUTPUT_ONLY];
  map<string, string> labels = 5 [(google.api.field_behavior) = REQUIRED];
}
message Resp { string id = 1; }
`

func TestOperations(t *testing.T) {
	s := mustBuild(t, compileOne(t, operationsProto), schema.Options{})
	want := map[string]ast.Operation{
		"getThing":    ast.Query,        // GET binding
		"findThing":   ast.Query,        // GET additional binding
		"countThings": ast.Query,        // NO_SIDE_EFFECTS
		"urlLookup":   ast.Query,        // lowerCamel of an initialism
		"putThing":    ast.Mutation,     // IDEMPOTENT is not free of side effects
		"makeThing":   ast.Mutation,     // POST
		"plain":       ast.Mutation,     // nothing said
		"watchThings": ast.Subscription, // server streaming, whatever its binding
	}
	for name, op := range want {
		rf := s.RootField(op, name)
		if rf == nil {
			t.Errorf("no %s field %s", op, name)
			continue
		}
		if rf.Path != "/test.v1.Ops/"+string(rf.Method.Name()) || rf.Operation != op || rf.Name != name {
			t.Errorf("%s: %+v", name, rf)
		}
		for _, other := range []ast.Operation{ast.Query, ast.Mutation, ast.Subscription} {
			if other != op && s.RootField(other, name) != nil {
				t.Errorf("%s is also a %s field", name, other)
			}
		}
	}
	for _, name := range []string{"uploadThings", "chatThings"} {
		for _, op := range []ast.Operation{ast.Query, ast.Mutation, ast.Subscription} {
			if s.RootField(op, name) != nil || s.AST().Types[rootType(op)].Fields.ForName(name) != nil {
				t.Errorf("client or bidi streaming method %s is a %s field", name, op)
			}
		}
	}
	if got := len(s.RootFields(ast.Query)) + len(s.RootFields(ast.Mutation)) + len(s.RootFields(ast.Subscription)); got != len(want) {
		t.Errorf("%d root fields, want %d", got, len(want))
	}
	if rf := s.RootFields(ast.Query); rf[0].Name != "getThing" || rf[1].Name != "findThing" {
		t.Errorf("query fields not in declaration order: %s, %s", rf[0].Name, rf[1].Name)
	}
}

func rootType(op ast.Operation) string {
	switch op {
	case ast.Mutation:
		return "Mutation"
	case ast.Subscription:
		return "Subscription"
	}
	return "Query"
}

func TestRequiredArguments(t *testing.T) {
	s := mustBuild(t, compileOne(t, operationsProto), schema.Options{})
	for arg, want := range map[string]string{
		"id":     "String!",
		"note":   "String",
		"tags":   "[String!]!",
		"labels": "JSON!",
	} {
		if got := argType(t, s, ast.Query, "getThing", arg); got != want {
			t.Errorf("getThing(%s:) is %s, want %s", arg, got, want)
		}
	}
	rf := s.RootField(ast.Query, "getThing")
	if rf.Args.Field("serverOnly") != nil {
		t.Error("OUTPUT_ONLY field is an argument")
	}
	if rf.Args.Name != "" || rf.Args.Message.FullName() != "test.v1.Req" || len(rf.Args.Fields) != 4 {
		t.Errorf("Args: %+v", rf.Args)
	}
	if f := rf.Args.Field("id"); f.Desc.FullName() != "test.v1.Req.id" || f.Kind != schema.KindString {
		t.Errorf("argument id maps to %v", f.Desc.FullName())
	}
}

func TestQueryPlaceholder(t *testing.T) {
	services := compileOne(t, `
service Writer { rpc Write(W) returns (W); }
message W { string s = 1; }
`)
	s := mustBuild(t, services, schema.Options{})
	q := s.AST().Query
	if q == nil || q.Fields.ForName(schema.PlaceholderField) == nil {
		t.Fatalf("Query has no %s field:\n%s", schema.PlaceholderField, s.SDL())
	}
	if s.RootField(ast.Query, schema.PlaceholderField) != nil || len(s.RootFields(ast.Query)) != 0 {
		t.Error("the placeholder has a RootField")
	}
	if s.RootField(ast.Mutation, "write") == nil {
		t.Error("no mutation write")
	}
	if s.AST().Subscription != nil {
		t.Error("Subscription declared without server-streaming methods")
	}

	// With a query, no placeholder.
	s = mustBuild(t, compileOne(t, operationsProto), schema.Options{})
	if s.AST().Query.Fields.ForName(schema.PlaceholderField) != nil {
		t.Error("placeholder declared although there are queries")
	}

	// No service at all still makes a valid schema.
	s = mustBuild(t, nil, schema.Options{})
	if s.AST().Query.Fields.ForName(schema.PlaceholderField) == nil {
		t.Error("empty schema has no placeholder")
	}
}

func TestRootFieldCollision(t *testing.T) {
	services := compile(t, map[string]string{
		"a.proto": `syntax = "proto3"; package a.v1;
service A { rpc GetUser(R) returns (R); }
message R { string id = 1; }`,
		"b.proto": `syntax = "proto3"; package b.v1;
service B { rpc GetUser(R) returns (R); }
message R { string id = 1; }`,
	})
	msg := buildErr(t, services, schema.Options{Prefixes: map[string]string{"b.v1": "B"}})
	wantContains(t, msg, "getUser", "b.v1.B/GetUser", "a.v1.A/GetUser")

	// Renaming one resolves it.
	s := mustBuild(t, services, schema.Options{
		Prefixes:  map[string]string{"b.v1": "B"},
		Overrides: []schema.Override{{Method: "b.v1.B/GetUser", Name: "getBUser"}},
	})
	if s.RootField(ast.Mutation, "getBUser") == nil || s.RootField(ast.Mutation, "getUser") == nil {
		t.Errorf("renamed fields missing:\n%s", s.SDL())
	}
}

func TestDeterministic(t *testing.T) {
	services := shopServices()
	first := mustBuild(t, services, schema.Options{Links: shopLinks()}).SDL()
	reversed := []protoreflect.ServiceDescriptor{services[2], services[1], services[0]}
	for range 5 {
		if got := mustBuild(t, reversed, schema.Options{Links: shopLinks()}).SDL(); got != first {
			t.Fatal("SDL depends on the order of the services or on map order")
		}
	}
}
