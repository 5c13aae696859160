package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"
	"google.golang.org/grpc/metadata"

	"github.com/protogate/gateway/examples/shop"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/routing"
)

// startShop starts the example shop with opts, stopped when the test ends.
func startShop(t *testing.T, opts shop.Options) *shop.Shop {
	t.Helper()
	s, err := shop.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// canaryRoute adds to a spec a cluster of the users endpoint addr and a route sending the users
// service's calls with x-canary: always there.
func canaryRoute(addr string) func(*registry.Spec, *shop.Shop) {
	return func(spec *registry.Spec, _ *shop.Shop) {
		spec.Clusters = append(spec.Clusters, registry.ClusterSpec{Name: "users-canary", Endpoints: []string{addr}})
		spec.Routes = append(spec.Routes, registry.RouteSpec{
			Name: "testers",
			Match: routing.Match{
				Prefix:  "/shop.users.v1.UserService/",
				Headers: []routing.HeaderMatch{{Name: "x-canary", Exact: "always"}},
			},
			Clusters: []registry.WeightedCluster{{Name: "users-canary", Weight: 1}},
		})
	}
}

// canaryShop starts a second users backend and counts the calls it serves.
func canaryShop(t *testing.T) (*shop.Shop, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	return startShop(t, shop.Options{OnCall: func(context.Context, string) { calls.Add(1) }}), &calls
}

func TestHeaderRouting(t *testing.T) {
	canary, canaryCalls := canaryShop(t)
	var stableCalls atomic.Int64
	g := startGateway(t, harnessOptions{
		shop: shop.Options{OnCall: func(context.Context, string) { stableCalls.Add(1) }},
		spec: canaryRoute(canary.Addr("users")),
	})
	client := usersv1.NewUserServiceClient(g.conn)
	for range 10 {
		if _, err := client.GetUser(metadata.AppendToOutgoingContext(testContext(t), "x-canary", "always"), &usersv1.GetUserRequest{Id: "1"}); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		if _, err := client.GetUser(metadata.AppendToOutgoingContext(testContext(t), "x-canary", "never"), &usersv1.GetUserRequest{Id: "1"}); err != nil {
			t.Fatal(err)
		}
	}
	if c, s := canaryCalls.Load(), stableCalls.Load(); c != 10 || s != 10 {
		t.Fatalf("canary served %d and stable %d calls; want 10 each (header x-canary: always -> canary)", c, s)
	}
}

func TestWeightedSplit(t *testing.T) {
	canary, canaryCalls := canaryShop(t)
	var stableCalls atomic.Int64
	g := startGateway(t, harnessOptions{
		shop: shop.Options{OnCall: func(context.Context, string) { stableCalls.Add(1) }},
		spec: func(spec *registry.Spec, _ *shop.Shop) {
			spec.Clusters = append(spec.Clusters, registry.ClusterSpec{Name: "users-canary", Endpoints: []string{canary.Addr("users")}})
			spec.Routes = append(spec.Routes, registry.RouteSpec{
				Name:  "split",
				Match: routing.Match{Prefix: "/shop.users.v1.UserService/"},
				Clusters: []registry.WeightedCluster{
					{Name: "users", Weight: 80},
					{Name: "users-canary", Weight: 20},
				},
			})
		},
	})
	const n = 2000
	client := usersv1.NewUserServiceClient(g.conn)
	for range n {
		if _, err := client.GetUser(testContext(t), &usersv1.GetUserRequest{Id: "1"}); err != nil {
			t.Fatal(err)
		}
	}
	// Binomial(n, 0.2): mean 400, sd ~17.9. Six standard deviations make a false failure
	// astronomically unlikely while a broken split (e.g. 50/50 or 0/100) still fails.
	c := float64(canaryCalls.Load())
	mean, sd := n*0.2, math.Sqrt(n*0.2*0.8)
	if math.Abs(c-mean) > 6*sd || canaryCalls.Load()+stableCalls.Load() != n {
		t.Fatalf("canary served %v of %d calls, stable %d; want about %v (20%%)", c, n, stableCalls.Load(), mean)
	}
}

// userCalls counts the calls of UserService one shop serves.
type userCalls struct{ n atomic.Int64 }

func (c *userCalls) onCall(_ context.Context, method string) {
	if strings.HasPrefix(method, "/shop.users.v1.UserService/") {
		c.n.Add(1)
	}
}

// frontCall makes one GetUser call of user "1" through one front, with the request headers h (name,
// value pairs), and fails the test unless it succeeds.
type frontCall func(t *testing.T, g *gateway, h ...string)

// userFronts are the ways a client can call GetUser through the gateway. Over GraphQL's WebSocket
// the headers go either on the upgrade request or in the connection_init payload.
var userFronts = []struct {
	name string
	call frontCall
}{
	{"grpc", func(t *testing.T, g *gateway, h ...string) {
		t.Helper()
		ctx := testContext(t)
		if len(h) > 0 {
			ctx = metadata.AppendToOutgoingContext(ctx, lowerPairs(h)...)
		}
		if _, err := usersv1.NewUserServiceClient(g.conn).GetUser(ctx, &usersv1.GetUserRequest{Id: "1"}); err != nil {
			t.Fatal(err)
		}
	}},
	{"grpc-web", func(t *testing.T, g *gateway, h ...string) {
		t.Helper()
		header := http.Header{}
		for i := 0; i+1 < len(h); i += 2 {
			header.Set(h[i], h[i+1])
		}
		resp, r := grpcWebCall(t, g.addr, "/shop.users.v1.UserService/GetUser", &usersv1.GetUserRequest{Id: "1"}, false, header)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("gRPC-Web: HTTP %d", resp.StatusCode)
		}
		for {
			if f := readWebFrame(t, r); f.trailer {
				if !strings.Contains(string(f.data), "grpc-status: 0\r\n") {
					t.Fatalf("gRPC-Web trailer %q", f.data)
				}
				return
			}
		}
	}},
	{"rest", func(t *testing.T, g *gateway, h ...string) {
		t.Helper()
		if r := newRESTClient(g).do(t, http.MethodGet, "/v1/users/1", "", h...); r.status != http.StatusOK {
			t.Fatalf("REST: HTTP %d %s", r.status, r.body)
		}
	}},
	{"graphql", func(t *testing.T, g *gateway, h ...string) {
		t.Helper()
		r := newRESTClient(g).do(t, http.MethodPost, "/graphql", `{"query": "{ getUser(id: \"1\") { name } }"}`, h...)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"name":"Ada Lovelace"`) {
			t.Fatalf("GraphQL: HTTP %d %s", r.status, r.body)
		}
	}},
	{"graphql-ws-header", func(t *testing.T, g *gateway, h ...string) {
		t.Helper()
		graphQLOverWS(t, g, h, nil)
	}},
	{"graphql-ws-init", func(t *testing.T, g *gateway, h ...string) {
		t.Helper()
		payload := map[string]any{}
		for i := 0; i+1 < len(h); i += 2 {
			payload[h[i]] = h[i+1]
		}
		graphQLOverWS(t, g, nil, payload)
	}},
}

// graphQLOverWS runs the GetUser query over graphql-transport-ws, on a connection whose upgrade
// request carries header (name, value pairs) and whose connection_init carries payload.
func graphQLOverWS(t *testing.T, g *gateway, header []string, payload map[string]any) {
	t.Helper()
	ws := openGraphQLWS(t, g, header, payload)
	if m := ws.subscribe("1", `{ getUser(id: "1") { name } }`, nil); m.Type != "next" || !strings.Contains(string(m.Payload), `"name":"Ada Lovelace"`) {
		t.Fatalf("GraphQL over WebSocket: %s %s", m.Type, m.Payload)
	}
}

// openGraphQLWS opens a graphql-transport-ws socket whose upgrade request carries header (name,
// value pairs, each added: a name may come twice) and whose connection_init carries payload, and
// waits for its connection_ack. The socket closes when the test ends.
func openGraphQLWS(t *testing.T, g *gateway, header []string, payload map[string]any) *gqlWS {
	t.Helper()
	ctx := testContext(t)
	hh := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		hh.Add(header[i], header[i+1])
	}
	c, _, err := websocket.Dial(ctx, "ws://"+g.addr+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: hh})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	ws := &gqlWS{t: t, ctx: ctx, c: c}
	p, _ := json.Marshal(payload)
	ws.send(gqlWSMessage{Type: "connection_init", Payload: p})
	if m := ws.read(); m.Type != "connection_ack" {
		t.Fatalf("got %+v, want connection_ack", m)
	}
	return ws
}

func lowerPairs(h []string) []string {
	out := make([]string, len(h))
	for i, s := range h {
		if i%2 == 0 {
			s = strings.ToLower(s)
		}
		out[i] = s
	}
	return out
}

// servedBy makes one call and reports which of the two backends served it.
func servedBy(t *testing.T, a, b *userCalls, call func()) string {
	t.Helper()
	na, nb := a.n.Load(), b.n.Load()
	call()
	switch da, db := a.n.Load()-na, b.n.Load()-nb; {
	case da == 1 && db == 0:
		return "a"
	case da == 0 && db == 1:
		return "b"
	default:
		t.Fatalf("the call reached the backends %d and %d times; want once", da, db)
		return ""
	}
}

// TestHeaderRoutingEveryFront: a route that matches on a header decides alike whichever front the
// call came through, though no forward_headers setting names the header: X-Canary: always reaches
// the canary cluster over gRPC, gRPC-Web, REST and GraphQL (POST; WebSocket, by the upgrade's
// header or the connection_init payload), and a call without it the stable one.
func TestHeaderRoutingEveryFront(t *testing.T) {
	var stable, canary userCalls
	canaryShop := startShop(t, shop.Options{OnCall: canary.onCall})
	g := startGateway(t, harnessOptions{
		shop: shop.Options{OnCall: stable.onCall},
		spec: canaryRoute(canaryShop.Addr("users")),
	})
	for _, f := range userFronts {
		t.Run(f.name, func(t *testing.T) {
			for range 3 {
				if got := servedBy(t, &stable, &canary, func() { f.call(t, g, "X-Canary", "always") }); got != "b" {
					t.Errorf("with X-Canary: always: served by the stable cluster, want the canary")
				}
				if got := servedBy(t, &stable, &canary, func() { f.call(t, g, "X-Canary", "never") }); got != "a" {
					t.Errorf("with X-Canary: never: served by the canary cluster, want the stable one")
				}
				if got := servedBy(t, &stable, &canary, func() { f.call(t, g) }); got != "a" {
					t.Errorf("without X-Canary: served by the canary cluster, want the stable one")
				}
			}
		})
	}
}

// TestRingHashEveryFront: a ring_hash cluster keeps the calls of one X-Session value on one endpoint,
// whichever front they come through, and different values spread over its endpoints.
func TestRingHashEveryFront(t *testing.T) {
	var one, two userCalls
	second := startShop(t, shop.Options{OnCall: two.onCall})
	g := startGateway(t, harnessOptions{
		shop: shop.Options{OnCall: one.onCall},
		spec: func(spec *registry.Spec, sh *shop.Shop) {
			spec.Clusters = append(spec.Clusters, registry.ClusterSpec{
				Name:      "users-sticky",
				Endpoints: []string{sh.Addr("users"), second.Addr("users")},
				Config:    routing.ClusterConfig{Balancer: routing.RingHash, HashKey: "x-session"},
			})
			spec.Routes = append(spec.Routes, registry.RouteSpec{
				Name:     "sticky",
				Match:    routing.Match{Prefix: "/shop.users.v1.UserService/"},
				Clusters: []registry.WeightedCluster{{Name: "users-sticky", Weight: 1}},
			})
		},
	})
	const sessions = 16
	served := map[string]int{}
	for i := range sessions {
		session := fmt.Sprintf("session-%d", i)
		var first, firstFront string
		for _, f := range userFronts {
			for range 2 {
				got := servedBy(t, &one, &two, func() { f.call(t, g, "X-Session", session) })
				switch {
				case first == "":
					first, firstFront = got, f.name
				case got != first:
					t.Fatalf("%s: served by endpoint %s over %s and by endpoint %s over %s; want one endpoint per session",
						session, first, firstFront, got, f.name)
				}
			}
		}
		served[first]++
	}
	// The ring places each session by the hash of its value: sixteen sessions all on one of two
	// endpoints would mean the value was not hashed (odds 2^-15 if it were).
	if served["a"] == 0 || served["b"] == 0 {
		t.Errorf("sessions per endpoint: %v; want both endpoints to have some", served)
	}
}
