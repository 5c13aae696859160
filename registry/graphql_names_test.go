package registry_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/registry/store"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/schema"
)

// The GraphQL names a registration claims are checked by building the schema (schema.Build), not by
// a parallel walk of the descriptors: so what is refused is exactly what the schema could not serve,
// prefixes, overrides and hidden methods included.
func TestCompileGraphQLNamesFromSchema(t *testing.T) {
	const inputCollision = `syntax = "proto3";
package acme.forms.v1;
service FormService { rpc Submit(SubmitRequest) returns (UserInput); }
message SubmitRequest { string id = 1; }
message UserInput { string text = 1; }
`
	const reservedName = `syntax = "proto3";
package acme.odd.v1;
service OddService { rpc Get(GetRequest) returns (__Hidden); }
message GetRequest { string id = 1; }
message __Hidden { string id = 1; }
`
	const typeCollision = `syntax = "proto3";
package acme.people.v1;
service PeopleService { rpc FindPerson(FindPersonRequest) returns (User); }
message FindPersonRequest { string id = 1; }
message User { string id = 1; }
`
	const rootCollision = `syntax = "proto3";
package acme.root.v1;
service RootService { rpc GetUser(RootLookupRequest) returns (RootLookupResponse); }
message RootLookupRequest { string id = 1; }
message RootLookupResponse { string id = 1; }
`
	for _, tc := range []struct {
		name     string
		proto    string
		gql      schema.Options
		want     string // "" when the registration compiles
		conflict bool
	}{
		// The input type of shop.users.v1.User (CreateUser takes one) is UserInput: a walk of
		// message names alone does not see it.
		{name: "input type", proto: inputCollision, conflict: true,
			want: `GraphQL type UserInput for acme.forms.v1.UserInput (registration "acme") is already taken by the input of shop.users.v1.User (registration "users")`},
		{name: "reserved name", proto: reservedName,
			want: `GraphQL schema: GraphQL type name "__Hidden" for message acme.odd.v1.__Hidden is not a valid GraphQL name`},
		{name: "type", proto: typeCollision, conflict: true,
			want: `GraphQL type User for acme.people.v1.User (registration "acme") is already taken by shop.users.v1.User (registration "users")`},
		{name: "type with a prefix for the package", proto: typeCollision,
			gql: schema.Options{Prefixes: map[string]string{"acme.people.v1": "Acme"}}},
		{name: "root field", proto: rootCollision, conflict: true,
			want: `GraphQL root field getUser of acme.root.v1.RootService.GetUser (registration "acme") is already taken by shop.users.v1.UserService.GetUser (registration "users"); an override naming the root field of acme.root.v1.RootService/GetUser, or that method's option (gateway.options.v1.graphql) = {name: ...}, tells them apart`},
		{name: "root field renamed", proto: rootCollision,
			gql: schema.Options{Overrides: []schema.Override{{Method: "acme.root.v1.RootService/GetUser", Name: "rootLookup"}}}},
		{name: "root field hidden", proto: rootCollision,
			gql: schema.Options{Overrides: []schema.Override{{Service: "acme.root.v1.RootService", Hide: true}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := routing.NewPool(nil)
			defer pool.Close()
			spec := registry.Spec{GraphQL: tc.gql, Registrations: []*registry.Registration{
				{Name: "users", Endpoints: []string{addrA}, Files: generatedFiles(t, usersv1.File_shop_users_v1_users_proto)},
				{Name: "acme", Endpoints: []string{addrB}, Files: compiledFiles(t, map[string]string{"acme/a.proto": tc.proto})},
			}}
			snap, err := registry.Compile(spec, pool, 1)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Compile: %v", err)
				}
				snap.Retire(pool)
				return
			}
			if err == nil {
				snap.Retire(pool)
				t.Fatalf("Compile succeeded, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v\nwant %q", err, tc.want)
			}
			if errors.Is(err, registry.ErrConflict) != tc.conflict {
				t.Errorf("errors.Is(err, ErrConflict) = %v, want %v", !tc.conflict, tc.conflict)
			}
		})
	}
}

