package ratelimit

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"syscall"
	"time"
)

// redisKeepAlive probes idle connections to Redis, as go-redis's own dialer does: after 30s idle,
// below the idle timeouts of load balancers and NAT gateways (AWS NLB: 350s, Azure LB: 4 minutes),
// so they do not drop a pooled connection's state unseen; dead after 3 probes 5s apart.
var redisKeepAlive = net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 5 * time.Second, Count: 3}

// redisConnMaxIdle is how long a pooled connection may sit idle before the pool closes it rather
// than use it: below the idle timeouts commonly set on Redis (timeout 60 or 300) and on proxies in
// front of it, so a connection is rarely used just as they close it; re-dialing one that nobody
// used for that long costs little.
const redisConnMaxIdle = 30 * time.Second

// dialRedis returns the dialer of the Redis clients, for every connection they make (server,
// cluster nodes, sentinels): TCP with keep-alives, then, with tlsConn, the TLS handshake configured
// for the address dialed. Every connection is a redisConn.
func dialRedis(tlsConn *redisTLS, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	nd := &net.Dialer{Timeout: timeout, KeepAliveConfig: redisKeepAlive}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if tlsConn == nil {
			c, err := nd.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			raw, _ := c.(syscall.Conn)
			return &redisConn{Conn: c, raw: raw}, nil
		}
		c, err := (&tls.Dialer{NetDialer: nd, Config: tlsConn.configFor(addr)}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		raw, _ := c.(*tls.Conn).NetConn().(syscall.Conn)
		return &redisConn{Conn: c, raw: raw}, nil
	}
}

// redisConn is a connection to Redis as the clients use it, which tells two things go-redis does
// not: whether a connection Redis closed was one that had answered before, and (under TLS) how the
// pool can check an idle one.
//
// go-redis checks a connection it takes from the pool by peeking at its socket (a FIN, a reset or
// unexpected bytes there: Redis closed it while it was idle), but only on a connection that offers
// its socket (syscall.Conn): a *tls.Conn does not, so a TLS connection Redis closed was used, and
// failed the decision. redisConn offers the TCP socket under TLS too. go-redis leaves TLS out
// because with RESP3 it would try to read a push notification out of the bytes it finds, and a TLS
// record there is no such thing; these clients speak RESP2, for which bytes waiting on an idle
// connection only mean it is discarded (a TLS 1.3 session ticket left unread would be one; it is
// read with the first reply).
//
// Not safe for concurrent reads and writes, which the clients never make: a command is written,
// then its reply read.
type redisConn struct {
	net.Conn              // *net.TCPConn, or *tls.Conn over one
	raw      syscall.Conn // the TCP connection

	answered   bool // a reply has been read: the connection has been used
	replyBytes int  // bytes read since the last write
}

// SyscallConn returns the TCP socket's, for go-redis's check of idle connections.
func (c *redisConn) SyscallConn() (syscall.RawConn, error) {
	if c.raw == nil {
		return nil, errors.New("ratelimit: no socket under the redis connection")
	}
	return c.raw.SyscallConn()
}

func (c *redisConn) Write(b []byte) (int, error) {
	c.replyBytes = 0
	n, err := c.Conn.Write(b)
	if err != nil && c.answered && closedByPeer(err) {
		err = &staleConnError{err: err}
	}
	return n, err
}

func (c *redisConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.replyBytes += n
	if err != nil && c.replyBytes == 0 && c.answered && closedByPeer(err) {
		err = &staleConnError{err: err}
	}
	if n > 0 {
		c.answered = true
	}
	return n, err
}

// closedByPeer reports whether err says the other end closed or reset the connection. Under TLS,
// io.EOF comes at a record's boundary: a reply cut within its record is io.ErrUnexpectedEOF,
// which is not this.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// staleConnError is the error of a command on a connection that had answered before and turned
// out closed: when the command was written, or before any byte of its reply came. Most likely
// Redis or a proxy closed it while it sat in the pool and the command never reached Redis, so
// the decision may be made again on another connection (see redisStore.take).
type staleConnError struct{ err error }

// Error is the cause's, unchanged: go-redis reads some errors by their text.
func (e *staleConnError) Error() string { return e.err.Error() }
func (e *staleConnError) Unwrap() error { return e.err }

// isStale reports whether a decision failed on a stale connection.
func isStale(err error) bool {
	var s *staleConnError
	return errors.As(err, &s)
}
