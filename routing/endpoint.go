package routing

import (
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
)

// drainingBit is set in Endpoint.state once the endpoint has left its pool;
// the bits below it count calls in flight.
const drainingBit = 1 << 62

// Endpoint is one upstream address and its long-lived connection. Endpoints
// are shared by every cluster that lists the address and are owned by the
// [Pool] that created them. Its methods are safe for concurrent use.
type Endpoint struct {
	addr string
	conn *grpc.ClientConn
	pool *Pool

	state atomic.Int64 // calls in flight, plus drainingBit once released
	done  func()       // e.end, cached so Begin does not allocate

	refs int // references held through pool; guarded by pool.mu

	closeOnce sync.Once
	closeErr  error
}

func newEndpoint(addr string, conn *grpc.ClientConn, pool *Pool) *Endpoint {
	e := &Endpoint{addr: addr, conn: conn, pool: pool}
	e.done = e.end
	return e
}

// Addr returns the endpoint's address ("host:port").
func (e *Endpoint) Addr() string { return e.addr }

// Conn returns the endpoint's connection.
func (e *Endpoint) Conn() *grpc.ClientConn { return e.conn }

// InFlight returns the number of calls begun and not yet done.
func (e *Endpoint) InFlight() int64 { return e.state.Load() &^ drainingBit }

// Begin counts a call in flight until done is called. Call done exactly once,
// when the call has finished (for a stream: when it has ended). An endpoint
// released from its pool keeps its connection open until the last call in
// flight is done. Begin and done use only atomics and do not allocate.
//
// Begin the call before the snapshot holding the endpoint is released: a call
// begun on an endpoint already released and drained finds its connection
// closed and fails.
func (e *Endpoint) Begin() (done func()) {
	e.state.Add(1)
	return e.done
}

// end is the done func of Begin.
func (e *Endpoint) end() {
	if e.state.Add(-1) == drainingBit {
		// The last call of a released endpoint: close off the request path.
		go e.close()
	}
}

// close closes the connection once and removes the endpoint from its pool's
// draining set.
func (e *Endpoint) close() error {
	e.closeOnce.Do(func() {
		e.closeErr = e.conn.Close()
		if e.pool != nil {
			e.pool.forget(e)
		}
	})
	return e.closeErr
}
