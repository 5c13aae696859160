package routing

import (
	"errors"
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// DialFunc creates the connection for an upstream address. It should not
// block on the network: the pool holds its lock while dialing.
type DialFunc func(addr string) (*grpc.ClientConn, error)

// MaxMsgSize is the largest message DefaultDial's connections send or receive.
const MaxMsgSize = 64 << 20

// DefaultDial creates a lazy, plaintext client connection to addr (no name
// resolution beyond the address itself) that sends and receives messages of up
// to [MaxMsgSize] bytes.
func DefaultDial(addr string) (*grpc.ClientConn, error) {
	return grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(MaxMsgSize),
			grpc.MaxCallSendMsgSize(MaxMsgSize),
		),
		// The gateway decides about retries itself; grpc's retry layer would wrap every call and
		// keep a copy of each sent message for replay.
		grpc.WithDisableRetry(),
		// Upstream connections are few and carry many calls: larger buffers mean fewer system calls
		// per message.
		grpc.WithReadBufferSize(upstreamBufferSize),
		grpc.WithWriteBufferSize(upstreamBufferSize),
	)
}

// upstreamBufferSize is the read and write buffer of each upstream connection.
const upstreamBufferSize = 256 << 10

// ErrPoolClosed is returned by Acquire after Close.
var ErrPoolClosed = errors.New("routing: endpoint pool is closed")

// Pool owns the gateway's upstream endpoints, one per address, outside any
// snapshot: compiling a snapshot acquires the endpoints it uses, and retiring
// one releases them, so an address kept across a reload keeps its
// connection. It is safe for concurrent use; it is not on the request path.
type Pool struct {
	dial DialFunc

	mu        sync.Mutex
	endpoints map[string]*Endpoint   // by address; refs > 0
	draining  map[*Endpoint]struct{} // released, conn not yet closed
	closed    bool
}

// NewPool returns an empty pool that creates connections with dial; a nil dial
// means [DefaultDial].
func NewPool(dial DialFunc) *Pool {
	if dial == nil {
		dial = DefaultDial
	}
	return &Pool{
		dial:      dial,
		endpoints: make(map[string]*Endpoint),
		draining:  make(map[*Endpoint]struct{}),
	}
}

// Acquire returns the endpoint for addr, dialing it if the pool has none, and
// takes a reference to it; give it back with Release.
func (p *Pool) Acquire(addr string) (*Endpoint, error) {
	if addr == "" {
		return nil, errors.New("routing: acquire: empty address")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrPoolClosed
	}
	if e := p.endpoints[addr]; e != nil {
		e.refs++
		return e, nil
	}
	conn, err := p.dial(addr)
	if err != nil {
		return nil, fmt.Errorf("routing: dial %q: %w", addr, err)
	}
	if conn == nil {
		return nil, fmt.Errorf("routing: dial %q returned no connection", addr)
	}
	e := newEndpoint(addr, conn, p)
	e.refs = 1
	p.endpoints[addr] = e
	return e, nil
}

// Release gives back a reference taken by Acquire. When the last reference is
// gone the endpoint leaves the pool, and its connection is closed as soon as
// no call is in flight on it ([Endpoint.Begin]); a later Acquire of the same
// address dials anew. Releasing an endpoint the pool no longer holds does
// nothing.
func (p *Pool) Release(e *Endpoint) {
	if e == nil {
		return
	}
	p.mu.Lock()
	if p.endpoints[e.addr] != e {
		p.mu.Unlock()
		return
	}
	e.refs--
	if e.refs > 0 {
		p.mu.Unlock()
		return
	}
	delete(p.endpoints, e.addr)
	p.draining[e] = struct{}{}
	idle := e.state.Add(drainingBit) == drainingBit
	p.mu.Unlock()
	if idle {
		_ = e.close() // nobody to report to: the connection is gone either way
	}
}

// forget removes a closed endpoint from the draining set.
func (p *Pool) forget(e *Endpoint) {
	p.mu.Lock()
	delete(p.draining, e)
	p.mu.Unlock()
}

// Len returns the number of endpoints in the pool, not counting released ones
// still draining.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.endpoints)
}

// Close closes every connection the pool owns, draining or not, cutting calls
// in flight, and makes later Acquire calls fail with [ErrPoolClosed].
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	all := make([]*Endpoint, 0, len(p.endpoints)+len(p.draining))
	for _, e := range p.endpoints {
		all = append(all, e)
	}
	for e := range p.draining {
		all = append(all, e)
	}
	clear(p.endpoints)
	p.mu.Unlock()

	var errs []error
	for _, e := range all {
		if err := e.close(); err != nil {
			errs = append(errs, fmt.Errorf("routing: close %q: %w", e.addr, err))
		}
	}
	return errors.Join(errs...)
}
