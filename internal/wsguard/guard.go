package wsguard

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
)

// Guard reads a WebSocket connection's bytes from the client for coder/websocket, following the
// frames (RFC 6455 5.2): it ends the read at the header of a data frame that announces more than
// the read limit for its message, counting the frames before it of a fragmented message.
// Compression is not negotiated (coder/websocket's default), so the lengths on the wire are the
// message's. One goroutine reads at a time (the library's read lock); the limit and the refusal
// are atomic, as they are set and read from others. Wrap makes one; a nil Guard refuses nothing.
type Guard struct {
	src     io.Reader              // the connection
	limit   atomic.Int64           // the read limit; 0 until SetLimit: no limit
	refused atomic.Pointer[TooBig] // the frame the read stopped at, once it has
	stopped atomic.Bool            // Stop was called

	header  [14]byte // the bytes of the header being read: 2, 8 of extended length, 4 of mask
	got     int      // how many of header there are
	payload uint64   // bytes of the current frame's payload still to come
	message uint64   // bytes announced so far for the current data message
}

// TooBig is a Guard's refusal: a message announced over the limit.
type TooBig struct {
	Announced uint64 // the bytes the message's frames announced, up to the one refused
	Limit     uint64 // the read limit
}

// Error says how many bytes were announced, and the limit.
func (e *TooBig) Error() string {
	return fmt.Sprintf("message of %d bytes announced, over the limit of %d bytes", e.Announced, e.Limit)
}

// SetLimit sets the most bytes a message may have; limit <= 0 sets none. Give it the limit given to
// the library's Conn.SetReadLimit.
func (g *Guard) SetLimit(limit int64) {
	if g != nil {
		g.limit.Store(max(limit, 0))
	}
}

// Refused returns the refusal the read stopped at, or nil while it has not stopped.
func (g *Guard) Refused() *TooBig {
	if g == nil {
		return nil
	}
	return g.refused.Load()
}

// errStopped is what reads fail with once Guard.Stop has been called.
var errStopped = errors.New("wsguard: the read was stopped")

// Stop ends the read: every read from then on fails with errStopped, so that the library's close
// handshake ends at once, the bytes it has buffered read and no more. A front stops the read when
// the client has broken the protocol: RFC 6455 (7.1.7) has the server send its close frame and
// close the connection, reading nothing more of the client's.
func (g *Guard) Stop() {
	if g != nil {
		g.stopped.Store(true)
	}
}

// Read reads bytes for the library, stopping at the header of a frame that takes its message over
// the limit (the library may have had its first bytes from earlier reads, never all of them); then,
// and from then on, it fails with the refusal. Once Stop has been called it fails with errStopped.
func (g *Guard) Read(p []byte) (int, error) {
	if e := g.refused.Load(); e != nil {
		return 0, e
	}
	if g.stopped.Load() {
		return 0, errStopped
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
func (g *Guard) frame() *TooBig {
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
		return &TooBig{Announced: sat(g.message, length), Limit: limit}
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
