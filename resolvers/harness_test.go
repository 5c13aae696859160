package resolvers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protogate/gateway/examples/shop"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/resolvers"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/schema"
)

// Method names of the shop, as the backends see them.
const (
	mGetUser          = "/shop.users.v1.UserService/GetUser"
	mBatchGetUsers    = "/shop.users.v1.UserService/BatchGetUsers"
	mListOrders       = "/shop.orders.v1.OrderService/ListOrders"
	mGetOrder         = "/shop.orders.v1.OrderService/GetOrder"
	mGetProduct       = "/shop.catalog.v1.CatalogService/GetProduct"
	mBatchGetProducts = "/shop.catalog.v1.CatalogService/BatchGetProducts"
	mWatchInventory   = "/shop.catalog.v1.CatalogService/WatchInventory"
)

// shopLinks are the demo's links: Order.user and LineItem.product batched, User.orders through
// ListOrders' result field.
func shopLinks() []schema.Link {
	return []schema.Link{
		{
			OnType: "shop.orders.v1.Order", Field: "user",
			Method: "shop.users.v1.UserService/GetUser", Args: map[string]string{"id": "user_id"},
			Batch: &schema.BatchLink{Method: "shop.users.v1.UserService/BatchGetUsers", RequestField: "ids", ResponseField: "users", KeyField: "id"},
		},
		{
			OnType: "shop.orders.v1.LineItem", Field: "product",
			Method: "shop.catalog.v1.CatalogService/GetProduct", Args: map[string]string{"id": "product_id"},
			Batch: &schema.BatchLink{Method: "shop.catalog.v1.CatalogService/BatchGetProducts", RequestField: "ids", ResponseField: "products", KeyField: "id"},
		},
		{
			OnType: "shop.users.v1.User", Field: "orders",
			Method: "shop.orders.v1.OrderService/ListOrders", Args: map[string]string{"user_id": "id"},
			ResultField: "orders",
		},
	}
}

// observed is what the shop's backends saw: every call, in order, with its context.
type observed struct {
	mu    sync.Mutex
	calls []seen
}

type seen struct {
	ctx    context.Context
	method string
}

func (o *observed) record(ctx context.Context, method string) {
	o.mu.Lock()
	o.calls = append(o.calls, seen{ctx, method})
	o.mu.Unlock()
}

// reset forgets the calls so far.
func (o *observed) reset() {
	o.mu.Lock()
	o.calls = nil
	o.mu.Unlock()
}

// count returns how many calls of each method were made.
func (o *observed) count() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := make(map[string]int)
	for _, c := range o.calls {
		n[c.method]++
	}
	return n
}

// last returns the context of the last call of method, or nil.
func (o *observed) last(method string) context.Context {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.calls) - 1; i >= 0; i-- {
		if o.calls[i].method == method {
			return o.calls[i].ctx
		}
	}
	return nil
}

// gateway is the GraphQL front over the in-process shop, through a real routing.Proxy over a
// compiled snapshot, served on a loopback HTTP server.
type gateway struct {
	shop    *shop.Shop
	calls   *observed
	handler http.Handler
	url     string // of /graphql
	schema  *schema.Schema
}

type setup struct {
	latency time.Duration
	opts    resolvers.Options
	caller  func(resolvers.Caller) resolvers.Caller // wraps the proxy, when set
	policy  policy.Middleware                       // wraps the handler, as the gateway's policies do, when set
	links   []schema.Link                           // the schema's links, when set, instead of shopLinks()
}

// shopServices are the shop's services from their generated descriptors.
func shopServices() []protoreflect.ServiceDescriptor {
	return []protoreflect.ServiceDescriptor{
		usersv1.File_shop_users_v1_users_proto.Services().Get(0),
		ordersv1.File_shop_orders_v1_orders_proto.Services().Get(0),
		catalogv1.File_shop_catalog_v1_catalog_proto.Services().Get(0),
	}
}

