package resolvers_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/protogate/gateway/resolvers"
)

// TestRoutes serves persisted operations on REST routes: variables from the path, the query string
// (converted to the variable's type) and a JSON body; data on success; the error model on failure.
func TestRoutes(t *testing.T) {
	const dashboard = `query Dashboard($userId: String!, $pageSize: Int, $status: OrderStatus) {
  getUser(id: $userId) { name }
  listOrders(userId: $userId, pageSize: $pageSize, status: $status) { orders { id } }
}`
	const partial = `query Two($a: String!, $b: String!) { a: getUser(id: $a) { name } b: getUser(id: $b) { name } }`
	const one = `query One($id: String!) { getUser(id: $id) { name } }`
	const create = `mutation Create($userId: String!, $items: [LineItemInput!]) { createOrder(userId: $userId, items: $items) { userId } }`
	g := startGateway(t, setup{opts: resolvers.Options{
		PersistedOperations: map[string]string{sha(dashboard): dashboard, sha(partial): partial, sha(create): create, sha(one): one},
		PersistedOnly:       true,
		Routes: []resolvers.Route{
			{Path: "/v1/dashboard/{userId}", Operation: sha(dashboard)},
			{Path: "/v1/two/{a}/{b}", Operation: sha(partial)},
			{Path: "/v1/user/{id}", Operation: sha(one)},
			{Method: "POST", Path: "/v1/users/{userId}/orders", Operation: sha(create)},
		},
	}})
	h := g.handler.(*resolvers.Handler)
	serve := func(method, target, body string) (int, string) {
		t.Helper()
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		w := httptest.NewRecorder()
		if !h.ServeRoute(w, r) {
			return 0, ""
		}
		b, _ := io.ReadAll(w.Result().Body)
		return w.Code, string(b)
	}

	for _, tc := range []struct {
		method, target, body string
		code                 int
		want                 string
	}{
		{"GET", "/v1/dashboard/1?pageSize=1", "", 200, `{"getUser":{"name":"Ada Lovelace"},"listOrders":{"orders":[{"id":"o`},
		{"GET", "/v1/dashboard/1?pageSize=1&status=ORDER_STATUS_SHIPPED", "", 200, `"listOrders":{"orders":[`},
		{"GET", "/v1/dashboard/99", "", 200, `{"data":{"getUser":null,"listOrders":{"orders":[]}},"errors":[{"message":"user \"99\" not found"`},
		{"GET", "/v1/dashboard/1?pageSize=many", "", 400, `{"code":3,"message":"pageSize: \"many\" is not a valid Int","details":[]}`},
		{"GET", "/v1/dashboard/1?status=NOPE", "", 400, `"code":3`},
		{"GET", "/v1/user/99", "", 404, `{"code":5,"message":"user \"99\" not found","details":[{"@type":"type.googleapis.com/google.rpc.ResourceInfo"`},
		{"GET", "/v1/two/1/99", "", 200, `{"data":{"a":{"name":"Ada Lovelace"},"b":null},"errors":[{"message":"user \"99\" not found"`},
		{"POST", "/v1/users/1/orders", `{"items":[{"productId":"p1","quantity":2}]}`, 200, `{"createOrder":{"userId":"1"}}`},
		{"POST", "/v1/users/1/orders", `[1]`, 400, `the body must be a JSON object`},
	} {
		code, body := serve(tc.method, tc.target, tc.body)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s: %d %s\nwant %d with %s", tc.method, tc.target, code, body, tc.code, tc.want)
		}
	}
	for _, miss := range []struct{ method, target string }{
		{"GET", "/v1/dashboard"}, {"GET", "/v1/dashboard/1/more"}, {"GET", "/v1/dashboard/"}, {"POST", "/v1/users/1/orders/x"},
	} {
		if code, _ := serve(miss.method, miss.target, ""); code != 0 || h.HasRoute(miss.method, miss.target) || h.RouteMethods(miss.target) != nil {
			t.Errorf("%s %s was served as a route", miss.method, miss.target)
		}
	}
	// A route's path with a method no route of the path takes: 405, naming the methods that do.
	for _, tc := range []struct{ method, target, allow string }{
		{"POST", "/v1/dashboard/1", "GET"}, {"DELETE", "/v1/dashboard/1", "GET"}, {"GET", "/v1/users/1/orders", "POST"},
	} {
		r := httptest.NewRequest(tc.method, tc.target, nil)
		w := httptest.NewRecorder()
		want := `{"code":12,"message":"method ` + tc.method + ` is not allowed on ` + tc.target + ` (allowed: ` + tc.allow + `)","details":[]}`
		if !h.ServeRoute(w, r) || w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != tc.allow || w.Body.String() != want {
			t.Errorf("%s %s: %d Allow %q %s; want 405 Allow %q %s", tc.method, tc.target, w.Code, w.Header().Get("Allow"), w.Body, tc.allow, want)
		}
		if h.HasRoute(tc.method, tc.target) || strings.Join(h.RouteMethods(tc.target), ", ") != tc.allow {
			t.Errorf("%s %s: HasRoute true or RouteMethods %q, want false and %s", tc.method, tc.target, h.RouteMethods(tc.target), tc.allow)
		}
	}
	// HEAD is served as GET, as the REST front serves it.
	if code, _ := serve("HEAD", "/v1/user/1", ""); code != http.StatusOK || !h.HasRoute("HEAD", "/v1/user/1") {
		t.Errorf("HEAD /v1/user/1: %d, want 200 as for GET", code)
	}
}

