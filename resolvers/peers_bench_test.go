package resolvers_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/protogate/gateway/resolvers"
	"github.com/protogate/gateway/schema"
)

// BenchmarkPeerQueries runs the peer rig's two GraphQL queries (testdata/peers) on the rig's
// bench.v1 schema with its User.orders link, the backend's answers canned in testdata/peers (user
// 42 and its orders), for allocations per operation comparable with the static gqlgen peer's
// (testdata/peers/allocs.sh runs both). PEERS_DIR is the rig (default ../../shared/peers); without
// it the benchmark is skipped.
func BenchmarkPeerQueries(b *testing.B) {
	dir := os.Getenv("PEERS_DIR")
	if dir == "" {
		dir = "../../shared/peers"
	}
	raw, err := os.ReadFile(filepath.Join(dir, "gen/bench.binpb"))
	if err != nil {
		b.Skipf("no peer rig: %v", err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &set); err != nil {
		b.Fatal(err)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		b.Fatal(err)
	}
	fd, err := files.FindFileByPath("bench/v1/bench.proto")
	if err != nil {
		b.Fatal(err)
	}
	var services []protoreflect.ServiceDescriptor
	for i := range fd.Services().Len() {
		services = append(services, fd.Services().Get(i))
	}
	s, err := schema.Build(services, schema.Options{
		Links: []schema.Link{{OnType: "bench.v1.User", Field: "orders", Method: "bench.v1.OrderService/ListOrders",
			Args: map[string]string{"user_id": "id"}, ResultField: "orders"}},
		Overrides: []schema.Override{{Method: "bench.v1.UserService/GetUser", Name: "user"}},
	})
	if err != nil {
		b.Fatal(err)
	}
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join("testdata/peers", name))
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	h, err := resolvers.NewHandler(s, memoryCaller{
		"/bench.v1.UserService/GetUser":     read("user.bin"),
		"/bench.v1.OrderService/ListOrders": read("orders.bin"),
	}, resolvers.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, file string }{{"User", "user.graphql"}, {"UserOrders", "user-orders.graphql"}} {
		doc, _ := json.Marshal(string(read(bc.file)))
		req := `{"query":` + string(doc) + `,"variables":{"id":"42"}}`
		b.Run(bc.name, func(b *testing.B) {
			serve(b, h, req)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				serve(b, h, req)
			}
		})
	}
}
