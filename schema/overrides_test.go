package schema_test

import (
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/protogate/gateway/schema"
)

const overridesProto = `
service Users {
  rpc GetUser(R) returns (R) { option (google.api.http) = {get: "/v1/users/{id}"}; }
  rpc SearchUsers(R) returns (R) { option (google.api.http) = {post: "/v1/users:search" body: "*"}; }
  rpc DeleteUser(R) returns (R);
  rpc WatchUsers(R) returns (stream R);
}
service Admin {
  rpc Reset(R) returns (R);
  rpc Stats(R) returns (R);
}
message R { string id = 1; }
`

// fields lists the root fields of each operation type as "op name".
func rootFieldSet(s *schema.Schema) map[string]bool {
	set := make(map[string]bool)
	for _, op := range []ast.Operation{ast.Query, ast.Mutation, ast.Subscription} {
		for _, f := range s.RootFields(op) {
			set[string(op)+" "+f.Name] = true
		}
	}
	return set
}

func TestOverrides(t *testing.T) {
	services := compileOne(t, overridesProto)
	tests := []struct {
		name      string
		overrides []schema.Override
		want      []string
	}{
		{"defaults", nil, []string{
			"query getUser", "mutation searchUsers", "mutation deleteUser", "subscription watchUsers",
			"mutation reset", "mutation stats"}},
		{"rename, force query, hide", []schema.Override{
			{Method: "test.v1.Users/GetUser", Name: "user"},
			{Method: "/test.v1.Users/SearchUsers", Operation: ast.Query},
			{Method: "test.v1.Users.DeleteUser", Hide: true},
			{Method: "test.v1.Users/WatchUsers", Name: "userChanges"},
		}, []string{"query user", "query searchUsers", "subscription userChanges", "mutation reset", "mutation stats"}},
		{"force mutation", []schema.Override{{Method: "test.v1.Users/GetUser", Operation: ast.Mutation}}, []string{
			"mutation getUser", "mutation searchUsers", "mutation deleteUser", "subscription watchUsers",
			"mutation reset", "mutation stats"}},
		{"service: hide", []schema.Override{{Service: "test.v1.Admin", Hide: true}}, []string{
			"query getUser", "mutation searchUsers", "mutation deleteUser", "subscription watchUsers"}},
		{"service: prefix and operation, a method's own wins", []schema.Override{
			{Service: "test.v1.Admin", Name: "admin", Operation: ast.Query},
			{Method: "test.v1.Admin/Reset", Name: "resetAll", Operation: ast.Mutation},
		}, []string{
			"query getUser", "mutation searchUsers", "mutation deleteUser", "subscription watchUsers",
			"mutation resetAll", "query adminStats"}},
		{"service operation leaves streaming alone", []schema.Override{{Service: "test.v1.Users", Operation: ast.Mutation}}, []string{
			"mutation getUser", "mutation searchUsers", "mutation deleteUser", "subscription watchUsers",
			"mutation reset", "mutation stats"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustBuild(t, services, schema.Options{Overrides: tt.overrides})
			got := rootFieldSet(s)
			for _, w := range tt.want {
				if !got[w] {
					t.Errorf("missing %q", w)
				}
				delete(got, w)
			}
			for g := range got {
				t.Errorf("unexpected %q", g)
			}
		})
	}
}

