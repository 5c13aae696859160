package registry_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/registry/store"
	"github.com/protogate/gateway/routing"
)

// wideProto is a service of n methods, each bound to its own REST route, as .proto source.
func wideProto(n int) string {
	var b strings.Builder
	b.WriteString("syntax = \"proto3\";\npackage bench.wide.v1;\nimport \"google/api/annotations.proto\";\n\n")
	b.WriteString("// WideService has many methods.\nservice WideService {\n")
	for i := range n {
		fmt.Fprintf(&b, "  // Op%02d does operation %d.\n  rpc Op%02d(Op%02dRequest) returns (Op%02dResponse) {\n"+
			"    option (google.api.http) = {get: \"/v1/wide/op%02d/{id}\"};\n  }\n", i, i, i, i, i, i)
	}
	b.WriteString("}\n")
	for i := range n {
		fmt.Fprintf(&b, "\nmessage Op%02dRequest {\n  string id = 1;\n  int32 page_size = 2;\n}\n", i)
		fmt.Fprintf(&b, "message Op%02dResponse {\n  string id = 1;\n  int64 count = 2;\n  repeated string tags = 3;\n}\n", i)
	}
	return b.String()
}

// BenchmarkRegister50Methods measures an admin Register call up to the published snapshot that
// routes the new methods, next to the three shop services: what "admin call to first routed call"
// costs without the network.
func BenchmarkRegister50Methods(b *testing.B) {
	set := compiledSet(b, map[string]string{"bench/wide/v1/wide.proto": wideProto(50)})
	const probe = "/bench.wide.v1.WideService/Op49"
	setup := func(b *testing.B) *fixture {
		f := newFixture(b, store.NewMemory())
		f.open(b, registry.Spec{})
		f.register(b, setReq("users", generatedSet(b, usersv1.File_shop_users_v1_users_proto), addrA))
		f.register(b, setReq("orders", generatedSet(b, ordersv1.File_shop_orders_v1_orders_proto), addrB))
		f.register(b, setReq("catalog", generatedSet(b, catalogv1.File_shop_catalog_v1_catalog_proto), addrC))
		return f
	}
	check := func(b *testing.B, f *fixture, resp interface{ GetChanged() bool }) {
		if !resp.GetChanged() || routedCluster(f.last(), probe, nil) != "wide" {
			b.Fatalf("Register did not publish a snapshot routing %s", probe)
		}
	}

	// A new registration: each one is deleted again off the clock.
	b.Run("new", func(b *testing.B) {
		f := setup(b)
		ctx := b.Context()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			resp, err := f.reg.Register(ctx, setReq("wide", set, "127.0.0.1:42000"))
			if err != nil {
				b.Fatal(err)
			}
			check(b, f, resp)
			b.StopTimer()
			if _, err := f.reg.Delete(ctx, "wide"); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})

	// An update of the registration (another endpoint each time): breaking-change check included.
	b.Run("update", func(b *testing.B) {
		f := setup(b)
		ctx := b.Context()
		f.register(b, setReq("wide", set, "127.0.0.1:42000"))
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			resp, err := f.reg.Register(ctx, setReq("wide", set, fmt.Sprintf("127.0.0.1:%d", 42001+i%2)))
			if err != nil {
				b.Fatal(err)
			}
			check(b, f, resp)
		}
	})
}

