package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/protogate/gateway/cmd/gateway/internal/demo"
	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/keys"
	"github.com/protogate/gateway/examples/shop"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/schema"
)

// methodCounter counts the shop calls the backends see, by method.
type methodCounter struct {
	mu    sync.Mutex
	calls map[string]int
}

func (m *methodCounter) onCall(_ context.Context, method string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.calls == nil {
		m.calls = make(map[string]int)
	}
	m.calls[method]++
}

func (m *methodCounter) count(method string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[method]
}

// gqlResult is a GraphQL response: its data and its errors' paths and codes.
type gqlResult struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// postQuery sends query to the gateway's /graphql with headers (name, value pairs).
func postQuery(t *testing.T, g *gateway, query string, headers ...string) gqlResult {
	t.Helper()
	body, err := json.Marshal(map[string]string{"query": query})
	if err != nil {
		t.Fatal(err)
	}
	resp := newRESTClient(g).do(t, http.MethodPost, "/graphql", string(body), headers...)
	var r gqlResult
	if err := json.Unmarshal(resp.body, &r); err != nil {
		t.Fatalf("GraphQL response %d is not JSON: %.300s", resp.status, resp.body)
	}
	return r
}

// codes returns the extensions.code of each error, by its path joined with dots.
func (r gqlResult) codes() map[string]string {
	out := make(map[string]string)
	for _, e := range r.Errors {
		p := ""
		for i, s := range e.Path {
			if i > 0 {
				p += "."
			}
			switch s := s.(type) {
			case string:
				p += s
			case float64:
				p += strconv.Itoa(int(s))
			}
		}
		code, _ := e.Extensions["code"].(string)
		out[p] = code
	}
	return out
}

