package resolvers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/resolvers"
	"github.com/protogate/gateway/routing"
)

const (
	benchUser       = `{ getUser(id: "1") { id name email role } }`
	benchUserOrders = `{ getUser(id: "1") { id name orders { id status items { quantity product { name } } } } }`
)

// serve runs one GraphQL request through h in memory and checks it succeeded.
func serve(b *testing.B, h http.Handler, body string) {
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK || strings.Contains(w.Body.String(), `"errors"`) {
		b.Fatalf("status %d: %s", w.Code, w.Body)
	}
}

func body(doc string) string { return fmt.Sprintf(`{"query":%q}`, doc) }

// The handler in process, calling the shop's backends over loopback gRPC through the proxy.
func BenchmarkGraphQL(b *testing.B) {
	g := startGateway(b, setup{})
	for _, bc := range []struct{ name, doc string }{{"User", benchUser}, {"UserOrdersProducts", benchUserOrders}} {
		b.Run(bc.name, func(b *testing.B) {
			req := body(bc.doc)
			serve(b, g.handler, req)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				serve(b, g.handler, req)
			}
		})
	}
}

// A query sent as a GET, its query string parsed once for the request.
func BenchmarkGraphQLGET(b *testing.B) {
	g := startGateway(b, setup{})
	target := "/graphql?query=" + url.QueryEscape(benchUser)
	get := func() {
		w := httptest.NewRecorder()
		g.handler.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
		if w.Code != http.StatusOK || strings.Contains(w.Body.String(), `"errors"`) {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	get()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		get()
	}
}

// A document repeating one unknown field, at the default max_fields and far over it (64 KB):
// validation compares the fields sharing a response name pairwise; over the limit the document is
// refused before it is validated.
func BenchmarkRepeatedFields(b *testing.B) {
	g := startGateway(b, setup{})
	for _, n := range []int{resolvers.DefaultMaxFields, 32000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			refused(b, g.handler, "{"+strings.Repeat(" x", n)+" }", `"GRAPHQL_VALIDATION_FAILED"`, resolvers.CodeFieldLimit)
		})
	}
}

// Documents of many fragments spread in one selection set, at the default limits and over them
// (under 64 KB): validation compares every two of them, different fragments (each spreading one
// more, max_fragments) and one fragment spread again and again (max_fields: a spread counts as a
// field). At the limits they validate, and are then refused for their root fields. Then the
// documents validation would check over and over (operations spreading one fragment, inline
// fragments), refused; two fragments of n fields each, compared with each other twice (once as
// fields of different types, under the inline fragments, once side by side) besides each with
// itself, the slowest before pairs of fields were counted (994: 0.2s), and under their limit
// (60); 124 fields aliased alike, 62 id and 62 name, under that limit (3844 conflicting pairs at 50
// each, 3782 alike); the documents
// of fields sharing names by the thousand, refused; and the slowest document found under every
// limit, which does not compare much: 140 fields of 70 unknown arguments each, 9800 errors.
func BenchmarkRepeatedFragments(b *testing.B) {
	g := startGateway(b, setup{})
	spread := func(n int) string { return "{" + strings.Repeat(" ...f", n) + " } fragment f on Query { __typename }" }
	pairTwice := func(n int) string {
		typenames := " {" + strings.Repeat(" __typename", n) + " }"
		return `{ getUser(id: "1") { ... on User { r: orders { ...a } } ... on Order { r: user { ...b } } } ...a ...b }` +
			" fragment a on Query" + typenames + " fragment b on Query" + typenames
	}
	var arguments strings.Builder
	for i := range 70 {
		fmt.Fprintf(&arguments, "x%d:%d ", i, i%2)
	}
	cases := []struct {
		name, doc, code string
	}{
		{"distinct/499", fragments(resolvers.DefaultMaxFragments - 1), resolvers.CodeRootFieldLimit},
		{"distinct/1800", fragments(1800), resolvers.CodeFragmentLimit},
		{"spread/1999", spread(resolvers.DefaultMaxFields - 1), resolvers.CodeRootFieldLimit},
		{"spread/12800", spread(12800), resolvers.CodeFieldLimit},
		{"pair-twice/994", pairTwice(994), resolvers.CodeFieldLimit},
		{"pair-twice/60", pairTwice(60), `"GRAPHQL_VALIDATION_FAILED"`},
		{"aliased/124", `{ getUser(id: "1") {` + strings.Repeat(" a: id a: name", 62) + " } }", `"GRAPHQL_VALIDATION_FAILED"`},
		{"arguments/140", "{" + strings.Repeat(" u: getUser("+arguments.String()+") { id }", 140) + " }", `"GRAPHQL_VALIDATION_FAILED"`},
	}
	for _, tc := range repeatedChecks() {
		cases = append(cases, struct{ name, doc, code string }{"checks/" + tc.name, tc.doc, resolvers.CodeFieldLimit})
	}
	for _, tc := range sharedNames() {
		cases = append(cases, struct{ name, doc, code string }{"pairs/" + tc.name, tc.doc, resolvers.CodeFieldLimit})
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) { refused(b, g.handler, bc.doc, bc.code) })
	}
}

