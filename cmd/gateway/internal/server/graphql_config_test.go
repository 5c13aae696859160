package server_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/shop"
	"github.com/protogate/gateway/internal/testlog"
	"github.com/protogate/gateway/registry"
)

// graphqlConfig is a config file's graphql section: the demo's links written in YAML, overrides,
// limits, introspection off, and a persisted operation bound to a REST route.
const graphqlConfig = `
graphql:
  max_depth: 4
  introspection: false
  persisted_operations:
    operations:
      - name: dashboard
        document: |
          query Dashboard($userId: String!) { user(id: $userId) { name orders { id user { name } } } }
        rest: {path: "/v1/dashboard/{userId}"}
  links:
    - type: shop.orders.v1.Order
      field: user
      method: shop.users.v1.UserService/GetUser
      args: {id: user_id}
      batch: {method: shop.users.v1.UserService/BatchGetUsers, request_field: ids, response_field: users, key_field: id}
    - type: shop.users.v1.User
      field: orders
      method: shop.orders.v1.OrderService/ListOrders
      args: {user_id: id}
      result_field: orders
  overrides:
    - {method: shop.users.v1.UserService/GetUser, name: user}
    - {method: shop.orders.v1.OrderService/CreateOrder, hide: true}
    - {service: shop.catalog.v1.CatalogService, name: catalog}
`

