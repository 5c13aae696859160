package resolvers_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/resolvers"
	"github.com/protogate/gateway/schema"
)

// wantCalls checks the number of calls of each method since the last reset.
func wantCalls(t *testing.T, g *gateway, want map[string]int) {
	t.Helper()
	if got := g.calls.count(); !maps.Equal(got, want) {
		t.Errorf("upstream calls = %v, want %v", got, want)
	}
}

func TestLinksAreBatched(t *testing.T) {
	g := startGateway(t, setup{})
	r := g.query(t, `{ listOrders(userId: "1") { orders { id userId user { id name } items { productId product { id name } } } } }`).ok(t)
	orders := r.value(t, "listOrders.orders").([]any)
	if len(orders) != 4 {
		t.Fatalf("orders = %d, want 4: %s", len(orders), r.Data)
	}
	items := 0
	for i, o := range orders {
		o := o.(map[string]any)
		if u := o["user"].(map[string]any); u["id"] != "1" || u["name"] != "Ada Lovelace" {
			t.Errorf("order %d user = %v", i, u)
		}
		for _, it := range o["items"].([]any) {
			it := it.(map[string]any)
			items++
			if p := it["product"].(map[string]any); p["id"] != it["productId"] || p["name"] == "" {
				t.Errorf("item %v has product %v", it, p)
			}
		}
	}
	if items < 5 {
		t.Errorf("only %d line items: the test needs several", items)
	}
	wantCalls(t, g, map[string]int{mListOrders: 1, mBatchGetUsers: 1, mBatchGetProducts: 1})
}

// Twenty-odd orders of six users, with their users and their products: one call of each batch
// method, whatever the number of orders, users and products.
func TestLinksBatchAcrossRootFields(t *testing.T) {
	g := startGateway(t, setup{})
	var doc strings.Builder
	doc.WriteString("{")
	for u := 1; u <= 6; u++ {
		fmt.Fprintf(&doc, ` u%d: listOrders(userId: "%d") { orders { id user { name } items { product { name price { units } } } } }`, u, u)
	}
	doc.WriteString("}")
	r := g.query(t, doc.String()).ok(t)
	n := 0
	for u := 1; u <= 6; u++ {
		for _, o := range r.value(t, fmt.Sprintf("u%d.orders", u)).([]any) {
			n++
			if o.(map[string]any)["user"] == nil {
				t.Errorf("order %v has no user", o)
			}
		}
	}
	if n < 20 {
		t.Fatalf("%d orders, want at least 20", n)
	}
	wantCalls(t, g, map[string]int{mListOrders: 6, mBatchGetUsers: 1, mBatchGetProducts: 1})
}

func TestLinksChainAndDedupe(t *testing.T) {
	g := startGateway(t, setup{})
	// Order -> user -> orders -> user: the second wave of users asks for a key the first fetched.
	r := g.query(t, `{
		getOrder(id: "o1") { id user { name orders { id user { name } } } }
		a: getUser(id: "2") { orders { id } }
		b: getUser(id: "2") { orders { status } }
	}`).ok(t)
	if r.value(t, "getOrder.user.orders.0.user.name") != "Ada Lovelace" {
		t.Errorf("chain: %s", r.Data)
	}
	if len(r.value(t, "a.orders").([]any)) != 3 || len(r.value(t, "b.orders").([]any)) != 3 {
		t.Errorf("user 2's orders: %s", r.Data)
	}
	// ListOrders for user 1 and for user 2 (asked twice, made once); users fetched once.
	wantCalls(t, g, map[string]int{mGetOrder: 1, mGetUser: 1, mBatchGetUsers: 1, mListOrders: 2})
}

// A key the batch method's answer lacks fails its link field as the link's method fails it for a
// missing record: null, and NOT_FOUND with a google.rpc.ResourceInfo naming the type and the key;
// only the message differs, naming the batch method. Order.user is batched, Order.userUnbatched
// calls GetUser.
func TestLinkKeyWithoutResultIsNotFound(t *testing.T) {
	g := startGateway(t, setup{links: append(shopLinks(), schema.Link{
		OnType: "shop.orders.v1.Order", Field: "userUnbatched",
		Method: "shop.users.v1.UserService/GetUser", Args: map[string]string{"id": "user_id"},
	})})
	r := g.query(t, `mutation { createOrder(userId: "999", items: [{productId: "p2", quantity: 2}], voucherCode: "V-1") {
		userId status user { name } userUnbatched { name } items { product { name } } } }`)
	r.wantData(t, `{"createOrder":{"userId":"999","status":"ORDER_STATUS_PAID","user":null,"userUnbatched":null,
		"items":[{"product":{"name":"On the Origin of Species (Illustrated)"}}]}}`)
	byField := map[string]gqlError{}
	for _, e := range r.Errors {
		byField[pathString(e.Path)] = e
	}
	batched, unbatched := byField["createOrder.user"], byField["createOrder.userUnbatched"]
	if len(r.Errors) != 2 || batched.Message == "" || unbatched.Message == "" {
		t.Fatalf("want an error on user and one on userUnbatched: %s", r.raw)
	}
	if want := `shop.users.v1.UserService/BatchGetUsers returned no users with id "999"`; batched.Message != want {
		t.Errorf("batched message %q, want %q", batched.Message, want)
	}
	for _, e := range []gqlError{batched, unbatched} {
		details, _ := e.Extensions["details"].([]any)
		var info map[string]any
		for _, d := range details {
			if d := d.(map[string]any); d["@type"] == "type.googleapis.com/google.rpc.ResourceInfo" {
				info = d
			}
		}
		if e.code() != "NOT_FOUND" || info["resourceType"] != "shop.users.v1.User" || info["resourceName"] != "999" {
			t.Errorf("%s: code %s, ResourceInfo %v; want NOT_FOUND naming shop.users.v1.User 999", pathString(e.Path), e.code(), info)
		}
	}
	wantCalls(t, g, map[string]int{mBatchGetUsers: 1, mGetUser: 1, mBatchGetProducts: 1, "/shop.orders.v1.OrderService/CreateOrder": 1})
}

