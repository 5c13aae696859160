// Package testnet gives tests loopback addresses that behave like broken backends: one nothing
// listens on (connections are refused) and one that accepts connections and never answers.
package testnet

import (
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

// Refused returns a loopback address nothing listens on: connections to it are refused. The port
// stays bound (by a socket that never listens, without SO_REUSEADDR) until the test ends, so no
// other listener, in this process or another, is given it meanwhile: a port merely closed again
// could go to the next listener on port 0, such as the gateway a test starts next. Listen takes
// the address over, for a test that brings the backend up later.
func Refused(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.CloseOnExec(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	reserved.Store(addr, fd)
	t.Cleanup(func() { release(addr) })
	return addr
}

// reserved holds Refused's sockets by address.
var reserved sync.Map // string -> int (a file descriptor)

// release closes the socket holding addr, if one still does.
func release(addr string) {
	if fd, ok := reserved.LoadAndDelete(addr); ok {
		syscall.Close(fd.(int))
	}
}

// Listen listens on addr, first releasing it if Refused holds it.
func Listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	release(addr)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Silent returns a loopback address that accepts connections and never answers; the connections
// are closed when the test ends.
func Silent(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// Closing returns a loopback address that accepts connections and closes each at once: a backend
// that is down, without a port some other process might take. It stops when the test ends.
func Closing(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return l.Addr().String()
}
