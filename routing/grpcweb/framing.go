package grpcweb

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // registers gzip, which browsers' gRPC-Web clients may compress with
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
)

// A gRPC-Web frame is the gRPC length-prefixed message: one flag byte, a
// 4-byte big-endian length, then the payload.
const (
	frameHeaderLen = 5

	flagCompressed byte = 0x01 // payload compressed with grpc-encoding
	flagTrailer    byte = 0x80 // payload is the trailer block (responses only)

	// maxPooledBuffer caps the buffers this package takes from and returns
	// to the shared pool; a larger message gets a buffer of its own, so one
	// huge message cannot pin memory in the pool.
	maxPooledBuffer = 8 << 20

	// initialPayloadBuffer is the buffer a larger message's payload starts in; it grows as the
	// payload arrives.
	initialPayloadBuffer = 16 << 10
)

// frameReader reads the request's message frames from the decoded body
// (binary: the body itself; text: a base64Reader over it). It is used by one
// goroutine at a time and keeps the first error it meets.
type frameReader struct {
	src  io.Reader
	max  int
	pool mem.BufferPool
	// encoding is the request's grpc-encoding, which compressed frames are in ("" or "identity":
	// none may be).
	encoding string
	// sizes, when set, is told each frame's length once its header is read, before its payload
	// is: the time the request may take grows with it (serverStream.BoundRecv).
	sizes interface{ announced(length uint32) }
	hdr   [frameHeaderLen]byte
	err   error
}

// next returns the next message payload, owned by the caller (Free it).
// It returns io.EOF at the clean end of the body, a status error for a
// malformed, compressed or oversized frame, and the reader's own error
// otherwise.
func (fr *frameReader) next() (mem.Buffer, error) {
	if fr.err != nil {
		return nil, fr.err
	}
	n, err := readFull(fr.src, fr.hdr[:])
	switch {
	case err == io.EOF && n == 0:
		fr.err = io.EOF
		return nil, fr.err
	case err == io.EOF:
		fr.err = status.Errorf(codes.Internal, "grpc-web: truncated request: body ends %d bytes into a %d-byte frame header", n, frameHeaderLen)
		return nil, fr.err
	case err != nil:
		fr.err = err
		return nil, fr.err
	}
	flags := fr.hdr[0]
	length := binary.BigEndian.Uint32(fr.hdr[1:])
	var c encoding.Compressor // of a compressed frame
	switch {
	case flags&flagTrailer != 0:
		fr.err = status.Errorf(codes.Internal, "grpc-web: request frame has the trailer flag (flags 0x%02x); requests carry only messages", flags)
	case flags == flagCompressed:
		c, fr.err = fr.compressor()
	case flags != 0:
		fr.err = status.Errorf(codes.Internal, "grpc-web: request frame has unknown flags 0x%02x", flags)
	}
	if fr.err == nil && uint64(length) > uint64(fr.max) {
		fr.err = status.Errorf(codes.ResourceExhausted, "grpc-web: received message larger than max (%d vs. %d)", length, fr.max)
	}
	if fr.err != nil {
		return nil, fr.err
	}
	if fr.sizes != nil {
		fr.sizes.announced(length)
	}
	msg, err := fr.payload(length)
	if err != nil || c == nil {
		return msg, err
	}
	return fr.decompress(c, msg)
}

// payload reads a frame's payload of length bytes, in a pooled buffer when it is large enough.
// The buffer grows with the bytes that arrive, from initialPayloadBuffer, doubling up to length:
// a frame header alone, announcing a large message, cannot make the gateway reserve it.
func (fr *frameReader) payload(length uint32) (mem.Buffer, error) {
	if length == 0 {
		return mem.SliceBuffer(nil), nil
	}
	size := int(length)
	buf := fr.getBuffer(min(size, initialPayloadBuffer))
	n := 0
	for {
		m, err := readFull(fr.src, (*buf)[n:])
		n += m
		if err != nil {
			fr.putBuffer(buf)
			if err == io.EOF {
				err = status.Errorf(codes.Internal, "grpc-web: truncated request: body ends %d bytes into a %d-byte message", n, length)
			}
			fr.err = err
			return nil, err
		}
		if n == size {
			break
		}
		next := fr.getBuffer(min(2*len(*buf), size))
		copy(*next, (*buf)[:n])
		fr.putBuffer(buf)
		buf = next
	}
	if !pooledSize(size) {
		return mem.SliceBuffer(*buf), nil
	}
	return mem.NewBuffer(buf, fr.pool), nil
}

// pooledSize reports whether a buffer of n bytes comes from (and goes back to) the pool.
func pooledSize(n int) bool {
	return !mem.IsBelowBufferPoolingThreshold(n) && n <= maxPooledBuffer
}

// getBuffer returns a buffer of n bytes, from the pool when pooledSize(n).
func (fr *frameReader) getBuffer(n int) *[]byte {
	if pooledSize(n) {
		return fr.pool.Get(n)
	}
	b := make([]byte, n)
	return &b
}

// putBuffer returns buf, from getBuffer, to the pool if it came from there.
func (fr *frameReader) putBuffer(buf *[]byte) {
	if pooledSize(len(*buf)) {
		fr.pool.Put(buf)
	}
}

// compressor is the compressor of the request's grpc-encoding (any that grpc-go has registered:
// gzip), which a compressed frame needs.
func (fr *frameReader) compressor() (encoding.Compressor, error) {
	if fr.encoding == "" || strings.EqualFold(fr.encoding, "identity") {
		return nil, status.Error(codes.Internal, "grpc-web: a frame is compressed but the request names no grpc-encoding")
	}
	if c := encoding.GetCompressor(strings.ToLower(fr.encoding)); c != nil {
		return c, nil
	}
	return nil, status.Errorf(codes.Unimplemented, "grpc-web: grpc-encoding %q is not supported (gzip is)", fr.encoding)
}

// decompress returns msg, a compressed payload (which it frees), decompressed, at most max bytes.
func (fr *frameReader) decompress(c encoding.Compressor, msg mem.Buffer) (mem.Buffer, error) {
	defer msg.Free()
	dr, err := c.Decompress(bytes.NewReader(msg.ReadOnlyData()))
	if err == nil {
		var out []byte
		if out, err = io.ReadAll(io.LimitReader(dr, int64(fr.max)+1)); err == nil {
			if len(out) > fr.max {
				fr.err = status.Errorf(codes.ResourceExhausted, "grpc-web: received message after decompression larger than max (%d)", fr.max)
				return nil, fr.err
			}
			return mem.SliceBuffer(out), nil
		}
	}
	fr.err = status.Errorf(codes.Internal, "grpc-web: decompressing a %s message: %v", fr.encoding, err)
	return nil, fr.err
}

// readFull is io.ReadFull that keeps the source's own error: it returns
// io.EOF (never io.ErrUnexpectedEOF) when the source ends before p is full,
// with n saying how far it got, so the caller can tell truncation from a
// failing transport.
func readFull(r io.Reader, p []byte) (n int, err error) {
	for n < len(p) {
		var m int
		m, err = r.Read(p[n:])
		n += m
		if err != nil {
			if err == io.EOF && n == len(p) {
				return n, nil
			}
			return n, err
		}
	}
	return n, nil
}
