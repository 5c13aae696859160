package transcoder_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/transcoder"
)

// precProto holds templates that compete for the same paths.
const precProto = `syntax = "proto3";
package prec.v1;
import "google/api/annotations.proto";
service P {
  rpc A(M) returns (M) { option (google.api.http) = {get: "/a/{x}/b/c"}; }
  rpc B(M) returns (M) { option (google.api.http) = {get: "/a/b/{y}/{z}"}; }
  rpc C(M) returns (M) { option (google.api.http) = {get: "/a/{x}/{y}/{z}"}; }
  rpc D(M) returns (M) { option (google.api.http) = {get: "/a/{rest=**}"}; }
  rpc E(M) returns (M) { option (google.api.http) = {get: "/a/b/{y}/{z}:go"}; }
  rpc F(M) returns (M) { option (google.api.http) = {post: "/a/{x}/b/c"}; }
  rpc G(M) returns (M) { option (google.api.http) = {get: "/"}; }
  rpc H(M) returns (M) { option (google.api.http) = {get: "/a/{x}/q" additional_bindings {get: "/a/lit/{x}"}}; }
  rpc S(M) returns (stream M) { option (google.api.http) = {get: "/a/{x}/s"}; }
  rpc W(M) returns (stream M) { option (google.api.http) = {get: "/w/{x}:watch"}; }
  rpc R(M) returns (M) {
    option (google.api.http) = {get: "/w/{x}" additional_bindings {put: "/w/{x}"} additional_bindings {delete: "/w/{x}"}};
  }
}
message M { string x = 1; string y = 2; string z = 3; string rest = 4; }
`

var precServices = sync.OnceValues(func() ([]protoreflect.ServiceDescriptor, error) {
	files, err := registry.FilesFromProtos(context.Background(), map[string]string{"prec.proto": precProto}, nil)
	if err != nil {
		return nil, err
	}
	d, err := files.FindDescriptorByName("prec.v1.P")
	if err != nil {
		return nil, err
	}
	return []protoreflect.ServiceDescriptor{d.(protoreflect.ServiceDescriptor)}, nil
})

