package waf_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protogate/gateway/config"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/internal/testlog"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/policy/policytest"
	"github.com/protogate/gateway/policies/waf"
	"github.com/protogate/gateway/transcoder"
)

// The rule set loads once per test binary: it takes about a second.
var (
	fw   *waf.Firewall
	logs testlog.Buffer
)

func TestMain(m *testing.M) {
	var err error
	fw, err = waf.New(config.WAF{Mode: "blocking"}, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// seen answers 200 with what the front would read of the body.
var seen = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Write(b)
})

// handler is the middleware of a snapshot whose every method has mode, the firewall told nothing
// else of a request.
func handler(mode string, front policy.Front) http.Handler {
	return fw.Middleware(modeOnly(mode))(front, seen)
}

// modeOnly tells the firewall a request's mode only.
func modeOnly(mode string) func(*http.Request, policy.Front) waf.Route {
	return func(*http.Request, policy.Front) waf.Route { return waf.Route{Mode: mode} }
}

// shopRouter is the example shop's REST router, as a snapshot compiles it.
var shopRouter = sync.OnceValues(func() (*transcoder.Router, error) {
	return transcoder.NewRouter([]protoreflect.ServiceDescriptor{
		catalogv1.File_shop_catalog_v1_catalog_proto.Services().Get(0),
		ordersv1.File_shop_orders_v1_orders_proto.Services().Get(0),
		usersv1.File_shop_users_v1_users_proto.Services().Get(0),
	})
})

// shopRoutes tells the firewall what a snapshot serving the shop, every method in mode, knows of a
// request: its mode and, for REST, the binding the shop's router finds for it.
func shopRoutes(t testing.TB, mode string) func(*http.Request, policy.Front) waf.Route {
	t.Helper()
	rt, err := shopRouter()
	if err != nil {
		t.Fatal(err)
	}
	return func(r *http.Request, front policy.Front) waf.Route {
		var p transcoder.Params
		if b, err := rt.MatchCall(r, &p); err == nil && front == policy.FrontREST {
			return waf.Route{Mode: mode, Binding: b}
		}
		return waf.Route{Mode: mode}
	}
}

// shopHandler is the middleware of a snapshot serving the shop, every method in mode.
func shopHandler(t testing.TB, mode string, front policy.Front) http.Handler {
	return fw.Middleware(shopRoutes(t, mode))(front, seen)
}

type probe struct {
	name, method, target, body string
	front                      policy.Front
}

