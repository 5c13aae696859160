package routing

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// WeightedCluster is one of a route's clusters with its share of the traffic.
type WeightedCluster struct {
	Cluster *Cluster
	Weight  uint32 // relative to the route's other clusters; must be positive
}

// ClusterConfig configures a cluster's balancing and resilience. The zero value means the
// defaults: round robin, equal weights, no cap on concurrent calls, at most half the endpoints
// ejected at once, panic mode below half healthy, a 20% retry budget, and the endpoint defaults.
type ClusterConfig struct {
	Balancer Balancer
	// HashKey is the lower-case header (gRPC metadata) whose first value RingHash hashes.
	HashKey string
	// Weights are the endpoints' relative shares, in the order of the endpoints; nil means equal.
	// A zero weight counts as 1.
	Weights []uint32
	// MaxRequests caps the cluster's calls in flight; more fail at once with Unavailable. 0 means
	// no cap.
	MaxRequests int
	// MaxEjectedPercent caps the share of the cluster's endpoints that outlier detection ejects at
	// once; at least one may always be ejected. Default 50.
	MaxEjectedPercent int
	// PanicThreshold is the percentage of healthy endpoints below which the cluster ignores health
	// and ejections and spreads calls over all endpoints (open circuits still fail fast): better
	// some calls fail than every healthy endpoint be overwhelmed. Default 50; negative disables.
	PanicThreshold int
	// RetryBudget caps the retries of calls to the cluster.
	RetryBudget RetryBudget
	// Endpoint holds the settings of the cluster's endpoints (breaker, health, outlier detection).
	// Endpoints are shared across clusters by address, transport and these settings; see
	// [Pool.AcquireWith].
	Endpoint EndpointConfig
	// Transport is how the cluster's endpoints are connected to: plaintext or TLS, and the connect
	// timeout. [Pool.NewResolvedCluster] acquires the endpoints with it; for [NewCluster], whoever
	// acquires the endpoints passes it to [Pool.AcquireWith].
	Transport Transport
	// DNSRefresh, when positive, makes a cluster built by [Pool.NewResolvedCluster] resolve the
	// host names among its addresses (A and AAAA) into one endpoint per address, again every
	// DNSRefresh. 0 leaves names to the dialer, which resolves them on each connect.
	DNSRefresh time.Duration
}

// Cluster defaults.
const (
	DefaultMaxEjectedPercent = 50
	DefaultPanicThreshold    = 50
)

// ClusterOption configures a Cluster.
type ClusterOption func(*ClusterConfig)

// WithClusterConfig sets the cluster's configuration.
func WithClusterConfig(c ClusterConfig) ClusterOption {
	return func(dst *ClusterConfig) { *dst = c }
}

// Cluster is a named set of upstream endpoints serving the same services,
// with a balancer and caps. It belongs to a snapshot; its endpoints (and their
// breaker, health and load state) belong to a [Pool]. The set is fixed, except
// in a cluster that re-resolves DNS names ([Pool.NewResolvedCluster]), whose
// set is swapped whole when the names' addresses change. It is safe for
// concurrent use.
type Cluster struct {
	name     string
	cfg      ClusterConfig
	set      atomic.Pointer[memberSet]
	next     atomic.Uint64
	active   atomic.Int64 // calls in flight, counted when MaxRequests is set
	budget   budget
	empty    error     // returned by Pick when there are no endpoints
	overflow error     // returned when MaxRequests calls are in flight
	dns      *resolver // nil for a fixed set
}

// memberSet is a cluster's endpoints with what balancing precomputes from them; immutable.
type memberSet struct {
	endpoints []*Endpoint
	weights   []uint32    // parallel to endpoints; 0 counts as 1
	schedule  []uint32    // weighted order of endpoint indices
	ring      []ringEntry // RingHash only
}

