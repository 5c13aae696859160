package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/shop"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/internal/testlog"
	"github.com/protogate/gateway/registry"
)

// wafPolicies are wafGateway's policies: the firewall blocking, no access log.
func wafPolicies() config.Policies {
	return config.Policies{
		WAF:       config.WAF{Mode: "blocking", ExcludeRules: []int{920350}}, // clients call 127.0.0.1
		AccessLog: config.AccessLog{Output: "off"},
	}.Completed()
}

// wafGateway starts a gateway whose firewall blocks, counting the shop's calls by method and
// logging to logs (nil: nowhere).
func wafGateway(t *testing.T, logs io.Writer) (*gateway, *methodCounter) {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	calls := &methodCounter{}
	blocking := wafPolicies()
	g := startGateway(t, harnessOptions{
		shop:     shop.Options{OnCall: calls.onCall},
		policies: &blocking,
		server:   []server.Option{server.WithLogger(slog.New(slog.NewJSONHandler(logs, nil)))},
	})
	return g, calls
}

// A GraphQL string literal is unescaped by the GraphQL parser after the firewall has read the
// document: the firewall reads each literal unescaped too, so an injection hidden behind an escape
// is refused before GetUser is called, in a POST, a GET and an operation over a WebSocket, while an
// escaped literal that hides nothing is served.
func TestWAFGraphQLEscapedLiterals(t *testing.T) {
	g, calls := wafGateway(t, nil)
	rest := newRESTClient(g)
	const getUser = "/shop.users.v1.UserService/GetUser"
	const hidden = `{ getUser(id: "1\u0027 OR 1=1 --") { name } }`
	post := func(doc string) restResponse {
		body, _ := json.Marshal(map[string]string{"query": doc})
		return rest.do(t, "POST", "/graphql", string(body))
	}
	wantRefused := func(t *testing.T, r restResponse) {
		t.Helper()
		if r.status != 403 || !strings.Contains(string(r.body), `"PERMISSION_DENIED"`) || !strings.Contains(string(r.body), "WAF_BLOCKED") {
			t.Fatalf("HTTP %d %s, want the firewall's 403", r.status, r.body)
		}
	}

	before := calls.count(getUser)
	t.Run("post", func(t *testing.T) { wantRefused(t, post(hidden)) })
	t.Run("post, variable default", func(t *testing.T) {
		wantRefused(t, post(`query($id: String = "1\u0027 OR 1=1 --") { getUser(id: $id) { name } }`))
	})
	t.Run("get", func(t *testing.T) { wantRefused(t, rest.do(t, "GET", "/graphql?query="+url.QueryEscape(hidden), "")) })
	t.Run("websocket", func(t *testing.T) {
		ws := dialGraphQLWS(t, testContext(t), g)
		if m := ws.subscribe("1", hidden, nil); m.Type != "error" || !strings.Contains(string(m.Payload), "WAF_BLOCKED") {
			t.Fatalf("got %s %s, want the firewall's error message", m.Type, m.Payload)
		}
	})
	if n := calls.count(getUser) - before; n != 0 {
		t.Errorf("GetUser called %d times by refused documents", n)
	}

	t.Run("clean escapes pass", func(t *testing.T) {
		r := post(`{ getUser(id: "\u0031") { name } }`)
		if r.status != 200 || !contains(t, r.body, `{"data":{"getUser":{"name":"Ada Lovelace"}}}`) {
			t.Fatalf("HTTP %d %s, want Ada", r.status, r.body)
		}
	})
}

// A REST body in binary protobuf is inspected as the JSON the REST front reads as the same message:
// a user whose encoding holds zero bytes is created, as its JSON twin is, and an injection in one of
// its string fields is refused before CreateUser is called.
func TestWAFProtobufBodies(t *testing.T) {
	g, calls := wafGateway(t, nil)
	rest := newRESTClient(g)
	const createUser = "/shop.users.v1.UserService/CreateUser"
	post := func(t *testing.T, u *usersv1.User) restResponse {
		t.Helper()
		body, err := proto.Marshal(u)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(body, []byte{0}) {
			t.Fatal("the body holds no zero byte")
		}
		return rest.do(t, "POST", "/v1/users", string(body), "Content-Type", "application/x-protobuf")
	}

	t.Run("clean", func(t *testing.T) {
		r := post(t, &usersv1.User{Name: "Mary Somerville", Email: "mary.somerville@example.com", Tags: []string{"navy", ""}, Nickname: wrapperspb.String("")})
		if r.status != 200 || !contains(t, r.body, `{"name":"Mary Somerville","tags":["navy",""]}`) {
			t.Fatalf("HTTP %d %s, want the user created", r.status, r.body)
		}
	})
	t.Run("injection", func(t *testing.T) {
		before := calls.count(createUser)
		r := post(t, &usersv1.User{Name: "1' OR 1=1 --", Email: "mary@example.com", Tags: []string{""}})
		if r.status != 403 || !strings.Contains(string(r.body), "WAF_BLOCKED") || !strings.Contains(string(r.body), "rule 942100") {
			t.Fatalf("HTTP %d %s, want the firewall's 403 (942100)", r.status, r.body)
		}
		if calls.count(createUser) != before {
			t.Error("the refused body reached CreateUser")
		}
	})
}

