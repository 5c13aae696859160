package listen_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/protogate/gateway/cmd/gateway/internal/listen"
)

// guarded is one loopback connection accepted through Guard: the server's end, its Resets, and the
// client's end.
type guarded struct {
	server net.Conn
	resets *listen.Resets
	client net.Conn
	closes atomic.Int32 // OnClose calls
	last   [2]int       // OnClose's streams and premature, last call
}

func guard(t *testing.T, p listen.ResetPolicy) *guarded {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	g := new(guarded)
	p.OnClose = func(remote net.Addr, streams, premature int) {
		if remote.String() != g.client.LocalAddr().String() {
			t.Errorf("OnClose for %v, want the client's address %v", remote, g.client.LocalAddr())
		}
		g.closes.Add(1)
		g.last = [2]int{streams, premature}
	}
	if g.client, err = net.Dial("tcp", ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.client.Close() })
	if g.server, err = listen.Guard(ln, p).Accept(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.server.Close() })
	if g.resets = listen.ResetsOf(g.server); g.resets == nil {
		t.Fatal("ResetsOf a connection Guard accepted is nil")
	}
	return g
}

// ended reports n streams ended: reset at once, or answered.
func (g *guarded) ended(n int, reset bool) {
	for range n {
		g.resets.StreamEnded(time.Now(), reset)
	}
}

// wantClosed requires the connection closed for its resets (once), or open.
func (g *guarded) wantClosed(t *testing.T, closed bool) {
	t.Helper()
	if n := g.closes.Load(); closed && n != 1 || !closed && n != 0 {
		t.Fatalf("OnClose called %d times, want closed %v", n, closed)
	}
	if !closed {
		return
	}
	if err := g.client.SetReadDeadline(time.Now().Add(waitLimit)); err != nil {
		t.Fatal(err)
	}
	if _, err := g.client.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the client reads %v, want EOF: the server closed the connection", err)
	}
}

// TestResetsCloseOnMostOfAWindow: the connection is closed as soon as more than half of a window's
// streams were reset at once, before the window is full, and OnClose is told so once.
func TestResetsCloseOnMostOfAWindow(t *testing.T) {
	g := guard(t, listen.ResetPolicy{Window: 10})
	g.ended(2, false)
	g.ended(5, true)
	g.wantClosed(t, false)
	g.ended(1, true) // 6 of 10, whatever the 2 streams left do
	g.wantClosed(t, true)
	if g.last != [2]int{8, 6} {
		t.Errorf("OnClose told %d streams, %d premature; want 8, 6", g.last[0], g.last[1])
	}
	g.ended(20, true) // the streams still running when it closed
	g.wantClosed(t, true)
}

// TestResetsHalfKeepsConnection: a client that resets half of its streams at once, window after
// window, keeps its connection: it is the share of a window that counts, not how many resets the
// connection has seen. A window whose resets are a majority closes it, the windows before it
// notwithstanding.
func TestResetsHalfKeepsConnection(t *testing.T) {
	g := guard(t, listen.ResetPolicy{Window: 10})
	for range 100 {
		g.ended(5, true)
		g.ended(5, false)
	}
	g.wantClosed(t, false)
	g.ended(4, false)
	g.ended(6, true)
	g.wantClosed(t, true)
}

// TestResetsLateResetsKeepConnection: a stream its client resets after the policy's lifetime (a
// watch the user closed, a long call's deadline) is not premature.
func TestResetsLateResetsKeepConnection(t *testing.T) {
	for _, p := range []listen.ResetPolicy{{Window: 10}, {Window: 10, Lifetime: time.Minute}} {
		lifetime := p.Lifetime
		if lifetime == 0 {
			lifetime = listen.DefaultResetLifetime
		}
		g := guard(t, p)
		for range 100 {
			g.resets.StreamEnded(time.Now().Add(-lifetime), true)
		}
		g.wantClosed(t, false)
		g.resets.StreamEnded(time.Now().Add(-lifetime/2), true)
		g.ended(5, true)
		g.wantClosed(t, true)
	}
}

// TestResetsConnectionEndedFirst: the streams that end because their connection did (its client
// went away, its server closed it) are canceled as a reset stream is, and close nothing again.
func TestResetsConnectionEndedFirst(t *testing.T) {
	t.Run("client gone", func(t *testing.T) {
		g := guard(t, listen.ResetPolicy{Window: 10})
		g.client.Close()
		if _, err := g.server.Read(make([]byte, 1)); err == nil {
			t.Fatal("read after the client closed")
		}
		g.ended(10, true)
		g.wantClosed(t, false)
	})
	t.Run("closed by its server", func(t *testing.T) {
		g := guard(t, listen.ResetPolicy{Window: 10})
		g.server.Close()
		g.ended(10, true)
		g.wantClosed(t, false)
	})
	t.Run("a read timing out", func(t *testing.T) {
		g := guard(t, listen.ResetPolicy{Window: 10})
		if err := g.server.SetReadDeadline(time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := g.server.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read: %v, want a timeout", err)
		}
		g.ended(10, true)
		g.wantClosed(t, true)
	})
}

// TestResetsConcurrent: streams that end at once on many goroutines are all counted, and the
// connection closed once.
func TestResetsConcurrent(t *testing.T) {
	g := guard(t, listen.ResetPolicy{Window: 100})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { g.ended(100, true) })
	}
	wg.Wait()
	g.wantClosed(t, true)
}

// TestResetsOf: the servers find the Resets through the connections they were handed, a Split's
// or a TLS one over it; any other connection has none.
func TestResetsOf(t *testing.T) {
	g := guard(t, listen.ResetPolicy{})
	for name, c := range map[string]net.Conn{
		"split": listen.NewConn(g.server, nil, true),
		"tls":   tls.Server(g.server, &tls.Config{}),
	} {
		if r := listen.ResetsOf(c); r != g.resets {
			t.Errorf("%s: ResetsOf = %p, want the guarded connection's %p", name, r, g.resets)
		}
	}
	if r := listen.ResetsOf(g.client); r != nil {
		t.Errorf("ResetsOf a connection not guarded = %p, want nil", r)
	}
}