func TestOverrideErrors(t *testing.T) {
	services := compileOne(t, overridesProto)
	tests := []struct {
		name     string
		override schema.Override
		want     []string
	}{
		{"unknown method", schema.Override{Method: "test.v1.Users/GetUsr", Name: "x"}, []string{"override of method test.v1.Users/GetUsr", "unknown method"}},
		{"unknown service", schema.Override{Service: "test.v1.Nope", Hide: true}, []string{"override of service test.v1.Nope", "unknown service"}},
		{"neither", schema.Override{Name: "x"}, []string{"override 0", "exactly one of service and method"}},
		{"both", schema.Override{Service: "test.v1.Users", Method: "test.v1.Users/GetUser"}, []string{"exactly one of service and method"}},
		{"subscription", schema.Override{Method: "test.v1.Users/GetUser", Operation: ast.Subscription}, []string{`operation "subscription" is not query or mutation`}},
		{"streaming", schema.Override{Method: "test.v1.Users/WatchUsers", Operation: ast.Query}, []string{"method test.v1.Users/WatchUsers", "streaming"}},
		{"bad name", schema.Override{Method: "test.v1.Users/GetUser", Name: "get-user"}, []string{`"get-user"`, "test.v1.Users/GetUser"}},
		{"taken name", schema.Override{Method: "test.v1.Users/GetUser", Name: "reset"}, []string{"root field reset", "test.v1.Users/GetUser", "test.v1.Admin/Reset",
			"an override naming the root field of one of the methods, or that method's option (gateway.options.v1.graphql)"}},
		{"bad prefix", schema.Override{Service: "test.v1.Users", Name: "1x"}, []string{`prefix "1x"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantContains(t, buildErr(t, services, schema.Options{Overrides: []schema.Override{tt.override}}), tt.want...)
		})
	}
	msg := buildErr(t, services, schema.Options{Overrides: []schema.Override{
		{Method: "test.v1.Users/GetUser", Name: "a"}, {Method: "test.v1.Users/GetUser", Name: "b"}}})
	wantContains(t, msg, "given twice")
}

// Target names what an override changes in one spelling, as the registry compares it with the
// methods and services registered.
func TestOverrideTarget(t *testing.T) {
	for _, tc := range []struct {
		o    schema.Override
		want string
	}{
		{schema.Override{Service: "test.v1.Users"}, "test.v1.Users"},
		{schema.Override{Method: "test.v1.Users/GetUser"}, "test.v1.Users/GetUser"},
		{schema.Override{Method: "/test.v1.Users/GetUser"}, "test.v1.Users/GetUser"},
		{schema.Override{Method: "test.v1.Users.GetUser"}, "test.v1.Users/GetUser"},
		{schema.Override{Method: "GetUser"}, ""},
		{schema.Override{Service: "test.v1.Users", Method: "test.v1.Users/GetUser"}, ""},
		{schema.Override{Name: "x"}, ""},
	} {
		if got := tc.o.Target(); got != tc.want {
			t.Errorf("%+v.Target() = %q, want %q", tc.o, got, tc.want)
		}
	}
}

const optionOverridesProto = `
service Users {
  option (gateway.options.v1.graphql_service) = {name: "users" operation: OPERATION_QUERY};
  rpc GetUser(R) returns (R) { option (gateway.options.v1.graphql) = {name: "user"}; }
  rpc DeleteUser(R) returns (R) { option (gateway.options.v1.graphql) = {operation: OPERATION_MUTATION}; }
  rpc Internal(R) returns (R) { option (gateway.options.v1.graphql) = {hide: true}; }
  rpc List(R) returns (R);
}
service Hidden {
  option (gateway.options.v1.graphql_service) = {hide: true};
  rpc Anything(R) returns (R);
}
message R { string id = 1; }
`

func TestOverridesFromProtoOptions(t *testing.T) {
	services := compileOne(t, optionOverridesProto)
	s := mustBuild(t, services, schema.Options{})
	got := rootFieldSet(s)
	want := map[string]bool{"query user": true, "mutation usersDeleteUser": true, "query usersList": true}
	if len(got) != len(want) {
		t.Errorf("root fields %v, want %v", got, want)
	}
	for w := range want {
		if !got[w] {
			t.Errorf("missing %q in %v", w, got)
		}
	}

	// The config wins over the proto options.
	s = mustBuild(t, services, schema.Options{Overrides: []schema.Override{
		{Method: "test.v1.Users/GetUser", Name: "member", Operation: ast.Mutation},
		{Service: "test.v1.Users", Name: "people"},
	}})
	got = rootFieldSet(s)
	for _, w := range []string{"mutation member", "mutation peopleDeleteUser", "query peopleList"} {
		if !got[w] {
			t.Errorf("missing %q in %v", w, got)
		}
	}
}