// refused posts doc to h b.N times, and checks each is refused with one of codes. A comment tells
// the requests apart, so that each is parsed, measured and validated anew, not found in the query
// cache of the documents that validated.
func refused(b *testing.B, h http.Handler, doc string, codes ...string) {
	b.ReportAllocs()
	for i := range b.N {
		req := body(fmt.Sprintf("%s\n# %d", doc, i))
		w := httptest.NewRecorder()
		hr := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(req))
		hr.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(w, hr)
		if !slices.ContainsFunc(codes, func(code string) bool { return strings.Contains(w.Body.String(), code) }) {
			b.Fatalf("status %d: %.200s", w.Code, w.Body)
		}
	}
}

// The same data straight from the backends over gRPC with generated clients: the floor.
func BenchmarkGRPC(b *testing.B) {
	g := startGateway(b, setup{})
	dial := func(name string) *grpc.ClientConn {
		c, err := grpc.NewClient(g.shop.Addr(name), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close() })
		return c
	}
	users := usersv1.NewUserServiceClient(dial("users"))
	orders := ordersv1.NewOrderServiceClient(dial("orders"))
	catalog := catalogv1.NewCatalogServiceClient(dial("catalog"))
	ctx := context.Background()
	b.Run("User", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := users.GetUser(ctx, &usersv1.GetUserRequest{Id: "1"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("UserOrdersProducts", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			u, err := users.GetUser(ctx, &usersv1.GetUserRequest{Id: "1"})
			if err != nil {
				b.Fatal(err)
			}
			os, err := orders.ListOrders(ctx, &ordersv1.ListOrdersRequest{UserId: u.GetId()})
			if err != nil {
				b.Fatal(err)
			}
			var ids []string
			for _, o := range os.GetOrders() {
				for _, it := range o.GetItems() {
					ids = append(ids, it.GetProductId())
				}
			}
			if _, err := catalog.BatchGetProducts(ctx, &catalogv1.BatchGetProductsRequest{Ids: ids}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// The executor alone: upstreams answer from memory, so what remains is gqlgen's handler and
// this package's work (arguments, waves, JSON).
func BenchmarkExecutor(b *testing.B) {
	g := startGateway(b, setup{})
	c, err := grpc.NewClient(g.shop.Addr("users"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	user, _ := usersv1.NewUserServiceClient(c).GetUser(ctx, &usersv1.GetUserRequest{Id: "1"})
	co, _ := grpc.NewClient(g.shop.Addr("orders"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	defer co.Close()
	orders, _ := ordersv1.NewOrderServiceClient(co).ListOrders(ctx, &ordersv1.ListOrdersRequest{UserId: "1"})
	cc, _ := grpc.NewClient(g.shop.Addr("catalog"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	defer cc.Close()
	products, _ := catalogv1.NewCatalogServiceClient(cc).ListProducts(ctx, &catalogv1.ListProductsRequest{PageSize: 100})
	canned := memoryCaller{
		mGetUser:          mustMarshal(b, user),
		mListOrders:       mustMarshal(b, orders),
		mBatchGetProducts: mustMarshal(b, &catalogv1.BatchGetProductsResponse{Products: products.GetProducts()}),
	}
	h, err := resolvers.NewHandler(g.schema, canned, resolvers.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, doc string }{{"User", benchUser}, {"UserOrdersProducts", benchUserOrders}} {
		b.Run(bc.name, func(b *testing.B) {
			req := body(bc.doc)
			serve(b, h, req)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				serve(b, h, req)
			}
		})
	}
}

func mustMarshal(b *testing.B, m proto.Message) []byte {
	data, err := proto.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// memoryCaller answers every call of a method with the same response bytes.
type memoryCaller map[string][]byte

func (m memoryCaller) Route(ctx context.Context, method string, _ metadata.MD) (routing.Upstream, error) {
	return routing.Upstream{Ctx: ctx, Conn: memoryConn(m)}, nil
}

func (memoryCaller) CallOptions() []grpc.CallOption { return nil }

func (memoryCaller) Admit(context.Context, string, metadata.MD, int) (func(), error) {
	return func() {}, nil
}

func (m memoryCaller) CallUnary(ctx context.Context, method string, _ metadata.MD, req, resp any, opts ...grpc.CallOption) error {
	return memoryConn(m).Invoke(ctx, method, req, resp, opts...)
}

type memoryConn map[string][]byte

func (m memoryConn) Invoke(_ context.Context, method string, _, reply any, _ ...grpc.CallOption) error {
	reply.(*routing.Frame).SetBytes(m[method])
	return nil
}

func (memoryConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, fmt.Errorf("no streams in memory")
}
