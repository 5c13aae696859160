package schema_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/protogate/gateway/schema"
)

// twoPackages declares a User in two packages, each used by a query.
func twoPackages(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{
		"a.proto": `syntax = "proto3"; package a.v1;
service A { rpc GetA(User) returns (User) { option idempotency_level = NO_SIDE_EFFECTS; } }
message User { string id = 1; Kind kind = 2; message Address { string city = 1; } Address address = 3; }
enum Kind { KIND_UNSPECIFIED = 0; }`,
		"b.proto": `syntax = "proto3"; package b.v1;
service B { rpc GetB(User) returns (User) { option idempotency_level = NO_SIDE_EFFECTS; } }
message User { string name = 1; Kind kind = 2; message Address { string street = 1; } Address address = 3; }
enum Kind { KIND_UNSPECIFIED = 0; }`,
	}
}

func TestTypeCollision(t *testing.T) {
	services := compile(t, twoPackages(t))
	_, err := schema.Build(services, schema.Options{})
	var serr *schema.Error
	if !errors.As(err, &serr) {
		t.Fatalf("error %v is not a *schema.Error", err)
	}
	msg := err.Error()
	wantContains(t, msg, "GraphQL type User ", "a.v1.User", "b.v1.User",
		"GraphQL type User_Address ", "a.v1.User.Address", "b.v1.User.Address",
		"GraphQL type Kind ", "a.v1.Kind", "b.v1.Kind",
		"GraphQL type User_AddressInput ", "prefix")
}

func TestPrefixes(t *testing.T) {
	services := compile(t, twoPackages(t))
	s := mustBuild(t, services, schema.Options{Prefixes: map[string]string{"b.v1": "Beta"}})
	for _, name := range []string{"User", "User_Address", "Kind", "User_AddressInput",
		"BetaUser", "BetaUser_Address", "BetaKind", "BetaUser_AddressInput"} {
		if s.AST().Types[name] == nil {
			t.Errorf("no type %s in\n%s", name, s.SDL())
		}
	}
	if got := s.RootField(ast.Query, "getB").Result.Object.Message.FullName(); got != "b.v1.User" {
		t.Errorf("getB returns %s", got)
	}
	if got := fieldType(t, s, "BetaUser", "kind"); got != "BetaKind!" {
		t.Errorf("BetaUser.kind is %s", got)
	}

	msg := buildErr(t, services, schema.Options{Prefixes: map[string]string{"b.v1": "9x"}})
	wantContains(t, msg, `prefix "9x"`, "b.v1")
}

func TestReservedTypeNames(t *testing.T) {
	services := compileOne(t, `
service S { rpc Get(Query) returns (JSON) { option idempotency_level = NO_SIDE_EFFECTS; } }
message Query { string q = 1; }
message JSON { string j = 1; }
`)
	msg := buildErr(t, services, schema.Options{})
	wantContains(t, msg, "GraphQL type JSON for message test.v1.JSON is already taken by a scalar of the gateway")
	// The request is arguments, not a type: Query as a request is fine, as an input type it is QueryInput.
	services = compileOne(t, `
service S { rpc Get(R) returns (Query) { option idempotency_level = NO_SIDE_EFFECTS; } }
message R { string q = 1; }
message Query { string q = 1; }
`)
	msg = buildErr(t, services, schema.Options{})
	wantContains(t, msg, "GraphQL type Query for message test.v1.Query is already taken by a root type")
}

func TestInputNameCollision(t *testing.T) {
	services := compileOne(t, `
service S { rpc Put(R) returns (UserInput); }
message R { User user = 1; }
message User { string id = 1; }
message UserInput { string id = 1; }
`)
	msg := buildErr(t, services, schema.Options{})
	wantContains(t, msg, "GraphQL type UserInput", "the input of message test.v1.User", "message test.v1.UserInput")
}