// A persisted operation's REST route, which the GraphQL front serves, has its path variables inspected
// as a REST route's path segments are: an injection in one is refused before the operation calls
// GetUser (as the same value in a query parameter is), while a clean value is served, and so is the
// GraphQL endpoint.
func TestWAFPersistedRoutePath(t *testing.T) {
	calls := &methodCounter{}
	blocking := wafPolicies()
	g := startGateway(t, harnessOptions{shop: shop.Options{OnCall: calls.onCall}, spec: func(spec *registry.Spec, sh *shop.Shop) {
		specFromYAML(t, `
graphql:
  persisted_operations:
    operations:
      - name: user
        document: |
          query User($text: String!) { getUser(id: $text) { name } }
        rest: {method: GET, path: "/v1/p/{text}"}
`, sh, spec)
		spec.Policies = blocking
	}})
	rest := newRESTClient(g)
	const getUser = "/shop.users.v1.UserService/GetUser"

	for _, target := range []string{"/v1/p/1%27%20OR%201%3D1%20--", "/v1/p/1?text=1%27%20OR%201%3D1%20--"} {
		before := calls.count(getUser)
		r := rest.do(t, "GET", target, "")
		if r.status != 403 || !strings.Contains(string(r.body), "WAF_BLOCKED") || !strings.Contains(string(r.body), "rule 942100") {
			t.Errorf("GET %s: HTTP %d %s, want the firewall's 403 (942100)", target, r.status, r.body)
		}
		if !strings.HasPrefix(string(r.body), `{"code":7,`) { // a google.rpc.Status, as the route's own errors
			t.Errorf("GET %s: %s, want a google.rpc.Status body", target, r.body)
		}
		if calls.count(getUser) != before {
			t.Errorf("GET %s: the refused request reached GetUser", target)
		}
	}
	if r := rest.do(t, "GET", "/v1/p/1", ""); r.status != 200 || string(r.body) != `{"getUser":{"name":"Ada Lovelace"}}` {
		t.Errorf("GET /v1/p/1: HTTP %d %s, want Ada", r.status, r.body)
	}
	if r := rest.do(t, "POST", "/graphql", `{"query": "{ getUser(id: \"1\") { name } }"}`); r.status != 200 || !contains(t, r.body, `{"data":{"getUser":{"name":"Ada Lovelace"}}}`) {
		t.Errorf("POST /graphql: HTTP %d %s, want Ada", r.status, r.body)
	}
}

// The firewall's log line names what a refused request calls by its route's template and method,
// never by its path, which holds what the client sent.
func TestWAFLogHoldsNoValues(t *testing.T) {
	logs := &testlog.Buffer{}
	g, _ := wafGateway(t, logs)
	r := newRESTClient(g).do(t, "GET", "/v1/products/"+url.PathEscape("1' UNION SELECT password FROM users--"), "")
	if r.status != 403 {
		t.Fatalf("HTTP %d %s, want 403", r.status, r.body)
	}
	var found bool
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var e wafEntry
		if json.Unmarshal([]byte(line), &e) != nil || e.Msg != "waf: request matched rules" {
			continue
		}
		found = true
		if e.Action != "blocked" || e.Route != "/v1/products/{id}" || e.RPC != "/shop.catalog.v1.CatalogService/GetProduct" ||
			e.Path != nil || strings.Contains(line, "UNION") {
			t.Errorf("log line %s, want the route and method and nothing the client sent", line)
		}
	}
	if !found {
		t.Errorf("no log line of the firewall's in %s", logs.String())
	}
}

// A REST request refused by the firewall or the input limits, before the front matched it, is
// logged with the method and the route its path binds to, as an admitted one is.
func TestRefusedRESTRequestsLoggedWithRoute(t *testing.T) {
	pol := wafPolicies()
	pol.Limits.MaxBodyBytes = 1024
	access := &testlog.Buffer{}
	g := startGateway(t, harnessOptions{policies: &pol, server: []server.Option{server.WithAccessLogWriter(access)}})
	rest := newRESTClient(g)
	if r := rest.do(t, "GET", "/v1/users/1%27%20OR%201=1--", ""); r.status != http.StatusForbidden {
		t.Fatalf("the firewall's probe: %d %s", r.status, r.body)
	}
	if r := rest.do(t, "POST", "/v1/users", `{"name":"`+strings.Repeat("a", 2048)+`"}`); r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("an oversized body: %d %s", r.status, r.body)
	}
	g.stop(t) // flushes the access log
	want := map[string]string{"waf": "/v1/users/{id}", "limits": "/v1/users"}
	for line := range strings.Lines(access.String()) {
		var e struct {
			Method, Route string
			DeniedBy      string `json:"denied_by"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("access log line %q: %v", line, err)
		}
		if route, ok := want[e.DeniedBy]; ok {
			if e.Route != route || e.Method == "" {
				t.Errorf("refused by %s: method %q route %q, want route %s", e.DeniedBy, e.Method, e.Route, route)
			}
			delete(want, e.DeniedBy)
		}
	}
	if len(want) > 0 {
		t.Errorf("no access log line of a refusal by %v:\n%s", want, access.String())
	}
}

// TestWAFMalformedBody: a body that is not valid HTTP framing (a bad chunk size) is the client's
// error, 400 on REST and GraphQL alike, as without the firewall; not a 500.
func TestWAFMalformedBody(t *testing.T) {
	g, _ := wafGateway(t, nil)
	for _, target := range []string{"PATCH /v1/users/1", "POST /graphql"} {
		conn, err := net.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		_, err = fmt.Fprintf(conn, "%s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n", target)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "chunk") {
			t.Errorf("%s with a bad chunk size: %d %s, want 400 naming the chunk", target, resp.StatusCode, body)
		}
	}
}
