package listen

import (
	"net"
	"sync"
)

// child is one of the two listeners a Split hands classified connections to.
// Closing it stops its server only: the base listener and the other child go
// on, and connections classified for it from then on are closed.
type child struct {
	s      *Split
	conns  chan net.Conn // unbuffered: a conn is either accepted or closed
	closed chan struct{}
	once   sync.Once
}

func newChild(s *Split) *child {
	return &child{s: s, conns: make(chan net.Conn), closed: make(chan struct{})}
}

// Accept waits for the next connection classified for this listener. It
// returns net.ErrClosed once the listener or the Split is closed.
func (l *child) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-l.s.stopping:
		return nil, net.ErrClosed
	}
}

// Close makes Accept return net.ErrClosed; it leaves the base listener open.
// It always returns nil, so that closing it again (http.Server.Shutdown after
// Split.Close, say) reports no error.
func (l *child) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr returns the base listener's address.
func (l *child) Addr() net.Addr { return l.s.base.Addr() }

// deliver waits until the server accepts c, or closes c if this listener or
// the Split closes first.
func (l *child) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.closed:
		c.Close()
	case <-l.s.stopping:
		c.Close()
	}
}
