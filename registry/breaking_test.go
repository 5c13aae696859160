package registry_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoregistry"

	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/registry/store"
	"github.com/protogate/gateway/schema"
)

const thingsProto = `syntax = "proto3";

package acme.v1;

import "google/api/annotations.proto";

service Things {
  rpc GetThing(GetThingRequest) returns (Thing) {
    option (google.api.http) = {get: "/v1/things/{id}"};
  }
  rpc ListThings(ListThingsRequest) returns (ListThingsResponse);
  rpc WatchThings(GetThingRequest) returns (stream Thing);
}

service Other {
  rpc Ping(GetThingRequest) returns (GetThingRequest);
}

message GetThingRequest {
  string id = 1;
}

message ListThingsRequest {
  int32 page_size = 1;
}

message ListThingsResponse {
  repeated Thing things = 1;
}

message Thing {
  message Part {
    int64 size = 1;
  }
  string id = 1;
  string name = 2;
  string email = 3;
  Kind kind = 4;
  repeated string tags = 5;
  map<string, string> labels = 6;
  Part part = 7;
  Thing parent = 8;
}

enum Kind {
  KIND_UNSPECIFIED = 0;
  KIND_SMALL = 1;
  KIND_LARGE = 2;
}

message Unreachable {
  string gone = 1;
}
`