// benchFileSet is registration i of a generated fleet, as a serialized descriptor set: package
// bench.pNNN.v1 with one service of three methods bound to REST routes. Message and method names
// carry the package's number: GraphQL type names and root fields are global.
func benchFileSet(tb testing.TB, i int) []byte {
	tb.Helper()
	p := fmt.Sprintf("P%03d", i)
	pkg := fmt.Sprintf("bench.p%03d.v1", i)
	str, i64, i32, msg := descriptorpb.FieldDescriptorProto_TYPE_STRING, descriptorpb.FieldDescriptorProto_TYPE_INT64,
		descriptorpb.FieldDescriptorProto_TYPE_INT32, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	optional, repeated := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL, descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	field := func(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, label descriptorpb.FieldDescriptorProto_Label, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(), Label: label.Enum()}
		if typeName != "" {
			f.TypeName = proto.String("." + pkg + "." + typeName)
		}
		return f
	}
	message := func(name string, fields ...*descriptorpb.FieldDescriptorProto) *descriptorpb.DescriptorProto {
		return &descriptorpb.DescriptorProto{Name: proto.String(p + name), Field: fields}
	}
	method := func(name, in, out string, rule *annotations.HttpRule) *descriptorpb.MethodDescriptorProto {
		opts := &descriptorpb.MethodOptions{}
		proto.SetExtension(opts, annotations.E_Http, rule)
		return &descriptorpb.MethodDescriptorProto{Name: proto.String(name + p + "Thing"), InputType: proto.String("." + pkg + "." + p + in),
			OutputType: proto.String("." + pkg + "." + p + out), Options: opts}
	}
	path := fmt.Sprintf("/v1/p%03d/things", i)
	fd := &descriptorpb.FileDescriptorProto{
		Name:       proto.String(fmt.Sprintf("bench/p%03d/v1/things.proto", i)),
		Package:    proto.String(pkg),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/api/annotations.proto"},
		MessageType: []*descriptorpb.DescriptorProto{
			message("Thing", field("id", 1, str, optional, ""), field("name", 2, str, optional, ""),
				field("tags", 3, str, repeated, ""), field("count", 4, i64, optional, "")),
			message("GetThingRequest", field("id", 1, str, optional, "")),
			message("ListThingsRequest", field("page_size", 1, i32, optional, ""), field("page_token", 2, str, optional, "")),
			message("ListThingsResponse", field("things", 1, msg, repeated, p+"Thing"), field("next_page_token", 2, str, optional, "")),
			message("CreateThingRequest", field("thing", 1, msg, optional, p+"Thing")),
		},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String(p + "Service"),
			Method: []*descriptorpb.MethodDescriptorProto{
				method("Get", "GetThingRequest", "Thing", &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: path + "/{id}"}}),
				method("List", "ListThingsRequest", "ListThingsResponse", &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: path}}),
				method("Create", "CreateThingRequest", "Thing", &annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: path}, Body: "thing"}),
			},
		}},
	}
	return marshal(tb, &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{fd}})
}

// benchSpec is n registrations of the generated fleet, each on its own endpoint, and the full
// names of their methods.
func benchSpec(tb testing.TB, n int) (registry.Spec, []string) {
	tb.Helper()
	var spec registry.Spec
	var methods []string
	for i := range n {
		files, err := registry.FilesFromDescriptorSet(benchFileSet(tb, i))
		if err != nil {
			tb.Fatal(err)
		}
		spec.Registrations = append(spec.Registrations, &registry.Registration{
			Name:      fmt.Sprintf("p%03d", i),
			Endpoints: []string{fmt.Sprintf("10.0.%d.%d:7000", i/250, i%250+1)},
			Files:     files,
		})
		for _, m := range []string{"Get", "List", "Create"} {
			methods = append(methods, fmt.Sprintf("/bench.p%03d.v1.P%03dService/%sP%03dThing", i, i, m, i))
		}
	}
	return spec, methods
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// BenchmarkCompile compiles a whole spec of n registrations. Besides time it reports the heap in
// use for the registrations' descriptors (heap-spec-B), for the first snapshot with the pool's new
// endpoints (heap-first-B) and for one more snapshot over the same endpoints (heap-snapshot-B).
func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{5, 500} {
		b.Run(fmt.Sprintf("%dservices", n), func(b *testing.B) {
			h0 := heapInUse()
			spec, _ := benchSpec(b, n)
			h1 := heapInUse()
			pool := routing.NewPool(nil)
			defer pool.Close()
			first, err := registry.Compile(spec, pool, 1)
			if err != nil {
				b.Fatal(err)
			}
			h2 := heapInUse()
			second, err := registry.Compile(spec, pool, 2)
			if err != nil {
				b.Fatal(err)
			}
			h3 := heapInUse()
			if len(second.Services()) != n {
				b.Fatalf("%d services compiled, want %d", len(second.Services()), n)
			}
			second.Retire(pool)

			b.ReportAllocs()
			for b.Loop() {
				s, err := registry.Compile(spec, pool, 3) // the endpoints stay held by first: no dialing
				if err != nil {
					b.Fatal(err)
				}
				s.Retire(pool)
			}
			b.ReportMetric(float64(h1-h0), "heap-spec-B")
			b.ReportMetric(float64(h2-h1), "heap-first-B")
			b.ReportMetric(float64(h3-h2), "heap-snapshot-B")
			first.Retire(pool)
		})
	}
}

// BenchmarkMatch routes calls through the route table of a compiled snapshot, cycling through
// every method it serves. The table is a map plus a radix tree: the cost must not grow with the
// number of services, and a lookup must not allocate.
func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{5, 500} {
		b.Run(fmt.Sprintf("%dservices", n), func(b *testing.B) {
			spec, methods := benchSpec(b, n)
			pool := routing.NewPool(nil)
			defer pool.Close()
			snap, err := registry.Compile(spec, pool, 1)
			if err != nil {
				b.Fatal(err)
			}
			defer snap.Retire(pool)
			table := snap.Routes()
			for _, m := range methods {
				if table.Match(m, nil) == nil {
					b.Fatalf("%s does not route", m)
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if table.Match(methods[i], nil) == nil {
					b.Fatal("no route")
				}
				if i++; i == len(methods) {
					i = 0
				}
			}
		})
	}
}