// TestRouteNumbers gives a route's 64-bit integers in its body, its query and its path: each
// arrives exact, as it does on /graphql, where numbers keep their text.
func TestRouteNumbers(t *testing.T) {
	const put = `query Put($s: String, $n: Int64, $l: [Int64!]) { echo(s: $s, i64: $n, list: $l) { s i64 list } }`
	g := startEvery(t, resolvers.Options{
		PersistedOperations: map[string]string{sha(put): put},
		Routes:              []resolvers.Route{{Method: "POST", Path: "/v1/put/{s}", Operation: sha(put)}, {Method: "POST", Path: "/v1/put/{s}/{n}", Operation: sha(put)}},
	})
	h := g.handler.(*resolvers.Handler)
	for _, tc := range []struct{ target, body, want string }{
		{"/v1/put/k1", `{"n": 12345678901234567}`, `{"echo":{"s":"k1","i64":"12345678901234567","list":[]}}`},
		{"/v1/put/k1", ` {"n": 9223372036854775807, "l": [-9223372036854775808, 9007199254740993]}` + "\n", `{"echo":{"s":"k1","i64":"9223372036854775807","list":["-9223372036854775808","9007199254740993"]}}`},
		{"/v1/put/k1?n=9223372036854775807&l=9007199254740993", ``, `{"echo":{"s":"k1","i64":"9223372036854775807","list":["9007199254740993"]}}`},
		{"/v1/put/k1/12345678901234567", `null`, `{"echo":{"s":"k1","i64":"12345678901234567","list":[]}}`},
		{"/v1/put/k1", `{"n": 1.5}`, `{"code":3,"message":"variable $n: invalid Int64: \"1.5\" is not an integer in range"`},
		{"/v1/put/k1/0x1p4", ``, `{"code":3,"message":"variable $n: invalid Int64: \"0x1p4\" is not an integer in range"`},
		{"/v1/put/k1?n=1_0", ``, `{"code":3,"message":"variable $n: invalid Int64: \"1_0\" is not an integer in range"`},
		{"/v1/put/k1/12345678901234567.0", ``, `{"echo":{"s":"k1","i64":"12345678901234567","list":[]}}`},
		{"/v1/put/k1", `{"n": 1} {"n": 2}`, `{"code":3,"message":"the body must be a JSON object of the operation's variables"`},
	} {
		w := httptest.NewRecorder()
		if !h.ServeRoute(w, httptest.NewRequest("POST", tc.target, strings.NewReader(tc.body))) || !strings.HasPrefix(w.Body.String(), tc.want) {
			t.Errorf("POST %s %s: %d %s\nwant %s", tc.target, tc.body, w.Code, w.Body, tc.want)
		}
	}
}

