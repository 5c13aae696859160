package registry_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	adminv1 "github.com/protogate/gateway/gen/gateway/admin/v1"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/registry/store"
	"github.com/protogate/gateway/routing"
)

// shopWithMoney is the shop's sources with each old text of edits of money.proto replaced by its
// new one, compiling entry alone.
func shopWithMoney(t testing.TB, name, entry string, edits ...string) *adminv1.RegisterRequest {
	t.Helper()
	sources := shopSources(t)
	const money = "shop/common/v1/money.proto"
	for i := 0; i < len(edits); i += 2 {
		if !strings.Contains(sources[money], edits[i]) {
			t.Fatalf("money.proto has no %q", edits[i])
		}
		sources[money] = strings.Replace(sources[money], edits[i], edits[i+1], 1)
	}
	return protosReq(name, sources, []string{entry}, addrA)
}

const (
	ordersProto  = "shop/orders/v1/orders.proto"
	catalogProto = "shop/catalog/v1/catalog.proto"
)

// A file two registrations bring can evolve: either may bring a copy that adds to the other's, and
// the newest is served, to reflection and to every front, the older registration's methods
// included. A copy that changes what the other holds is refused, even with allow_breaking.
func TestRegistrySharedFileEvolves(t *testing.T) {
	f := newFixture(t, store.NewMemory())
	f.open(t, registry.Spec{})
	f.register(t, shopWithMoney(t, "orders", ordersProto))
	f.register(t, shopWithMoney(t, "catalog", catalogProto))

	// money checks that the served Money has field, in reflection and in the one GraphQL type Money,
	// whichever root field reaches it.
	money := func(t *testing.T, field protoreflect.Name) {
		t.Helper()
		snap := f.reg.Current()
		d, err := snap.Files().FindDescriptorByName("shop.common.v1.Money")
		if err != nil || d.(protoreflect.MessageDescriptor).Fields().ByName(field) == nil {
			t.Errorf("the served shop.common.v1.Money has no field %s (%v)", field, err)
		}
		if n := strings.Count(snap.GraphQL().SDL(), "\ntype Money {"); n != 1 {
			t.Errorf("the SDL declares type Money %d times", n)
		}
		// From the orders' root field (an older copy, maybe) as from the catalog's.
		for _, root := range []string{"getOrder", "getProduct"} {
			rf := snap.GraphQL().RootField(ast.Query, root)
			if rf == nil {
				t.Fatalf("no root field %s", root)
			}
			var found bool
			for _, fld := range rf.Result.Object.Fields {
				if fld.Object != nil && fld.Object.Name == "Money" {
					found = true
					if fld.Object.Field(string(field)) == nil {
						t.Errorf("%s: %s.%s is a Money without %s", root, rf.Result.Object.Name, fld.Name, field)
					}
				}
			}
			if !found {
				t.Errorf("%s reaches no Money", root)
			}
		}
	}

	// The catalog adds a field: accepted, and served.
	resp := f.register(t, shopWithMoney(t, "catalog", catalogProto, "int32 nanos = 3;", "int32 nanos = 3;\n  string note = 4;"))
	if !resp.GetChanged() || len(resp.GetBreakingChanges()) != 0 {
		t.Fatalf("catalog adding a field to money.proto: %v", resp)
	}
	t.Run("newer copy served", func(t *testing.T) { money(t, "note") })

	// The orders catch up, then go further.
	f.register(t, shopWithMoney(t, "orders", ordersProto, "int32 nanos = 3;", "int32 nanos = 3;\n  string note = 4;"))
	f.register(t, shopWithMoney(t, "orders", ordersProto, "int32 nanos = 3;", "int32 nanos = 3;\n  string note = 4;\n  string memo = 5;"))
	t.Run("newest copy served", func(t *testing.T) { money(t, "memo") })

	// A copy that neither holds the other nor is held by it: refused, allow_breaking or not.
	before := f.view(t)
	clash := shopWithMoney(t, "catalog", catalogProto, "int32 nanos = 3;", "int32 nanos = 3;\n  string note = 4;\n  int64 weight = 5;")
	clash.AllowBreaking = true
	_, err := f.reg.Register(t.Context(), clash)
	wantStatus(t, err, codes.AlreadyExists, `registration "catalog": conflict: its copy of file shop/common/v1/money.proto and the one registration "orders" brought differ, and neither holds the other compatibly`,
		`shop.common.v1.Money: field 5 "memo" type changed from string to int64; shop.common.v1.Money: field 5 renamed from "memo" to "weight"`,
		"bring one that holds the other's; --allow-breaking does not change another registration's file")
	f.unchanged(t, before)
}