func (p probe) request() *http.Request {
	var body io.Reader
	if p.body != "" {
		body = strings.NewReader(p.body)
	}
	r := httptest.NewRequest(p.method, p.target, body)
	r.Host = "shop.example.com"
	r.Header.Set("User-Agent", "shop-client/1.0")
	r.Header.Set("Accept", "application/json")
	if p.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

func (p probe) frontOr() policy.Front {
	if p.front == "" {
		return policy.FrontREST
	}
	return p.front
}

var attacks = []probe{
	{name: "sqli path segment", method: "GET", target: "/v1/users/" + url.PathEscape("1' OR '1'='1' --")},
	{name: "sqli query", method: "GET", target: "/v1/users?filter.name=" + url.QueryEscape("x' UNION SELECT password FROM users --")},
	{name: "xss query", method: "GET", target: "/v1/users?q=" + url.QueryEscape("<script>alert(document.cookie)</script>")},
	{name: "xss path segment", method: "GET", target: "/v1/users/" + url.PathEscape(`<img src=x onerror=alert(1)>`)},
	{name: "sqli json field", method: "POST", target: "/v1/orders", body: `{"userId": "1' OR 1=1 --", "items": []}`},
	{name: "xss json field", method: "POST", target: "/v1/users", body: `{"name": "<script>alert(1)</script>", "email": "a@example.com"}`},
	{name: "sqli no content type", method: "POST", target: "/v1/orders", body: "nocontenttype"},
	{name: "sqli graphql variables", method: "POST", target: "/graphql", front: policy.FrontGraphQL,
		body: `{"query": "query Get($id: ID!) { getUser(id: $id) { name } }", "variables": {"id": "1' UNION SELECT password FROM users --"}}`},
	{name: "xss graphql variables nested", method: "POST", target: "/graphql", front: policy.FrontGraphQL,
		body: `{"query": "mutation C($in: CreateUserInput!) { createUser(input: $in) { id } }", "variables": {"in": {"user": {"name": "<svg onload=alert(1)>"}}}}`},
	{name: "sqli graphql get variables", method: "GET", front: policy.FrontGraphQL,
		target: "/graphql?query=" + url.QueryEscape("query($id: ID!){getUser(id:$id){name}}") + "&variables=" + url.QueryEscape(`{"id":"1' OR '1'='1' --"}`)},
	{name: "sqli graphql inline document", method: "POST", target: "/graphql", front: policy.FrontGraphQL,
		body: `{"query": "{ getUser(id: \"1' UNION SELECT password FROM users --\") { name } }"}`},
	// String literals the GraphQL parser unescapes after inspection.
	{name: "sqli graphql escaped literal", method: "POST", target: "/graphql", front: policy.FrontGraphQL,
		body: `{"query": "{ getUser(id: \"1\\u0027 OR 1=1 --\") { name } }"}`},
	{name: "sqli graphql escaped literal, backslash escaped in json", method: "POST", target: "/graphql", front: policy.FrontGraphQL,
		body: `{"query": "{ getUser(id: \"1\u005cu0027 OR 1=1 --\") { name } }"}`},
	{name: "sqli graphql escaped variable default", method: "POST", target: "/graphql", front: policy.FrontGraphQL,
		body: `{"query": "query($id: String = \"1\\u0027 OR 1=1 --\") { getUser(id: $id) { name } }"}`},
	{name: "sqli graphql block string indented", method: "POST", target: "/graphql", front: policy.FrontGraphQL,
		body: `{"query": "{ getUser(id: \"\"\"\n      1'\n      OR 1=1 --\n    \"\"\") { name } }"}`},
	{name: "sqli graphql get escaped literal", method: "GET", front: policy.FrontGraphQL,
		target: "/graphql?query=" + url.QueryEscape(`{ getUser(id: "1\u0027 OR 1=1 --") { name } }`)},
}

type rpcStatus struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Type     string            `json:"@type"`
		Reason   string            `json:"reason"`
		Metadata map[string]string `json:"metadata"`
	} `json:"details"`
}

// refusal decodes a refusal's body into the google.rpc.Status it renders (policytest.Refusal).
func refusal(front policy.Front, body []byte) (rpcStatus, error) {
	var st rpcStatus
	return st, policytest.Refusal(front, body, &st)
}

func TestBlockingRefusesAttacks(t *testing.T) {
	for _, p := range attacks {
		t.Run(p.name, func(t *testing.T) {
			r := p.request()
			if p.name == "sqli no content type" {
				r = httptest.NewRequest("POST", p.target, strings.NewReader(`{"userId": "1' OR 1=1 --"}`))
			}
			w := httptest.NewRecorder()
			handler(waf.Blocking, p.frontOr()).ServeHTTP(w, r)
			st, err := refusal(p.frontOr(), w.Body.Bytes())
			if err != nil || w.Code != 403 || st.Code != 7 {
				t.Fatalf("got %d %s, want 403 PERMISSION_DENIED", w.Code, w.Body)
			}
			if len(st.Details) != 1 || st.Details[0].Reason != "WAF_BLOCKED" || !strings.Contains(st.Details[0].Metadata["ruleIds"], "949110") {
				t.Fatalf("details %+v, want an ErrorInfo WAF_BLOCKED with the rule ids", st.Details)
			}
			if !strings.Contains(st.Message, "(rule 9") {
				t.Errorf("message %q names no rule", st.Message)
			}
			t.Logf("%s: rules %s: %s", p.name, st.Details[0].Metadata["ruleIds"], st.Message)
		})
	}
}

