package resolvers

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
)

// A WebSocket's read limit (gqlgen's PayloadReadLimit, 1 MiB, which the transport sets through
// wsConn.SetReadLimit) is coder/websocket's: it counts a message's bytes as it reads them, and
// refuses the message with 1009 once it has read the limit and one more. A frame whose header
// announces more is read all the same, up to the limit, and then the library's close handshake
// reads the rest of its payload, announced as up to 2^63 bytes, a byte at a time, before the
// connection closes; a client that announces a huge frame and sends nothing holds the socket open
// for as long as it likes.
//
// So the connection is read through a frameGuard, beneath the library: it follows the frames'
// headers as their bytes go by, and stops the read at the header of a data frame that takes the
// message it is part of over the limit, before the library has the header whole. The socket then
// closes with 1009 Message Too Big at once (wsConn.NextReader), having read none of the payload.

// frameGuard reads a WebSocket connection's bytes from the client for coder/websocket, following
// the frames (RFC 6455 5.2): it ends the read at the header of a data frame that announces more
// than the read limit for its message, counting the frames before it of a fragmented message.
// Compression is not negotiated (coder/websocket's default), so the lengths on the wire are the
// message's. One goroutine reads at a time (the library's read lock); the limit and the refusal
// are atomic, as they are set and read from others.
type frameGuard struct {
	src     io.Reader                   // the connection
	limit   atomic.Int64                // the read limit; 0 until SetReadLimit: no limit
	refused atomic.Pointer[frameTooBig] // the frame the read stopped at, once it has

	header  [14]byte // the bytes of the header being read: 2, 8 of extended length, 4 of mask
	got     int      // how many of header there are
	payload uint64   // bytes of the current frame's payload still to come
	message uint64   // bytes announced so far for the current data message
}

// frameTooBig is a frameGuard's refusal: a message announced over the limit.
type frameTooBig struct {
	announced, limit uint64
}

// Error says how many bytes were announced, and the limit.
func (e *frameTooBig) Error() string {
	return fmt.Sprintf("message of %d bytes announced, over the limit of %d bytes", e.announced, e.limit)
}

// setLimit sets the most bytes a message may have; limit <= 0 sets none.
func (g *frameGuard) setLimit(limit int64) { g.limit.Store(max(limit, 0)) }

// Read reads bytes for the library, stopping at the header of a frame that takes its message over
// the limit (the library may have had its first bytes from earlier reads, never all of them); then,
// and from then on, it fails with the refusal.
func (g *frameGuard) Read(p []byte) (int, error) {
	if e := g.refused.Load(); e != nil {
		return 0, e
	}
	n, err := g.src.Read(p)
	for i := 0; i < n; {
		if g.got == 0 && g.payload > 0 {
			k := int(min(uint64(n-i), g.payload))
			i += k
			g.payload -= uint64(k)
			continue
		}
		start := i - g.got // where this header starts in p: negative when in an earlier read
		g.header[g.got] = p[i]
		g.got++
		i++
		if g.got < headerLength(g.header[:g.got]) {
			continue
		}
		if e := g.frame(); e != nil {
			g.refused.Store(e)
			if start > 0 {
				return start, nil // the frames before it; the refusal next
			}
			return 0, e
		}
	}
	return n, err
}

// frame takes the header that is whole in g.header: the refusal of the frame it starts, or nil.
func (g *frameGuard) frame() *frameTooBig {
	h := g.header[:g.got]
	g.got = 0
	length := uint64(h[1] & 0x7f)
	switch length {
	case 126:
		length = uint64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		length = binary.BigEndian.Uint64(h[2:10])
	}
	g.payload = length
	switch opcode := h[0] & 0x0f; {
	case opcode&0x08 != 0: // a control frame, within a message or between two
		return nil
	case opcode != 0: // a text or binary frame starts a message; a continuation (0) adds to one
		g.message = 0
	}
	limit := uint64(g.limit.Load())
	if limit == 0 {
		return nil
	}
	if length > limit || g.message > limit-length {
		return &frameTooBig{announced: sat(g.message, length), limit: limit}
	}
	g.message += length
	return nil
}

// headerLength returns the length of the frame header that h starts, once h holds its first two
// bytes (2 until then): the extended payload length and the masking key follow them.
func headerLength(h []byte) int {
	if len(h) < 2 {
		return 2
	}
	n := 2
	switch h[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if h[1]&0x80 != 0 {
		n += 4
	}
	return n
}

// sat is a + b, or the largest uint64 when that overflows.
func sat(a, b uint64) uint64 {
	if a > ^uint64(0)-b {
		return ^uint64(0)
	}
	return a + b
}

// guardedWriter is the ResponseWriter a WebSocket is accepted on: its Hijack hands the library the
// connection read through guard.
type guardedWriter struct {
	http.ResponseWriter
	guard *frameGuard
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

// guardedConn is a hijacked connection whose reads go through a frameGuard.
type guardedConn struct {
	net.Conn
	guard *frameGuard
}

// Read reads through the guard.
func (c guardedConn) Read(p []byte) (int, error) { return c.guard.Read(p) }