// newMemberSet precomputes the balancing of endpoints with weights for balancer b.
func newMemberSet(endpoints []*Endpoint, weights []uint32, b Balancer) *memberSet {
	m := &memberSet{endpoints: endpoints, weights: weights}
	if len(endpoints) > 0 {
		m.schedule = weightedSchedule(weights)
		if b == RingHash {
			addrs := make([]string, len(endpoints))
			for i, e := range endpoints {
				addrs[i] = e.addr
			}
			m.ring = buildRing(addrs, weights)
		}
	}
	return m
}

// NewCluster returns a cluster of the given endpoints, which it copies. It
// panics on a nil endpoint or weights that do not match the endpoints, a
// programming error better found while compiling a snapshot than while
// serving a request.
func NewCluster(name string, endpoints []*Endpoint, opts ...ClusterOption) *Cluster {
	var cfg ClusterConfig
	for _, o := range opts {
		o(&cfg)
	}
	for i, e := range endpoints {
		if e == nil {
			panic(fmt.Sprintf("routing: NewCluster(%q): endpoint %d is nil", name, i))
		}
	}
	weights := cfg.Weights
	switch {
	case weights == nil:
		weights = make([]uint32, len(endpoints))
	case len(weights) != len(endpoints):
		panic(fmt.Sprintf("routing: NewCluster(%q): %d weights for %d endpoints", name, len(weights), len(endpoints)))
	}
	cfg.Weights = slices.Clone(weights)
	if cfg.MaxEjectedPercent <= 0 {
		cfg.MaxEjectedPercent = DefaultMaxEjectedPercent
	}
	if cfg.PanicThreshold == 0 {
		cfg.PanicThreshold = DefaultPanicThreshold
	}
	cfg.RetryBudget = cfg.RetryBudget.withDefaults()
	c := &Cluster{
		name:     name,
		cfg:      cfg,
		empty:    status.Errorf(codes.Unavailable, "no endpoints in cluster %q", name),
		overflow: status.Errorf(codes.Unavailable, "cluster %q is at its limit of %d concurrent requests", name, cfg.MaxRequests),
	}
	c.budget.percent, c.budget.min = int64(cfg.RetryBudget.Percent), int64(cfg.RetryBudget.MinRetries)
	c.set.Store(newMemberSet(slices.Clone(endpoints), slices.Clone(cfg.Weights), cfg.Balancer))
	return c
}

// Name returns the cluster's name.
func (c *Cluster) Name() string { return c.name }

// Config returns the cluster's configuration, defaults filled.
func (c *Cluster) Config() ClusterConfig {
	cfg := c.cfg
	cfg.Weights = slices.Clone(cfg.Weights)
	return cfg
}

// Endpoints returns the cluster's endpoints. The slice is the caller's.
func (c *Cluster) Endpoints() []*Endpoint { return slices.Clone(c.set.Load().endpoints) }

// Available reports whether an endpoint of the cluster can take a call now: one that passes its
// active health checks (when configured), is not ejected, whose circuit is not open and whose
// connection is not failing. In panic mode calls still go to unhealthy or ejected endpoints, and
// with none better to a failing connection; Available does not count on them. It takes no lock
// and does not allocate; [Pool.Subscribe] signals when its answer may have changed.
func (c *Cluster) Available() bool {
	now := nanotime()
	for _, e := range c.set.Load().endpoints {
		if e.usable(nil, now) {
			return true
		}
	}
	return false
}

// Pick returns an endpoint by the cluster's balancer, as for a call without
// headers, skipping endpoints that are unhealthy, ejected, whose circuit is
// open or whose connection is failing (when every connection whose circuit
// lets calls through is failing, it picks one of them: its call finds out
// whether the backend is back). It takes no lock and does not allocate. It
// returns a status error with code Unavailable when there is no endpoint to
// pick.
func (c *Cluster) Pick() (*Endpoint, error) { return c.pick(nil, nil, nanotime()) }

// PickFor is Pick for a call with headers h, which RingHash hashes.
func (c *Cluster) PickFor(h Headers) (*Endpoint, error) { return c.pick(h, nil, nanotime()) }