// A refusal is named by the rule that detected something, not by the Core Rule Set's setup rules
// that matched first: a text/plain body is refused by 920420 ("content type is not allowed"), not
// 901340 ("Enabling body inspection").
func TestRefusalNamesTheDetectingRule(t *testing.T) {
	r := httptest.NewRequest("POST", "/v1/orders", strings.NewReader("hello"))
	r.Header.Set("Content-Type", "text/plain")
	r.Header.Set("User-Agent", "shop-client/1.0")
	r.Header.Set("Accept", "application/json")
	w := httptest.NewRecorder()
	handler(waf.Blocking, policy.FrontREST).ServeHTTP(w, r)
	st, err := refusal(policy.FrontREST, w.Body.Bytes())
	if err != nil || w.Code != 403 {
		t.Fatalf("got %d %s, want 403", w.Code, w.Body)
	}
	if !strings.Contains(st.Message, "(rule 920420)") {
		t.Errorf("message %q, want it to name rule 920420", st.Message)
	}
}

// An ordinary shop's requests pass, their bodies reaching the front unchanged: names with
// apostrophes, emails, free text, GraphQL documents with arguments and variables.
func TestOrdinaryRequestsPass(t *testing.T) {
	logs.Take()
	ok := []probe{
		{method: "GET", target: "/v1/users/1"},
		{method: "GET", target: "/v1/users?page_size=2&filter.role=ROLE_ADMIN"},
		{method: "GET", target: "/v1/users:batchGet?ids=1&ids=2"},
		{method: "GET", target: "/v1/users?filter.name=" + url.QueryEscape("O'Brien")},
		{method: "GET", target: "/v1/products/p1/inventory:watch"},
		{method: "DELETE", target: "/v1/users/1"},
		{method: "POST", target: "/v1/orders", body: `{"userId": "1", "items": [{"productId": "p1", "quantity": 2}]}`},
		{method: "POST", target: "/v1/users", body: `{"name": "Seán O'Brien", "email": "sean.obrien+shop@example.com", "nickname": "D'Arcy"}`},
		{method: "POST", target: "/v1/orders/o1:cancel", body: `{"reason": "changed my mind, it's too expensive - sorry! Order by Friday?"}`},
		{method: "PATCH", target: "/v1/users/1", body: `{"nickname": "Countess", "bio": "Mathematician & writer; 1815-1852. Loves select poems, e.g. \"The Raven\"."}`},
		{method: "POST", target: "/graphql", front: policy.FrontGraphQL,
			body: `{"query": "{ getUser(id: \"1\") { name orders { id status user { name } items { quantity product { name price { units } } } } } }"}`},
		{method: "POST", target: "/graphql", front: policy.FrontGraphQL,
			body: `{"query": "query Get($id: ID!) { getUser(id: $id) { name email } }", "variables": {"id": "1"}, "operationName": "Get"}`},
		{method: "POST", target: "/graphql", front: policy.FrontGraphQL,
			body: `{"query": "mutation { createOrder(userId: \"1\", items: [{productId: \"p1\", quantity: 2}]) { id } }"}`},
		{method: "GET", front: policy.FrontGraphQL,
			target: "/graphql?query=" + url.QueryEscape(`query($id: ID!){ getUser(id: $id) { name } }`) + "&variables=" + url.QueryEscape(`{"id":"1"}`)},
		{method: "POST", target: "/graphql", front: policy.FrontGraphQL,
			body: `{"query": "query Many($in: [ID!]!, $ne: String, $where: String) { batchGetUsers(ids: $in) { users { name } } }", "variables": {"in": ["1", "2"]}}`},
		// Escapes and block strings in string literals, each literal inspected on its own.
		{method: "POST", target: "/graphql", front: policy.FrontGraphQL,
			body: `{"query": "mutation { createUser(name: \"Se\\u00e1n O\\u0027Brien\", email: \"sean@example.com\", bio: \"\"\"\n    Mathematician & writer.\n    Quotes \\\"\"\" and select poems, e.g. \\\"The Raven\\\".\n  \"\"\") { id } }"}`},
		{method: "GET", front: policy.FrontGraphQL,
			target: "/graphql?query=" + url.QueryEscape(`query($id: ID = "caf\u00e9") { getUser(id: $id) { name } }`)},
	}
	for _, p := range ok {
		w := httptest.NewRecorder()
		handler(waf.Blocking, p.frontOr()).ServeHTTP(w, p.request())
		if w.Code != 200 || w.Body.String() != p.body {
			t.Errorf("%s %s %s: got %d %s, want 200 and the body unchanged", p.method, p.target, p.body, w.Code, w.Body)
		}
	}
	if l := logs.Take(); l != "" {
		t.Errorf("clean requests logged: %s", l)
	}
}