func startGateway(t testing.TB, s setup) *gateway {
	t.Helper()
	calls := &observed{}
	sh, err := shop.Start(shop.Options{Latency: s.latency, OnCall: calls.record})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sh.Close)
	var regs []*registry.Registration
	for name, sd := range map[string]protoreflect.ServiceDescriptor{"users": shopServices()[0], "orders": shopServices()[1], "catalog": shopServices()[2]} {
		files, err := registry.FilesOf(sd.ParentFile())
		if err != nil {
			t.Fatal(err)
		}
		regs = append(regs, &registry.Registration{Name: name, Endpoints: []string{sh.Addr(name)}, Files: files})
	}
	pool := routing.NewPool(nil)
	t.Cleanup(func() { _ = pool.Close() })
	snap, err := registry.Compile(registry.Spec{Registrations: regs}, pool, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { snap.Retire(pool) })
	proxy := routing.NewProxy(func() routing.State { return snap })

	links := shopLinks()
	if s.links != nil {
		links = s.links
	}
	sch, err := schema.Build(shopServices(), schema.Options{Links: links})
	if err != nil {
		t.Fatal(err)
	}
	var caller resolvers.Caller = proxy
	if s.caller != nil {
		caller = s.caller(proxy)
	}
	h, err := resolvers.NewHandler(sch, caller, s.opts)
	if err != nil {
		t.Fatal(err)
	}
	var front http.Handler = h
	if s.policy != nil {
		front = s.policy(policy.FrontGraphQL, h)
	}
	mux := http.NewServeMux()
	mux.Handle("/graphql", front)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &gateway{shop: sh, calls: calls, handler: h, url: srv.URL + "/graphql", schema: sch}
}

// response is a GraphQL response as clients read it.
type response struct {
	Data       json.RawMessage `json:"data"`
	Errors     []gqlError      `json:"errors"`
	Extensions map[string]any  `json:"extensions"`
	status     int
	header     http.Header
	raw        []byte
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Locations  []any          `json:"locations"`
	Extensions map[string]any `json:"extensions"`
}

func (e gqlError) code() string { s, _ := e.Extensions["code"].(string); return s }

// request is the body of a GraphQL request.
type request struct {
	Query         string         `json:"query,omitempty"`
	Variables     map[string]any `json:"variables,omitempty"`
	OperationName string         `json:"operationName,omitempty"`
	Extensions    map[string]any `json:"extensions,omitempty"`
}

// post sends a request over HTTP; headers are name, value pairs.
func (g *gateway) post(t testing.TB, req request, headers ...string) response {
	t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return g.postBody(t, body, headers...)
}

// postBody sends a JSON request body over HTTP; headers are name, value pairs.
func (g *gateway) postBody(t testing.TB, body []byte, headers ...string) response {
	t.Helper()
	hr, err := http.NewRequest(http.MethodPost, g.url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		hr.Header.Set(headers[i], headers[i+1])
	}
	return do(t, hr)
}

// query posts a document with variables given as name, value pairs.
func (g *gateway) query(t testing.TB, doc string, vars ...any) response {
	t.Helper()
	req := request{Query: doc}
	if len(vars) > 0 {
		req.Variables = make(map[string]any)
		for i := 0; i+1 < len(vars); i += 2 {
			req.Variables[vars[i].(string)] = vars[i+1]
		}
	}
	return g.post(t, req)
}

func do(t testing.TB, hr *http.Request) response {
	t.Helper()
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("status %d, body is not JSON: %v: %s", res.StatusCode, err, raw)
	}
	r.status, r.header, r.raw = res.StatusCode, res.Header, raw
	return r
}

// ok fails the test unless the response has no errors (and, over HTTP, status 200).
func (r response) ok(t testing.TB) response {
	t.Helper()
	if len(r.Errors) > 0 || r.status != http.StatusOK && r.status != 0 {
		t.Fatalf("status %d, errors: %s", r.status, r.raw)
	}
	return r
}

// wantData checks that the data equals want, a JSON document.
func (r response) wantData(t testing.TB, want string) {
	t.Helper()
	var got, exp any
	if err := json.Unmarshal(r.Data, &got); err != nil {
		t.Fatalf("data is not JSON: %v: %s", err, r.raw)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("bad want %q: %v", want, err)
	}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("data =\n%s\nwant\n%s", compact(r.Data), compact([]byte(want)))
	}
}

// wantRawData checks the data byte for byte (field order included) against want, compacted.
func (r response) wantRawData(t testing.TB, want string) {
	t.Helper()
	if got, w := compact(r.Data), compact([]byte(want)); got != w {
		t.Errorf("data =\n%s\nwant\n%s", got, w)
	}
}

func compact(b []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return string(b)
	}
	return buf.String()
}

// value decodes the data at a dotted path ("getUser.name"; list indexes as numbers).
func (r response) value(t testing.TB, path string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(r.Data, &v); err != nil {
		t.Fatalf("data is not JSON: %s", r.raw)
	}
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			var i int
			if err := json.Unmarshal([]byte(p), &i); err != nil || i >= len(x) {
				t.Fatalf("no element %s at %s in %s", p, path, r.Data)
			}
			v = x[i]
		default:
			t.Fatalf("nothing at %s in %s", path, r.Data)
		}
	}
	return v
}

// mdOf returns the incoming metadata a backend call saw.
func mdOf(ctx context.Context) metadata.MD {
	md, _ := metadata.FromIncomingContext(ctx)
	return md
}
