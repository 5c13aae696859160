package listen

import (
	"errors"
	"io"
	"net"
)

// conn is a classified connection. Read first returns the bytes the sniffer
// read, then reads the socket, so the server sees the connection from its
// first byte.
//
// On an HTTP/2 connection the sniffer has sent an empty SETTINGS frame, and
// the server behind it sends its own, so the client acknowledges one SETTINGS
// frame more than that server sent. net/http treats an unexpected ACK as a
// connection error, so conn removes the client's first SETTINGS ACK from the
// stream: the client acknowledges frames in the order it received them, and
// the sniffer's frame was the first. Until then conn follows frame
// boundaries; after it, Read is a plain pass-through.
type conn struct {
	net.Conn
	replay []byte // sniffed bytes not yet returned

	dropAck bool                 // still looking for the client's first SETTINGS ACK
	left    int                  // bytes of the current frame (or the preface) still to pass on
	hdr     [frameHeaderLen]byte // the next frame header, held until it is complete
	nhdr    int                  // bytes in hdr
	passHdr bool                 // hdr[:nhdr] stays in the stream: return it
	hout    int                  // bytes of hdr already returned
}

func newConn(c net.Conn, replay []byte, h2 bool) *conn {
	cc := &conn{Conn: c, replay: replay}
	if h2 {
		cc.dropAck = true
		cc.left = len(clientPreface)
	}
	return cc
}

func (c *conn) Read(p []byte) (int, error) {
	if !c.dropAck && !c.passHdr {
		return c.readRaw(p)
	}
	return c.readDroppingAck(p)
}

// readRaw reads the replayed bytes, then the socket.
func (c *conn) readRaw(p []byte) (int, error) {
	if len(c.replay) == 0 {
		return c.Conn.Read(p)
	}
	n := copy(p, c.replay)
	c.replay = c.replay[n:]
	if len(c.replay) == 0 {
		c.replay = nil // let the buffer go
	}
	return n, nil
}

func (c *conn) readDroppingAck(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		switch {
		case c.passHdr:
			n := copy(p, c.hdr[c.hout:c.nhdr])
			c.hout += n
			if c.hout == c.nhdr {
				c.nhdr, c.hout, c.passHdr = 0, 0, false
			}
			return n, nil
		case c.left > 0:
			n, err := c.readRaw(p[:min(len(p), c.left)])
			c.left -= n
			return n, err
		case !c.dropAck:
			return c.readRaw(p)
		}
		n, err := c.readRaw(c.hdr[c.nhdr:])
		c.nhdr += n
		if c.nhdr < frameHeaderLen {
			switch {
			case err == nil:
				continue
			case c.nhdr > 0 && !isTimeout(err):
				// The stream ends inside a frame header: pass on what there
				// is, and the error on the next read.
				c.passHdr, c.dropAck = true, false
				continue
			}
			return 0, err
		}
		length := int(c.hdr[0])<<16 | int(c.hdr[1])<<8 | int(c.hdr[2])
		if isSettingsAck(c.hdr, length) {
			c.nhdr, c.dropAck = 0, false
			if err != nil {
				return 0, err
			}
			continue
		}
		// Any error that came with the header's last bytes comes back on the
		// next read of the socket.
		c.passHdr, c.left = true, length
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isSettingsAck(h [frameHeaderLen]byte, length int) bool {
	const (
		frameSettings = 0x4
		flagAck       = 0x1
	)
	streamID := (uint32(h[5])<<24 | uint32(h[6])<<16 | uint32(h[7])<<8 | uint32(h[8])) & (1<<31 - 1)
	return length == 0 && h[3] == frameSettings && h[4]&flagAck != 0 && streamID == 0
}

// CloseWrite shuts down the writing side when the socket supports it; net/http
// uses it to close HTTP/1 connections gracefully.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// ReadFrom lets net/http use sendfile/splice on the socket, as it does when it
// owns the connection.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// NetConn returns the connection c wraps, as tls.Conn.NetConn does; ResetsOf
// follows it.
func (c *conn) NetConn() net.Conn { return c.Conn }
