package routing

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// LookupFunc resolves a host name to its IPv4 and IPv6 addresses (A and AAAA records).
type LookupFunc func(ctx context.Context, host string) ([]netip.Addr, error)

// defaultLookup asks the system resolver.
func defaultLookup(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// WithPoolLookup sets how clusters built by [Pool.NewResolvedCluster] resolve host names. The default
// is the system resolver (net.DefaultResolver).
func WithPoolLookup(f LookupFunc) PoolOption {
	return func(p *Pool) {
		if f != nil {
			p.lookup = f
		}
	}
}

// dnsLookupTimeout bounds one resolution of one name.
const dnsLookupTimeout = 2 * time.Second

// target is one address a resolved cluster was configured with: an IP address taken as it is, or a
// name resolved into one endpoint per address, each with the target's weight and transport.
type target struct {
	host, port string
	ip         bool
	weight     uint32
	transport  Transport // the cluster's; over TLS, verifying the name rather than its addresses
}

// resolver keeps a cluster's member set in step with the addresses its names resolve to.
type resolver struct {
	pool    *Pool
	targets []target
	every   time.Duration
	last    map[string][]string // host -> the IP addresses of its last successful resolution
	failing map[string]bool     // hosts whose last resolution failed, so failures log once
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewResolvedCluster returns a cluster of addrs ("host:port") whose host names are resolved (A and
// AAAA) into one endpoint per address, then again every cfg.DNSRefresh (default 30s), while IP
// addresses are taken as they are. A name's weight in cfg.Weights applies to each of its addresses,
// and so does cfg.Transport; over TLS, an address taken from a name verifies that name unless the
// transport sets a server name.
//
// When a resolution changes the addresses, the cluster's member set is swapped whole: endpoints that
// stay keep their connection, breaker, health and load state; new ones are acquired from the pool;
// dropped ones are released, so they take no new calls, finish those in flight, then close. A name
// that fails to resolve keeps its previous addresses. The first resolution of a name happens here,
// bounded by a couple of seconds, unless the pool resolved it before (a reload), in which case the
// pool's last answer is used at once and refreshed in the background.
//
// The cluster holds references to its endpoints: Close it when it is retired. Closing the pool
// closes it too.
func (p *Pool) NewResolvedCluster(name string, addrs []string, cfg ClusterConfig) (*Cluster, error) {
	if cfg.Weights != nil && len(cfg.Weights) != len(addrs) {
		return nil, fmt.Errorf("routing: cluster %q: %d weights for %d endpoints", name, len(cfg.Weights), len(addrs))
	}
	r := &resolver{pool: p, every: cfg.DNSRefresh, last: make(map[string][]string), failing: make(map[string]bool), done: make(chan struct{})}
	if r.every <= 0 {
		r.every = DefaultDNSRefresh
	}
	for i, a := range addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			return nil, fmt.Errorf("routing: cluster %q: endpoint %q: %w", name, a, err)
		}
		t := target{host: host, port: port, transport: cfg.Transport}
		if cfg.Weights != nil {
			t.weight = cfg.Weights[i]
		}
		if _, err := netip.ParseAddr(host); err == nil {
			t.ip = true
		} else {
			t.transport = cfg.Transport.forHost(host)
		}
		r.targets = append(r.targets, t)
	}
	cfg.Weights = nil
	c := NewCluster(name, nil, WithClusterConfig(cfg))
	c.dns = r

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrPoolClosed
	}
	for _, t := range r.targets {
		if prev, ok := p.resolved[t.host]; ok && !t.ip {
			r.last[t.host] = prev
		}
	}
	p.mu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	if err := r.refresh(ctx, c, true); err != nil {
		cancel()
		return nil, err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		cancel()
		c.releaseAll()
		return nil, ErrPoolClosed
	}
	p.resolvers[c] = struct{}{}
	p.running.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.running.Done()
		defer close(r.done)
		r.run(ctx, c)
	}()
	return c, nil
}

// DefaultDNSRefresh is how often a resolved cluster's names are resolved again by default.
const DefaultDNSRefresh = 30 * time.Second

// Close stops a resolved cluster's re-resolution and releases its endpoints, which finish their
// calls in flight, then close unless another cluster holds them. It does nothing for a cluster of a
// fixed set, whose endpoints belong to whoever acquired them.
func (c *Cluster) Close() { c.CloseLingering(0) }

// CloseLingering is Close for the cluster of a snapshot another has just replaced: re-resolution
// stops, but the member set stays, for calls that picked the cluster just before the swap, and its
// endpoints linger for linger ([Pool.ReleaseLingering]) before they drain.
func (c *Cluster) CloseLingering(linger time.Duration) {
	r := c.dns
	if r == nil {
		return
	}
	p := r.pool
	p.mu.Lock()
	_, running := p.resolvers[c]
	delete(p.resolvers, c)
	p.mu.Unlock()
	if !running {
		return // closed already, by itself or by the pool
	}
	r.cancel()
	<-r.done
	if linger <= 0 {
		c.releaseAll()
		return
	}
	for _, e := range c.set.Load().endpoints {
		p.ReleaseLingering(e, linger)
	}
}