func TestNestedNames(t *testing.T) {
	services := compileOne(t, `
service S { rpc Get(Outer) returns (Outer) { option idempotency_level = NO_SIDE_EFFECTS; } }
message Outer {
  message Middle {
    message Inner { string s = 1; }
    enum Mode { MODE_UNSPECIFIED = 0; }
    Inner inner = 1;
    Mode mode = 2;
  }
  Middle middle = 1;
}
`)
	s := mustBuild(t, services, schema.Options{})
	for _, name := range []string{"Outer", "Outer_Middle", "Outer_Middle_Inner", "Outer_Middle_Mode", "Outer_Middle_InnerInput"} {
		if s.AST().Types[name] == nil {
			t.Errorf("no type %s", name)
		}
	}
}

func TestInvalidNames(t *testing.T) {
	services := compileOne(t, `
service S { rpc Get(R) returns (R) { option idempotency_level = NO_SIDE_EFFECTS; } }
message R { string s = 1 [json_name = "not-valid"]; E e = 2; }
enum E { E_UNSPECIFIED = 0; null = 1; }
`)
	msg := buildErr(t, services, schema.Options{})
	wantContains(t, msg, `field test.v1.R.s: its JSON name "not-valid"`, `enum value test.v1.null: "null"`)
}

// Fields of one message whose JSON names agree (proto2 allows foo_bar and fooBar) each take their
// proto name, in the object, the input and the arguments alike, whatever their order.
func TestFieldsSharingAJSONName(t *testing.T) {
	for _, fields := range []string{
		`optional string foo_bar = 1; optional string fooBar = 2; optional string other_field = 3;`,
		`optional string fooBar = 2; optional string other_field = 3; optional string foo_bar = 1;`,
	} {
		services := compile(t, map[string]string{"test.proto": `syntax = "proto2"; package test.v1;
service S { rpc Get(Owner) returns (Owner) { option idempotency_level = NO_SIDE_EFFECTS; }
            rpc Put(PutRequest) returns (Owner); }
message Owner { ` + fields + ` }
message PutRequest { optional Owner owner = 1; }`})
		s := mustBuild(t, services, schema.Options{})
		for _, typ := range []string{"Owner", "OwnerInput"} {
			for _, f := range []string{"foo_bar", "fooBar", "otherField"} {
				if got := fieldType(t, s, typ, f); got != "String" {
					t.Errorf("%s.%s is %s", typ, f, got)
				}
			}
			if n := len(s.AST().Types[typ].Fields); n != 3 {
				t.Errorf("%s has %d fields:\n%s", typ, n, s.SDL())
			}
		}
		get := s.RootField(ast.Query, "get")
		for _, f := range []string{"foo_bar", "fooBar", "otherField"} {
			argType(t, s, ast.Query, "get", f)
			if get.Args.Field(f) == nil || get.Result.Object.Field(f) == nil {
				t.Errorf("the plan has no field %s", f)
			}
		}
		if got := get.Result.Object.Field("foo_bar").Desc.Name(); got != "foo_bar" {
			t.Errorf("foo_bar maps to %s", got)
		}
		if got := get.Args.Field("fooBar").Desc.Name(); got != "fooBar" {
			t.Errorf("fooBar maps to %s", got)
		}
	}
}

// When the proto names of fields sharing a JSON name clash too, or are not GraphQL names, the
// registration is refused, naming the message and the fields.
func TestFieldsSharingAJSONNameRefused(t *testing.T) {
	services := compile(t, map[string]string{"test.proto": `syntax = "proto2"; package test.v1;
service S { rpc Get(R) returns (R) { option idempotency_level = NO_SIDE_EFFECTS; } }
message R {
  optional string foo_bar = 1;
  optional string fooBar = 2;
  optional string x = 3 [json_name = "foo_bar"];
  optional string __a = 4;
  optional string A = 5;
}`})
	msg := buildErr(t, services, schema.Options{})
	wantContains(t, msg, "message test.v1.R: fields foo_bar and x would have one GraphQL name, foo_bar",
		`field test.v1.R.__a: its JSON name "A" is shared with another field, so it takes its proto name, which is not a valid GraphQL name`)
	if strings.Contains(msg, "bug") || strings.Contains(msg, "test.v1.R.A:") {
		t.Errorf("error: %s", msg)
	}
}
