package transcoder_test

import (
	"net/http"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/transcoder"
)

// TestRouteHeaders checks that the headers a snapshot's routes match on and its ring_hash clusters
// hash pass upstream as metadata without being allowlisted, that they follow the snapshot serving
// (no restart), and that names no header may pass under are still held back.
func TestRouteHeaders(t *testing.T) {
	files, err := synthFiles()
	if err != nil {
		t.Fatal(err)
	}
	addr := startEcho(t)
	pool := routing.NewPool(nil)
	t.Cleanup(func() { _ = pool.Close() })
	compile := func(version uint64, matchOn ...string) *registry.Snapshot {
		t.Helper()
		spec := registry.Spec{
			Registrations: []*registry.Registration{{Name: "synth", Cluster: "sticky", Files: files}},
			Clusters: []registry.ClusterSpec{{Name: "sticky", Endpoints: []string{addr},
				Config: routing.ClusterConfig{Balancer: routing.RingHash, HashKey: "x-session"}}},
		}
		for _, name := range matchOn {
			spec.Routes = append(spec.Routes, registry.RouteSpec{
				Name:     "on-" + name,
				Match:    routing.Match{Prefix: "/synth.v1.Things/", Headers: []routing.HeaderMatch{{Name: name, Present: true}}},
				Clusters: []registry.WeightedCluster{{Name: "sticky", Weight: 1}},
			})
		}
		snap, err := registry.Compile(spec, pool, version)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { snap.Retire(pool) })
		return snap
	}
	first := compile(1, "x-canary", "connection", "grpc-timeout", "user-agent")
	if got, want := first.RouteHeaders(), []string{"x-canary", "x-session"}; !slices.Equal(got, want) {
		t.Errorf("RouteHeaders() = %q, want %q (hop-by-hop and gRPC's reserved keys left out)", got, want)
	}
	var cur atomic.Pointer[registry.Snapshot]
	cur.Store(first)
	h, err := transcoder.NewHandler(func() *transcoder.Router { return cur.Load().REST() },
		routing.NewProxy(func() routing.State { return cur.Load() }))
	if err != nil {
		t.Fatal(err)
	}
	send := func() http.Header {
		t.Helper()
		w := call(h, "GET", "/v1/kitchen", "",
			"X-Canary", "always", "X-Session", "s-1", "X-Tenant", "acme", "X-Other", "not named")
		if w.Code != http.StatusOK {
			t.Fatalf("%d: %s", w.Code, w.Body)
		}
		return w.Header()
	}
	got := send()
	for name, want := range map[string]string{
		"Grpc-Metadata-Echo-X-Canary":  "always", // a route matches on it
		"Grpc-Metadata-Echo-X-Session": "s-1",    // the cluster hashes it
		"Grpc-Metadata-Echo-X-Tenant":  "",       // named by no route of this snapshot
		"Grpc-Metadata-Echo-X-Other":   "",
	} {
		if v := got.Get(name); v != want {
			t.Errorf("snapshot 1: %s = %q, want %q", name, v, want)
		}
	}

	cur.Store(compile(2, "x-tenant")) // a reload: the routes now match on x-tenant instead
	got = send()
	for name, want := range map[string]string{
		"Grpc-Metadata-Echo-X-Canary":  "",
		"Grpc-Metadata-Echo-X-Session": "s-1",
		"Grpc-Metadata-Echo-X-Tenant":  "acme",
	} {
		if v := got.Get(name); v != want {
			t.Errorf("snapshot 2: %s = %q, want %q", name, v, want)
		}
	}
}