// compileThings compiles thingsProto with each pair of edits (old, new, old, new, ...) applied.
func compileThings(t *testing.T, edits ...string) *protoregistry.Files {
	t.Helper()
	src := thingsProto
	for i := 0; i < len(edits); i += 2 {
		if !strings.Contains(src, edits[i]) {
			t.Fatalf("things.proto has no %q", edits[i])
		}
		src = strings.Replace(src, edits[i], edits[i+1], 1)
	}
	files, err := registry.FilesFromProtos(t.Context(), map[string]string{"acme/v1/things.proto": src}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestBreakingChanges(t *testing.T) {
	old := compileThings(t)
	for _, tc := range []struct {
		name  string
		edits []string
		want  []string
	}{{
		name: "additions",
		edits: []string{
			"string email = 3;", "string email = 3;\n  string phone = 9;\n  oneof contact { string fax = 10; }",
			"KIND_LARGE = 2;", "KIND_LARGE = 2;\n  KIND_HUGE = 3;",
			"rpc ListThings(", "rpc DeleteThing(GetThingRequest) returns (Thing);\n  rpc ListThings(",
			`{get: "/v1/things/{id}"}`, `{get: "/v1/things/{id}" additional_bindings {get: "/v2/things/{id}"}}`,
			"message Unreachable {", "service New {\n  rpc Do(Added) returns (Added);\n}\n\nmessage Added {}\n\nmessage Unreachable {",
		},
	}, {
		name:  "unreachable message changed",
		edits: []string{"string gone = 1;", ""},
	}, {
		name:  "nothing changed but comments and order",
		edits: []string{"message GetThingRequest {\n  string id = 1;\n}\n", "", "message Unreachable {", "// Moved.\nmessage GetThingRequest {\n  string id = 1;\n}\n\nmessage Unreachable {"},
	}, {
		name:  "service removed",
		edits: []string{"service Other {\n  rpc Ping(GetThingRequest) returns (GetThingRequest);\n}\n", ""},
		want:  []string{"acme.v1.Other: service removed"},
	}, {
		name:  "method removed",
		edits: []string{"  rpc ListThings(ListThingsRequest) returns (ListThingsResponse);\n", ""},
		want:  []string{"acme.v1.Things: method ListThings removed"},
	}, {
		name:  "streaming changed",
		edits: []string{"returns (stream Thing)", "returns (Thing)"},
		want:  []string{"acme.v1.Things.WatchThings: changed from server streaming to unary"},
	}, {
		name:  "request made streaming",
		edits: []string{"rpc Ping(GetThingRequest)", "rpc Ping(stream GetThingRequest)"},
		want:  []string{"acme.v1.Other.Ping: changed from unary to client streaming"},
	}, {
		name:  "request type changed",
		edits: []string{"rpc ListThings(ListThingsRequest)", "rpc ListThings(GetThingRequest)"},
		want:  []string{"acme.v1.Things.ListThings: request type changed from acme.v1.ListThingsRequest to acme.v1.GetThingRequest"},
	}, {
		name:  "response type changed",
		edits: []string{"returns (ListThingsResponse)", "returns (Thing)"},
		want:  []string{"acme.v1.Things.ListThings: response type changed from acme.v1.ListThingsResponse to acme.v1.Thing"},
	}, {
		name:  "field removed",
		edits: []string{"  string email = 3;\n", "  reserved 3;\n"},
		want:  []string{`acme.v1.Thing: field 3 "email" removed`},
	}, {
		name:  "field number changed",
		edits: []string{"string email = 3;", "string email = 9;"},
		want:  []string{`acme.v1.Thing: field "email" number changed from 3 to 9`},
	}, {
		name:  "field renamed",
		edits: []string{"string name = 2;", "string title = 2;"},
		want:  []string{`acme.v1.Thing: field 2 renamed from "name" to "title"`},
	}, {
		name:  "JSON name changed",
		edits: []string{"string name = 2;", `string name = 2 [json_name = "fullName"];`},
		want:  []string{`acme.v1.Thing: field 2 "name" JSON name changed from "name" to "fullName"`},
	}, {
		name:  "scalar type changed",
		edits: []string{"string email = 3;", "bytes email = 3;"},
		want:  []string{`acme.v1.Thing: field 3 "email" type changed from string to bytes`},
	}, {
		name:  "message type changed",
		edits: []string{"Part part = 7;", "Thing part = 7;"},
		want:  []string{`acme.v1.Thing: field 7 "part" type changed from acme.v1.Thing.Part to acme.v1.Thing`},
	}, {
		name:  "enum to scalar",
		edits: []string{"Kind kind = 4;", "int32 kind = 4;"},
		want:  []string{`acme.v1.Thing: field 4 "kind" type changed from acme.v1.Kind to int32`},
	}, {
		name:  "map value type changed",
		edits: []string{"map<string, string> labels", "map<string, int32> labels"},
		want:  []string{`acme.v1.Thing: field 6 "labels" type changed from map<string, string> to map<string, int32>`},
	}, {
		name:  "repeated to singular",
		edits: []string{"repeated string tags = 5;", "string tags = 5;"},
		want:  []string{`acme.v1.Thing: field 5 "tags" changed from repeated to singular`},
	}, {
		name:  "map to repeated",
		edits: []string{"map<string, string> labels = 6;", "repeated string labels = 6;"},
		want:  []string{`acme.v1.Thing: field 6 "labels" changed from map to repeated`},
	}, {
		name:  "field of a nested message removed",
		edits: []string{"int64 size = 1;", ""},
		want:  []string{`acme.v1.Thing.Part: field 1 "size" removed`},
	}, {
		name:  "enum value removed",
		edits: []string{"  KIND_LARGE = 2;\n", ""},
		want:  []string{`acme.v1.Kind: value 2 "KIND_LARGE" removed`},
	}, {
		name:  "enum value renamed",
		edits: []string{"KIND_LARGE = 2;", "KIND_BIG = 2;"},
		want:  []string{`acme.v1.Kind: value 2 renamed from "KIND_LARGE" to "KIND_BIG"`},
	}, {
		name:  "enum value number changed",
		edits: []string{"KIND_LARGE = 2;", "KIND_LARGE = 5;"},
		want:  []string{`acme.v1.Kind: value "KIND_LARGE" number changed from 2 to 5`},
	}, {
		name:  "HTTP binding changed",
		edits: []string{`{get: "/v1/things/{id}"}`, `{get: "/v2/things/{id}"}`},
		want:  []string{"acme.v1.Things.GetThing: HTTP binding GET /v1/things/{id} removed"},
	}, {
		name:  "HTTP body changed",
		edits: []string{`{get: "/v1/things/{id}"}`, `{get: "/v1/things/{id}" response_body: "name"}`},
		want:  []string{`acme.v1.Things.GetThing: HTTP binding GET /v1/things/{id}: response body changed from "" to "name"`},
	}, {
		name: "several, sorted",
		edits: []string{
			"  KIND_LARGE = 2;\n", "",
			"string email = 3;", "int64 email = 3;",
			"rpc Ping(GetThingRequest) returns (GetThingRequest);", "rpc Pong(GetThingRequest) returns (GetThingRequest);",
			"int32 page_size = 1;", "int32 size = 1;",
		},
		want: []string{
			`acme.v1.Kind: value 2 "KIND_LARGE" removed`,
			`acme.v1.ListThingsRequest: field 1 renamed from "page_size" to "size"`,
			"acme.v1.Other: method Ping removed",
			`acme.v1.Thing: field 3 "email" type changed from string to int64`,
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := registry.BreakingChanges(old, compileThings(t, tc.edits...), nil)
			if !slices.Equal(got, tc.want) {
				t.Errorf("breaks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// Which oneof a field is in decides what clients may send with it, so moving an existing field into,
// out of or between oneofs breaks; a proto3 optional field's synthetic oneof holds that field alone,
// so adding or removing optional moves nothing: it breaks as the change of presence it is (see
// TestBreakingChangesPresence), and a move between optional and a oneof, which keeps presence, is a
// move only.
func TestBreakingChangesOneof(t *testing.T) {
	const (
		email       = "string email = 3;"
		inContact   = "oneof contact {\n    string email = 3;\n  }"
		optional    = "optional string email = 3;"
		inReach     = "oneof reach {\n    string email = 3;\n  }"
		nameToo     = "oneof contact {\n    string name = 2;\n    string email = 3;\n  }"
		addedMember = "oneof contact {\n    string email = 3;\n    string fax = 10;\n  }"
	)
	for _, tc := range []struct {
		name     string
		old, new []string // edits of thingsProto
		want     []string
	}{{
		name: "into a oneof",
		new:  []string{email, inContact},
		want: []string{`acme.v1.Thing: field 3 "email" moved into oneof contact`},
	}, {
		name: "out of a oneof",
		old:  []string{email, inContact},
		want: []string{`acme.v1.Thing: field 3 "email" moved out of oneof contact`},
	}, {
		name: "between oneofs",
		old:  []string{email, inContact},
		new:  []string{email, inReach},
		want: []string{`acme.v1.Thing: field 3 "email" moved from oneof contact to oneof reach`},
	}, {
		name: "two fields into one oneof",
		new:  []string{"  string name = 2;\n", "", email, nameToo},
		want: []string{
			`acme.v1.Thing: field 2 "name" moved into oneof contact`,
			`acme.v1.Thing: field 3 "email" moved into oneof contact`,
		},
	}, {
		name: "optional added",
		new:  []string{email, optional},
		want: []string{`acme.v1.Thing: field 3 "email" gained explicit presence (optional)`},
	}, {
		name: "optional removed",
		old:  []string{email, optional},
		want: []string{`acme.v1.Thing: field 3 "email" lost explicit presence`},
	}, {
		name: "optional into a oneof",
		old:  []string{email, optional},
		new:  []string{email, inContact},
		want: []string{`acme.v1.Thing: field 3 "email" moved into oneof contact`},
	}, {
		name: "oneof member made optional",
		old:  []string{email, inContact},
		new:  []string{email, optional},
		want: []string{`acme.v1.Thing: field 3 "email" moved out of oneof contact`},
	}, {
		name: "new field added to a oneof",
		old:  []string{email, inContact},
		new:  []string{email, addedMember},
	}, {
		name: "oneof unchanged, other fields moved around it",
		old:  []string{email, inContact},
		new:  []string{email, inContact, "  string name = 2;\n", "", "Kind kind = 4;", "Kind kind = 4;\n  string name = 2;"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := registry.BreakingChanges(compileThings(t, tc.old...), compileThings(t, tc.new...), nil)
			if !slices.Equal(got, tc.want) {
				t.Errorf("breaks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// Presence decides whether an unset field differs from one set to its zero value: a field without
// it is non-null in GraphQL and its zero value is left out of REST JSON. Gaining or losing it breaks
// clients, however the file says it (proto3 optional, proto2, editions' field_presence); a field
// that has it either way (a message) does not change, and a changed type or cardinality is listed
// as that alone.
func TestBreakingChangesPresence(t *testing.T) {
	compile := func(t *testing.T, src string) *protoregistry.Files {
		t.Helper()
		files, err := registry.FilesFromProtos(t.Context(), map[string]string{"acme/v1/things.proto": src}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	const service = "\npackage acme.v1;\nservice Things { rpc Get(Thing) returns (Thing); }\n"
	proto2 := compile(t, `syntax = "proto2";`+service+"message Thing { optional string email = 3; optional int32 size = 4; }\n")
	editions := func(presence string) *protoregistry.Files {
		return compile(t, `edition = "2023";`+service+"message Thing { string email = 3"+presence+"; int32 size = 4; }\n")
	}
	for _, tc := range []struct {
		name     string
		old, new *protoregistry.Files
		want     []string
	}{{
		name: "enum made optional",
		old:  compileThings(t),
		new:  compileThings(t, "Kind kind = 4;", "optional Kind kind = 4;"),
		want: []string{`acme.v1.Thing: field 4 "kind" gained explicit presence (optional)`},
	}, {
		name: "message made optional",
		old:  compileThings(t),
		new:  compileThings(t, "Part part = 7;", "optional Part part = 7;"),
	}, {
		name: "optional and renamed",
		old:  compileThings(t, "string email = 3;", "optional string email = 3;"),
		new:  compileThings(t, "string email = 3;", "string mail = 3;"),
		want: []string{
			`acme.v1.Thing: field 3 "email" lost explicit presence`,
			`acme.v1.Thing: field 3 renamed from "email" to "mail"`,
		},
	}, {
		name: "optional and type changed",
		old:  compileThings(t),
		new:  compileThings(t, "string email = 3;", "optional bytes email = 3;"),
		want: []string{`acme.v1.Thing: field 3 "email" type changed from string to bytes`},
	}, {
		name: "repeated made optional",
		old:  compileThings(t),
		new:  compileThings(t, "repeated string tags = 5;", "optional string tags = 5;"),
		want: []string{`acme.v1.Thing: field 5 "tags" changed from repeated to singular`},
	}, {
		name: "proto2 to proto3",
		old:  proto2,
		new:  compile(t, `syntax = "proto3";`+service+"message Thing { string email = 3; int32 size = 4; }\n"),
		want: []string{
			`acme.v1.Thing: field 3 "email" lost explicit presence`,
			`acme.v1.Thing: field 4 "size" lost explicit presence`,
		},
	}, {
		name: "proto2 required dropped and added",
		old:  compile(t, `syntax = "proto2";`+service+"message Thing { required string email = 3; optional int32 size = 4; }\n"),
		new:  compile(t, `syntax = "proto2";`+service+"message Thing { optional string email = 3; required int32 size = 4; }\n"),
		want: []string{
			`acme.v1.Thing: field 3 "email" is no longer required`,
			`acme.v1.Thing: field 4 "size" became required`,
		},
	}, {
		name: "proto2 to editions",
		old:  proto2,
		new:  editions(""),
	}, {
		name: "editions, implicit presence",
		old:  editions(""),
		new:  editions(" [features.field_presence = IMPLICIT]"),
		want: []string{`acme.v1.Thing: field 3 "email" lost explicit presence`},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := registry.BreakingChanges(tc.old, tc.new, nil)
			if !slices.Equal(got, tc.want) {
				t.Errorf("breaks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestBreakingChangesServices(t *testing.T) {
	old := compileThings(t)
	changed := compileThings(t,
		"service Other {\n  rpc Ping(GetThingRequest) returns (GetThingRequest);\n}\n", "",
		"string email = 3;", "bytes email = 3;")
	if got := registry.BreakingChanges(old, changed, []string{"acme.v1.Other"}); !slices.Equal(got, []string{"acme.v1.Other: service removed"}) {
		t.Errorf("Other only: %q", got)
	}
	if got := registry.BreakingChanges(old, changed, []string{"acme.v1.Things"}); !slices.Equal(got, []string{`acme.v1.Thing: field 3 "email" type changed from string to bytes`}) {
		t.Errorf("Things only: %q", got)
	}
	if got := registry.BreakingChanges(old, changed, []string{"acme.v1.NotThere"}); got != nil {
		t.Errorf("a service the old version lacks: %q", got)
	}
	// The same shop descriptors from two sources: nothing breaks.
	uploaded, err := registry.FilesFromDescriptorSet(marshal(t, descriptorSet(true, shopFiles...)))
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := registry.FilesFromProtos(t.Context(), shopSources(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := registry.BreakingChanges(uploaded, compiled, nil); got != nil {
		t.Errorf("shop, uploaded vs compiled: %q", got)
	}
}

func ExampleBreakingChanges() {
	compile := func(src string) *protoregistry.Files {
		files, err := registry.FilesFromProtos(context.Background(), map[string]string{"greeter.proto": src}, nil)
		if err != nil {
			panic(err)
		}
		return files
	}
	v1 := compile(`syntax = "proto3";
package greeter;
service Greeter { rpc Greet(Hello) returns (Hello); }
message Hello { string name = 1; string lang = 2; }
`)
	v2 := compile(`syntax = "proto3";
package greeter;
service Greeter { rpc Greet(Hello) returns (Hello); }
message Hello { string name = 1; int32 lang = 2; string greeting = 3; }
`)
	for _, b := range registry.BreakingChanges(v1, v2, nil) {
		fmt.Println(b)
	}
	// Output:
	// greeter.Hello: field 2 "lang" type changed from string to int32
}

// A field moved into a oneof is refused as a breaking change, listed like any other, and accepted
// with allow_breaking.
func TestRegistryOneofMoveBreaks(t *testing.T) {
	f := newFixture(t, store.NewMemory())
	f.open(t, registry.Spec{})
	f.register(t, protosReq("users", usersSource(t), nil, addrA))
	moved := usersSource(t, "google.protobuf.StringValue nickname = 9;", "oneof alias {\n    google.protobuf.StringValue nickname = 9;\n  }")
	const want = `shop.users.v1.User: field 9 "nickname" moved into oneof alias`

	before := f.view(t)
	_, err := f.reg.Register(t.Context(), protosReq("users", moved, nil, addrA))
	wantStatus(t, err, codes.FailedPrecondition, "1 breaking change(s) against active version 1", "allow-breaking", want)
	f.unchanged(t, before)

	req := protosReq("users", moved, nil, addrA)
	req.AllowBreaking = true
	if resp := f.register(t, req); resp.GetRegistration().GetVersion() != 2 || !slices.Equal(resp.GetBreakingChanges(), []string{want}) {
		t.Errorf("with allow_breaking = %v, want version 2 listing %q", resp, want)
	}
}

// A config reload that changes a config service's descriptors incompatibly applies (the config
// file is where config services change), and logs a warning naming the service and listing the
// breaks; a compatible change logs none.
func TestSetBaseWarnsBreaking(t *testing.T) {
	logs := make(logLines, 64)
	f := newFixture(t, store.NewMemory(), registry.WithLogger(slog.New(logs)))
	things := func(files *protoregistry.Files) registry.Spec {
		return registry.Spec{Registrations: []*registry.Registration{{Name: "things", Endpoints: []string{addrA}, Files: files}}}
	}
	f.open(t, things(compileThings(t)))
	for _, tc := range []struct {
		name  string
		files *protoregistry.Files
		want  string
	}{
		{"a field added", compileThings(t, "string id = 1;", "string id = 1;\n  string note = 9;"), ""},
		{"a field's type changed", compileThings(t, "string id = 1;", "int64 id = 1;"), `field 1 "id" type changed from string to int64`},
	} {
		if _, err := f.reg.SetBase(things(tc.files)); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		warned := logs.drain("config service changed incompatibly")
		switch {
		case tc.want == "" && len(warned) > 0:
			t.Errorf("%s: warned %q", tc.name, warned)
		case tc.want != "" && (len(warned) != 1 || !strings.Contains(warned[0], "name=things") || !strings.Contains(warned[0], tc.want)):
			t.Errorf("%s: warned %q, want one warning for things saying %s", tc.name, warned, tc.want)
		}
	}
}

// widgetsProto is a proto2 service for the GraphQL breaking changes: its GraphQL surface changes
// under edits that leave its messages as they are.
const widgetsProto = `syntax = "proto2";
package acme.w.v1;
import "gateway/options/v1/options.proto";
import "google/api/annotations.proto";
service Widgets {
  rpc GetWidget(GetWidgetRequest) returns (Widget);
  rpc FindWidget(GetWidgetRequest) returns (Widget) { option idempotency_level = NO_SIDE_EFFECTS; }
  rpc PutWidget(GetWidgetRequest) returns (Widget);
}
message GetWidgetRequest { optional string id = 1; }
message Widget { optional string id = 1; }
`

// What GraphQL clients see breaks by more than the descriptors' messages: a root field that moves
// between Query and Mutation, one a gateway option hides or renames, a new required argument. The
// schemas served before and after are compared: the breaks are refused with the others, listed by
// a dry run, and accepted with allow_breaking.
func TestRegistryGraphQLBreakingChanges(t *testing.T) {
	options, err := os.ReadFile(filepath.Join(protoRoot, "gateway", "options", "v1", "options.proto"))
	if err != nil {
		t.Fatal(err)
	}
	widgets := func(edits ...string) map[string]string {
		t.Helper()
		src := widgetsProto
		for i := 0; i < len(edits); i += 2 {
			if !strings.Contains(src, edits[i]) {
				t.Fatalf("widgets.proto has no %q", edits[i])
			}
			src = strings.Replace(src, edits[i], edits[i+1], 1)
		}
		return map[string]string{"acme/w/v1/widgets.proto": src, "gateway/options/v1/options.proto": string(options)}
	}
	const get, find, put = "rpc GetWidget(GetWidgetRequest) returns (Widget);", "returns (Widget) { option idempotency_level = NO_SIDE_EFFECTS; }",
		"rpc PutWidget(GetWidgetRequest) returns (Widget);"
	for _, tc := range []struct {
		name  string
		edits []string
		want  []string
	}{
		{"idempotency_level NO_SIDE_EFFECTS", []string{get, "rpc GetWidget(GetWidgetRequest) returns (Widget) { option idempotency_level = NO_SIDE_EFFECTS; }"},
			[]string{"GraphQL Mutation: field getWidget moved to Query"}},
		{"no longer NO_SIDE_EFFECTS", []string{find, "returns (Widget);"},
			[]string{"GraphQL Query: field findWidget moved to Mutation"}},
		{"a GET binding", []string{put, `rpc PutWidget(GetWidgetRequest) returns (Widget) { option (google.api.http) = {get: "/v1/widgets/{id}"}; }`},
			[]string{"GraphQL Mutation: field putWidget moved to Query"}},
		{"the operation option", []string{find, "returns (Widget) { option (gateway.options.v1.graphql) = {operation: OPERATION_MUTATION}; }"},
			[]string{"GraphQL Query: field findWidget moved to Mutation"}},
		{"hidden", []string{put, "rpc PutWidget(GetWidgetRequest) returns (Widget) { option (gateway.options.v1.graphql) = {hide: true}; }"},
			[]string{"GraphQL Mutation: field putWidget removed"}},
		{"renamed", []string{get, `rpc GetWidget(GetWidgetRequest) returns (Widget) { option (gateway.options.v1.graphql) = {name: "widget"}; }`},
			[]string{"GraphQL Mutation: field getWidget removed"}},
		{"a required field added to the request", []string{"{ optional string id = 1; }\nmessage Widget", "{ optional string id = 1; required string tenant = 2; }\nmessage Widget"},
			[]string{
				"GraphQL Mutation.getWidget: required argument tenant added (String!)",
				"GraphQL Mutation.putWidget: required argument tenant added (String!)",
				"GraphQL Query.findWidget: required argument tenant added (String!)",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, store.NewMemory())
			f.open(t, registry.Spec{})
			f.register(t, protosReq("widgets", widgets(), nil, addrA))
			before := f.view(t)
			_, err := f.reg.Register(t.Context(), protosReq("widgets", widgets(tc.edits...), nil, addrA))
			wantStatus(t, err, codes.FailedPrecondition, append([]string{fmt.Sprintf("%d breaking change(s) against active version 1", len(tc.want))}, tc.want...)...)
			f.unchanged(t, before)

			req := protosReq("widgets", widgets(tc.edits...), nil, addrA)
			req.AllowBreaking, req.DryRun = true, true
			if resp := f.register(t, req); !slices.Equal(resp.GetBreakingChanges(), tc.want) {
				t.Errorf("dry run breaking changes = %q\nwant %q", resp.GetBreakingChanges(), tc.want)
			}
			f.unchanged(t, before)
			req.DryRun = false
			if resp := f.register(t, req); resp.GetRegistration().GetVersion() != 2 {
				t.Errorf("allow_breaking = %v, want version 2", resp)
			}
		})
	}
}

// A change of one registration that breaks what GraphQL clients read of another's types, through
// a link, is listed too: the order's user link answers GetUser's response.
func TestRegistryGraphQLLinkBreaks(t *testing.T) {
	f := newFixture(t, store.NewMemory())
	f.open(t, registry.Spec{GraphQL: schema.Options{Links: []schema.Link{
		{OnType: "shop.orders.v1.Order", Field: "buyer", Method: "shop.users.v1.UserService/GetUser", Args: map[string]string{"id": "user_id"}},
	}}})
	f.register(t, setReq("orders", generatedSet(t, ordersv1.File_shop_orders_v1_orders_proto), addrB))
	f.register(t, protosReq("users", usersSource(t), nil, addrA))
	other := usersSource(t, "rpc GetUser(GetUserRequest) returns (User) {", "rpc GetUser(GetUserRequest) returns (UserView) {",
		"message GetUserRequest {", "message UserView { string id = 1; }\n\nmessage GetUserRequest {")
	_, err := f.reg.Register(t.Context(), protosReq("users", other, nil, addrA))
	wantStatus(t, err, codes.FailedPrecondition, "GraphQL Order: field buyer type changed from User to UserView",
		"GraphQL Query: field getUser type changed from User to UserView",
		"shop.users.v1.UserService.GetUser: response type changed from shop.users.v1.User to shop.users.v1.UserView")
}

// A config reload that changes the GraphQL schema incompatibly applies too, with a warning listing
// the breaks, whether a service's descriptors or the config's GraphQL options made them.
func TestSetBaseWarnsGraphQLBreaking(t *testing.T) {
	logs := make(logLines, 64)
	f := newFixture(t, store.NewMemory(), registry.WithLogger(slog.New(logs)))
	things := func(files *protoregistry.Files, gql schema.Options) registry.Spec {
		return registry.Spec{GraphQL: gql, Registrations: []*registry.Registration{{Name: "things", Endpoints: []string{addrA}, Files: files}}}
	}
	f.open(t, things(compileThings(t), schema.Options{}))
	query := compileThings(t, "rpc ListThings(ListThingsRequest) returns (ListThingsResponse);",
		"rpc ListThings(ListThingsRequest) returns (ListThingsResponse) { option idempotency_level = NO_SIDE_EFFECTS; }")
	for _, tc := range []struct {
		name string
		spec registry.Spec
		want string
	}{
		{"unchanged", things(compileThings(t), schema.Options{}), ""},
		{"a mutation made a query", things(query, schema.Options{}), "GraphQL Mutation: field listThings moved to Query"},
		{"a method hidden by the config", things(query, schema.Options{Overrides: []schema.Override{{Method: "acme.v1.Things/GetThing", Hide: true}}}),
			"GraphQL Query: field getThing removed"},
	} {
		if _, err := f.reg.SetBase(tc.spec); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		warned := logs.drain("config reload changed the GraphQL schema incompatibly")
		switch {
		case tc.want == "" && len(warned) > 0:
			t.Errorf("%s: warned %q", tc.name, warned)
		case tc.want != "" && (len(warned) != 1 || !strings.Contains(warned[0], tc.want)):
			t.Errorf("%s: warned %q, want one warning saying %s", tc.name, warned, tc.want)
		}
	}
}
