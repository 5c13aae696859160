package registry_test

import (
	"slices"
	"testing"

	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/routing"
)

// TestCompileRouteHeaders: a snapshot lists the headers its routing reads (route conditions and
// ring_hash keys), lower-case, sorted and once each, leaving out those no HTTP header can pass as.
func TestCompileRouteHeaders(t *testing.T) {
	pool := routing.NewPool(nil)
	defer pool.Close()
	route := func(name string, headers ...string) registry.RouteSpec {
		r := registry.RouteSpec{Name: name, Match: routing.Match{Prefix: "/" + userService + "/"},
			Clusters: []registry.WeightedCluster{{Name: "users", Weight: 1}}}
		for _, h := range headers {
			r.Match.Headers = append(r.Match.Headers, routing.HeaderMatch{Name: h, Present: true})
		}
		return r
	}
	spec := registry.Spec{
		Registrations: shopRegistrations(t),
		Clusters: []registry.ClusterSpec{
			{Name: "sticky", Endpoints: []string{addrA}, Config: routing.ClusterConfig{Balancer: routing.RingHash, HashKey: "X-Session"}},
			{Name: "plain", Endpoints: []string{addrB}, Config: routing.ClusterConfig{HashKey: "x-ignored"}}, // not ring_hash
		},
		Routes: []registry.RouteSpec{
			route("canary", "x-canary", "x-tenant"),
			route("again", "x-canary"),
			route("grpc-only", "te", "connection", "grpc-timeout", "content-type", "user-agent"),
		},
	}
	snap, err := registry.Compile(spec, pool, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Retire(pool)
	if got, want := snap.RouteHeaders(), []string{"x-canary", "x-session", "x-tenant"}; !slices.Equal(got, want) {
		t.Errorf("RouteHeaders() = %q, want %q", got, want)
	}

	spec.Routes, spec.Clusters = nil, nil
	if snap, err = registry.Compile(spec, pool, 2); err != nil {
		t.Fatal(err)
	}
	defer snap.Retire(pool)
	if got := snap.RouteHeaders(); len(got) != 0 {
		t.Errorf("without header routes or ring_hash clusters: RouteHeaders() = %q, want none", got)
	}
}