// A registration whose messages would give a colliding or invalid GraphQL name is refused with the
// reason, and the schema being served does not change.
func TestRegistryRefusesGraphQLNames(t *testing.T) {
	f := newFixture(t, store.NewMemory())
	f.open(t, registry.Spec{})
	f.register(t, setReq("users", generatedSet(t, usersv1.File_shop_users_v1_users_proto), addrA))
	sdl := f.reg.Current().GraphQL().SDL()
	before := f.view(t)

	_, err := f.reg.Register(t.Context(), protosReq("forms", map[string]string{"acme/forms/v1/forms.proto": `syntax = "proto3";
package acme.forms.v1;
service FormService { rpc Submit(SubmitRequest) returns (UserInput); }
message SubmitRequest { string id = 1; }
message UserInput { string text = 1; }
`}, nil, addrB))
	wantStatus(t, err, codes.AlreadyExists, `GraphQL type UserInput for acme.forms.v1.UserInput (registration "forms") is already taken by the input of shop.users.v1.User (registration "users")`)
	f.unchanged(t, before)

	_, err = f.reg.Register(t.Context(), protosReq("odd", map[string]string{"acme/odd/v1/odd.proto": `syntax = "proto3";
package acme.odd.v1;
service OddService { rpc Get(GetRequest) returns (GetResponse); }
message GetRequest { string id = 1; }
message GetResponse { Kind kind = 1; }
enum Kind { KIND_UNSPECIFIED = 0; null = 1; }
`}, nil, addrB))
	wantStatus(t, err, codes.InvalidArgument, `enum value acme.odd.v1.null: "null" cannot be a GraphQL enum value`)
	f.unchanged(t, before)
	if got := f.reg.Current().GraphQL().SDL(); got != sdl {
		t.Error("the served schema changed")
	}
}

// An override names a method or service that may come later, as a link may: it waits, blocking no
// registration, and applies once what it names is registered. So a newcomer's method can be given
// a root field of its own before its registration, which would otherwise clash, is made.
func TestRegistryOverrideWaits(t *testing.T) {
	f := newFixture(t, store.NewMemory())
	f.open(t, registry.Spec{GraphQL: schema.Options{Overrides: []schema.Override{
		{Method: "acme.root.v1.RootService/GetUser", Name: "rootLookup"},
		{Service: "acme.typo.v1.RootServise", Hide: true},
	}}})
	f.register(t, setReq("users", generatedSet(t, usersv1.File_shop_users_v1_users_proto), addrA))
	want := []string{
		"override of method acme.root.v1.RootService/GetUser: no registered service has that method",
		"override of service acme.typo.v1.RootServise: no registered service has that name",
	}
	if got := f.reg.Current().WaitingGraphQL(); !slices.Equal(got, want) {
		t.Errorf("WaitingGraphQL = %q, want %q", got, want)
	}

	f.register(t, protosReq("acme", map[string]string{"acme/root/v1/root.proto": `syntax = "proto3";
package acme.root.v1;
service RootService { rpc GetUser(RootLookupRequest) returns (RootLookupResponse); }
message RootLookupRequest { string id = 1; }
message RootLookupResponse { string id = 1; }
`}, nil, addrB))
	sdl := f.reg.Current().GraphQL().SDL()
	if !strings.Contains(sdl, "\n  getUser(") || !strings.Contains(sdl, "\n  rootLookup(") {
		t.Errorf("the schema lacks getUser or rootLookup:\n%s", sdl)
	}
	if got := f.reg.Current().WaitingGraphQL(); !slices.Equal(got, want[1:]) {
		t.Errorf("WaitingGraphQL = %q, want %q", got, want[1:])
	}
}
