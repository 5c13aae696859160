package listen

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"
)

const (
	// DefaultResetWindow is how many ended streams of a connection the share
	// of premature resets is taken over (Envoy's
	// premature_reset_total_stream_count).
	DefaultResetWindow = 500

	// DefaultResetLifetime is how soon after it opened a stream the client
	// resets is premature (Envoy's premature_reset_min_stream_lifetime).
	DefaultResetLifetime = time.Second
)

// ResetPolicy says when a connection is closed for resetting its streams
// prematurely. See the package documentation.
type ResetPolicy struct {
	// Window is how many ended streams the share of premature resets is
	// taken over. Zero or a negative value means DefaultResetWindow.
	Window int
	// Lifetime is how soon after it opened a stream the client resets is
	// premature. Zero or a negative value means DefaultResetLifetime.
	Lifetime time.Duration
	// OnClose, when set, is called once for each connection closed for its
	// premature resets, with the connection's remote address and the counts
	// of its window at that moment, before the connection is closed.
	OnClose func(remote net.Addr, streams, premature int)
}

// Guard returns a listener of l's connections, each of which counts its
// streams and their premature resets (ResetsOf) and is closed when too many
// of them are premature, as p says. Put it under a Split or a TLS listener:
// the servers above find it through their connections (ResetsOf).
func Guard(l net.Listener, p ResetPolicy) net.Listener {
	if p.Window <= 0 {
		p.Window = DefaultResetWindow
	}
	if p.Lifetime <= 0 {
		p.Lifetime = DefaultResetLifetime
	}
	return &guardListener{Listener: l, policy: &p}
}

type guardListener struct {
	net.Listener
	policy *ResetPolicy
}

func (l *guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	gc := &guardedConn{Conn: c}
	gc.resets.policy, gc.resets.conn = l.policy, c
	return gc, nil
}

// guardedConn is a connection Guard accepted: it notes when the connection
// ends, so that the streams that end with it are not taken for resets by its
// client.
type guardedConn struct {
	net.Conn
	resets Resets
}

func (c *guardedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && !isTimeout(err) {
		c.resets.closed.Store(true)
	}
	return n, err
}

func (c *guardedConn) Close() error {
	c.resets.closed.Store(true)
	return c.Conn.Close()
}

// CloseWrite and ReadFrom pass on what the socket offers, as conn does.
func (c *guardedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

func (c *guardedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// Resets counts the streams of one connection that Guard accepted, and
// those among them that their client reset prematurely; it closes the
// connection once more than half of a window's streams were. Its methods
// are safe for concurrent use and take no lock.
type Resets struct {
	policy *ResetPolicy
	conn   net.Conn // the socket, closed for the client's resets
	// window counts the current window's ended streams (high 32 bits) and
	// premature resets (low 32 bits), in one word so that both change at
	// once.
	window atomic.Uint64
	// closed is set once the connection failed or was closed, by its server
	// or for its resets: the streams that end then end with it, not reset by
	// their client.
	closed atomic.Bool
}

// ResetsOf returns the Resets of a connection Guard accepted, found through
// the connections wrapped around it that tell what they wrap (NetConn, as
// *tls.Conn and a Split's connections do); nil for any other connection.
func ResetsOf(c net.Conn) *Resets {
	for {
		switch w := c.(type) {
		case *guardedConn:
			return &w.resets
		case interface{ NetConn() net.Conn }:
			c = w.NetConn()
		default:
			return nil
		}
	}
}

// StreamEnded records that one of the connection's streams (a request or
// call) ended: opened is when it started, and reset reports that its client
// reset it before its response was complete (its context was canceled
// before its handler returned). A reset within the policy's Lifetime of
// opened is premature. Once more than half of a window's streams are
// premature, the connection is closed.
func (r *Resets) StreamEnded(opened time.Time, reset bool) {
	var premature uint64
	if reset && time.Since(opened) < r.policy.Lifetime {
		premature = 1
	}
	window := uint64(r.policy.Window)
	for {
		old := r.window.Load()
		streams, resets := (old>>32)+1, (old&(1<<32-1))+premature
		next := streams<<32 | resets
		if streams == window {
			next = 0 // the window is full: the next stream starts a new one
		}
		if !r.window.CompareAndSwap(old, next) {
			continue
		}
		if 2*resets > window {
			r.close(int(streams), int(resets))
		}
		return
	}
}

// close closes the connection for its client's resets, unless it is closed
// already.
func (r *Resets) close(streams, premature int) {
	if !r.closed.CompareAndSwap(false, true) {
		return
	}
	if r.policy.OnClose != nil {
		r.policy.OnClose(r.conn.RemoteAddr(), streams, premature)
	}
	_ = r.conn.Close()
}