// releaseAll releases the member set's endpoints and empties it.
func (c *Cluster) releaseAll() {
	old := c.set.Swap(newMemberSet(nil, nil, c.cfg.Balancer))
	for _, e := range old.endpoints {
		c.dns.pool.Release(e)
	}
}

// run re-resolves every interval until ctx ends.
func (r *resolver) run(ctx context.Context, c *Cluster) {
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = r.refresh(ctx, c, false)
		}
	}
}

// refresh resolves the cluster's names and swaps its member set if the addresses changed. On the
// first refresh, names the pool resolved before are not asked again.
func (r *resolver) refresh(ctx context.Context, c *Cluster, first bool) error {
	type member struct {
		addr      string
		weight    uint32
		transport Transport
		key       endpointKey
	}
	var want []member
	seen := make(map[string]bool) // addresses: the first target that resolves to one has it
	for _, t := range r.targets {
		var addrs []string
		if t.ip {
			addrs = []string{net.JoinHostPort(t.host, t.port)}
		} else {
			if _, ok := r.last[t.host]; !ok || !first {
				r.resolve(ctx, c.name, t)
			}
			for _, ip := range r.last[t.host] {
				addrs = append(addrs, net.JoinHostPort(ip, t.port))
			}
		}
		key := keyOf("", t.transport, c.cfg.Endpoint)
		for _, a := range addrs {
			if !seen[a] {
				seen[a] = true
				key.addr = a
				want = append(want, member{a, t.weight, t.transport, key})
			}
		}
	}
	if ctx.Err() != nil {
		return nil
	}

	old := c.set.Load()
	same := len(old.endpoints) == len(want)
	for i := 0; same && i < len(want); i++ {
		same = old.endpoints[i].key == want[i].key && old.weights[i] == want[i].weight
	}
	if same && !first {
		return nil
	}
	have := make(map[endpointKey]*Endpoint, len(old.endpoints))
	for _, e := range old.endpoints {
		have[e.key] = e
	}
	eps := make([]*Endpoint, 0, len(want))
	weights := make([]uint32, 0, len(want))
	var added []string
	for _, m := range want {
		e := have[m.key]
		if e != nil {
			delete(have, m.key)
		} else {
			var err error
			if e, err = r.pool.AcquireWith(m.addr, m.transport, c.cfg.Endpoint); err != nil {
				if errors.Is(err, ErrPoolClosed) || first {
					for _, e := range eps {
						if !slices.Contains(old.endpoints, e) {
							r.pool.Release(e)
						}
					}
					return fmt.Errorf("cluster %q: %w", c.name, err)
				}
				r.pool.log.Warn("cluster endpoint not added", "cluster", c.name, "endpoint", m.addr, "error", err)
				continue
			}
			added = append(added, m.addr)
		}
		eps = append(eps, e)
		weights = append(weights, m.weight)
	}
	c.set.Store(newMemberSet(eps, weights, c.cfg.Balancer))
	if !first {
		r.pool.changed()
	}
	var removed []string
	for key, e := range have {
		removed = append(removed, key.addr)
		r.pool.Release(e) // drains: no new calls, those in flight finish, then it closes
	}
	if !first && (len(added) > 0 || len(removed) > 0) {
		slices.Sort(removed)
		r.pool.log.Info("cluster endpoints changed", "cluster", c.name,
			"added", strings.Join(added, ","), "removed", strings.Join(removed, ","), "endpoints", len(eps))
	}
	return nil
}

// resolve asks for t's addresses and records them in r.last and the pool's memory of names. A failure
// keeps the previous addresses and is logged once until the name resolves again.
func (r *resolver) resolve(ctx context.Context, cluster string, t target) {
	lctx, cancel := context.WithTimeout(ctx, min(dnsLookupTimeout, r.every))
	ips, err := r.pool.lookup(lctx, t.host)
	cancel()
	if err == nil && len(ips) == 0 {
		err = errors.New("no addresses")
	}
	if err != nil {
		if ctx.Err() == nil && !r.failing[t.host] {
			r.failing[t.host] = true
			r.pool.log.Warn("endpoint name does not resolve; keeping its previous addresses", "cluster", cluster,
				"host", t.host, "addresses", len(r.last[t.host]), "error", err)
		}
		return
	}
	if r.failing[t.host] {
		delete(r.failing, t.host)
		r.pool.log.Info("endpoint name resolves again", "cluster", cluster, "host", t.host)
	}
	addrs := make([]string, 0, len(ips))
	for _, ip := range ips {
		addrs = append(addrs, ip.Unmap().WithZone("").String())
	}
	slices.Sort(addrs)
	addrs = slices.Compact(addrs)
	r.last[t.host] = addrs
	r.pool.mu.Lock()
	r.pool.resolved[t.host] = slices.Clip(addrs)
	r.pool.mu.Unlock()
}
