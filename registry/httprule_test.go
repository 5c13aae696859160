package registry_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/transcoder"
)

// usersFrom returns the shop's users.proto as each way of getting descriptors gives it, including
// the two that hold options in the forms of the trap: dynamic messages and unknown fields.
func usersFrom(t *testing.T) map[string]*protoregistry.Files {
	t.Helper()
	out := make(map[string]*protoregistry.Files)
	var err error
	if out["descriptor set"], err = registry.FilesFromDescriptorSet(marshal(t, descriptorSet(false, shopFiles[0]))); err != nil {
		t.Fatal(err)
	}
	if out["protos"], err = registry.FilesFromProtos(t.Context(), shopSources(t), []string{"shop/users/v1/users.proto"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if out["reflection"], _, err = registry.FilesFromReflection(ctx, startShop(t, "users"), nil); err != nil {
		t.Fatal(err)
	}

	// Straight from protocompile: options are dynamic messages.
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(protocompile.CompositeResolver{
		&protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(shopSources(t))},
		protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
			fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
			return protocompile.SearchResult{Desc: fd}, err
		}),
	})}
	compiled, err := c.Compile(t.Context(), "shop/users/v1/users.proto")
	if err != nil {
		t.Fatal(err)
	}
	out["protocompile"] = new(protoregistry.Files)
	if err := out["protocompile"].RegisterFile(compiled[0]); err != nil {
		t.Fatal(err)
	}

	// A set decoded without the extensions linked: options hold them as unknown fields.
	set := new(descriptorpb.FileDescriptorSet)
	if err := (proto.UnmarshalOptions{Resolver: new(protoregistry.Types)}).Unmarshal(marshal(t, descriptorSet(true, shopFiles[0])), set); err != nil {
		t.Fatal(err)
	}
	if out["unknown fields"], err = protodesc.NewFiles(set); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHTTPRulesSameFromEverySource(t *testing.T) {
	sources := usersFrom(t)

	// The trap is there: reading the extension directly panics on protocompile's options and finds
	// nothing in unknown fields.
	getUser := findMethod(t, sources["protocompile"], "shop.users.v1.UserService.GetUser")
	if !panics(func() { proto.GetExtension(getUser.Options(), annotations.E_Http) }) {
		t.Error("proto.GetExtension no longer panics on protocompile options; the dynamic path is untested")
	}
	getUser = findMethod(t, sources["unknown fields"], "shop.users.v1.UserService.GetUser")
	if proto.HasExtension(getUser.Options(), annotations.E_Http) || len(getUser.Options().ProtoReflect().GetUnknown()) == 0 {
		t.Error("the option is not in unknown fields; the unknown-fields path is untested")
	}

	want := map[string][]string{
		"GetUser":       {"GET /v1/users/{id}"},
		"ListUsers":     {"GET /v1/users"},
		"CreateUser":    {"POST /v1/users body=user"},
		"UpdateUser":    {"PATCH /v1/users/{user.id} body=user"},
		"BatchGetUsers": {"GET /v1/users:batchGet"},
	}
	for source, files := range sources {
		svc := findMethod(t, files, "shop.users.v1.UserService.GetUser").Parent().(protoreflect.ServiceDescriptor)
		methods := svc.Methods()
		if methods.Len() != len(want) {
			t.Errorf("%s: %d methods, want %d", source, methods.Len(), len(want))
		}
		for i := range methods.Len() {
			md := methods.Get(i)
			rules, err := transcoder.HTTPRules(md)
			if err != nil {
				t.Errorf("%s: %s: %v", source, md.Name(), err)
				continue
			}
			if got := ruleTexts(rules); !slices.Equal(got, want[string(md.Name())]) {
				t.Errorf("%s: %s: rules = %q, want %q", source, md.Name(), got, want[string(md.Name())])
			}
		}
	}
}

func TestFieldBehaviorsSameFromEverySource(t *testing.T) {
	want := map[protoreflect.Name][]annotations.FieldBehavior{
		"id":         {annotations.FieldBehavior_IDENTIFIER},
		"name":       {annotations.FieldBehavior_REQUIRED},
		"email":      {annotations.FieldBehavior_REQUIRED},
		"created_at": {annotations.FieldBehavior_OUTPUT_ONLY},
	}
	for source, files := range usersFrom(t) {
		fields := findMessage(t, files, "shop.users.v1.User").Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			if got := transcoder.FieldBehaviors(fd); !slices.Equal(got, want[fd.Name()]) {
				t.Errorf("%s: %s: behaviors = %v, want %v", source, fd.Name(), got, want[fd.Name()])
			}
		}
	}
}

