package routing

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// DialFunc creates the connection for an upstream address reached over transport t. It should not
// block on the network: the pool holds its lock while dialing.
type DialFunc func(addr string, t Transport) (*grpc.ClientConn, error)

// MaxMsgSize is the largest message DefaultDial's connections send or receive.
const MaxMsgSize = 64 << 20

// DefaultDial creates a lazy client connection to addr (no name resolution beyond the address
// itself) over t, plaintext or TLS, each attempt to connect bounded by t's connect timeout, that
// sends and receives messages of up to [MaxMsgSize] bytes.
func DefaultDial(addr string, t Transport) (*grpc.ClientConn, error) { return dial(addr, t) }

// DialWith is DefaultDial with extra options (instrumentation), which come last and so win over the
// defaults and the transport's.
func DialWith(extra ...grpc.DialOption) DialFunc {
	return func(addr string, t Transport) (*grpc.ClientConn, error) { return dial(addr, t, extra...) }
}

func dial(addr string, t Transport, extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(t.credentials()),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(MaxMsgSize),
			grpc.MaxCallSendMsgSize(MaxMsgSize),
		),
		// The gateway decides about retries itself; grpc's retry layer would wrap every call and
		// keep a copy of each sent message for replay.
		grpc.WithDisableRetry(),
		// A backend that returns should be reachable within a breaker timeout or a health interval,
		// not after grpc's default reconnect backoff, which grows to two minutes.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 5 * time.Second},
			MinConnectTimeout: t.connectTimeout(),
		}),
		// Upstream connections are few and carry many calls: larger buffers mean fewer system calls
		// per message.
		grpc.WithReadBufferSize(upstreamBufferSize),
		grpc.WithWriteBufferSize(upstreamBufferSize),
	}
	return grpc.NewClient("passthrough:///"+addr, append(opts, extra...)...)
}

// upstreamBufferSize is the read and write buffer of each upstream connection.
const upstreamBufferSize = 256 << 10

// ErrPoolClosed is returned by Acquire after Close.
var ErrPoolClosed = errors.New("routing: endpoint pool is closed")

// Pool owns the gateway's upstream endpoints, one per address, [Transport] and [EndpointConfig],
// outside any snapshot: compiling a snapshot acquires the endpoints it uses, and retiring one
// releases them, so an address kept across a reload with the same transport and settings keeps its
// connection and its resilience state. It is safe for concurrent use; it is not on the request
// path.
type Pool struct {
	dial    DialFunc
	log     *slog.Logger
	lookup  LookupFunc
	offline bool // WithPoolOffline: endpoints are never watched or health-checked

	running sync.WaitGroup // endpoints' connection watchers and health checkers, clusters' resolvers

	mu        sync.Mutex
	endpoints map[endpointKey]*Endpoint // refs > 0
	lingering map[endpointKey]*Endpoint // refs == 0, still connected for a while (ReleaseLingering)
	draining  map[*Endpoint]struct{}    // released, conn not yet closed
	resolvers map[*Cluster]struct{}     // resolved clusters not yet closed
	resolved  map[string][]string       // host name -> IP addresses it last resolved to
	closed    bool

	subMu sync.Mutex
	subs  map[chan struct{}]struct{} // Subscribe's channels
}

// PoolOption configures a Pool.
type PoolOption func(*Pool)

// WithPoolOffline makes a pool whose endpoints are built but never connected: no health checks
// (which would dial them) and no watchers of their connections (which would have nothing to
// watch). It is for compiling a configuration to check it (gateway validate), which must not probe
// the backends it names.
func WithPoolOffline() PoolOption {
	return func(p *Pool) { p.offline = true }
}

// WithPoolLogger sets where endpoint state changes (circuit opened, endpoint ejected or unhealthy)
// are logged, once per change. The default is slog.Default().
func WithPoolLogger(l *slog.Logger) PoolOption {
	return func(p *Pool) {
		if l != nil {
			p.log = l
		}
	}
}

