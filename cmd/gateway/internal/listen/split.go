package listen

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Split divides the connections of one listener between a gRPC server and an
// HTTP server. See the package documentation.
type Split struct {
	base net.Listener
	opts options
	grpc *child
	http *child

	bufs sync.Pool // *[]byte of initialBufSize, the first read of each sniff

	stopping  chan struct{} // closed when the split stops accepting
	stopOnce  sync.Once
	closeOnce sync.Once
	closeErr  error

	mu       sync.Mutex
	stopped  bool                  // guarded by mu
	sniffing map[net.Conn]struct{} // conns being classified; guarded by mu
	wg       sync.WaitGroup        // one per connection goroutine (classify, then deliver)
}

// New returns a Split of l. Nothing is accepted until Serve runs; serve (or
// close) both GRPC() and HTTP(), since a classified connection waits for its
// listener to accept it. New panics if l is nil.
func New(l net.Listener, opts ...Option) *Split {
	if l == nil {
		panic("listen: New with a nil listener")
	}
	s := &Split{
		base:     l,
		opts:     newOptions(opts),
		stopping: make(chan struct{}),
		sniffing: make(map[net.Conn]struct{}),
	}
	s.bufs.New = func() any {
		b := make([]byte, 0, initialBufSize)
		return &b
	}
	s.grpc = newChild(s)
	s.http = newChild(s)
	return s
}

// GRPC returns the listener of connections whose first request is gRPC, for
// grpc.Server.Serve.
func (s *Split) GRPC() net.Listener { return s.grpc }

// HTTP returns the listener of all other connections (HTTP/1.x and HTTP/2
// with prior knowledge), for http.Server.Serve.
func (s *Split) HTTP() net.Listener { return s.http }

// Serve accepts connections from the base listener and classifies each in its
// own goroutine until the base listener fails or is closed. It returns nil
// after Close, and otherwise the error that stopped it; either way both child
// listeners are closed and every classifying goroutine has ended. Call it
// once.
func (s *Split) Serve() error {
	var delay time.Duration
	for {
		c, err := s.base.Accept()
		if err != nil {
			if isTemporary(err) && s.backoff(&delay) {
				continue
			}
			s.stop()
			s.wg.Wait()
			if s.closing() {
				return nil
			}
			return fmt.Errorf("listen: accept: %w", err)
		}
		delay = 0
		if !s.track(c) {
			c.Close()
			continue
		}
		go s.handle(c)
	}
}

// Close closes the base listener, closes the connections still being
// classified, and makes Accept on both child listeners return net.ErrClosed.
// Connections already handed to a server are not touched: stop the servers
// for those.
func (s *Split) Close() error {
	s.closeOnce.Do(func() {
		s.stop()
		s.closeErr = s.base.Close()
	})
	return s.closeErr
}

func (s *Split) closing() bool {
	select {
	case <-s.stopping:
		return true
	default:
		return false
	}
}

// stop ends classification: no new connection is tracked, those in flight
// are closed (which ends their reads), and the children stop accepting.
func (s *Split) stop() {
	s.stopOnce.Do(func() {
		close(s.stopping)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.stopped = true
		for c := range s.sniffing {
			c.Close()
		}
		clear(s.sniffing)
	})
}

// track records a connection about to be classified; it reports false once
// the split has stopped.
func (s *Split) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.sniffing[c] = struct{}{}
	s.wg.Add(1)
	return true
}

// untrack reports whether the connection was still tracked, that is, stop
// has not closed it.
func (s *Split) untrack(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.sniffing[c]
	delete(s.sniffing, c)
	return ok
}

func (s *Split) handle(c net.Conn) {
	defer s.wg.Done()
	cc, dest, err := s.classify(c)
	if !s.untrack(c) || err != nil {
		// A connection that is not a request within the limits gets no
		// answer; there is no server yet to give one.
		c.Close()
		return
	}
	if dest == toGRPC {
		s.grpc.deliver(cc)
	} else {
		s.http.deliver(cc)
	}
}

func (s *Split) classify(c net.Conn) (*conn, destination, error) {
	if err := c.SetDeadline(time.Now().Add(s.opts.sniffTimeout)); err != nil {
		return nil, 0, err
	}
	bp := s.bufs.Get().(*[]byte)
	v, err := classify(c, c, (*bp)[:0], s.opts.maxSniffBytes)
	replay := v.buf
	if err == nil && cap(replay) == cap(*bp) {
		// Still the pooled buffer (a grown one is larger): keep a copy of
		// the bytes read and give the buffer back.
		replay = append([]byte(nil), replay...)
	}
	s.bufs.Put(bp)
	if err != nil {
		return nil, 0, err
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		return nil, 0, err
	}
	return newConn(c, replay, v.h2), v.dest, nil
}

// backoff sleeps after a temporary accept error, as net/http does; it
// reports false if the split stopped meanwhile.
func (s *Split) backoff(delay *time.Duration) bool {
	*delay = min(max(2**delay, 5*time.Millisecond), time.Second)
	t := time.NewTimer(*delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.stopping:
		return false
	}
}

func isTemporary(err error) bool {
	var te interface{ Temporary() bool }
	return errors.As(err, &te) && te.Temporary()
}
