package telemetry

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"sync/atomic"
)

// countingConn is a hijacked connection that counts the bytes read from and written to it: a
// WebSocket's frames (headers, masks, payloads, control frames), which the access log reports as the
// session's bytes_in and bytes_out. The handshake is not among them, as no line counts headers: the
// upgrade request was read before the hijack, and the 101 response was written before it
// (coder/websocket, which both WebSocket fronts use, writes it through the ResponseWriter). A
// WebSocket's reader and its writers (an operation's, a keep-alive's) run at once, hence the
// atomics: an add per Read or Write, no allocation.
type countingConn struct {
	net.Conn
	in, out atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.Add(int64(n))
	return n, err
}

// Write counts p before it writes it: a byte the client has received has been counted, even when
// the goroutine that wrote it (an operation's) has yet to run again as the handler's ends. What a
// failed write did not send is taken back.
func (c *countingConn) Write(p []byte) (int, error) {
	c.out.Add(int64(len(p)))
	n, err := c.Conn.Write(p)
	if n < len(p) {
		c.out.Add(int64(n - len(p)))
	}
	return n, err
}

// wrap makes rw, the buffers net/http hands over with a hijacked connection, read and write through
// c: as net/http made them they use the connection beneath, and what passed through them would go
// uncounted. Bytes the server had read past the request (a client that sent frames before the 101
// arrived) are counted now, and stay buffered to be read first.
func (c *countingConn) wrap(rw *bufio.ReadWriter) *bufio.ReadWriter {
	if rw == nil {
		return nil
	}
	_ = rw.Writer.Flush() // empty as net/http makes it; Reset would drop what it held
	rw.Writer.Reset(c)
	n := rw.Reader.Buffered()
	if n == 0 {
		rw.Reader.Reset(c)
		return rw
	}
	c.in.Add(int64(n))
	early, _ := rw.Reader.Peek(n)
	r := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(early), c), max(n, 4096))
	_, _ = r.Peek(n) // buffers the early bytes (one read of the bytes.Reader), reading nothing from c
	return bufio.NewReadWriter(r, rw.Writer)
}
