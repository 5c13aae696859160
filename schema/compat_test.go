package schema_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/protogate/gateway/schema"
)

const widgetsProto = `
service Widgets {
  rpc GetWidget(GetWidgetRequest) returns (Widget) { option idempotency_level = NO_SIDE_EFFECTS; }
  rpc DeleteWidget(GetWidgetRequest) returns (google.protobuf.Empty);
  rpc PutWidget(PutWidgetRequest) returns (Widget);
  rpc WatchWidgets(GetWidgetRequest) returns (stream Widget);
}
message GetWidgetRequest { string id = 1; }
message PutWidgetRequest { Widget widget = 1; }
message Widget {
  option (gateway.options.v1.graphql_link) = {field: "self" method: "test.v1.Widgets/GetWidget" args: {key: "id" value: "id"}};
  string id = 1;
  string name = 2;
  Color color = 3;
  optional string note = 4;
}
enum Color { COLOR_UNSPECIFIED = 0; RED = 1; }
`

// BreakingChanges compares the schemas clients see: whatever makes a query of the old one fail or
// change shape breaks, whether it comes from a descriptor change, an option or a field behavior.
func TestBreakingChanges(t *testing.T) {
	build := func(edits ...string) *schema.Schema {
		t.Helper()
		src := widgetsProto
		for i := 0; i < len(edits); i += 2 {
			if !strings.Contains(src, edits[i]) {
				t.Fatalf("edit %q matches nothing", edits[i])
			}
			src = strings.Replace(src, edits[i], edits[i+1], 1)
		}
		return mustBuild(t, compileOne(t, src), schema.Options{})
	}
	before := build()
	for _, tc := range []struct {
		name  string
		edits []string
		want  []string
	}{
		{name: "unchanged"},
		{name: "additions", edits: []string{
			"RED = 1;", "RED = 1; BLUE = 2;",
			"optional string note = 4;", "optional string note = 4; string size = 5;",
			"message GetWidgetRequest { string id = 1; }", "message GetWidgetRequest { string id = 1; string view = 2; }",
			"rpc PutWidget", "rpc CountWidgets(GetWidgetRequest) returns (Widget);\n  rpc PutWidget",
		}},
		{name: "a mutation becomes a query", edits: []string{
			"returns (google.protobuf.Empty);", "returns (google.protobuf.Empty) { option idempotency_level = NO_SIDE_EFFECTS; }",
		}, want: []string{"GraphQL Mutation: field deleteWidget moved to Query"}},
		{name: "a query becomes a mutation", edits: []string{
			"returns (Widget) { option idempotency_level = NO_SIDE_EFFECTS; }", "returns (Widget) { option (google.api.http) = {post: \"/w\"}; }",
		}, want: []string{"GraphQL Query: field getWidget moved to Mutation"}},
		{name: "moved by the gateway's option", edits: []string{
			"rpc PutWidget(PutWidgetRequest) returns (Widget);", "rpc PutWidget(PutWidgetRequest) returns (Widget) { option (gateway.options.v1.graphql) = {operation: OPERATION_QUERY}; }",
		}, want: []string{"GraphQL Mutation: field putWidget moved to Query"}},
		{name: "hidden", edits: []string{
			"rpc PutWidget(PutWidgetRequest) returns (Widget);", "rpc PutWidget(PutWidgetRequest) returns (Widget) { option (gateway.options.v1.graphql) = {hide: true}; }",
		}, want: []string{"GraphQL Mutation: field putWidget removed"}},
		{name: "renamed", edits: []string{
			"rpc PutWidget(PutWidgetRequest) returns (Widget);", "rpc PutWidget(PutWidgetRequest) returns (Widget) { option (gateway.options.v1.graphql) = {name: \"widget\"}; }",
		}, want: []string{"GraphQL Mutation: field putWidget removed"}},
		{name: "prefixed by the service's option", edits: []string{
			"service Widgets {", "service Widgets {\n  option (gateway.options.v1.graphql_service) = {name: \"w\"};",
		}, want: []string{
			"GraphQL Mutation: field deleteWidget removed", "GraphQL Mutation: field putWidget removed",
			"GraphQL Query: field getWidget removed", "GraphQL Subscription: field watchWidgets removed",
		}},
		{name: "an argument becomes required", edits: []string{
			"message GetWidgetRequest { string id = 1; }", "message GetWidgetRequest { string id = 1 [(google.api.field_behavior) = REQUIRED]; }",
		}, want: []string{
			"GraphQL Mutation.deleteWidget: argument id type changed from String to String!",
			"GraphQL Query.getWidget: argument id type changed from String to String!",
			"GraphQL Subscription.watchWidgets: argument id type changed from String to String!",
		}},
		{name: "a required argument is added", edits: []string{
			"message GetWidgetRequest { string id = 1; }", "message GetWidgetRequest { string id = 1; string tenant = 2 [(google.api.field_behavior) = REQUIRED]; }",
		}, want: []string{
			"GraphQL Mutation.deleteWidget: required argument tenant added (String!)",
			"GraphQL Query.getWidget: required argument tenant added (String!)",
			"GraphQL Subscription.watchWidgets: required argument tenant added (String!)",
		}},
		{name: "a required input field is added", edits: []string{
			"optional string note = 4;", "optional string note = 4; string size = 5 [(google.api.field_behavior) = REQUIRED];",
		}, want: []string{"GraphQL WidgetInput: required field size added (String!)"}},
		{name: "an input field becomes required", edits: []string{
			"string id = 1;\n  string name", "string id = 1 [(google.api.field_behavior) = REQUIRED];\n  string name",
		}, want: []string{"GraphQL WidgetInput: field id type changed from String to String!"}}, // REQUIRED leaves the object type as it is
		{name: "a field is removed", edits: []string{"  string name = 2;\n", ""}, want: []string{
			"GraphQL Widget: field name removed", "GraphQL WidgetInput: field name removed",
		}},
		{name: "a field changes type", edits: []string{"string name = 2;", "int32 name = 2;"}, want: []string{
			"GraphQL Widget: field name type changed from String! to Int!", "GraphQL WidgetInput: field name type changed from String to Int",
		}},
		{name: "a field becomes nullable", edits: []string{"string name = 2;", "optional string name = 2;"}, want: []string{
			"GraphQL Widget: field name type changed from String! to String",
		}},
		{name: "a field becomes non-null", edits: []string{"optional string note = 4;", "string note = 4;"}},
		{name: "an enum value is removed", edits: []string{" RED = 1;", ""}, want: []string{"GraphQL Color: value RED removed"}},
		{name: "a link is removed", edits: []string{"option (gateway.options.v1.graphql_link)", "// option (gateway.options.v1.graphql_link)"}, want: []string{
			"GraphQL Widget: field self removed",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := schema.BreakingChanges(before, build(tc.edits...))
			if !slices.Equal(got, tc.want) {
				t.Errorf("BreakingChanges =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}

	// Back the other way, an argument or input field no longer required breaks nothing.
	required := build("message GetWidgetRequest { string id = 1; }", "message GetWidgetRequest { string id = 1 [(google.api.field_behavior) = REQUIRED]; }",
		"string id = 1;\n  string name", "string id = 1 [(google.api.field_behavior) = REQUIRED];\n  string name")
	if got := schema.BreakingChanges(required, before); got != nil {
		t.Errorf("no longer required: %q", got)
	}
}

// Nil is a schema without fields: from nothing nothing breaks; to nothing every root field is gone.
func TestBreakingChangesNil(t *testing.T) {
	s := mustBuild(t, compileOne(t, widgetsProto), schema.Options{})
	if got := schema.BreakingChanges(nil, s); got != nil {
		t.Errorf("from nil: %q", got)
	}
	want := []string{
		"GraphQL Mutation: field deleteWidget removed", "GraphQL Mutation: field putWidget removed",
		"GraphQL Query: field getWidget removed", "GraphQL Subscription: field watchWidgets removed",
	}
	if got := schema.BreakingChanges(s, nil); !slices.Equal(got, want) {
		t.Errorf("to nil: %q, want %q", got, want)
	}
}
