package resolvers_test

import (
	"fmt"
	"strings"
	"testing"
)

// userOneOrders is user 1's orders, newest first, as `orders { items { product { name } } }`
// renders them: the products' names come from the catalog, the link below the orders' link.
const userOneOrders = `[
	{"items":[{"product":{"name":"Orrery Model Kit"}},{"product":{"name":"Raspberry Pi Starter Kit"}},{"product":{"name":"The Analytical Engine Handbook"}}]},
	{"items":[{"product":{"name":"Linen Throw Blanket"}}]},
	{"items":[{"product":{"name":"Raspberry Pi Starter Kit"}},{"product":{"name":"The Analytical Engine Handbook"}}]},
	{"items":[{"product":{"name":"Mechanical Keyboard"}},{"product":{"name":"Orrery Model Kit"}},{"product":{"name":"Raspberry Pi Starter Kit"}},{"product":{"name":"The Analytical Engine Handbook"}}]}
]`

// A wave whose links all ask for calls an earlier wave made registers no call, but the results of
// those calls must still be walked for the links below them: here user 1's orders, listed in the
// first wave for getUser, are asked for again under getOrder's user, and their line items'
// products are found only by walking them again.
func TestLinksBelowAnEarlierCall(t *testing.T) {
	g := startGateway(t, setup{})
	r := g.query(t, `{
		getUser(id: "1") { orders { id } }
		getOrder(id: "o1") { user { orders { items { product { name } } } } }
	}`).ok(t)
	r.wantData(t, `{
		"getUser": {"orders": [{"id":"o2"},{"id":"o4"},{"id":"o1"},{"id":"o3"}]},
		"getOrder": {"user": {"orders": `+userOneOrders+`}}
	}`)
	// User 1's orders are listed once, for both parents, and the products fetched in one call.
	wantCalls(t, g, map[string]int{mGetUser: 1, mGetOrder: 1, mListOrders: 1, mBatchGetUsers: 1, mBatchGetProducts: 1})
}

// The same within one root field: the orders' user is user 1 again, whose orders the first wave
// listed, so the third wave makes no call, and the fourth must still fetch the products. One turn
// deeper, the fourth wave asks only for the batch key the second fetched: two waves in a row make
// no call.
func TestLinksBelowAnEarlierCallInACycle(t *testing.T) {
	g := startGateway(t, setup{})
	doc, want := `orders { items { product { name } } }`, userOneOrders
	for turns := 1; turns <= 2; turns++ {
		doc = `orders { user { ` + doc + ` } }`
		want = `[` + strings.Repeat(`{"user": {"orders": `+want+`}},`, 3) + `{"user": {"orders": ` + want + `}}]`
		t.Run(fmt.Sprint(turns), func(t *testing.T) {
			g.calls.reset()
			r := g.query(t, `{ getUser(id: "1") { `+doc+` } }`).ok(t)
			r.wantData(t, `{"getUser": {"orders": `+want+`}}`)
			wantCalls(t, g, map[string]int{mGetUser: 1, mListOrders: 1, mBatchGetUsers: 1, mBatchGetProducts: 1})
		})
	}
}
