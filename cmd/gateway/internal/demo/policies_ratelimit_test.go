package demo_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/grpc/peer"

	"github.com/protogate/gateway/cmd/gateway/internal/demo"
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/cors"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/ratelimit"
)

// TestDemoRateLimit: the demo's GetProduct takes 20 calls per second from one client, then refuses.
func TestDemoRateLimit(t *testing.T) {
	const getProduct = "/shop.catalog.v1.CatalogService/GetProduct"
	p := demo.Policies()
	var rule *config.PolicyRule
	for i := range p.Rules {
		if r := &p.Rules[i]; r.RateLimit.Enabled() && r.Match.Matches(getProduct) {
			rule = r
			break
		}
	}
	if rule == nil {
		t.Fatal("no demo rule limits GetProduct")
	}
	now := time.Unix(1_800_000_000, 0)
	l, err := ratelimit.New(p.RateLimit, ratelimit.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, err := l.Step(rule.Name, rule.RateLimit, p.RateLimit.HeaderFields)
	if err != nil || s == nil {
		t.Fatal(s, err)
	}
	c := &policy.Call{Ctx: context.Background(), Method: getProduct, Cost: 1,
		Peer: &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}}}
	for i := range 20 {
		if err := s.Admit(c); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	if s.Admit(c) == nil {
		t.Error("the 21st call within a second was admitted")
	}
}

// TestDemoCORS: a page on any localhost port may call the gateway's fronts.
func TestDemoCORS(t *testing.T) {
	mw, err := cors.New(demo.Policies().CORS)
	if err != nil || mw == nil {
		t.Fatal(mw, err)
	}
	h := mw(policy.FrontGRPCWeb, http.NotFoundHandler())
	for origin, want := range map[string]int{"http://localhost:5173": 204, "http://127.0.0.1:3000": 204, "https://example.com": 403} {
		r := httptest.NewRequest(http.MethodOptions, "/shop.catalog.v1.CatalogService/GetProduct", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		r.Header.Set("Access-Control-Request-Headers", "content-type,x-grpc-web,x-user-agent")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("preflight from %s: %d, want %d", origin, w.Code, want)
		}
	}
}
