package schema_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protogate/gateway/schema"
)

func featureSchema(t testing.TB) *schema.Schema {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "features.proto"))
	if err != nil {
		t.Fatal(err)
	}
	return mustBuild(t, compile(t, map[string]string{"features.proto": string(src)}), schema.Options{})
}

func TestScalarMapping(t *testing.T) {
	s := featureSchema(t)
	tests := []struct {
		typ, field string
		gql        string // GraphQL type on output
		kind       schema.Kind
		wrapper    bool
	}{
		{"Scalars", "b", "Boolean!", schema.KindBool, false},
		{"Scalars", "i32", "Int!", schema.KindInt32, false},
		{"Scalars", "s32", "Int!", schema.KindInt32, false},
		{"Scalars", "sf32", "Int!", schema.KindInt32, false},
		{"Scalars", "u32", "UInt32!", schema.KindUInt32, false},
		{"Scalars", "f32", "UInt32!", schema.KindUInt32, false},
		{"Scalars", "i64", "Int64!", schema.KindInt64, false},
		{"Scalars", "s64", "Int64!", schema.KindInt64, false},
		{"Scalars", "sf64", "Int64!", schema.KindInt64, false},
		{"Scalars", "u64", "UInt64!", schema.KindUInt64, false},
		{"Scalars", "f64", "UInt64!", schema.KindUInt64, false},
		{"Scalars", "fl", "Float!", schema.KindFloat, false},
		{"Scalars", "d", "Float!", schema.KindFloat, false},
		{"Scalars", "s", "String!", schema.KindString, false},
		{"Scalars", "by", "Bytes!", schema.KindBytes, false},
		{"Scalars", "color", "Color!", schema.KindEnum, false},
		{"Scalars", "opt", "Int", schema.KindInt32, false},
		{"Scalars", "list", "[Int64!]!", schema.KindInt64, false},
		{"Scalars", "counts", "JSON!", schema.KindMap, false},
		{"Wrappers", "d", "Float", schema.KindFloat, true},
		{"Wrappers", "f", "Float", schema.KindFloat, true},
		{"Wrappers", "i64", "Int64", schema.KindInt64, true},
		{"Wrappers", "u64", "UInt64", schema.KindUInt64, true},
		{"Wrappers", "i32", "Int", schema.KindInt32, true},
		{"Wrappers", "u32", "UInt32", schema.KindUInt32, true},
		{"Wrappers", "b", "Boolean", schema.KindBool, true},
		{"Wrappers", "s", "String", schema.KindString, true},
		{"Wrappers", "by", "Bytes", schema.KindBytes, true},
		{"WellKnown", "at", "DateTime", schema.KindTimestamp, false},
		{"WellKnown", "took", "Duration", schema.KindDuration, false},
		{"WellKnown", "mask", "[String!]", schema.KindFieldMask, false},
		{"WellKnown", "masks", "[[String!]!]!", schema.KindFieldMask, false},
		{"WellKnown", "st", "JSON", schema.KindJSON, false},
		{"WellKnown", "v", "JSON", schema.KindJSON, false},
		{"WellKnown", "lv", "JSON", schema.KindJSON, false},
		{"WellKnown", "any", "JSON", schema.KindJSON, false},
		{"WellKnown", "nothing", "Boolean", schema.KindEmpty, false},
		{"WellKnown", "nada", "Boolean", schema.KindEmpty, false},
		{"WellKnown", "times", "[DateTime!]!", schema.KindTimestamp, false},
		{"Node", "children", "[Node!]!", schema.KindMessage, false},
		{"Node", "parent", "Node", schema.KindMessage, false},
		{"Node", "branch", "Node_Inner", schema.KindMessage, false},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"."+tt.field, func(t *testing.T) {
			if got := fieldType(t, s, tt.typ, tt.field); got != tt.gql {
				t.Errorf("GraphQL type %s, want %s", got, tt.gql)
			}
			f := s.ObjectType(tt.typ).Field(tt.field)
			if f.Kind != tt.kind || f.Wrapper != tt.wrapper {
				t.Errorf("kind %v wrapper %v, want %v %v", f.Kind, f.Wrapper, tt.kind, tt.wrapper)
			}
			if f.Desc == nil || f.Desc.JSONName() != tt.field {
				t.Errorf("Desc %v, want the protobuf field %s", f.Desc, tt.field)
			}
			switch f.Kind {
			case schema.KindMessage:
				if f.Object == nil || f.Object.Name != f.Type || f.Object.Message != f.Desc.Message() {
					t.Errorf("Object %+v does not match the field", f.Object)
				}
			case schema.KindEnum:
				if f.Enum == nil || f.Enum.Name != f.Type {
					t.Errorf("Enum %+v does not match the field", f.Enum)
				}
			}
		})
	}
}