// NewPool returns an empty pool that creates connections with dial; a nil dial
// means [DefaultDial].
func NewPool(dial DialFunc, opts ...PoolOption) *Pool {
	if dial == nil {
		dial = DefaultDial
	}
	p := &Pool{
		dial:      dial,
		log:       slog.Default(),
		endpoints: make(map[endpointKey]*Endpoint),
		lingering: make(map[endpointKey]*Endpoint),
		draining:  make(map[*Endpoint]struct{}),
		resolvers: make(map[*Cluster]struct{}),
		resolved:  make(map[string][]string),
		lookup:    defaultLookup,
		subs:      make(map[chan struct{}]struct{}),
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Acquire is AcquireWith with a plaintext transport and the default endpoint settings.
func (p *Pool) Acquire(addr string) (*Endpoint, error) {
	return p.AcquireWith(addr, Transport{}, EndpointConfig{})
}

// endpointKey is what the pool keeps one endpoint per: an address, how it is reached, and the
// settings of its resilience state.
type endpointKey struct {
	addr      string
	transport transportID
	settings  EndpointConfig // defaults filled
}

// keyOf returns the key of the endpoint for addr reached over t with settings cfg.
func keyOf(addr string, t Transport, cfg EndpointConfig) endpointKey {
	return endpointKey{addr: addr, transport: t.id(), settings: cfg.withDefaults()}
}

// AcquireWith returns the endpoint for addr reached over t with settings cfg, dialing it if the
// pool has none (a lingering one, [Pool.ReleaseLingering], is taken back with its connection and
// state), and takes a reference to it; give it back with Release. Endpoints are shared by
// address, transport and settings (defaults filled): clusters that list one address alike share
// its endpoint, with its connection, breaker and health, while a cluster that reaches the address
// over another transport (other TLS settings or connect timeout), or configures its breaker,
// health checks or outlier detection otherwise, gets an endpoint of its own, with its own
// connection and state. So each cluster's endpoints behave as that cluster configures them, and
// an endpoint's settings never change: a snapshot whose cluster changed them gets a new endpoint
// while the old one drains.
func (p *Pool) AcquireWith(addr string, t Transport, cfg EndpointConfig) (*Endpoint, error) {
	if addr == "" {
		return nil, errors.New("routing: acquire: empty address")
	}
	key := keyOf(addr, t, cfg)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrPoolClosed
	}
	if e := p.endpoints[key]; e != nil {
		e.refs++
		return e, nil
	}
	if e := p.lingering[key]; e != nil {
		delete(p.lingering, key)
		e.linger.Stop()
		e.lingerGen++ // a timer that fired already finds it taken back
		e.refs = 1
		p.start(e)
		p.endpoints[key] = e
		return e, nil
	}
	dialed := t
	dialed.log = p.log.With("endpoint", addr, "transport", t.String())
	conn, err := p.dial(addr, dialed)
	if err != nil {
		return nil, fmt.Errorf("routing: dial %q: %w", addr, err)
	}
	if conn == nil {
		return nil, fmt.Errorf("routing: dial %q returned no connection", addr)
	}
	e := newEndpoint(key, t, conn, p)
	e.refs = 1
	p.start(e)
	p.endpoints[key] = e
	return e, nil
}

// start runs the goroutines of endpoint e, new or taken back from lingering, until its last
// reference is released or the pool is closed: the watcher of its connection's state, and its
// health checker if its settings ask for one; p.mu is held.
func (p *Pool) start(e *Endpoint) {
	if p.offline {
		e.stop = func() {}
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	p.running.Go(func() { e.watchConn(ctx) })
	if hc := e.cfg.Health; hc.Interval > 0 {
		p.running.Go(func() { e.runHealth(ctx, hc) })
	}
}

// Stats returns the resilience state of every endpoint in the pool, by address, transport and
// settings.
func (p *Pool) Stats() []EndpointStats {
	p.mu.Lock()
	eps := make([]*Endpoint, 0, len(p.endpoints))
	for _, e := range p.endpoints {
		eps = append(eps, e)
	}
	p.mu.Unlock()
	out := make([]EndpointStats, len(eps))
	for i, e := range eps {
		out[i] = e.Stats()
	}
	slices.SortFunc(out, func(a, b EndpointStats) int {
		return cmp.Or(strings.Compare(a.Address, b.Address), strings.Compare(a.Transport, b.Transport),
			strings.Compare(a.Settings, b.Settings))
	})
	return out
}

// Subscribe returns a channel that receives a value whenever an endpoint's ability to take calls
// may have changed: it was ejected or its ejection ended, its circuit opened, half-opened or closed
// (an open circuit's timeout passing counts), its active health check flipped, its connection
// started or stopped failing, or a cluster's re-resolved endpoints changed. Signals coalesce (the
// channel holds at most one) and say nothing about which endpoint: a receiver re-reads the state
// it cares about ([Cluster.Available], [Pool.Stats]). stop ends the subscription; the channel is
// not closed. It is for watchers of that state, such as per-service health reporting, and costs
// the request path nothing.
func (p *Pool) Subscribe() (changes <-chan struct{}, stop func()) {
	ch := make(chan struct{}, 1)
	p.subMu.Lock()
	p.subs[ch] = struct{}{}
	p.subMu.Unlock()
	return ch, func() {
		p.subMu.Lock()
		delete(p.subs, ch)
		p.subMu.Unlock()
	}
}

// changed signals every subscriber without blocking; it is safe to call under any lock but subMu.
func (p *Pool) changed() {
	p.subMu.Lock()
	defer p.subMu.Unlock()
	for ch := range p.subs {
		select {
		case ch <- struct{}{}:
		default: // a signal is pending already
		}
	}
}

// Release gives back a reference taken by Acquire. When the last reference is
// gone the endpoint leaves the pool: its health checks and the watcher of its
// connection stop, it takes no new calls, and its connection is closed as soon
// as no call is in flight on it ([Endpoint.Begin]); a later Acquire of the same
// address, transport and settings dials anew. Releasing an endpoint the pool
// no longer holds does nothing.
func (p *Pool) Release(e *Endpoint) { p.ReleaseLingering(e, 0) }

// ReleaseLingering is Release for a holder that may still begin calls on e for a while: a
// snapshot another has just replaced, whose callers may have picked e just before the swap. When
// the last reference is gone, e leaves the pool as with Release, health checks and watcher
// stopped, no longer in Stats, but keeps taking calls, and its connection, for linger; then it
// drains as Release's do. An Acquire of it meanwhile takes it back, with its connection and its
// state. So an endpoint that a reload drops is neither probed nor logged about from the moment
// the new snapshot serves, as none of its clusters is serving any more.
func (p *Pool) ReleaseLingering(e *Endpoint, linger time.Duration) {
	if e == nil {
		return
	}
	p.mu.Lock()
	if p.endpoints[e.key] != e {
		p.mu.Unlock()
		return
	}
	e.refs--
	if e.refs > 0 {
		p.mu.Unlock()
		return
	}
	delete(p.endpoints, e.key)
	e.stop()
	if linger > 0 {
		p.lingering[e.key] = e
		e.lingerGen++
		gen := e.lingerGen
		e.linger = time.AfterFunc(linger, func() { p.endLinger(e, gen) })
		p.mu.Unlock()
		return
	}
	idle := p.drain(e)
	p.mu.Unlock()
	if idle {
		_ = e.close() // nobody to report to: the connection is gone either way
	}
}

// endLinger drains e once its linger, the gen-th, is over, unless it was taken back or the pool
// closed meanwhile.
func (p *Pool) endLinger(e *Endpoint, gen uint64) {
	p.mu.Lock()
	if p.lingering[e.key] != e || e.lingerGen != gen {
		p.mu.Unlock()
		return
	}
	delete(p.lingering, e.key)
	idle := p.drain(e)
	p.mu.Unlock()
	if idle {
		_ = e.close()
	}
}

// drain marks e, which has left the pool, as draining: it takes no new calls, and the last call in
// flight closes it. It reports whether none is in flight, for the caller to close it; p.mu is held.
func (p *Pool) drain(e *Endpoint) (idle bool) {
	p.draining[e] = struct{}{}
	return e.state.Add(drainingBit) == drainingBit
}

// forget removes a closed endpoint from the draining set.
func (p *Pool) forget(e *Endpoint) {
	p.mu.Lock()
	delete(p.draining, e)
	p.mu.Unlock()
}

// Len returns the number of endpoints in the pool, not counting released ones
// still lingering or draining.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.endpoints)
}

// Close stops the endpoints' goroutines (connection watchers, health checkers) and the resolved
// clusters' re-resolution, closes every connection the pool owns, lingering, draining or not,
// cutting calls in flight, and makes later Acquire calls fail with [ErrPoolClosed].
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.resolvers {
		c.dns.cancel()
	}
	clear(p.resolvers)
	all := make([]*Endpoint, 0, len(p.endpoints)+len(p.lingering)+len(p.draining))
	for _, e := range p.endpoints {
		e.stop()
		all = append(all, e)
	}
	for _, e := range p.lingering {
		e.linger.Stop()
		all = append(all, e)
	}
	clear(p.lingering)
	for e := range p.draining {
		all = append(all, e)
	}
	clear(p.endpoints)
	p.mu.Unlock()
	p.running.Wait()

	var errs []error
	for _, e := range all {
		if err := e.close(); err != nil {
			errs = append(errs, fmt.Errorf("routing: close %q: %w", e.addr, err))
		}
	}
	return errors.Join(errs...)
}