// pick chooses an endpoint, avoiding avoid (a retry's previous endpoint) when there is another.
func (c *Cluster) pick(h Headers, avoid *Endpoint, now int64) (*Endpoint, error) {
	m := c.set.Load()
	if len(m.endpoints) == 0 {
		return nil, c.empty
	}
	i, pos := c.primary(m, h, now)
	if e := m.endpoints[i]; e.usable(avoid, now) {
		return e, nil
	}
	return c.fallback(m, i, pos, avoid, now)
}

// primary returns the balancer's choice: an endpoint index, and its position in the balancer's
// order: the schedule for RoundRobin, the ring for RingHash with a hash key; -1 for a choice made
// at random.
func (c *Cluster) primary(m *memberSet, h Headers, now int64) (int, int) {
	s := m.schedule
	switch c.cfg.Balancer {
	case Random:
		return int(s[randIndex(len(s))]), -1
	case LeastRequest:
		i, j := randIndex(len(s)), randIndex(len(s))
		ai, bi := s[i], s[j]
		if ai == bi {
			bi = s[(j+1)%len(s)] // the schedule spreads endpoints out: its neighbour is usually another
		}
		if lighter(m.endpoints[bi], m.endpoints[ai], now) {
			return int(bi), -1
		}
		return int(ai), -1
	case RingHash:
		if h != nil && c.cfg.HashKey != "" {
			if v := h.Values(c.cfg.HashKey); len(v) > 0 {
				pos := ringLookup(m.ring, hashKey(v[0]))
				return int(m.ring[pos].idx), pos
			}
		}
		return int(s[randIndex(len(s))]), -1
	default:
		pos := int((c.next.Add(1) - 1) % uint64(len(s)))
		return int(s[pos]), pos
	}
}

// lighter reports whether least request prefers b to a at now: fewer calls in flight, or as many
// and a lower latency estimate ([Endpoint.Latency]).
func lighter(b, a *Endpoint, now int64) bool {
	ia, ib := a.InFlight(), b.InFlight()
	return ib < ia || ib == ia && b.latency(now) < a.latency(now)
}

// fallback runs when the primary choice i (at position pos, see primary) cannot take the call. It
// spreads the call over the endpoints that can take it as the balancer would have: RoundRobin takes
// the next of them in its schedule and moves the shared counter past the slots it skipped, so the
// next call does not land on the same endpoint; RingHash with a hash key takes the next in ring
// order, so affinity moves consistently; a random choice is drawn again among them (by weight; for
// LeastRequest, the lighter of two draws). So an endpoint out of the running does not double its
// neighbour's share. In panic mode it ignores health and ejections but not failing connections,
// calls to which fail whatever the health checks say. Endpoints with open circuits are never
// chosen.
func (c *Cluster) fallback(m *memberSet, i, pos int, avoid *Endpoint, now int64) (*Endpoint, error) {
	n := len(m.endpoints)
	healthy, first := 0, -1
	var usable uint64 // the weight of the endpoints that can take the call
	for k := 1; k <= n; k++ {
		j := (i + k) % n
		e := m.endpoints[j]
		if e.healthy(now) {
			healthy++
			if e != avoid && !e.blocked(now) && !e.down() {
				usable += uint64(max(m.weights[j], 1))
				if first < 0 {
					first = j
				}
			}
		}
	}
	panicking := c.cfg.PanicThreshold > 0 && healthy*100 < n*c.cfg.PanicThreshold
	if !panicking && first >= 0 {
		switch {
		case c.cfg.Balancer == RoundRobin:
			s := m.schedule
			for k := 1; k < len(s); k++ {
				if e := m.endpoints[s[(pos+k)%len(s)]]; e.usable(avoid, now) {
					c.next.Add(uint64(k))
					return e, nil
				}
			}
		case pos >= 0: // RingHash with a hash key
			for k := 1; k < len(m.ring); k++ {
				if e := m.endpoints[m.ring[(pos+k)%len(m.ring)].idx]; e.usable(avoid, now) {
					return e, nil
				}
			}
		default:
			if e := m.draw(usable, avoid, now); e != nil {
				if c.cfg.Balancer == LeastRequest {
					if b := m.draw(usable, avoid, now); b != nil && lighter(b, e, now) {
						e = b
					}
				}
				return e, nil
			}
		}
		// The endpoints changed state while this call looked at them.
		return m.endpoints[first], nil
	}
	// Panic mode, or no healthy endpoint can take the call: any endpoint whose circuit lets calls
	// through, from the primary choice on, one whose connection is not failing rather than one
	// whose connection is, and one other than avoid rather than avoid. With every connection
	// failing, a call still goes to one, so a backend that is back is found.
	var best *Endpoint
	bestRank := 4
	for k := 0; k < n; k++ {
		e := m.endpoints[(i+k)%n]
		if e.blocked(now) {
			continue
		}
		rank := 0
		if e.down() {
			rank += 2
		}
		if e == avoid {
			rank++
		}
		if rank == 0 {
			return e, nil
		}
		if rank < bestRank {
			best, bestRank = e, rank
		}
	}
	if best != nil {
		return best, nil
	}
	return nil, m.endpoints[i].openError(now)
}