// The files of one backend registered twice, split by --service, are one file: an additive change
// of it, registered by either, is accepted.
func TestRegistrySplitServicesEvolve(t *testing.T) {
	const two = `syntax = "proto3";
package acme.v1;
message M { string s = 1; }
service One { rpc A(M) returns (M); }
service Two { rpc B(M) returns (M); }
`
	f := newFixture(t, store.NewMemory())
	f.open(t, registry.Spec{})
	split := func(name, service, src string) *adminv1.RegisterRequest {
		req := protosReq(name, map[string]string{"acme/two.proto": src}, nil, addrA)
		req.Services = []string{service}
		return req
	}
	f.register(t, split("one", "acme.v1.One", two))
	f.register(t, split("two", "acme.v1.Two", two))
	added := strings.Replace(two, "string s = 1;", "string s = 1; string t = 2;", 1)
	if resp := f.register(t, split("one", "acme.v1.One", added)); !resp.GetChanged() {
		t.Fatalf("one: %v", resp)
	}
	snap := f.reg.Current()
	for _, root := range []string{"a", "b"} {
		rf := snap.GraphQL().RootField(ast.Mutation, root)
		if rf == nil || rf.Result.Object == nil || rf.Result.Object.Field("t") == nil {
			t.Errorf("root field %s does not answer an M with t", root)
		}
	}
	if resp := f.register(t, split("two", "acme.v1.Two", added)); !resp.GetChanged() {
		t.Fatalf("two: %v", resp)
	}
}

// Two different files at one path, in different packages, are refused: a path names one file
// across all registrations; the refusal says how to name them.
func TestRegistrySamePathOtherFile(t *testing.T) {
	f := newFixture(t, store.NewMemory())
	f.open(t, registry.Spec{})
	api := func(pkg, msg string) map[string]string {
		return map[string]string{"api.proto": fmt.Sprintf("syntax = \"proto3\";\npackage %s;\nmessage %s { string id = 1; }\nservice %[2]sService { rpc Get%[2]s(%[2]s) returns (%[2]s); }\n", pkg, msg)}
	}
	f.register(t, protosReq("a", api("acme.a.v1", "A"), nil, addrA))
	before := f.view(t)
	_, err := f.reg.Register(t.Context(), protosReq("b", api("acme.b.v1", "B"), nil, addrB))
	wantStatus(t, err, codes.AlreadyExists, `registration "b": conflict: its file api.proto (package acme.b.v1) is another file than the api.proto registration "a" brought (package acme.a.v1)`,
		"name each file after its package, as acme/b/v1/api.proto")
	if n := strings.Count(status.Convert(err).Message(), `registration "b"`); n != 1 {
		t.Errorf("the refusal names the registration %d times: %v", n, err)
	}
	f.unchanged(t, before)
}

// Two shared files evolving in opposite directions: registration a brings the newer q.proto,
// registration b the newer p.proto, which imports q.proto. The snapshot serves both newer copies,
// and every front sees them whichever registration's method reaches them: b's newer p.proto is
// served linked to a's newer q.proto, and a's files to both (a's service file imports q.proto before
// p.proto, so a's q.proto is linked before the served p.proto that imports b's older one).
func TestCompileSharedFilesCrossEvolve(t *testing.T) {
	const (
		q1 = "syntax = \"proto3\";\npackage acme.q;\nmessage Q { string a = 1; }\n"
		q2 = "syntax = \"proto3\";\npackage acme.q;\nmessage Q { string a = 1; string b = 2; }\n"
		p1 = "syntax = \"proto3\";\npackage acme.p;\nimport \"acme/q.proto\";\nmessage P { acme.q.Q q = 1; }\n"
		p2 = "syntax = \"proto3\";\npackage acme.p;\nimport \"acme/q.proto\";\nmessage P { acme.q.Q q = 1; string y = 2; }\n"
	)
	service := func(name string) string {
		return fmt.Sprintf("syntax = \"proto3\";\npackage acme.%s;\nimport \"acme/q.proto\";\nimport \"acme/p.proto\";\nservice S { rpc Get%s(acme.q.Q) returns (acme.p.P); }\n", name, strings.ToUpper(name))
	}
	regs := []*registry.Registration{
		{Name: "a", Endpoints: []string{addrA}, Files: compiledFiles(t, map[string]string{"acme/q.proto": q2, "acme/p.proto": p1, "acme/a.proto": service("a")})},
		{Name: "b", Endpoints: []string{addrB}, Files: compiledFiles(t, map[string]string{"acme/q.proto": q1, "acme/p.proto": p2, "acme/b.proto": service("b")})},
	}
	pool := routing.NewPool(nil)
	defer pool.Close()
	snap, err := registry.Compile(registry.Spec{Registrations: regs}, pool, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Retire(pool)
	for _, root := range []string{"getA", "getB"} {
		rf := snap.GraphQL().RootField(ast.Mutation, root)
		if rf == nil {
			t.Fatalf("no root field %s in\n%s", root, snap.GraphQL().SDL())
		}
		p := rf.Result.Object
		if p.Field("y") == nil || p.Field("q") == nil || p.Field("q").Object.Field("b") == nil || rf.Args.Field("b") == nil {
			t.Errorf("%s takes a Q without b, or answers a P without y or a Q without b", root)
		}
	}
	for name, field := range map[protoreflect.FullName]protoreflect.Name{"acme.p.P": "y", "acme.q.Q": "b"} {
		d, err := snap.Files().FindDescriptorByName(name)
		if err != nil || d.(protoreflect.MessageDescriptor).Fields().ByName(field) == nil {
			t.Errorf("the served %s has no field %s (%v)", name, field, err)
		}
	}
	// The served p.proto is linked to the served q.proto, for reflection and the dynamic types.
	mt, err := snap.DynamicTypes().FindMessageByName("acme.p.P")
	if err != nil || mt.Descriptor().Fields().ByName("q").Message().Fields().ByName("b") == nil {
		t.Errorf("the served acme.p.P.q is a Q without b (%v)", err)
	}
}
