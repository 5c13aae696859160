package resolvers_test

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"
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

func TestLinkKeyWithoutResultIsNull(t *testing.T) {
	g := startGateway(t, setup{})
	r := g.query(t, `mutation { createOrder(userId: "999", items: [{productId: "p2", quantity: 2}], voucherCode: "V-1") {
		userId status user { name } items { product { name } } } }`).ok(t)
	r.wantData(t, `{"createOrder":{"userId":"999","status":"ORDER_STATUS_PAID","user":null,
		"items":[{"product":{"name":"On the Origin of Species (Illustrated)"}}]}}`)
}

// Three services that each take 20ms answer together in about 20ms: the root fields run in
// parallel. The bound is relative to the same calls made one after the other on this machine.
func TestFanOutRunsInParallel(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	const latency = 20 * time.Millisecond
	g := startGateway(t, setup{latency: latency})
	parts := []string{`getUser(id: "1") { name }`, `getOrder(id: "o1") { id }`, `getProduct(id: "p1") { name }`}
	g.query(t, "{"+strings.Join(parts, " ")+"}").ok(t) // warm up connections
	best := func(f func()) time.Duration {
		b := time.Hour
		for range 3 {
			start := time.Now()
			f()
			b = min(b, time.Since(start))
		}
		return b
	}
	serial := best(func() {
		for _, p := range parts {
			g.query(t, "{"+p+"}").ok(t)
		}
	})
	parallel := best(func() { g.query(t, "{"+strings.Join(parts, " ")+"}").ok(t) })
	t.Logf("three services, 20ms each: serial %v, one query %v", serial, parallel)
	if serial < 3*latency {
		t.Fatalf("serial %v is below the injected latency: the test measures nothing", serial)
	}
	if parallel > serial*6/10 || parallel < latency {
		t.Errorf("one query took %v, serial calls %v: the root fields did not run in parallel", parallel, serial)
	}
}

// Links of one wave run in parallel too: the users and products of a user's orders are fetched at
// the same time, after the orders. Made one after the other, the second call could not start
// before the first had answered, a latency after it started.
func TestLinkWavesRunInParallel(t *testing.T) {
	const latency = 50 * time.Millisecond
	g := startGateway(t, setup{latency: latency})
	g.query(t, `{ getUser(id: "3") { orders { user { name } items { product { name } } } } }`).ok(t)
	users, products := g.calls.started(mBatchGetUsers), g.calls.started(mBatchGetProducts)
	orders := g.calls.started(mListOrders)
	if len(users) != 1 || len(products) != 1 || len(orders) != 1 {
		t.Fatalf("calls: %v", g.calls.count())
	}
	if d := users[0].Sub(products[0]).Abs(); d >= latency {
		t.Errorf("BatchGetUsers and BatchGetProducts started %v apart: not in parallel", d)
	}
	if users[0].Sub(orders[0]) < latency {
		t.Errorf("the users were asked for before the orders were known")
	}
}