// The REST front reads a body without Content-Type as JSON; the firewall neither scores that as an
// anomaly nor lets such a body through uninspected (see "sqli no content type").
func TestJSONWithoutContentTypePasses(t *testing.T) {
	const body = `{"userId": "1", "items": [{"productId": "p1", "quantity": 2}]}`
	r := httptest.NewRequest("POST", "/v1/orders", strings.NewReader(body))
	r.Host = "10.0.0.7:8080" // a numeric Host scores a warning (920350) of its own
	w := httptest.NewRecorder()
	handler(waf.Blocking, policy.FrontREST).ServeHTTP(w, r)
	if w.Code != 200 || w.Body.String() != body {
		t.Fatalf("got %d %s, want 200", w.Code, w.Body)
	}
}

// curl sends "Expect: 100-continue" with a body over 1 MB; the server answers it before the
// firewall sees the request, so the rule set's restriction of the header does not apply to it.
func TestExpectContinuePasses(t *testing.T) {
	const body = `{"userId": "1", "items": [{"productId": "p1", "quantity": 2}]}`
	for _, front := range []policy.Front{policy.FrontREST, policy.FrontGraphQL} {
		r := httptest.NewRequest("POST", "/v1/orders", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Expect", "100-continue")
		w := httptest.NewRecorder()
		handler(waf.Blocking, front).ServeHTTP(w, r)
		if w.Code != 200 {
			t.Errorf("%s: got %d %s, want 200", front, w.Code, w.Body)
		}
	}
}

// In detection mode a matching request passes and is logged once, by its route's template and
// method, never by its path, query or body, which hold what the client sent.
func TestDetectionPassesAndLogsOnce(t *testing.T) {
	for _, tc := range []struct {
		p           probe
		route, rpc  string
		front, data string
	}{
		{attacks[4], "/v1/orders", "/shop.orders.v1.OrderService/CreateOrder", "rest", "OR 1=1"}, // SQL injection in a JSON field
		{probe{method: "GET", target: "/v1/products/" + url.PathEscape("1' UNION SELECT password FROM users--")},
			"/v1/products/{id}", "/shop.catalog.v1.CatalogService/GetProduct", "rest", "UNION"},
		{probe{method: "GET", target: "/v1/nothing/" + url.PathEscape("1' UNION SELECT password FROM users--")},
			"", "", "rest", "UNION"}, // no binding serves it: no route to name
		{attacks[7], "", "", "graphql", "UNION"},
	} {
		logs.Take()
		w := httptest.NewRecorder()
		p := tc.p
		shopHandler(t, waf.Detection, p.frontOr()).ServeHTTP(w, p.request())
		if w.Code != 200 || w.Body.String() != p.body {
			t.Fatalf("%s %s: detection mode: got %d %s, want the request passed on unchanged", p.method, p.target, w.Code, w.Body)
		}
		lines := strings.Split(strings.TrimSpace(logs.Take()), "\n")
		if len(lines) != 1 {
			t.Fatalf("%s %s: got %d log lines, want 1: %q", p.method, p.target, len(lines), lines)
		}
		var entry map[string]any
		if err := json.Unmarshal([]byte(lines[0]), &entry); err != nil {
			t.Fatal(err)
		}
		if entry["action"] != "detected" || entry["front"] != tc.front || entry["method"] != p.method || entry["rules"] == nil {
			t.Errorf("%s %s: log entry %s", p.method, p.target, lines[0])
		}
		if route, _ := entry["route"].(string); route != tc.route {
			t.Errorf("%s %s: route %q, want %q", p.method, p.target, route, tc.route)
		}
		if rpc, _ := entry["rpc"].(string); rpc != tc.rpc {
			t.Errorf("%s %s: rpc %q, want %q", p.method, p.target, rpc, tc.rpc)
		}
		if _, ok := entry["path"]; ok || strings.Contains(lines[0], tc.data) {
			t.Errorf("%s %s: the log line carries the request's data: %s", p.method, p.target, lines[0])
		}
	}
}

func TestOffAndOtherFrontsPass(t *testing.T) {
	p := attacks[0]
	for _, tc := range []struct {
		mode  string
		front policy.Front
	}{{waf.Off, policy.FrontREST}, {waf.Blocking, policy.FrontGRPCWeb}, {waf.Blocking, policy.FrontGRPC}} {
		w := httptest.NewRecorder()
		handler(tc.mode, tc.front).ServeHTTP(w, p.request())
		if w.Code != 200 {
			t.Errorf("mode %q front %s: got %d, want 200", tc.mode, tc.front, w.Code)
		}
	}
	var nilFW *waf.Firewall
	w := httptest.NewRecorder()
	nilFW.Middleware(modeOnly(waf.Blocking))(policy.FrontREST, seen).ServeHTTP(w, p.request())
	if w.Code != 200 {
		t.Errorf("a nil firewall refused: %d", w.Code)
	}
}

// A request whose mode is "" gets the waf section's mode (blocking for this firewall).
func TestEmptyModeIsTheSectionMode(t *testing.T) {
	w := httptest.NewRecorder()
	handler("", policy.FrontGraphQL).ServeHTTP(w, attacks[7].request())
	if w.Code != 403 {
		t.Fatalf("got %d, want 403 from the section's blocking mode", w.Code)
	}
}

func TestStrictest(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{{nil, "off"}, {[]string{"off", "detection"}, "detection"}, {[]string{"detection", "blocking", "off"}, "blocking"}} {
		if got := waf.Strictest(tc.in...); got != tc.want {
			t.Errorf("Strictest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A newline-delimited JSON body is a client stream: the firewall must hand it on as it arrives (a bidi
// client waits for the first answer before it sends more), so the front reads the first line while
// the client has sent nothing else.
func TestNDJSONStreamIsNotBuffered(t *testing.T) {
	pr, pw := io.Pipe()
	r := httptest.NewRequest("POST", "/v1/inventory:adjust", pr)
	r.Host = "shop.example.com"
	r.Header.Set("Content-Type", "application/x-ndjson")
	r.ContentLength = -1
	first := make(chan string, 1)
	front := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		line, err := bufioLine(r.Body)
		if err != nil {
			t.Error(err)
		}
		first <- line
		_, _ = io.Copy(io.Discard, r.Body)
	})
	h := fw.Middleware(modeOnly(waf.Blocking))(policy.FrontREST, front)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}()
	if _, err := io.WriteString(pw, `{"productId": "p1", "delta": 5}`+"\n"); err != nil {
		t.Fatal(err)
	}
	if got := <-first; got != `{"productId": "p1", "delta": 5}` {
		t.Errorf("first line %q", got)
	}
	pw.Close()
	<-done
}

// bufioLine reads one line from r, byte by byte so nothing past it is consumed.
func bufioLine(r io.Reader) (string, error) {
	var b strings.Builder
	one := make([]byte, 1)
	for {
		if _, err := r.Read(one); err != nil {
			return b.String(), err
		}
		if one[0] == '\n' {
			return b.String(), nil
		}
		b.WriteByte(one[0])
	}
}

// GraphQL documents name variables with "$" ($in, $ne, $where): rule 942290, which takes them for
// MongoDB operators, is removed for the query argument of /graphql and the paths below it, and of
// no other path: a REST route that merely begins with "/graphql" keeps it.
func TestGraphQLExclusionIsExact(t *testing.T) {
	doc := url.QueryEscape(`query Many($in: [ID!]!, $ne: String) { batchGetUsers(ids: $in) { users { name } } }`)
	for _, tc := range []struct {
		target string
		front  policy.Front
		want   int
	}{
		{"/graphql?query=" + doc, policy.FrontGraphQL, 200},
		{"/graphql/persisted?query=" + doc, policy.FrontGraphQL, 200},
		{"/graphqlx?query=" + doc, policy.FrontREST, 403},
		{"/v1/graphql?query=" + doc, policy.FrontREST, 403},
	} {
		w := httptest.NewRecorder()
		handler(waf.Blocking, tc.front).ServeHTTP(w, probe{method: "GET", target: tc.target}.request())
		if w.Code != tc.want {
			t.Errorf("%s: got %d %s, want %d", tc.target, w.Code, w.Body, tc.want)
			continue
		}
		if tc.want == 403 {
			if st, err := refusal(tc.front, w.Body.Bytes()); err != nil || !strings.Contains(st.Details[0].Metadata["ruleIds"], "942290") {
				t.Errorf("%s: refused by %+v (%v), want rule 942290", tc.target, st, err)
			}
		}
	}
}

// The GraphQL front also serves the REST routes of persisted operations, off the GraphQL endpoint
// (GET /v1/p/{text}): their path segments are arguments as a REST route's are, under the same names
// (path.2), so the same rules and exclusions apply to them, and a refusal is a google.rpc.Status, as
// the route's own errors are; the GraphQL endpoint's own path is no argument, as before.
func TestPersistedRoutePathSegments(t *testing.T) {
	sqli := url.PathEscape("1' OR 1=1 --")
	for _, tc := range []struct {
		target string
		front  policy.Front
		want   int
	}{
		{"/v1/p/" + sqli, policy.FrontREST, 403},
		{"/v1/p/" + sqli, policy.FrontGraphQL, 403},
		{"/v1/p/hello%20world", policy.FrontGraphQL, 200},
		{"/graphql/" + sqli, policy.FrontGraphQL, 200},
	} {
		w := httptest.NewRecorder()
		handler(waf.Blocking, tc.front).ServeHTTP(w, probe{method: "GET", target: tc.target}.request())
		if w.Code != tc.want {
			t.Errorf("%s %s: got %d %s, want %d", tc.front, tc.target, w.Code, w.Body, tc.want)
			continue
		}
		if tc.want == 403 {
			// Refused in REST's shape on both fronts: a persisted operation's route answers so.
			if st, err := refusal(policy.FrontREST, w.Body.Bytes()); err != nil || !strings.Contains(st.Message, "(rule 942100)") {
				t.Errorf("%s %s: refused by %+v (%v), want rule 942100", tc.front, tc.target, st, err)
			}
		}
	}

	// The same names: in detection mode, both fronts log the same matched variables.
	vars := func(front policy.Front) string {
		logs.Take()
		w := httptest.NewRecorder()
		handler(waf.Detection, front).ServeHTTP(w, probe{method: "GET", target: "/v1/p/" + sqli}.request())
		var line struct{ Variables []string }
		if err := json.Unmarshal([]byte(logs.Take()), &line); err != nil || w.Code != 200 {
			t.Fatalf("%s: %d, log line: %v", front, w.Code, err)
		}
		return strings.Join(line.Variables, " ")
	}
	rest, gql := vars(policy.FrontREST), vars(policy.FrontGraphQL)
	if !strings.Contains(rest, ":path.2") || gql != rest {
		t.Errorf("matched variables: REST %q, GraphQL front %q; want the same, path.2 among them", rest, gql)
	}
}

// A GraphQL document's string literals are inspected unescaped, each as an argument of its own
// named after the document's (json.query.literal.N in a body, query.literal.N in a GET): the log
// names the literal an attack hid in, and not its value.
func TestGraphQLLiteralsAreArguments(t *testing.T) {
	for _, tc := range []struct {
		p        probe
		variable string
	}{
		{probe{method: "POST", target: "/graphql", front: policy.FrontGraphQL,
			body: `{"query": "{ a: getUser(id: \"1\") { name } b: getUser(id: \"1\\u0027 OR 1=1 --\") { name } }"}`}, "ARGS:json.query.literal.1"},
		{probe{method: "GET", front: policy.FrontGraphQL,
			target: "/graphql?query=" + url.QueryEscape(`{ getUser(id: "1\u0027 OR 1=1 --") { name } }`)}, "ARGS:query.literal.0"},
	} {
		logs.Take()
		w := httptest.NewRecorder()
		handler(waf.Detection, policy.FrontGraphQL).ServeHTTP(w, tc.p.request())
		if w.Code != 200 {
			t.Fatalf("%s %s: detection mode answered %d", tc.p.method, tc.p.target, w.Code)
		}
		l := logs.Take()
		if !strings.Contains(l, `"`+tc.variable+`"`) {
			t.Errorf("%s %s: logged %s, want the variable %s", tc.p.method, tc.p.target, l, tc.variable)
		}
		if strings.Contains(l, "OR 1=1") {
			t.Errorf("the log line carries the literal: %s", l)
		}
	}
}

// The firewall parses a GraphQL GET's query string once for the request (policy.Query), and the
// front reads that parse rather than the string again: after the middleware, Query returns the
// very values the firewall inspected, even once the string has changed.
func TestGraphQLQueryStringParsedOnce(t *testing.T) {
	var got url.Values
	front := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.RawQuery = "query=%zz" // a second parse would fail
		q, err := policy.Query(r)
		if err != nil {
			t.Errorf("the front parsed the query string again: %v", err)
		}
		got = q
	})
	const doc = `query($id: ID!) { getUser(id: $id) { name } }`
	target := "/graphql?query=" + url.QueryEscape(doc) + "&variables=" + url.QueryEscape(`{"id":"1"}`)
	w := httptest.NewRecorder()
	fw.Middleware(modeOnly(waf.Blocking))(policy.FrontGraphQL, front).ServeHTTP(w, probe{method: "GET", target: target}.request())
	if w.Code != 200 || got.Get("query") != doc || got.Get("variables") != `{"id":"1"}` {
		t.Errorf("%d, the front read %v", w.Code, got)
	}
}

