package schema_test

import (
	"context"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"github.com/vektah/gqlparser/v2/ast"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/protogate/gateway/schema"
)

func TestShopLinks(t *testing.T) {
	s := mustBuild(t, shopServices(), schema.Options{Links: shopLinks()})

	user := s.ObjectType("Order").Field("user")
	if user == nil || user.Link == nil || user.Desc != nil {
		t.Fatalf("Order.user: %+v", user)
	}
	if user.Kind != schema.KindMessage || user.Object != s.ObjectType("User") || user.List {
		t.Errorf("Order.user value: %+v", user.Value)
	}
	if got := fieldType(t, s, "Order", "user"); got != "User" {
		t.Errorf("Order.user is %s, want a nullable User", got)
	}
	l := user.Link
	if l.Method.FullName() != "shop.users.v1.UserService.GetUser" || l.Path != "/shop.users.v1.UserService/GetUser" {
		t.Errorf("Order.user calls %s (%s)", l.Method.FullName(), l.Path)
	}
	if len(l.Args) != 1 || l.Args[0].Request.FullName() != "shop.users.v1.GetUserRequest.id" ||
		len(l.Args[0].Source) != 1 || l.Args[0].Source[0].FullName() != "shop.orders.v1.Order.user_id" {
		t.Errorf("Order.user args: %+v", l.Args)
	}
	b := l.Batch
	if b == nil || b.Path != "/shop.users.v1.UserService/BatchGetUsers" ||
		b.RequestField.FullName() != "shop.users.v1.BatchGetUsersRequest.ids" ||
		b.ResponseField.FullName() != "shop.users.v1.BatchGetUsersResponse.users" ||
		b.KeyField.FullName() != "shop.users.v1.User.id" {
		t.Errorf("Order.user batch: %+v", b)
	}

	product := s.ObjectType("LineItem").Field("product")
	if product == nil || product.Object != s.ObjectType("Product") || product.Link.Batch == nil {
		t.Errorf("LineItem.product: %+v", product)
	}

	orders := s.ObjectType("User").Field("orders")
	if orders == nil || orders.Link.ResultField.FullName() != "shop.orders.v1.ListOrdersResponse.orders" ||
		!orders.List || orders.Object != s.ObjectType("Order") || orders.Link.Batch != nil {
		t.Fatalf("User.orders: %+v", orders)
	}
	if got := fieldType(t, s, "User", "orders"); got != "[Order!]" {
		t.Errorf("User.orders is %s", got)
	}
	if got := orders.Link.Args[0]; got.Request.Name() != "user_id" || got.Source[0].Name() != "id" {
		t.Errorf("User.orders args: %+v", got)
	}
	// Links follow the proto fields.
	fields := s.ObjectType("Order").Fields
	if fields[len(fields)-1] != user {
		t.Error("Order.user is not the last field")
	}
}

func TestLinkToHiddenMethod(t *testing.T) {
	s := mustBuild(t, shopServices(), schema.Options{
		Links:     shopLinks(),
		Overrides: []schema.Override{{Method: "shop.users.v1.UserService/BatchGetUsers", Hide: true}, {Method: "shop.users.v1.UserService/GetUser", Hide: true}},
	})
	if s.RootField(ast.Query, "getUser") != nil || s.RootField(ast.Query, "batchGetUsers") != nil {
		t.Error("hidden methods have root fields")
	}
	if f := s.ObjectType("Order").Field("user"); f == nil || f.Link.Batch == nil {
		t.Error("the link to hidden methods is gone")
	}
}