// testRouter compiles the shop, synthetic and precedence services into one router.
func testRouter(t testing.TB) *transcoder.Router {
	t.Helper()
	prec, err := precServices()
	if err != nil {
		t.Fatal(err)
	}
	services := append(append(shopServices(), synthServices(t)...), prec...)
	rt, err := transcoder.NewRouter(services)
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// describe renders a match as "Method template {var=value ...}".
func describe(b *transcoder.Binding, p *transcoder.Params) string {
	var vars []string
	for i, name := range b.PathVariables() {
		v, err := p.Value(b, i)
		if err != nil {
			v = "ERROR(" + err.Error() + ")"
		}
		vars = append(vars, name+"="+v)
	}
	return fmt.Sprintf("%s %s {%s}", b.Method().Name(), b.Template(), strings.Join(vars, " "))
}

func TestRouterMatch(t *testing.T) {
	rt := testRouter(t)
	cases := []struct {
		method, target string
		want           string // describe() of the match, or "404", or "405 <Allow>"
	}{
		// The shop.
		{"GET", "/v1/users/1", "GetUser /v1/users/{id} {id=1}"},
		{"GET", "/v1/users", "ListUsers /v1/users {}"},
		{"GET", "/v1/users:batchGet", "BatchGetUsers /v1/users:batchGet {}"},
		{"POST", "/v1/users", "CreateUser /v1/users {}"},
		{"PATCH", "/v1/users/7", "UpdateUser /v1/users/{user.id} {user.id=7}"},
		{"POST", "/v1/orders/o1:cancel", "CancelOrder /v1/orders/{id}:cancel {id=o1}"},
		{"GET", "/v1/orders/o1:cancel", "GetOrder /v1/orders/{id} {id=o1:cancel}"},
		{"GET", "/v1/users/1/orders", "ListOrders /v1/users/{user_id}/orders {user_id=1}"},
		{"GET", "/v1/products/p1/inventory:watch", "WatchInventory /v1/products/{id}/inventory:watch {id=p1}"},
		{"POST", "/v1/inventory:adjust", "AdjustInventory /v1/inventory:adjust {}"},
		{"POST", "/shop.catalog.v1.CatalogService/AdjustInventory", "404"}, // bound by a rule: no default route
		{"DELETE", "/v1/users/1", "405 GET, HEAD, PATCH"},
		{"PUT", "/v1/orders/o1:cancel", "405 GET, HEAD, POST"},
		{"HEAD", "/v1/orders/o1:cancel", "GetOrder /v1/orders/{id} {id=o1:cancel}"}, // as GET
		{"HEAD", "/v1/inventory:adjust", "405 POST"},
		// A stream's response never ends: no HEAD, which would start it for nothing.
		{"HEAD", "/v1/products/p1/inventory:watch", "405 GET"},
		// A stream of google.api.HttpBody is a download: its first message gives HEAD's headers.
		{"HEAD", "/v1/tail/t1", "Tail /v1/tail/{name} {name=t1}"},
		{"POST", "/v1/tail/t1", "405 GET, HEAD"},
		{"GET", "/v1/users/1#frag", "400"},
		{"GET", "/v1/nope", "404"},
		{"GET", "/v1/users/", "404"},
		{"GET", "/v1/users/1/", "404"},
		{"POST", "/shop.catalog.v1.CatalogService/GetProduct", "404"}, // has a rule: no default route

		// Resource names, "**", custom verbs and methods.
		{"GET", "/v1/projects/p1/things/t1", "GetThing /v1/{name=projects/*/things/*} {name=projects/p1/things/t1}"},
		{"GET", "/v1/projects/p1/things:first", "GetThing /v1/{name=projects/*}/things:first {name=projects/p1}"},
		{"POST", "/v1/projects/p1/things/t1:publish", "PublishThing /v1/{name=projects/*/things/*}:publish {name=projects/p1/things/t1}"},
		{"GET", "/v1/files/a/b/c.txt", "GetThing /v1/files/{name=**} {name=a/b/c.txt}"},
		{"GET", "/v1/files", "GetThing /v1/files/{name=**} {name=}"},
		{"REPORT", "/v1/reports/r1", "Report /v1/reports/{name} {name=r1}"},
		{"GET", "/v1/reports/r1", "405 REPORT"},
		{"GET", "/v1/kitchen/mine", "Echo /v1/kitchen/mine {}"},
		{"GET", "/v1/kitchen/k1", "Echo /v1/kitchen/{inner.id} {inner.id=k1}"},
		{"GET", "/v1/kitchen/k1:inner", "Echo /v1/kitchen/{id}:inner {id=k1}"},
		{"POST", "/synth.v1.Things/NoRule", "NoRule /synth.v1.Things/NoRule {}"},

		// Decoding: one segment decodes everything; several decode everything but "%2F" and "%2f",
		// which the google.api.http spec leaves unchanged in a multi-segment variable.
		{"GET", "/v1/kitchen/a%2Fb%20c", "Echo /v1/kitchen/{inner.id} {inner.id=a/b c}"},
		{"GET", "/v1/files/a%2Fb/c%20d%21", "GetThing /v1/files/{name=**} {name=a%2Fb/c d!}"},
		{"GET", "/v1/files/a%2fb/c", "GetThing /v1/files/{name=**} {name=a%2fb/c}"},
		{"GET", "/v1/files/a%3Fb/c", "GetThing /v1/files/{name=**} {name=a?b/c}"},
		{"GET", "/v1/files/a%3Ab/c", "GetThing /v1/files/{name=**} {name=a:b/c}"},
		{"GET", "/v1/files/a:b/c", "GetThing /v1/files/{name=**} {name=a:b/c}"},
		{"GET", "/v1/projects/p%2F1/things/t1", "GetThing /v1/{name=projects/*/things/*} {name=projects/p%2F1/things/t1}"},
		{"GET", "/v1/%75sers/1", "GetUser /v1/users/{id} {id=1}"},
		{"POST", "/v1/orders/o%3A1:cancel", "CancelOrder /v1/orders/{id}:cancel {id=o:1}"},

		// Precedence: most literal segments, then literals leftmost.
		{"GET", "/a/b/b/c", "A /a/{x}/b/c {x=b}"},
		{"GET", "/a/b/x/y", "B /a/b/{y}/{z} {y=x z=y}"},
		{"GET", "/a/q/r/s", "C /a/{x}/{y}/{z} {x=q y=r z=s}"},
		{"GET", "/a/q", "D /a/{rest=**} {rest=q}"},
		{"GET", "/a", "D /a/{rest=**} {rest=}"},
		// An empty segment binds no variable, a "**" one included: a trailing or doubled slash does
		// not give a resource a second name.
		{"GET", "/a/", "404"},
		{"GET", "/a/q/", "404"},
		{"GET", "/a/q//r", "404"},
		{"GET", "/a//r", "404"},
		{"HEAD", "/a/q/", "404"},
		{"POST", "/a/q/", "404"},
		{"GET", "/v1/files/", "404"},
		{"GET", "/v1/files/a/b/", "404"},
		{"GET", "/a/b/x/y:go", "E /a/b/{y}/{z}:go {y=x z=y}"},
		{"GET", "/a/b/x/y:stop", "B /a/b/{y}/{z} {y=x z=y:stop}"},
		{"POST", "/a/x/b/c", "F /a/{x}/b/c {x=x}"},
		{"POST", "/a/b/x/y", "405 GET, HEAD"},
		{"DELETE", "/a/x/b/c", "405 GET, HEAD, POST"},
		{"HEAD", "/a/b/b/c", "A /a/{x}/b/c {x=b}"}, // HEAD is GET without the body
		{"HEAD", "/a/x/b/c", "A /a/{x}/b/c {x=x}"},
		{"GET", "/", "G / {}"},
		{"GET", "/a/lit/q", "H /a/lit/{x} {x=q}"},
		{"GET", "/a/z/q", "H /a/{x}/q {x=z}"},
		{"GET", "/zzz", "404"},

		// Allow names what the path serves, by the same precedence: a streaming GET that wins over a
		// unary one takes HEAD away, and methods served with the verb in the variable stay.
		{"GET", "/a/q/s", "S /a/{x}/s {x=q}"},
		{"HEAD", "/a/q/s", "405 GET"},
		{"POST", "/a/q/s", "405 GET"},
		{"GET", "/w/s1:watch", "W /w/{x}:watch {x=s1}"},
		{"PUT", "/w/s1:watch", "R /w/{x} {x=s1:watch}"},
		{"HEAD", "/w/s1:watch", "405 DELETE, GET, PUT"},
		{"POST", "/w/s1:watch", "405 DELETE, GET, PUT"},
		{"HEAD", "/w/s1", "R /w/{x} {x=s1}"},
		{"POST", "/w/s1", "405 DELETE, GET, HEAD, PUT"},
		{"HEAD", "/w/s1:other", "R /w/{x} {x=s1:other}"},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(tc.method, tc.target, nil)
		var p transcoder.Params
		b, err := rt.Match(r, &p)
		var got string
		switch {
		case err == nil:
			got = describe(b, &p)
		default:
			var e *transcoder.Error
			if !errors.As(err, &e) {
				t.Errorf("%s %s: error %v is not a *transcoder.Error", tc.method, tc.target, err)
				continue
			}
			got = fmt.Sprint(e.HTTPStatus())
			if e.HTTPStatus() == http.StatusMethodNotAllowed {
				w := httptest.NewRecorder()
				transcoder.WriteError(w, err)
				got += " " + w.Header().Get("Allow")
			}
		}
		if got != tc.want {
			t.Errorf("%s %s = %q, want %q", tc.method, tc.target, got, tc.want)
		}
	}
}

func TestRouterErrors(t *testing.T) {
	dup := `syntax = "proto3";
package dup.v1;
import "google/api/annotations.proto";
service S {
  rpc A(M) returns (M) { option (google.api.http) = {get: "/v1/{x}"}; }
  rpc B(M) returns (M) { option (google.api.http) = {get: "/v1/{y}"}; }
}
message M { string x = 1; string y = 2; }
`
	files, err := registry.FilesFromProtos(t.Context(), map[string]string{"dup.proto": dup}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := files.FindDescriptorByName("dup.v1.S")
	_, err = transcoder.NewRouter([]protoreflect.ServiceDescriptor{d.(protoreflect.ServiceDescriptor)})
	if err == nil || !strings.Contains(err.Error(), "collides") {
		t.Fatalf("NewRouter with two methods on GET /v1/* = %v, want a collision", err)
	}
}

func TestWithoutDefaultRoutes(t *testing.T) {
	rt, err := transcoder.NewRouter(synthServices(t), transcoder.WithoutDefaultRoutes())
	if err != nil {
		t.Fatal(err)
	}
	var p transcoder.Params
	if _, err := rt.Lookup("POST", "/synth.v1.Things/NoRule", false, &p); err == nil {
		t.Fatal("default route served with WithoutDefaultRoutes")
	}
}

// TestRoutesGolden compiles the shop's protos and compares the routes with testdata/routes.golden
// (go test -run TestRoutesGolden -update rewrites it; the -update flag is declared in openapi_test.go,
// shared by every golden file of the package).
func TestRoutesGolden(t *testing.T) {
	rt, err := transcoder.NewRouter(shopServices())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("# The shop's REST routes as the transcoder compiles them: HTTP method, template, bound method,\n")
	b.WriteString("# which binding (rule, additional binding n, or default route), path variables, body,\n")
	b.WriteString("# response_body, and the fields the query may set (proto names).\n")
	for _, bd := range rt.Bindings() {
		which := "rule"
		switch i := bd.Index(); {
		case i < 0:
			which = "default"
		case i > 0:
			which = fmt.Sprintf("additional %d", i)
		}
		var query []string
		for _, q := range bd.QueryParameters() {
			query = append(query, q.Name)
		}
		fmt.Fprintf(&b, "%-6s %s\n    -> %s (%s, %s)\n    path: %s | body: %s | response_body: %s\n    query: %s\n",
			bd.HTTPMethod(), bd.Template(), strings.TrimPrefix(bd.FullMethod(), "/"), bd.Kind(), which,
			orDash(strings.Join(bd.PathVariables(), ", ")), orDash(bd.Body()), orDash(bd.ResponseBody()),
			orDash(strings.Join(query, ", ")))
	}
	got := b.String()
	path := filepath.Join("testdata", "routes.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("routes differ from %s (run with -update to accept):\n%s", path, got)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func FuzzMatch(f *testing.F) {
	for _, s := range []string{
		"/v1/users/1", "/v1/users:batchGet", "/v1/orders/o1:cancel", "/v1/files/a%2Fb/c", "/a/b/x/y:go",
		"/v1/projects/p/things/t:publish", "/", "//", "/a/%zz", "/v1/files/%", "/:x", "/a:", "/v1/kitchen/%E2%82%AC",
	} {
		f.Add("GET", s, true)
		f.Add("POST", s, false)
	}
	rt := testRouter(f)
	f.Fuzz(func(t *testing.T, method, path string, raw bool) {
		var p transcoder.Params
		b, err := rt.Lookup(method, path, raw, &p)
		if err != nil {
			var e *transcoder.Error
			if !errors.As(err, &e) || (e.Code() != codes.NotFound && e.HTTPStatus() != http.StatusMethodNotAllowed) {
				t.Fatalf("Lookup(%q, %q) = %v, want 404 or 405", method, path, err)
			}
			return
		}
		if b.HTTPMethod() != method {
			t.Fatalf("Lookup(%q, %q) matched a %s binding", method, path, b.HTTPMethod())
		}
		for i := range b.PathVariables() {
			_, _ = p.Value(b, i) // decoding may fail, never panic
		}
		var again transcoder.Params
		if b2, _ := rt.Lookup(method, path, raw, &again); b2 != b {
			t.Fatalf("Lookup(%q, %q) is not deterministic", method, path)
		}
	})
}

func BenchmarkRouterMatch(b *testing.B) {
	rt := testRouter(b)
	for _, bc := range []struct{ name, method, path string }{
		{"static", "GET", "/v1/users"},
		{"static-verb", "GET", "/v1/users:batchGet"},
		{"variable", "GET", "/v1/users/1"},
		{"nested", "GET", "/v1/users/1/orders"},
		{"verb", "POST", "/v1/orders/o1:cancel"},
		{"resource-name", "POST", "/v1/projects/p1/things/t1:publish"},
		{"double-wildcard", "GET", "/v1/files/a/b/c/d/e"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var p transcoder.Params
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rt.Lookup(bc.method, bc.path, false, &p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkNewRouter(b *testing.B) {
	services := append(shopServices(), synthServices(b)...)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := transcoder.NewRouter(services); err != nil {
			b.Fatal(err)
		}
	}
}