// Every Content-Type the REST front reads as JSON or NDJSON is inspected as such, and none is refused
// as a type the rule set does not list: the rules see the type the front reads the body as. (An
// NDJSON stream's messages are inspected one by one as the front reads them: TestStreamedMessages.)
func TestBodiesAsTheFrontReadsThem(t *testing.T) {
	logs.Take()
	for _, ct := range []string{"application/vnd.api+json", "application/problem+json; charset=utf-8",
		"application/jsonlines", "application/x-jsonlines", `application/json; charset="utf-8`} {
		body := `{"userId": "1", "items": [{"productId": "p1", "quantity": 2}]}`
		r := probe{method: "POST", target: "/v1/orders", body: body}.request()
		r.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		handler(waf.Blocking, policy.FrontREST).ServeHTTP(w, r)
		if w.Code != 200 {
			t.Errorf("%s, a clean body: %d %s, want 200", ct, w.Code, w.Body)
		}
		if transcoder.RequestBodyKind(ct) != transcoder.BodyJSON {
			continue
		}
		r = probe{method: "POST", target: "/v1/orders", body: `{"userId": "1' OR 1=1 --", "items": []}`}.request()
		r.Header.Set("Content-Type", ct)
		w = httptest.NewRecorder()
		handler(waf.Blocking, policy.FrontREST).ServeHTTP(w, r)
		if st, err := refusal(policy.FrontREST, w.Body.Bytes()); err != nil || w.Code != 403 || !strings.Contains(st.Details[0].Metadata["ruleIds"], "942") {
			t.Errorf("%s, an injection: %d %s, want 403 by the SQL injection rules", ct, w.Code, w.Body)
		}
	}
	logs.Take()
}