// draw returns an endpoint drawn at random, by weight, among those that can take a call other than
// avoid, whose weights add up to usable; nil if they changed state since they were weighed.
func (m *memberSet) draw(usable uint64, avoid *Endpoint, now int64) *Endpoint {
	r := rand.Uint64N(usable)
	for j, e := range m.endpoints {
		if !e.usable(avoid, now) {
			continue
		}
		w := uint64(max(m.weights[j], 1))
		if r < w {
			return e
		}
		r -= w
	}
	return nil
}

// admit picks an endpoint for a call, lets it through the endpoint's breaker and the cluster's cap,
// and counts it in flight on the endpoint. probe is non-nil for a half-open circuit's probe and must
// be told the call's result.
func (c *Cluster) admit(h Headers, avoid *Endpoint, now int64) (e *Endpoint, probe func(error), err error) {
	if c.cfg.MaxRequests > 0 && c.active.Add(1) > int64(c.cfg.MaxRequests) {
		c.active.Add(-1)
		return nil, nil, c.overflow
	}
	for range 3 {
		if e, err = c.pick(h, avoid, now); err != nil {
			break
		}
		probe = nil
		if br := e.br.Load(); br != nil && !br.closed() {
			if probe, err = br.admit(); err != nil {
				// Half-open with its probes taken: try another endpoint.
				avoid, err = e, e.openError(now)
				continue
			}
		}
		if e.state.Add(1)&drainingBit == 0 {
			return e, probe, nil
		}
		// Released since this call read the member set (a re-resolution or a snapshot dropped
		// it): a draining endpoint takes no new calls.
		e.end()
		if probe != nil {
			probe(errExcluded)
		}
		avoid, err = e, errDraining
	}
	if c.cfg.MaxRequests > 0 {
		c.active.Add(-1)
	}
	return nil, nil, err
}

// release undoes admit's count of a call in flight.
func (c *Cluster) release() {
	if c.cfg.MaxRequests > 0 {
		c.active.Add(-1)
	}
}

// considerEjecting ejects e, whose calls keep failing, unless the cluster already has its share of
// endpoints ejected.
func (c *Cluster) considerEjecting(e *Endpoint, now int64) {
	m := c.set.Load()
	n := len(m.endpoints)
	limit := max(1, n*c.cfg.MaxEjectedPercent/100)
	ejected := 0
	for _, x := range m.endpoints {
		if x != e && x.ejectedUntil.Load() > now {
			ejected++
		}
	}
	if ejected >= limit {
		return
	}
	e.eject(now)
}