// barrierCaller holds each call of its methods until every one of them has started, so a query
// whose calls ran one after the other would not get past the first: that call fails, saying so,
// after a generous wait. It records the order in which calls start and end.
type barrierCaller struct {
	resolvers.Caller
	methods map[string]bool
	mu      sync.Mutex
	started int
	all     chan struct{} // closed when every method has started
	events  []string      // "start M" and "end M", in order
}

func newBarrierCaller(c resolvers.Caller, methods ...string) *barrierCaller {
	b := &barrierCaller{Caller: c, methods: make(map[string]bool), all: make(chan struct{})}
	for _, m := range methods {
		b.methods[m] = true
	}
	return b
}

func (b *barrierCaller) log(e string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, e)
}

func (b *barrierCaller) CallUnary(ctx context.Context, method string, md metadata.MD, req, resp any, opts ...grpc.CallOption) error {
	b.log("start " + method)
	defer b.log("end " + method)
	if b.methods[method] {
		b.mu.Lock()
		if b.started++; b.started == len(b.methods) {
			close(b.all)
		}
		b.mu.Unlock()
		select {
		case <-b.all:
		case <-time.After(10 * time.Second):
			return status.Errorf(codes.DeadlineExceeded, "%s waited 10s for the other calls of its wave: they did not run in parallel", method)
		}
	}
	return b.Caller.CallUnary(ctx, method, md, req, resp, opts...)
}

// index returns the position of event e, or -1.
func (b *barrierCaller) index(e string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Index(b.events, e)
}

// The root fields of a query call their services in parallel: each call waits for the others to
// start before it goes on.
func TestFanOutRunsInParallel(t *testing.T) {
	var b *barrierCaller
	g := startGateway(t, setup{caller: func(c resolvers.Caller) resolvers.Caller {
		b = newBarrierCaller(c, mGetUser, mGetOrder, mGetProduct)
		return b
	}})
	g.query(t, `{ getUser(id: "1") { name } getOrder(id: "o1") { id } getProduct(id: "p1") { name } }`).ok(t)
}

// Links of one wave run in parallel too: the users and products of a user's orders are asked for
// at the same time, once the orders are known.
func TestLinkWavesRunInParallel(t *testing.T) {
	var b *barrierCaller
	g := startGateway(t, setup{caller: func(c resolvers.Caller) resolvers.Caller {
		b = newBarrierCaller(c, mBatchGetUsers, mBatchGetProducts)
		return b
	}})
	g.query(t, `{ getUser(id: "3") { orders { user { name } items { product { name } } } } }`).ok(t)
	if b.index("start "+mBatchGetUsers) < b.index("end "+mListOrders) {
		t.Errorf("the users were asked for before the orders were known: %q", b.events)
	}
}

// admitCaller records the admissions the executor asks for apart from its calls (a batched link's
// calls of its method) and refuses those of one method.
type admitCaller struct {
	resolvers.Caller
	refuse error
	method string // refused with refuse

	mu     sync.Mutex
	admits []string // method and cost
}

func (c *admitCaller) Admit(ctx context.Context, method string, md metadata.MD, cost int) (func(), error) {
	c.mu.Lock()
	c.admits = append(c.admits, fmt.Sprintf("%s %d", method, cost))
	c.mu.Unlock()
	if method == c.method {
		return func() {}, c.refuse
	}
	return c.Caller.Admit(ctx, method, md, cost)
}

// A batched link meets the policies of the method it calls before its batch method is called: once
// per batch, weighing the batch's distinct keys. A refusal fails exactly the links of that method,
// with its error, and the batch method is not called; the rest of the query resolves.
func TestBatchedLinksAdmittedAsTheirMethod(t *testing.T) {
	c := &admitCaller{method: mGetProduct, refuse: status.Error(codes.PermissionDenied, "no products for you")}
	g := startGateway(t, setup{caller: func(p resolvers.Caller) resolvers.Caller { c.Caller = p; return c }})
	r := g.query(t, `{ listOrders(userId: "1") { orders { id user { name } items { productId product { name } } } } }`)
	orders := r.value(t, "listOrders.orders").([]any)
	items := 0
	for _, o := range orders {
		o := o.(map[string]any)
		if u, _ := o["user"].(map[string]any); u == nil || u["name"] != "Ada Lovelace" {
			t.Errorf("order %v: the user should resolve", o["id"])
		}
		for _, it := range o["items"].([]any) {
			items++
			if p := it.(map[string]any)["product"]; p != nil {
				t.Errorf("order %v: product %v past a refusal", o["id"], p)
			}
		}
	}
	if len(r.Errors) != items {
		t.Fatalf("%d errors, want one per line item (%d): %+v", len(r.Errors), items, r.Errors)
	}
	for _, e := range r.Errors {
		if e.code() != "PERMISSION_DENIED" || e.Message != "no products for you" || e.Path[len(e.Path)-1] != "product" {
			t.Errorf("error %+v, want the refusal on a product field", e)
		}
	}
	// User 1's orders hold 5 distinct products (and one user): each batch is admitted once, at its
	// keys' number.
	slices.Sort(c.admits)
	if want := []string{mGetProduct + " 5", mGetUser + " 1"}; !slices.Equal(c.admits, want) {
		t.Errorf("admissions %q, want %q", c.admits, want)
	}
	wantCalls(t, g, map[string]int{mListOrders: 1, mBatchGetUsers: 1})
}