const linkedProto = `
service S {
  rpc GetOwner(OwnerRequest) returns (Owner) { option idempotency_level = NO_SIDE_EFFECTS; }
  rpc BatchGetOwners(BatchRequest) returns (BatchResponse) { option idempotency_level = NO_SIDE_EFFECTS; }
  rpc GetPet(Pet) returns (Pet) { option idempotency_level = NO_SIDE_EFFECTS; }
  rpc WatchOwner(OwnerRequest) returns (stream Owner);
  rpc GetThing(OwnerRequest) returns (Thing) { option idempotency_level = NO_SIDE_EFFECTS; }
}
message OwnerRequest { string id = 1; int32 n = 2; }
message Owner { string id = 1; string name = 2; }
message BatchRequest { repeated string ids = 1; repeated int64 numbers = 2; }
message BatchResponse { repeated Owner owners = 1; repeated string names = 2; repeated Pet pets = 3; }
message Pet {
  option (gateway.options.v1.graphql_link) = {
    field: "owner"
    method: "test.v1.S/GetOwner"
    args: {key: "id" value: "home.owner_id"}
    batch: {method: "test.v1.S/BatchGetOwners" request_field: "ids" response_field: "owners" key_field: "id"}
  };
  option (gateway.options.v1.graphql_link) = {
    field: "ownerName"
    method: "test.v1.S.GetOwner"
    args: {key: "id" value: "homeOwner"}
    result_field: "name"
  };
  message Home { string owner_id = 1; }
  string name = 1;
  Home home = 2;
  string home_owner = 3;
  int32 number = 4;
}
message Unreached {
  option (gateway.options.v1.graphql_link) = {field: "x" method: "test.v1.S/GetOwner"};
  string id = 1;
}
message Thing { string id = 1; }
`

func TestLinksFromProtoOptions(t *testing.T) {
	s := mustBuild(t, compileOne(t, linkedProto), schema.Options{})
	checkPetLinks(t, s)
}

func checkPetLinks(t *testing.T, s *schema.Schema) {
	t.Helper()
	pet := s.ObjectType("Pet")
	if pet == nil {
		t.Fatalf("no type Pet in\n%s", s.SDL())
	}
	owner := pet.Field("owner")
	if owner == nil || owner.Link == nil || owner.Object != s.ObjectType("Owner") {
		t.Fatalf("Pet.owner: %+v\n%s", owner, s.SDL())
	}
	if src := owner.Link.Args[0].Source; len(src) != 2 || src[0].Name() != "home" || src[1].Name() != "owner_id" {
		t.Errorf("Pet.owner source path %v", src)
	}
	if b := owner.Link.Batch; b == nil || b.RequestField.Name() != "ids" || b.KeyField.Name() != "id" {
		t.Errorf("Pet.owner batch %+v", b)
	}
	name := pet.Field("ownerName")
	if name == nil || name.Kind != schema.KindString || name.Link.ResultField.Name() != "name" || name.Link.Args[0].Source[0].Name() != "home_owner" {
		t.Fatalf("Pet.ownerName: %+v", name)
	}
	if got := fieldType(t, s, "Pet", "ownerName"); got != "String" {
		t.Errorf("Pet.ownerName is %s", got)
	}
	if !strings.Contains(s.SDL(), `"Calls test.v1.S/GetOwner(id: home.ownerId), batched into test.v1.S/BatchGetOwners."`) {
		t.Errorf("no link description in\n%s", s.SDL())
	}
}

func TestLinksFromOptionsReplaceDeclared(t *testing.T) {
	s := mustBuild(t, compileOne(t, linkedProto), schema.Options{Links: []schema.Link{
		{OnType: "test.v1.Pet", Field: "owner", Method: "test.v1.S/GetOwner", Args: map[string]string{"id": "home_owner"}},
		{OnType: "test.v1.Owner", Field: "thing", Method: "test.v1.S/GetThing", Args: map[string]string{"id": "id"}},
	}})
	owner := s.ObjectType("Pet").Field("owner")
	if owner.Link.Batch != nil || owner.Link.Args[0].Source[0].Name() != "home_owner" {
		t.Errorf("the configured Pet.owner did not replace the declared one: %+v", owner.Link)
	}
	if f := s.ObjectType("Owner").Field("thing"); f == nil || f.Object != s.ObjectType("Thing") {
		t.Errorf("Owner.thing: %+v", f)
	}
	// The link made Thing reachable.
	if s.AST().Types["Thing"] == nil {
		t.Error("no type Thing")
	}
}