// specFromYAML parses a config file and turns it into a spec serving the demo shop's services, with
// the config's GraphQL settings instead of the demo's links.
func specFromYAML(t *testing.T, yaml string, sh *shop.Shop, into *registry.Spec) {
	t.Helper()
	cfg, err := config.Parse("gateway.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := registry.SpecFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	spec.Registrations = into.Registrations
	*into = spec
}

func postGraphQL(t *testing.T, url, query string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": query})
	resp, err := http.Post(url, "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestGraphQLFromConfig serves the graphql section of a config file through the real server: the
// schema has the links and overrides, the limits and introspection setting apply, the persisted
// operation answers on its REST route, and applying another config (a reload) changes all of it.
func TestGraphQLFromConfig(t *testing.T) {
	g := startGateway(t, harnessOptions{spec: func(spec *registry.Spec, sh *shop.Shop) {
		specFromYAML(t, graphqlConfig, sh, spec)
	}})
	base := "http://" + g.addr

	// With introspection off the SDL is not served either: it is the schema introspection refuses.
	code, body := httpGet(t, base+"/graphql/schema.graphql")
	var st statusJSON
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusNotFound || err != nil || st.Code != 5 ||
		st.Message != "the GraphQL schema is not served: graphql.introspection is off" {
		t.Errorf("schema.graphql with introspection off: %d %s, want 404 NOT_FOUND saying why", code, body)
	}
	sdl := g.srv.Snapshot().GraphQL().SDL()
	for _, want := range []string{"  user(id: String!): User\n", "  catalogGetProduct(", "  user: User\n", "  orders: [Order!]\n"} {
		if !strings.Contains(sdl, want) {
			t.Errorf("schema lacks %q", want)
		}
	}
	for _, unwanted := range []string{"getUser(", "createOrder(", "  getProduct("} {
		if strings.Contains(sdl, unwanted) {
			t.Errorf("schema has %q", unwanted)
		}
	}

	code, body = postGraphQL(t, base+"/graphql", `{ user(id: "1") { name orders { id user { name } } } }`)
	if code != http.StatusOK || !strings.Contains(body, `"name":"Ada Lovelace","orders":[{"id":"o2","user":{"name":"Ada Lovelace"}}`) {
		t.Errorf("query through the configured links: %d %s", code, body)
	}
	_, body = postGraphQL(t, base+"/graphql", `{ user(id: "1") { orders { user { orders { user { name } } } } } }`)
	if !strings.Contains(body, `"DEPTH_LIMIT_EXCEEDED"`) {
		t.Errorf("max_depth 4 let a depth-5 query through: %s", body)
	}
	_, body = postGraphQL(t, base+"/graphql", `{ __schema { queryType { name } } }`)
	if !strings.Contains(body, `"INTROSPECTION_DISABLED"`) {
		t.Errorf("introspection: false answered: %s", body)
	}

	code, body = httpGet(t, base+"/v1/dashboard/1")
	if code != http.StatusOK || !strings.HasPrefix(body, `{"user":{"name":"Ada Lovelace","orders":[`) {
		t.Errorf("GET /v1/dashboard/1: %d %s", code, body)
	}
	code, body = httpGet(t, base+"/v1/dashboard/99")
	if code != http.StatusNotFound || !strings.Contains(body, `"code":5`) {
		t.Errorf("GET /v1/dashboard/99: %d %s", code, body)
	}
	code, body = httpGet(t, base+"/v1/users/1") // the REST front still serves the rest
	if code != http.StatusOK || !strings.Contains(body, "Ada Lovelace") {
		t.Errorf("GET /v1/users/1: %d %s", code, body)
	}

	// A reload: no overrides, introspection on, no persisted operation.
	spec := registry.Spec{Registrations: g.srv.Snapshot().Registrations()}
	specFromYAML(t, "graphql: {max_depth: 3}\n", g.shop, &spec)
	if _, err := g.srv.Apply(spec); err != nil {
		t.Fatal(err)
	}
	_, sdl = httpGet(t, base+"/graphql/schema.graphql")
	if !strings.Contains(sdl, "getUser(id: String!)") || !strings.Contains(sdl, "createOrder(") {
		t.Errorf("after the reload the overrides still apply:\n%.300s", sdl)
	}
	_, body = postGraphQL(t, base+"/graphql", `{ __schema { queryType { name } } }`)
	if !strings.Contains(body, `"queryType":{"name":"Query"}`) {
		t.Errorf("after the reload introspection is still off: %s", body)
	}
	if code, body = httpGet(t, base+"/v1/dashboard/1"); code != http.StatusNotFound {
		t.Errorf("after the reload GET /v1/dashboard/1 still answers: %d %s", code, body)
	}
}

// TestGraphQLRouteCollision refuses a persisted operation bound to a REST route a service serves,
// and keeps the running configuration.
func TestGraphQLRouteCollision(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	before := g.srv.Snapshot()
	spec := registry.Spec{Registrations: before.Registrations()}
	specFromYAML(t, `
graphql:
  persisted_operations:
    operations:
      - name: shadow
        document: "query Shadow($id: String!) { getUser(id: $id) { name } }"
        rest: {path: "/v1/users/{id}"}
`, g.shop, &spec)
	_, err := g.srv.Apply(spec)
	if err == nil || !strings.Contains(err.Error(), "REST route GET /v1/users/{id} of a GraphQL persisted operation collides with shop.users.v1.UserService/GetUser") {
		t.Fatalf("Apply = %v", err)
	}
	if g.srv.Snapshot() != before {
		t.Error("the refused config replaced the snapshot")
	}
}

// TestGraphQLRouteMethodNotAllowed: on the path of a persisted operation's REST route, a method no
// route takes is 405 as on the REST front, naming in Allow the methods the path takes (the REST
// front's bindings on the path among them), with a google.rpc.Status; HEAD is served as GET; a
// method the REST front binds on the path is still its; a path no route has is 404.
func TestGraphQLRouteMethodNotAllowed(t *testing.T) {
	g := startGateway(t, harnessOptions{spec: func(spec *registry.Spec, sh *shop.Shop) {
		specFromYAML(t, `
graphql:
  persisted_operations:
    operations:
      - name: dashboard
        document: "query Dashboard($userId: String!) { getUser(id: $userId) { name } }"
        rest: {path: "/v1/dashboard/{userId}"}
      - name: orders
        document: "query Orders { listOrders(userId: \"1\") { orders { id } } }"
        rest: {path: "/v1/orders"}
`, sh, spec)
	}})
	rest := newRESTClient(g)
	for _, tc := range []struct {
		method, path, body string
		status             int
		allow              string
	}{
		{"GET", "/v1/dashboard/1", "", 200, ""},
		{"HEAD", "/v1/dashboard/1", "", 200, ""},
		{"POST", "/v1/dashboard/1", `{}`, 405, "GET"},
		{"DELETE", "/v1/dashboard/1", "", 405, "GET"},
		{"POST", "/v1/dashboard/1/more", `{}`, 404, ""},
		{"GET", "/v1/orders", "", 200, ""},                                                          // the operation
		{"POST", "/v1/orders", `{"userId":"1","items":[{"productId":"p1","quantity":1}]}`, 200, ""}, // CreateOrder, over REST
		{"PUT", "/v1/orders", `{}`, 405, "GET, POST"},
	} {
		r := rest.do(t, tc.method, tc.path, tc.body)
		if r.status != tc.status || r.header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow %q %s; want %d Allow %q", tc.method, tc.path, r.status, r.header.Get("Allow"), r.body, tc.status, tc.allow)
			continue
		}
		if tc.status == http.StatusMethodNotAllowed {
			var st statusJSON
			want := "method " + tc.method + " is not allowed on " + tc.path + " (allowed: " + tc.allow + ")"
			if err := json.Unmarshal(r.body, &st); err != nil || st.Code != 12 || st.Message != want || st.Details == nil {
				t.Errorf("%s %s: body %s, want a google.rpc.Status UNIMPLEMENTED %q", tc.method, tc.path, r.body, want)
			}
		}
	}
}

// TestGraphQLQueryPageFromConfig: a gateway whose spec comes from a config file, as `gateway serve`
// builds it, serves browsers the query page at /graphql by default; query_page: false turns it off,
// and so does introspection: false. A reload applies the change.
func TestGraphQLQueryPageFromConfig(t *testing.T) {
	g := startGateway(t, harnessOptions{spec: func(spec *registry.Spec, sh *shop.Shop) {
		specFromYAML(t, "graphql: {}\n", sh, spec)
	}})
	page := func() (bool, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://"+g.addr+"/graphql", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "text/html,application/xhtml+xml")
		resp, body := doRequest(t, http.DefaultClient, req)
		return strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html"), body
	}
	if ok, body := page(); !ok {
		t.Errorf("no query page by default: %.200s", body)
	}
	for _, yaml := range []string{"graphql: {query_page: false}\n", "graphql: {introspection: false}\n", "graphql: {}\n"} {
		spec := registry.Spec{Registrations: g.srv.Snapshot().Registrations()}
		specFromYAML(t, yaml, g.shop, &spec)
		if _, err := g.srv.Apply(spec); err != nil {
			t.Fatal(err)
		}
		want := yaml == "graphql: {}\n"
		if ok, body := page(); ok != want {
			t.Errorf("%s: query page served %v, want %v: %.200s", strings.TrimSpace(yaml), ok, want, body)
		}
	}
}

// TestGraphQLOverrideWaits applies a config whose override names a method no registration has
// yet, as a reload does: it is applied, the rest of it serves, and the gateway's log says which
// override waits.
func TestGraphQLOverrideWaits(t *testing.T) {
	logs := &testlog.Buffer{}
	g := startGateway(t, harnessOptions{server: []server.Option{server.WithLogger(slog.New(slog.NewJSONHandler(logs, nil)))}})
	spec := registry.Spec{Registrations: g.srv.Snapshot().Registrations()}
	specFromYAML(t, `
graphql:
  overrides:
    - {method: qa.other.v1.OtherService/GetOwner, name: otherOwner}
    - {method: shop.users.v1.UserService/GetUser, name: user}
`, g.shop, &spec)
	if _, err := g.srv.Apply(spec); err != nil {
		t.Fatalf("Apply = %v", err)
	}
	if sdl := g.srv.Snapshot().GraphQL().SDL(); !strings.Contains(sdl, "  user(id: String!): User\n") {
		t.Errorf("the override of GetUser does not apply:\n%.300s", sdl)
	}
	const want = "override of method qa.other.v1.OtherService/GetOwner: no registered service has that method"
	var found bool
	for line := range strings.Lines(logs.String()) {
		var e struct{ Level, Msg, Waiting string }
		if json.Unmarshal([]byte(line), &e) == nil && strings.HasPrefix(e.Msg, "GraphQL links and overrides wait") {
			found = e.Level == "WARN" && e.Waiting == want
		}
	}
	if !found {
		t.Errorf("the log does not warn that %q:\n%s", want, logs)
	}
}

// TestGraphQLPersistedProblems applies a config whose persisted operation does not validate
// against the schema: it is applied (a later schema may suit the operation), the log warns for the
// snapshot naming the operation and its error, and a call to it is the server's fault, INTERNAL
// (its REST route 500), not the client's. A reload that gives the schema what the operation uses
// serves it, without a warning.
func TestGraphQLPersistedProblems(t *testing.T) {
	logs := &testlog.Buffer{}
	g := startGateway(t, harnessOptions{server: []server.Option{server.WithLogger(slog.New(slog.NewJSONHandler(logs, nil)))}})
	const ops = `
graphql:
  persisted_operations:
    operations:
      - name: who
        document: "query Who($id: String!) { user(id: $id) { name } }"
        rest: {path: "/v1/who/{id}"}
`
	warnings := func() []string {
		var out []string
		for line := range strings.Lines(logs.String()) {
			var e struct{ Level, Msg, Operations string }
			if json.Unmarshal([]byte(line), &e) == nil && strings.HasPrefix(e.Msg, "GraphQL persisted operations do not validate") && e.Level == "WARN" {
				out = append(out, e.Operations)
			}
		}
		return out
	}
	spec := registry.Spec{Registrations: g.srv.Snapshot().Registrations()}
	specFromYAML(t, ops, g.shop, &spec)
	if _, err := g.srv.Apply(spec); err != nil {
		t.Fatalf("Apply = %v", err)
	}
	hash := config.PersistedOperation{Document: `query Who($id: String!) { user(id: $id) { name } }`}.Hash()
	want := `persisted operation who (sha256 ` + hash + `): Cannot query field "user" on type "Query". (line 1, column 27)`
	if w := warnings(); len(w) != 1 || w[0] != want {
		t.Errorf("warnings = %q, want [%q]", w, want)
	}
	resp, err := http.Get("http://" + g.addr + "/v1/who/1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), `"code":13`) {
		t.Errorf("GET /v1/who/1: %d %s, want 500 INTERNAL", resp.StatusCode, body)
	}

	specFromYAML(t, ops+`  overrides:
    - {method: shop.users.v1.UserService/GetUser, name: user}
`, g.shop, &spec)
	if _, err := g.srv.Apply(spec); err != nil {
		t.Fatalf("Apply = %v", err)
	}
	if w := warnings(); len(w) != 1 {
		t.Errorf("warnings after the reload = %q, want the first only", w)
	}
	resp, err = http.Get("http://" + g.addr + "/v1/who/1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != `{"user":{"name":"Ada Lovelace"}}` {
		t.Errorf("GET /v1/who/1 after the reload: %d %s", resp.StatusCode, body)
	}
}
