package ratelimittest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP proxy on loopback in front of a server, whose connections a test breaks on
// purpose, as a proxy's idle timeout or a network fault would: it forwards bytes as they come, so
// TLS passes through it untouched.
type Proxy struct {
	Addr   string
	target string
	ln     net.Listener

	mu     sync.Mutex
	conns  map[*proxied]bool
	closed bool
	wg     sync.WaitGroup
}

// Break says what happens to a connection's next bytes from the client (its next command).
type Break int

const (
	// CloseOnCommand closes the connection, without forwarding the command: the client reads EOF.
	CloseOnCommand Break = iota + 1
	// ResetOnCommand resets the connection, without forwarding the command: the client reads
	// "connection reset by peer".
	ResetOnCommand
	// SwallowCommand drops the command and keeps the connection open: the client waits for a
	// reply that never comes.
	SwallowCommand
)

// proxied is one client connection and the proxy's connection to the server for it.
type proxied struct {
	client, server net.Conn
	brk            Break // guarded by Proxy.mu
}

// StartProxy starts a proxy to target ("host:port"), stopped when t ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[*proxied]bool{}}
	p.wg.Go(p.accept)
	t.Cleanup(p.stop)
	return p
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		pc := &proxied{client: c, server: s}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = c.Close()
			_ = s.Close()
			return
		}
		p.conns[pc] = true
		p.mu.Unlock()
		p.wg.Go(func() { p.forward(pc) })
		p.wg.Go(func() {
			_, _ = io.Copy(c, s)
			_ = c.Close()
		})
	}
}

// forward copies the client's bytes to the server until the client closes or the connection
// breaks as Break says.
func (p *Proxy) forward(pc *proxied) {
	defer p.drop(pc)
	buf := make([]byte, 32<<10)
	for {
		n, err := pc.client.Read(buf)
		if n > 0 {
			p.mu.Lock()
			brk := pc.brk
			p.mu.Unlock()
			switch brk {
			case CloseOnCommand:
				return
			case ResetOnCommand:
				_ = pc.client.(*net.TCPConn).SetLinger(0)
				return
			case SwallowCommand:
				continue
			}
			if _, werr := pc.server.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) drop(pc *proxied) {
	_ = pc.client.Close()
	_ = pc.server.Close()
	p.mu.Lock()
	delete(p.conns, pc)
	p.mu.Unlock()
}

// BreakOpen makes every connection open now break as b says when the client next writes to it.
// Connections made later pass through. It returns how many it armed.
func (p *Proxy) BreakOpen(b Break) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pc := range p.conns {
		pc.brk = b
	}
	return len(p.conns)
}

func (p *Proxy) stop() {
	p.mu.Lock()
	p.closed = true
	conns := make([]*proxied, 0, len(p.conns))
	for pc := range p.conns {
		conns = append(conns, pc)
	}
	p.mu.Unlock()
	_ = p.ln.Close()
	for _, pc := range conns {
		_ = pc.client.Close()
		_ = pc.server.Close()
	}
	p.wg.Wait()
}