func TestLinkErrors(t *testing.T) {
	services := compileOne(t, linkedProto)
	link := func(mod func(*schema.Link)) schema.Link {
		l := schema.Link{OnType: "test.v1.Owner", Field: "pet", Method: "test.v1.S/GetPet", Args: map[string]string{"name": "name"}}
		mod(&l)
		return l
	}
	batch := func(mod func(*schema.BatchLink)) func(*schema.Link) {
		return func(l *schema.Link) {
			l.OnType, l.Field, l.Method = "test.v1.Pet", "keeper", "test.v1.S/GetOwner"
			l.Args = map[string]string{"id": "name"}
			l.Batch = &schema.BatchLink{Method: "test.v1.S/BatchGetOwners", RequestField: "ids", ResponseField: "owners", KeyField: "id"}
			mod(l.Batch)
		}
	}
	tests := []struct {
		name string
		link schema.Link
		want []string
	}{
		{"unknown method", link(func(l *schema.Link) { l.Method = "test.v1.S/GetPets" }), []string{"link test.v1.Owner.pet", "unknown method test.v1.S/GetPets"}},
		{"not a method", link(func(l *schema.Link) { l.Method = "GetPet" }), []string{`"GetPet" is not a method name`}},
		{"streaming method", link(func(l *schema.Link) { l.Method = "test.v1.S/WatchOwner"; l.Args = nil }), []string{"test.v1.S/WatchOwner is streaming"}},
		{"unknown message", link(func(l *schema.Link) { l.OnType = "test.v1.Nope" }), []string{"link test.v1.Nope.pet", "unknown message test.v1.Nope"}},
		{"unknown request field", link(func(l *schema.Link) { l.Args = map[string]string{"nam": "name"} }), []string{"link test.v1.Owner.pet", `request test.v1.Pet has no field "nam"`}},
		{"unknown parent field", link(func(l *schema.Link) { l.Args = map[string]string{"name": "nick"} }), []string{`test.v1.Owner has no field "nick"`}},
		{"path through a scalar", link(func(l *schema.Link) { l.Args = map[string]string{"name": "name.x"} }), []string{"test.v1.Owner.name is not a message"}},
		{"type mismatch", link(func(l *schema.Link) {
			l.Method = "test.v1.S/GetOwner"
			l.Args = map[string]string{"n": "name"}
		}), []string{"request field test.v1.OwnerRequest.n (int32) cannot be set from test.v1.Owner.name (string)"}},
		{"bad field name", link(func(l *schema.Link) { l.Field = "my pet" }), []string{`field name "my pet"`}},
		{"field taken", link(func(l *schema.Link) { l.Field = "name" }), []string{"link test.v1.Owner.name", "Owner already has a field name"}},
		{"unknown result field", link(func(l *schema.Link) { l.ResultField = "nope" }), []string{`result field: test.v1.Pet has no field "nope"`}},
		{"result field and batch", link(func(l *schema.Link) {
			l.ResultField = "name"
			l.Batch = &schema.BatchLink{Method: "test.v1.S/BatchGetOwners"}
		}), []string{"batch link cannot have a result field"}},
		{"batch: two args", link(batch(func(*schema.BatchLink) {})), nil},
		{"batch: unknown method", link(batch(func(b *schema.BatchLink) { b.Method = "test.v1.S/Batch" })), []string{"link test.v1.Pet.keeper: batch: unknown method test.v1.S/Batch"}},
		{"batch: unknown request field", link(batch(func(b *schema.BatchLink) { b.RequestField = "idz" })), []string{`batch request test.v1.BatchRequest has no field "idz"`}},
		{"batch: request field of another type", link(batch(func(b *schema.BatchLink) { b.RequestField = "numbers" })), []string{"batch request field test.v1.BatchRequest.numbers (int64) cannot take the keys"}},
		{"batch: unknown response field", link(batch(func(b *schema.BatchLink) { b.ResponseField = "ownerz" })), []string{`batch response test.v1.BatchResponse has no field "ownerz"`}},
		{"batch: response of scalars", link(batch(func(b *schema.BatchLink) { b.ResponseField = "names" })), []string{"test.v1.BatchResponse.names is not a repeated message field"}},
		{"batch: response of another type", link(batch(func(b *schema.BatchLink) { b.ResponseField = "pets" })), []string{"holds test.v1.Pet, but test.v1.S.GetOwner returns test.v1.Owner"}},
		{"batch: unknown key field", link(batch(func(b *schema.BatchLink) { b.KeyField = "ident" })), []string{`batch result test.v1.Owner has no field "ident"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == nil {
				// A batch link with two arguments.
				tt.link.Args["n"] = "number"
				tt.want = []string{"a batch link takes exactly one argument, its key; it has 2"}
			}
			wantContains(t, buildErr(t, services, schema.Options{Links: []schema.Link{tt.link}}), tt.want...)
		})
	}
	msg := buildErr(t, services, schema.Options{Links: []schema.Link{link(func(*schema.Link) {}), link(func(*schema.Link) {})}})
	wantContains(t, msg, "link test.v1.Owner.pet: declared twice")
}

func TestLinkOnUnreachedMessage(t *testing.T) {
	// Unreached declares a link to a known method and is used by no root field: no error, no type.
	s := mustBuild(t, compileOne(t, linkedProto), schema.Options{Links: []schema.Link{
		{OnType: "test.v1.Unreached", Field: "y", Method: "test.v1.S/GetOwner"},
	}})
	if s.AST().Types["Unreached"] != nil {
		t.Error("Unreached is in the schema")
	}
}

// TestOptionsReadRobustly reads gateway options from descriptors as protocompile leaves them
// (options as dynamic messages) and as a descriptor set decoded without the extensions linked
// (options as unknown fields).
func TestOptionsReadRobustly(t *testing.T) {
	sources := map[string]string{
		"gateway/options/v1/options.proto": optionsProto(t),
		"test.proto":                       testHeader + linkedProto + optionOverridesProtoRenamed,
	}
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
			if src, ok := sources[path]; ok {
				return protocompile.SearchResult{Source: strings.NewReader(src)}, nil
			}
			fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
			if err != nil {
				return protocompile.SearchResult{}, err
			}
			return protocompile.SearchResult{Desc: fd}, nil
		})),
	}
	files, err := c.Compile(context.Background(), "test.proto")
	if err != nil {
		t.Fatal(err)
	}
	dynamic := files[0].Services()

	// The same file, encoded and decoded without extension types, and linked again.
	reg := new(protoregistry.Files)
	var relink func(fd protoreflect.FileDescriptor) protoreflect.FileDescriptor
	relink = func(fd protoreflect.FileDescriptor) protoreflect.FileDescriptor {
		if linked, err := protoregistry.GlobalFiles.FindFileByPath(fd.Path()); err == nil && !strings.HasPrefix(fd.Path(), "gateway/") {
			return linked
		}
		if done, err := reg.FindFileByPath(fd.Path()); err == nil {
			return done
		}
		for i := range fd.Imports().Len() {
			relink(fd.Imports().Get(i).FileDescriptor)
		}
		data, err := proto.Marshal(protodesc.ToFileDescriptorProto(fd))
		if err != nil {
			t.Fatal(err)
		}
		fdp := new(descriptorpb.FileDescriptorProto)
		if err := (proto.UnmarshalOptions{Resolver: new(protoregistry.Types)}).Unmarshal(data, fdp); err != nil {
			t.Fatal(err)
		}
		out, err := protodesc.NewFile(fdp, resolvers{reg, protoregistry.GlobalFiles})
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.RegisterFile(out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	unknown := relink(files[0]).Services()

	for name, svcs := range map[string]protoreflect.ServiceDescriptors{"dynamic": dynamic, "unknown fields": unknown} {
		t.Run(name, func(t *testing.T) {
			var services []protoreflect.ServiceDescriptor
			for i := range svcs.Len() {
				services = append(services, svcs.Get(i))
			}
			s := mustBuild(t, services, schema.Options{})
			checkPetLinks(t, s)
			got := rootFieldSet(s)
			for _, w := range []string{"query user", "mutation usersDeleteUser", "query usersList"} {
				if !got[w] {
					t.Errorf("missing %q in %v", w, got)
				}
			}
			if got["query hiddenAnything"] || got["mutation anything"] {
				t.Errorf("hidden service exposed: %v", got)
			}
		})
	}
}

// optionOverridesProtoRenamed is optionOverridesProto with a message name that does not clash
// with linkedProto's.
var optionOverridesProtoRenamed = strings.ReplaceAll(strings.ReplaceAll(optionOverridesProto, "(R)", "(U)"), "message R {", "message U {")

// resolvers finds files in the first registry that has them.
type resolvers [2]*protoregistry.Files

func (r resolvers) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	if fd, err := r[0].FindFileByPath(path); err == nil {
		return fd, nil
	}
	return r[1].FindFileByPath(path)
}

func (r resolvers) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	if d, err := r[0].FindDescriptorByName(name); err == nil {
		return d, nil
	}
	return r[1].FindDescriptorByName(name)
}
