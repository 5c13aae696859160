package server_test

import (
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/shop"
)

// wafGateway starts a gateway whose firewall blocks, counting the shop's calls by method.
func wafGateway(t *testing.T) (*gateway, *methodCalls) {
	t.Helper()
	calls := &methodCalls{n: make(map[string]int)}
	blocking := config.Policies{
		WAF:       config.WAF{Mode: "blocking", ExcludeRules: []int{920350}}, // clients call 127.0.0.1
		AccessLog: config.AccessLog{Output: "off"},
	}.Completed()
	g := startGateway(t, harnessOptions{
		shop:     shop.Options{OnCall: calls.onCall},
		policies: &blocking,
		server:   []server.Option{server.WithLogger(slog.New(slog.DiscardHandler))},
	})
	return g, calls
}

// A GraphQL string literal is unescaped by the GraphQL parser after the firewall has read the
// document: the firewall reads each literal unescaped too, so an injection hidden behind an escape
// is refused before GetUser is called, in a POST, a GET and an operation over a WebSocket, while an
// escaped literal that hides nothing is served.
func TestWAFGraphQLEscapedLiterals(t *testing.T) {
	g, calls := wafGateway(t)
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
