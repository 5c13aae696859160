package wsguard

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
)

// Wrap returns the ResponseWriter to accept a WebSocket on in place of w, and the Guard the
// connection it hands over will be read through. When neither w nor a writer it wraps (Unwrap) can
// hand over its connection, it returns w and a nil Guard: the library refuses the handshake (501)
// before it answers 101, as it would without the guard, where a writer that always has Hijack
// would have it answer 101 and then fail.
func Wrap(w http.ResponseWriter) (http.ResponseWriter, *Guard) {
	if !canHijack(w) {
		return w, nil
	}
	g := new(Guard)
	return guardedWriter{ResponseWriter: w, guard: g}, g
}

// guardedWriter is the ResponseWriter a WebSocket is accepted on: its Hijack hands the library the
// connection read through guard.
type guardedWriter struct {
	http.ResponseWriter
	guard *Guard
}

// Hijack takes over the connection, whose reads, the bytes the server had read ahead first, go
// through the guard.
func (w guardedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.guard.src = conn
	if n := brw.Reader.Buffered(); n > 0 { // the client's first frames, sent with the handshake
		ahead, _ := brw.Reader.Peek(n)
		w.guard.src = io.MultiReader(bytes.NewReader(bytes.Clone(ahead)), conn)
	}
	gc := guardedConn{Conn: conn, guard: w.guard}
	brw.Reader.Reset(gc)
	return gc, brw, nil
}

// Unwrap gives http.ResponseController the underlying writer.
func (w guardedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// canHijack reports whether w, or a writer it wraps (Unwrap), can hand over its connection.
func canHijack(w http.ResponseWriter) bool {
	for {
		switch t := w.(type) {
		case http.Hijacker:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return false
		}
	}
}

// guardedConn is a hijacked connection whose reads go through a Guard.
type guardedConn struct {
	net.Conn
	guard *Guard
}

// Read reads through the guard.
func (c guardedConn) Read(p []byte) (int, error) { return c.guard.Read(p) }