// A link batched into a batch method gets the decision of the method it calls, as the same field
// asked directly does: with GetUser requiring a JWT (and BatchGetUsers, whose rule asks nothing,
// hidden from GraphQL), an order's user needs the token too. Without one the user field fails
// UNAUTHENTICATED, the batch method is not called, and the order still resolves.
func TestGraphQLBatchedLinkMeetsItsMethodsAuth(t *testing.T) {
	var policies config.Policies
	policies.Auth.JWT = []config.JWTProvider{{
		Name: demo.DemoProvider, Issuer: keys.DemoIssuer, Audiences: []string{keys.DemoAudience}, JWKS: string(keys.DemoJWKS),
	}}
	policies.Rules = []config.PolicyRule{{
		Name:  "user-needs-a-token",
		Match: config.PolicyMatch{Method: "/shop.users.v1.UserService/GetUser"},
		Auth:  config.RuleAuth{Providers: []string{demo.DemoProvider}},
	}}
	policies.AccessLog.Output = "off"
	calls := &methodCounter{}
	g := startGateway(t, harnessOptions{
		shop:     shop.Options{OnCall: calls.onCall},
		policies: &policies,
		spec: func(s *registry.Spec, _ *shop.Shop) {
			s.GraphQL.Overrides = append(s.GraphQL.Overrides, schema.Override{Method: "shop.users.v1.UserService/BatchGetUsers", Hide: true})
		},
	})
	const batch = "/shop.users.v1.UserService/BatchGetUsers"

	direct := postQuery(t, g, `{ getUser(id: "1") { email } }`)
	if got := direct.codes()["getUser"]; got != "UNAUTHENTICATED" {
		t.Fatalf("getUser without a token: %v, want UNAUTHENTICATED", direct.codes())
	}
	if resp := newRESTClient(g).do(t, http.MethodGet, "/v1/users/1", ""); resp.status != http.StatusUnauthorized {
		t.Fatalf("GET /v1/users/1 without a token: %d, want 401", resp.status)
	}

	linked := postQuery(t, g, `{ getOrder(id: "o1") { id user { name email } } }`)
	if got := linked.codes(); len(got) != 1 || got["getOrder.user"] != "UNAUTHENTICATED" {
		t.Fatalf("the order's user without a token: errors %v, want getOrder.user UNAUTHENTICATED: %s", got, linked.Data)
	}
	if string(linked.Data) != `{"getOrder":{"id":"o1","user":null}}` {
		t.Fatalf("data %s, want the order with a null user", linked.Data)
	}
	if n := calls.count(batch); n != 0 {
		t.Fatalf("BatchGetUsers was called %d times for a refused link", n)
	}

	tok, err := demo.Token("1", nil, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ok := postQuery(t, g, `{ getOrder(id: "o1") { id user { name email } } }`, "Authorization", "Bearer "+tok)
	if len(ok.Errors) != 0 || string(ok.Data) != `{"getOrder":{"id":"o1","user":{"name":"Ada Lovelace","email":"ada@example.com"}}}` {
		t.Fatalf("with a token: data %s, errors %v", ok.Data, ok.codes())
	}
	if n := calls.count(batch); n != 1 {
		t.Fatalf("BatchGetUsers was called %d times, want once", n)
	}
}

// A link batched into a batch method is charged to its method's rate limit as that many calls of
// the method, one per key, in one decision: user 1's orders hold five distinct products, so with
// GetProduct limited to a burst of 6 the first query's products resolve and leave one call, the
// second query's are refused RESOURCE_EXHAUSTED (its orders still resolve), and a direct call of
// GetProduct then finds the bucket nearly empty.
func TestGraphQLBatchedLinkChargesItsMethodsRateLimit(t *testing.T) {
	policies := config.Policies{Rules: []config.PolicyRule{{
		Name:      "products",
		Match:     config.PolicyMatch{Method: "/shop.catalog.v1.CatalogService/GetProduct"},
		RateLimit: config.RuleRateLimit{Rate: 6, Per: time.Hour, Burst: 6, Key: "client_ip"},
	}}}
	policies.AccessLog.Output = "off"
	calls := &methodCounter{}
	g := startGateway(t, harnessOptions{shop: shop.Options{OnCall: calls.onCall}, policies: &policies})
	const (
		query = `{ listOrders(userId: "1") { orders { id items { product { id } } } } }`
		batch = "/shop.catalog.v1.CatalogService/BatchGetProducts"
	)

	first := postQuery(t, g, query)
	if len(first.Errors) != 0 {
		t.Fatalf("first query: errors %v", first.codes())
	}
	if n := calls.count(batch); n != 1 {
		t.Fatalf("BatchGetProducts was called %d times, want once", n)
	}

	second := postQuery(t, g, query)
	var data struct {
		ListOrders struct {
			Orders []struct {
				ID    string
				Items []struct{ Product *struct{ ID string } }
			}
		}
	}
	if err := json.Unmarshal(second.Data, &data); err != nil {
		t.Fatalf("second query: data %s: %v", second.Data, err)
	}
	if len(data.ListOrders.Orders) != 4 {
		t.Fatalf("second query: %d orders, want user 1's 4 still resolved: %s", len(data.ListOrders.Orders), second.Data)
	}
	items := 0
	for _, o := range data.ListOrders.Orders {
		for _, it := range o.Items {
			items++
			if it.Product != nil {
				t.Fatalf("second query: order %s has a product past the limit: %s", o.ID, second.Data)
			}
		}
	}
	if len(second.Errors) != items {
		t.Fatalf("second query: %d errors, want one per line item (%d): %v", len(second.Errors), items, second.codes())
	}
	for path, code := range second.codes() {
		if code != "RESOURCE_EXHAUSTED" {
			t.Fatalf("second query: %s failed %s, want RESOURCE_EXHAUSTED", path, code)
		}
	}
	if n := calls.count(batch); n != 1 {
		t.Fatalf("BatchGetProducts was called %d times after a refusal, want once in all", n)
	}

	// The operations took their price, two calls each, and the first its five products: five of
	// six, and the second's price could not be paid. One call is left for GetProduct.
	rest := newRESTClient(g)
	if resp := rest.do(t, http.MethodGet, "/v1/products/p1", ""); resp.status != http.StatusOK {
		t.Fatalf("GET /v1/products/p1: %d, want 200 (one call left): %s", resp.status, resp.body)
	}
	if resp := rest.do(t, http.MethodGet, "/v1/products/p1", ""); resp.status != http.StatusTooManyRequests {
		t.Fatalf("GET /v1/products/p1: %d, want 429 (the links were charged): %s", resp.status, resp.body)
	}
}

// A link batched into a batch method holds a slot of its method's concurrency limit while the batch
// call runs, as the same field asked directly holds one while its call runs: with GetUser limited
// to one call in flight per client, a direct GetUser is refused while an order's user is being
// fetched through BatchGetUsers, and admitted once the batch is over.
func TestGraphQLBatchedLinkHoldsItsMethodsConcurrencySlot(t *testing.T) {
	policies := config.Policies{Rules: []config.PolicyRule{{
		Name:        "users-one-at-a-time",
		Match:       config.PolicyMatch{Method: "/shop.users.v1.UserService/GetUser"},
		Concurrency: config.RuleConcurrency{Max: 1, Key: "client_ip"},
	}}}
	policies.AccessLog.Output = "off"
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	g := startGateway(t, harnessOptions{policies: &policies, shop: shop.Options{OnCall: func(_ context.Context, method string) {
		if method == "/shop.users.v1.UserService/BatchGetUsers" {
			once.Do(func() { close(entered); <-release })
		}
	}}})

	var linked gqlResult
	done := make(chan struct{})
	go func() {
		defer close(done)
		linked = postQuery(t, g, `{ getOrder(id: "o1") { id user { name } } }`)
	}()
	<-entered
	rest := newRESTClient(g)
	if resp := rest.do(t, http.MethodGet, "/v1/users/1", ""); resp.status != http.StatusTooManyRequests {
		close(release)
		t.Fatalf("GET /v1/users/1 while a batched link of GetUser runs: %d, want 429 (its slot is held): %s", resp.status, resp.body)
	}
	close(release)
	<-done
	if r := linked; len(r.Errors) != 0 || string(r.Data) != `{"getOrder":{"id":"o1","user":{"name":"Ada Lovelace"}}}` {
		t.Fatalf("the linked query: data %s, errors %v", r.Data, r.codes())
	}
	if resp := rest.do(t, http.MethodGet, "/v1/users/1", ""); resp.status != http.StatusOK {
		t.Fatalf("GET /v1/users/1 after the batch: %d, want 200 (the slot is free again): %s", resp.status, resp.body)
	}
}

// The access-log line of a GraphQL request counts, as calls, the upstream calls it made: GetUser,
// ListOrders, and one batch call for each batched link, which is one call however many keys it was
// admitted as (its method's admission is no call of its own).
func TestAccessLogCountsUpstreamCalls(t *testing.T) {
	lines := make(accessLines, 16)
	g := startGateway(t, harnessOptions{server: []server.Option{server.WithAccessLogWriter(lines)}})
	r := postQuery(t, g, `{ getUser(id: "1") { name orders { id user { name } items { product { name } } } } }`)
	if len(r.Errors) != 0 {
		t.Fatalf("errors %v", r.codes())
	}
	ctx := testContext(t)
	for {
		select {
		case b := <-lines:
			var e struct {
				Front string
				Calls int
			}
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatalf("access-log line %q: %v", b, err)
			}
			if e.Front != "graphql" {
				continue
			}
			if e.Calls != 4 {
				t.Fatalf("calls %d, want 4 (GetUser, ListOrders, BatchGetUsers, BatchGetProducts): %s", e.Calls, b)
			}
			return
		case <-ctx.Done():
			t.Fatal("no access-log line for the GraphQL request")
		}
	}
}