func TestHTTPRulesAdditionalBindings(t *testing.T) {
	files, err := registry.FilesFromProtos(t.Context(), map[string]string{"a.proto": `syntax = "proto3";
package a;
import "google/api/annotations.proto";
service S {
  rpc Bound(M) returns (M) {
    option (google.api.http) = {
      post: "/v1/things"
      body: "*"
      additional_bindings {
        put: "/v1/things/{id}"
        body: "thing"
      }
      additional_bindings {custom: {kind: "HEAD" path: "/v1/things/{id}"}}
    };
  }
  rpc Unbound(M) returns (M);
  rpc NoPattern(M) returns (M) {
    option (google.api.http) = {body: "*"};
  }
  rpc BindingWithoutPattern(M) returns (M) {
    option (google.api.http) = {get: "/v1/x" additional_bindings {body: "*"}};
  }
  rpc NestedBindings(M) returns (M) {
    option (google.api.http) = {
      get: "/v1/n/{id}"
      additional_bindings {get: "/v1/n"}
      additional_bindings {post: "/v1/n" body: "*" additional_bindings {put: "/v1/n/{id}" body: "*"}}
    };
  }
}
message M {
  string id = 1;
  M thing = 2;
}
`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	bound := findMethod(t, files, "a.S.Bound")
	rules, err := transcoder.HTTPRules(bound)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"POST /v1/things body=*", "PUT /v1/things/{id} body=thing", "HEAD /v1/things/{id}"}
	if got := ruleTexts(rules); !slices.Equal(got, want) {
		t.Errorf("rules = %q\nwant %q", got, want)
	}
	// The rules are copies: changing them leaves the descriptor alone.
	rules[0].Body = "changed"
	if again, _ := transcoder.HTTPRules(bound); again[0].GetBody() != "*" {
		t.Error("HTTPRules returned the descriptor's own rule")
	}

	unbound := findMethod(t, files, "a.S.Unbound")
	if rules, err := transcoder.HTTPRules(unbound); rules != nil || err != nil {
		t.Errorf("method without the option: %v, %v", rules, err)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = transcoder.HTTPRules(unbound) }); allocs != 0 {
		t.Errorf("%v allocations for a method without options", allocs)
	}

	for method, want := range map[protoreflect.FullName]string{
		"a.S.NoPattern":             "method a.S.NoPattern: option google.api.http: no HTTP method and path",
		"a.S.BindingWithoutPattern": "method a.S.BindingWithoutPattern: option google.api.http: additional binding 1: no HTTP method and path",
		// One level only, as the annotation says: the inner binding would otherwise go unserved.
		"a.S.NestedBindings": "method a.S.NestedBindings: option google.api.http: additional binding 2 (POST /v1/n) has additional_bindings " +
			"of its own (PUT /v1/n/{id}): only the method's rule may have them",
	} {
		if _, err := transcoder.HTTPRules(findMethod(t, files, method)); err == nil || err.Error() != want {
			t.Errorf("%s: error = %v, want %s", method, err, want)
		}
	}
}

// ruleTexts renders rules as "VERB path[ body=...][ response_body=...]".
func ruleTexts(rules []*annotations.HttpRule) []string {
	var out []string
	for _, r := range rules {
		var s string
		switch p := r.GetPattern().(type) {
		case *annotations.HttpRule_Get:
			s = "GET " + p.Get
		case *annotations.HttpRule_Put:
			s = "PUT " + p.Put
		case *annotations.HttpRule_Post:
			s = "POST " + p.Post
		case *annotations.HttpRule_Delete:
			s = "DELETE " + p.Delete
		case *annotations.HttpRule_Patch:
			s = "PATCH " + p.Patch
		case *annotations.HttpRule_Custom:
			s = p.Custom.GetKind() + " " + p.Custom.GetPath()
		}
		if r.GetBody() != "" {
			s += " body=" + r.GetBody()
		}
		if r.GetResponseBody() != "" {
			s += " response_body=" + r.GetResponseBody()
		}
		if len(r.GetAdditionalBindings()) > 0 {
			s += " (with additional bindings)"
		}
		out = append(out, s)
	}
	return out
}

func panics(f func()) (panicked bool) {
	defer func() { panicked = recover() != nil }()
	f()
	return false
}

func BenchmarkHTTPRules(b *testing.B) {
	files, err := registry.FilesFromDescriptorSet(marshal(b, descriptorSet(false, shopFiles[0])))
	if err != nil {
		b.Fatal(err)
	}
	md := findMethod(b, files, "shop.users.v1.UserService.CreateUser")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := transcoder.HTTPRules(md); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleHTTPRules() {
	files, err := registry.FilesFromProtos(context.Background(), map[string]string{"greeter.proto": `syntax = "proto3";
package greeter;
import "google/api/annotations.proto";
service Greeter {
  rpc Greet(GreetRequest) returns (GreetRequest) {
    option (google.api.http) = {
      get: "/v1/greet/{name}"
      additional_bindings {post: "/v1/greet" body: "*"}
    };
  }
}
message GreetRequest { string name = 1; }
`}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	d, _ := files.FindDescriptorByName("greeter.Greeter.Greet")
	rules, _ := transcoder.HTTPRules(d.(protoreflect.MethodDescriptor))
	for _, r := range rules {
		switch p := r.GetPattern().(type) {
		case *annotations.HttpRule_Get:
			fmt.Println("GET", p.Get)
		case *annotations.HttpRule_Post:
			fmt.Println("POST", p.Post, "body", r.GetBody())
		}
	}
	// Output:
	// GET /v1/greet/{name}
	// POST /v1/greet body *
}