// TestRouteQueryValues reads a route's query parameters as the REST front reads them: a variable
// that is not a list takes one value (a parameter given twice is refused, not its last value
// taken), a Float is a decimal number (not Go's hex or '_' literals, not NaN or an infinity, which
// GraphQL's Float cannot be), a Boolean what the REST front takes for a bool.
func TestRouteQueryValues(t *testing.T) {
	const get = `query F($d: Float, $i: Int64, $b: Boolean, $l: [Int64!]) { echo(d: $d, i64: $i, b: $b, list: $l) { d i64 b list } }`
	g := startEvery(t, resolvers.Options{
		PersistedOperations: map[string]string{sha(get): get},
		Routes:              []resolvers.Route{{Path: "/v1/fq", Operation: sha(get)}},
	})
	h := g.handler.(*resolvers.Handler)
	for _, tc := range []struct {
		query string
		code  int
		want  string
	}{
		{"d=2.5&i=-3&l=1&l=2", 200, `{"echo":{"d":2.5,"i64":"-3","b":false,"list":["1","2"]}}`},
		{"d=2.5&d=3", 400, `{"code":3,"message":"d: the query parameter is given 2 times, but $d (Float) takes one value","details":[]}`},
		{"i=1&i=2", 400, `{"code":3,"message":"i: the query parameter is given 2 times, but $i (Int64) takes one value","details":[]}`},
		{"d=0x1p3", 400, `{"code":3,"message":"d: \"0x1p3\" is not a valid Float","details":[]}`},
		{"d=1_0", 400, `"message":"d: \"1_0\" is not a valid Float"`},
		{"d=NaN", 400, `"message":"d: \"NaN\" is not a valid Float"`},
		{"d=inf", 400, `"message":"d: \"inf\" is not a valid Float"`},
		{"d=1e3", 200, `{"echo":{"d":1000,`},
		{"b=true", 200, `"b":true`},
		{"b=1", 200, `"b":true`},
		{"b=t", 200, `"b":true`},
		{"b=F", 200, `"b":false`},
		{"b=yes", 400, `"message":"b: \"yes\" is not a valid Boolean"`},
		{"b=true&b=true", 400, `"message":"b: the query parameter is given 2 times`},
	} {
		w := httptest.NewRecorder()
		if !h.ServeRoute(w, httptest.NewRequest("GET", "/v1/fq?"+tc.query, nil)) || w.Code != tc.code || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("GET /v1/fq?%s: %d %s\nwant %d with %s", tc.query, w.Code, w.Body, tc.code, tc.want)
		}
	}
}

func TestRoutesRefused(t *testing.T) {
	const doc = `query Q($id: String!) { getUser(id: $id) { name } }`
	const sub = `subscription { watchInventory(id: "p1") { stock } }`
	const two = `query A { getUser(id: "1") { name } } query B { getUser(id: "2") { name } }`
	g := startGateway(t, setup{})
	for _, tc := range []struct {
		route resolvers.Route
		want  string
	}{
		{resolvers.Route{Path: "/v1/q/{id}", Operation: sha("other")}, "is not a persisted operation"},
		{resolvers.Route{Path: "/v1/q/{nope}", Operation: sha(doc)}, "{nope} is not a variable of the operation"},
		{resolvers.Route{Path: "v1/q", Operation: sha(doc)}, "must start with /"},
		{resolvers.Route{Path: "/v1//q", Operation: sha(doc)}, "empty segment"},
		{resolvers.Route{Path: "/v1/q{id}", Operation: sha(doc)}, "a literal segment holds"},
		{resolvers.Route{Method: "TRACE", Path: "/v1/q", Operation: sha(doc)}, "is not GET"},
		{resolvers.Route{Path: "/v1/w", Operation: sha(sub)}, "a subscription cannot be a REST route"},
		{resolvers.Route{Path: "/v1/two", Operation: sha(two)}, "several operations"},
		{resolvers.Route{Path: "/v1/two", Operation: sha(two), OperationName: "C"}, `no operation "C"`},
	} {
		opts := resolvers.Options{
			PersistedOperations: map[string]string{sha(doc): doc, sha(sub): sub, sha(two): two},
			Routes:              []resolvers.Route{tc.route},
		}
		if _, err := resolvers.NewHandler(g.schema, nopCaller{}, opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("route %+v: err = %v, want %q", tc.route, err, tc.want)
		}
	}
	opts := resolvers.Options{
		PersistedOperations: map[string]string{sha(doc): doc},
		Routes:              []resolvers.Route{{Path: "/v1/q/{id}", Operation: sha(doc)}, {Method: "get", Path: "/v1/q/{id}", Operation: sha(doc)}},
	}
	if _, err := resolvers.NewHandler(g.schema, nopCaller{}, opts); err == nil || !strings.Contains(err.Error(), "bound twice") {
		t.Errorf("a route bound twice: err = %v", err)
	}
}

var _ http.Handler = (*resolvers.Handler)(nil)