// The names of a GraphQL document (fields, aliases, fragments, operations, type conditions,
// variables) and an operationName that is a name are no attack, though the rules read many as one
// (md and ls are PowerShell aliases to 932125, whoami a Unix command to 932260, select SQL): the
// rules that detect attacks read the document's string literals, each as its own argument, and
// not its text. So documents named with such words pass, in a POST, a GET and a WebSocket
// operation, while an attack in a string literal, a variable's default, the variables or an
// operationName that is no name is refused as before.
func TestGraphQLNamesAreNoAttack(t *testing.T) {
	words := []string{"md", "ls", "cat", "echo", "type", "select", "union", "script", "whoami", "dir", "del",
		"mkdir", "cmd", "bash", "update", "passwd", "wget", "eval", "alert", "fetch", "javascript", "vbscript"}
	var clean []string
	for _, w := range words {
		clean = append(clean,
			`{ `+w+`: getUser(id: "1") { name } }`,
			`{ getUser(id: "1") { `+w+` `+w+`2: name } }`,
			`query `+w+`($`+w+`: ID!) @`+w+`(on: "x") { getUser(id: $`+w+`) { ...`+w+` ... on `+w+` { name } } } fragment `+w+` on `+w+` { `+w+` }`)
	}
	// A block string and an escape keep their literals inspected as the parser reads them.
	clean = append(clean, `{ md: getUser(id: """ls""") { cat: name echo: email } }`, `{ select: getUser(id: "caf\u00e9") { union } }`)
	post := func(doc, operationName string, variables map[string]any) *http.Request {
		body, err := json.Marshal(map[string]any{"query": doc, "operationName": operationName, "variables": variables})
		if err != nil {
			t.Fatal(err)
		}
		return probe{method: "POST", target: "/graphql", body: string(body)}.request()
	}
	get := func(doc, operationName string) *http.Request {
		q := url.Values{"query": {doc}, "operationName": {operationName}}
		return probe{method: "GET", target: "/graphql?" + q.Encode()}.request()
	}
	opName := func(doc string) string {
		if name, ok := strings.CutPrefix(doc, "query "); ok {
			name, _, _ = strings.Cut(name, "(")
			return name
		}
		return ""
	}
	in := inspectorOf(t, waf.Blocking, policy.FrontGraphQL, upgradeRequest("/graphql"))

	logs.Take()
	for _, doc := range clean {
		for _, r := range []*http.Request{post(doc, opName(doc), map[string]any{"ls": "1"}), get(doc, opName(doc))} {
			w := httptest.NewRecorder()
			handler(waf.Blocking, policy.FrontGraphQL).ServeHTTP(w, r)
			if w.Code != 200 {
				t.Errorf("%s %s: got %d %s, want 200", r.Method, doc, w.Code, w.Body)
			}
		}
		op, _ := json.Marshal(map[string]string{"query": doc, "operationName": opName(doc)})
		if err := in.InspectMessage(context.Background(), op); err != nil {
			t.Errorf("WebSocket %s: %v", doc, err)
		}
	}
	if l := logs.Take(); l != "" {
		t.Errorf("clean documents logged: %s", l)
	}

	const sqli, xss = "1' UNION SELECT password FROM users --", "<script>alert(document.cookie)</script>"
	for _, tc := range []struct {
		name string
		r    *http.Request
	}{
		{"sqli literal", post(`{ md: getUser(id: "`+sqli+`") { ls: name } }`, "", nil)},
		{"xss literal", post(`mutation { createUser(name: "`+xss+`", email: "a@example.com") { id } }`, "", nil)},
		{"sqli literal, get", get(`{ getUser(id: "`+sqli+`") { name } }`, "")},
		{"xss block string", post(`{ getUser(id: """`+xss+`""") { name } }`, "", nil)},
		{"sqli variable default", post(`query Q($id: ID = "`+sqli+`") { getUser(id: $id) { name } }`, "Q", nil)},
		{"sqli directive argument", post(`{ getUser(id: "1") @select(where: "`+sqli+`") { name } }`, "", nil)},
		{"sqli variables", post(`query Q($id: ID!) { getUser(id: $id) { name } }`, "Q", map[string]any{"id": sqli})},
		{"xss variables nested", post(`mutation C($in: CreateUserInput!) { createUser(input: $in) { id } }`, "C", map[string]any{"in": map[string]any{"name": xss}})},
		{"sqli operationName", post(`query Q { getUser(id: "1") { name } }`, sqli, nil)},
		{"xss operationName, get", get(`query Q { getUser(id: "1") { name } }`, xss)},
	} {
		w := httptest.NewRecorder()
		handler(waf.Blocking, policy.FrontGraphQL).ServeHTTP(w, tc.r)
		st, err := refusal(policy.FrontGraphQL, w.Body.Bytes())
		if err != nil || w.Code != 403 || len(st.Details) != 1 || !strings.Contains(st.Message, "(rule 94") {
			t.Errorf("%s: got %d %s, want 403 by the SQL injection or XSS rules", tc.name, w.Code, w.Body)
		}
	}
	op, _ := json.Marshal(map[string]string{"query": `{ md: getUser(id: "` + sqli + `") { name } }`})
	wantDenial(t, in.InspectMessage(context.Background(), op))
	logs.Take()
}
