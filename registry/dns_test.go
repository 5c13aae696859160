package registry_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/routing"
)

// A cluster with dns_refresh expands its names into one endpoint per address; retiring the snapshot
// stops the re-resolution and releases them.
func TestCompileResolvedCluster(t *testing.T) {
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")}, nil
	}
	pool := routing.NewPool(nil, routing.WithPoolLookup(lookup))
	defer pool.Close()
	spec := registry.Spec{Clusters: []registry.ClusterSpec{
		{Name: "users", Endpoints: []string{"users.internal:50051", "192.0.2.9:50051"}, Config: routing.ClusterConfig{DNSRefresh: time.Hour}},
		{Name: "orders", Endpoints: []string{"orders.internal:50051"}}, // no dns_refresh: one endpoint, the name dialed as is
	}}
	snap, err := registry.Compile(spec, pool, 1)
	if err != nil {
		t.Fatal(err)
	}
	users, _ := snap.Cluster("users")
	var got []string
	for _, e := range users.Endpoints() {
		got = append(got, e.Addr())
	}
	if want := []string{"192.0.2.1:50051", "192.0.2.2:50051", "192.0.2.9:50051"}; !slices.Equal(got, want) {
		t.Errorf("users endpoints = %v, want %v", got, want)
	}
	orders, _ := snap.Cluster("orders")
	if eps := orders.Endpoints(); len(eps) != 1 || eps[0].Addr() != "orders.internal:50051" {
		t.Errorf("orders endpoints = %v, want the name itself", eps)
	}
	if pool.Len() != 4 {
		t.Errorf("pool holds %d endpoints, want 4", pool.Len())
	}
	snap.Retire(pool)
	if pool.Len() != 0 {
		t.Errorf("pool holds %d endpoints after Retire, want 0", pool.Len())
	}
}
