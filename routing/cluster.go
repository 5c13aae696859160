package routing

import (
	"fmt"
	"slices"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// WeightedCluster is one of a route's clusters with its share of the traffic.
type WeightedCluster struct {
	Cluster *Cluster
	Weight  uint32 // relative to the route's other clusters; must be positive
}

// Cluster is a named, fixed set of upstream endpoints serving the same
// services. It belongs to a snapshot; its endpoints belong to a [Pool]. It is
// safe for concurrent use.
type Cluster struct {
	name      string
	endpoints []*Endpoint
	next      atomic.Uint64 // round-robin counter
	empty     error         // returned by Pick when there are no endpoints
}

// NewCluster returns a cluster of the given endpoints, which it copies. It
// panics on a nil endpoint, a programming error better found while compiling a
// snapshot than while serving a request.
func NewCluster(name string, endpoints []*Endpoint) *Cluster {
	for i, e := range endpoints {
		if e == nil {
			panic(fmt.Sprintf("routing: NewCluster(%q): endpoint %d is nil", name, i))
		}
	}
	return &Cluster{
		name:      name,
		endpoints: slices.Clone(endpoints),
		empty:     status.Errorf(codes.Unavailable, "no endpoints in cluster %q", name),
	}
}

// Name returns the cluster's name.
func (c *Cluster) Name() string { return c.name }

// Endpoints returns the cluster's endpoints. The slice is the caller's.
func (c *Cluster) Endpoints() []*Endpoint { return slices.Clone(c.endpoints) }

// Pick returns the next endpoint in round-robin order. It takes no lock and
// does not allocate. For a cluster without endpoints it returns a status error
// with code Unavailable.
func (c *Cluster) Pick() (*Endpoint, error) {
	n := uint64(len(c.endpoints))
	if n == 0 {
		return nil, c.empty
	}
	return c.endpoints[(c.next.Add(1)-1)%n], nil
}