func TestInputMapping(t *testing.T) {
	s := featureSchema(t)
	tests := []struct{ typ, field, gql string }{
		{"NodeInput", "name", "String!"},           // REQUIRED
		{"NodeInput", "tags", "[String!]!"},        // REQUIRED repeated
		{"NodeInput", "children", "[NodeInput!]"},  // repeated: may be left out
		{"NodeInput", "parent", "NodeInput"},       // recursive
		{"NodeInput", "branch", "Node_InnerInput"}, // REQUIRED in a oneof: nullable
		{"NodeInput", "password", "String"},        // INPUT_ONLY
		{"NodeInput", "renamed", "String"},         // json_name
		{"Node_InnerInput", "depth", "Int"},        // proto3 scalar: optional on input
	}
	for _, tt := range tests {
		if got := fieldType(t, s, tt.typ, tt.field); got != tt.gql {
			t.Errorf("%s.%s: GraphQL type %s, want %s", tt.typ, tt.field, got, tt.gql)
		}
	}
	in := s.InputType("NodeInput")
	if in.Field("serverId") != nil || s.AST().Types["NodeInput"].Fields.ForName("serverId") != nil {
		t.Error("OUTPUT_ONLY field serverId is in NodeInput")
	}
	if s.ObjectType("Node").Field("password") != nil {
		t.Error("INPUT_ONLY field password is in Node")
	}
	if f := in.Field("branch"); f.Input == nil || f.Input.Name != "Node_InnerInput" || f.Kind != schema.KindMessage {
		t.Errorf("NodeInput.branch: %+v", f.Value)
	}
	if len(in.Oneofs) != 1 || in.Oneofs[0].Desc.Name() != "kind" || len(in.Oneofs[0].Fields) != 2 ||
		in.Oneofs[0].Fields[0] != "leaf" || in.Oneofs[0].Fields[1] != "branch" {
		t.Errorf("NodeInput oneofs: %+v", in.Oneofs)
	}
	if f := in.Field("leaf"); f.Oneof == nil || f.Oneof.Name() != "kind" {
		t.Errorf("NodeInput.leaf oneof: %v", f.Oneof)
	}
	if f := in.Field("name"); f.Oneof != nil {
		t.Errorf("NodeInput.name oneof: %v", f.Oneof)
	}
	// Proto3 optional makes a synthetic oneof, which is not a oneof here.
	echo := s.RootField(ast.Query, "echo")
	if f := echo.Args.Field("opt"); f.Oneof != nil || len(echo.Args.Oneofs) != 0 {
		t.Errorf("proto3 optional opt: oneof %v, oneofs %v", f.Oneof, echo.Args.Oneofs)
	}
	if s.InputOf(in.Message) != in || s.ObjectOf(s.ObjectType("Node").Message) != s.ObjectType("Node") {
		t.Error("InputOf/ObjectOf do not find the types by descriptor")
	}
}

func TestEnum(t *testing.T) {
	s := featureSchema(t)
	e := s.Enum("Color")
	if e == nil {
		t.Fatal("no enum Color")
	}
	var names []string
	for _, v := range e.Values {
		names = append(names, v.Name)
	}
	if got := len(s.AST().Types["Color"].EnumValues); got != 4 || len(names) != 4 || names[0] != "COLOR_UNSPECIFIED" {
		t.Errorf("values %v (%d in the AST), want the 4 protobuf names, the zero value first", names, got)
	}
	for name, want := range map[string]protoreflect.EnumNumber{"COLOR_UNSPECIFIED": 0, "COLOR_RED": 1, "COLOR_CRIMSON": 1, "COLOR_BLUE": 2} {
		if n, ok := e.Number(name); !ok || n != want {
			t.Errorf("Number(%s) = %d, %v; want %d", name, n, ok, want)
		}
	}
	if name, ok := e.ValueName(1); !ok || name != "COLOR_RED" {
		t.Errorf("ValueName(1) = %q, %v; want the first name declared, COLOR_RED", name, ok)
	}
	if _, ok := e.ValueName(7); ok {
		t.Error("ValueName(7) found a name for an undeclared number")
	}
	if _, ok := e.Number("COLOR_GREEN"); ok {
		t.Error("Number found an undeclared name")
	}
	if d := s.AST().Types["Color"].EnumValues.ForName("COLOR_BLUE").Directives.ForName("deprecated"); d == nil {
		t.Error("deprecated enum value COLOR_BLUE is not @deprecated")
	}
}

