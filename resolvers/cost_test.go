package resolvers_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/protogate/gateway/resolvers"
)

// TestOnOperation: the hook sees each operation's complexity once, whether or not the complexity
// limit is on, and the operation's upstream calls run under the context it returns — seen here by
// the backends as the deadline the hook sets on operations costing more than 20.
func TestOnOperation(t *testing.T) {
	for _, max := range []int{0, -1} { // the default limit, and the limit off
		var mu sync.Mutex
		var seen []int
		hook := func(ctx context.Context, complexity int) context.Context {
			mu.Lock()
			seen = append(seen, complexity)
			mu.Unlock()
			if complexity > 20 {
				ctx, cancel := context.WithTimeout(ctx, time.Hour)
				t.Cleanup(cancel)
				return ctx
			}
			return ctx
		}
		g := startGateway(t, setup{opts: resolvers.Options{MaxComplexity: max, OnOperation: hook}})

		// getUser 10 + name 1.
		g.query(t, `{ getUser(id: "1") { name } }`).wantData(t, `{"getUser":{"name":"Ada Lovelace"}}`)
		if _, ok := g.calls.last(mGetUser).Deadline(); ok {
			t.Errorf("MaxComplexity %d: the cheap operation's call has a deadline", max)
		}
		// getUser 10 + orders 10 + id 1, getOrder 10 + userId 1: 32, so the hook sets a deadline.
		g.query(t, `{ getUser(id: "1") { orders { id } } getOrder(id: "o1") { userId } }`).ok(t)
		for _, m := range []string{mGetUser, mListOrders, mGetOrder} {
			if d, ok := g.calls.last(m).Deadline(); !ok || time.Until(d) < 50*time.Minute {
				t.Errorf("MaxComplexity %d: %s has deadline %v (%t), want the hook's hour", max, m, d, ok)
			}
		}
		mu.Lock()
		if len(seen) != 2 || seen[0] != 11 || seen[1] != 32 {
			t.Errorf("MaxComplexity %d: hook saw complexities %v, want [11 32]", max, seen)
		}
		mu.Unlock()
	}
}