func TestEmptyMessages(t *testing.T) {
	s := featureSchema(t)
	ping := s.RootField(ast.Query, "ping")
	if ping == nil {
		t.Fatal("no root field ping")
	}
	if len(ping.Args.Fields) != 0 || ping.Result.Kind != schema.KindEmpty || ping.Result.Type != "Boolean" {
		t.Errorf("ping(Empty): Empty: args %v result %+v", ping.Args.Fields, ping.Result)
	}
	if s.ObjectType("Nothing") != nil || s.AST().Types["Nothing"] != nil || s.AST().Types["Empty"] != nil {
		t.Error("a message without fields has an object type")
	}
}

func TestScalarsDeclaredOnlyWhenUsed(t *testing.T) {
	services := compileOne(t, `
service S { rpc Get(Req) returns (Resp) { option idempotency_level = NO_SIDE_EFFECTS; } }
message Req { string id = 1; }
message Resp { int64 n = 1; }
`)
	s := mustBuild(t, services, schema.Options{})
	if s.AST().Types["Int64"] == nil {
		t.Error("Int64 is used but not declared")
	}
	for _, name := range []string{"UInt64", "Bytes", "DateTime", "Duration", "JSON"} {
		if s.AST().Types[name] != nil {
			t.Errorf("scalar %s is declared but not used", name)
		}
	}
}

func TestValuesOfRootFields(t *testing.T) {
	s := featureSchema(t)
	wrap := s.RootField(ast.Mutation, "wrap")
	if wrap.Result.Kind != schema.KindMessage || wrap.Result.Object != s.ObjectType("Wrappers") {
		t.Errorf("wrap result %+v", wrap.Result)
	}
	if f := wrap.Args.Field("i64"); f.Kind != schema.KindInt64 || !f.Wrapper || f.Desc.Message().FullName() != "google.protobuf.Int64Value" {
		t.Errorf("wrap(i64:) %+v", f.Value)
	}
	if f := s.RootField(ast.Query, "tree").Args.Field("children"); f.Input != s.InputType("NodeInput") || !f.List {
		t.Errorf("tree(children:) %+v", f.Value)
	}
}

func TestRequiredInputCycles(t *testing.T) {
	services := compileOne(t, `
service S { rpc Put(Node) returns (Node); }
message Node {
  Node parent = 1 [(google.api.field_behavior) = REQUIRED];
  Pair pair = 2 [(google.api.field_behavior) = REQUIRED];
  Leaf leaf = 3 [(google.api.field_behavior) = REQUIRED];
}
message Pair { Node back = 1 [(google.api.field_behavior) = REQUIRED]; }
message Leaf { string s = 1 [(google.api.field_behavior) = REQUIRED]; }
`)
	s := mustBuild(t, services, schema.Options{})
	for _, tt := range []struct{ typ, field, want string }{
		{"NodeInput", "parent", "NodeInput"}, // a cycle of one
		{"NodeInput", "pair", "PairInput"},   // a cycle of two
		{"PairInput", "back", "NodeInput"},
		{"NodeInput", "leaf", "LeafInput!"}, // no cycle
		{"LeafInput", "s", "String!"},
	} {
		if got := fieldType(t, s, tt.typ, tt.field); got != tt.want {
			t.Errorf("%s.%s is %s, want %s", tt.typ, tt.field, got, tt.want)
		}
	}
	// Arguments are not part of a cycle.
	if got := argType(t, s, ast.Mutation, "put", "parent"); got != "NodeInput!" {
		t.Errorf("put(parent:) is %s", got)
	}
}
