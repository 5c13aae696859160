package grpcweb

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
)

const (
	// base64InLen is how much base64 text the decoder reads at a time; a
	// multiple of 4 so that whole quanta fit.
	base64InLen  = 4096
	base64OutLen = base64InLen / 4 * 3
)

// base64Reader decodes a gRPC-Web text body as it streams in. The body is a
// concatenation of base64 chunks, each padded on its own (a client may flush
// a chunk at any byte, not only at frame boundaries), so it is decoded
// quantum by quantum, and a padded quantum ends one chunk. CR and LF are
// ignored. Bytes decoded before an error are delivered before the error.
type base64Reader struct {
	src  io.Reader
	pool mem.BufferPool
	buf  *[]byte // pooled; in = first base64InLen bytes, out = the rest

	n        int    // valid undecoded bytes at the start of in (< 4 between fills)
	out      []byte // decoded bytes not yet returned
	consumed int64  // base64 bytes decoded so far, for error offsets
	err      error  // sticky: from src, or a decoding error
}

func newBase64Reader(src io.Reader, pool mem.BufferPool) *base64Reader {
	return &base64Reader{src: src, pool: pool, buf: pool.Get(base64InLen + base64OutLen)}
}

// release returns the buffer to the pool; the reader must not be used after.
func (d *base64Reader) release() {
	if d.buf != nil {
		d.pool.Put(d.buf)
		d.buf = nil
		d.out = nil
	}
}

func (d *base64Reader) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		if d.buf == nil {
			return 0, errors.New("grpc-web: read from a released base64 decoder")
		}
		d.fill()
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

// fill reads more base64 text and decodes every whole quantum it has.
func (d *base64Reader) fill() {
	in := (*d.buf)[:base64InLen]
	m, err := d.src.Read(in[d.n:])
	d.n += stripNewlines(in[d.n : d.n+m])
	whole := d.n &^ 3
	out, derr := d.decode((*d.buf)[base64InLen:base64InLen], in[:whole])
	d.out = out
	d.n = copy(in, in[whole:d.n])
	switch {
	case derr != nil:
		d.err = derr
	case err == io.EOF && d.n > 0:
		d.err = status.Errorf(codes.Internal, "grpc-web: truncated base64 in request body: %d trailing characters do not make a 4-character quantum", d.n)
	case err != nil:
		d.err = err
	}
}

// decode appends the decoding of src (whole quanta) to dst, one padded
// chunk at a time.
func (d *base64Reader) decode(dst, src []byte) ([]byte, error) {
	for len(src) > 0 {
		end := len(src)
		if i := bytes.IndexByte(src, '='); i >= 0 {
			end = (i/4 + 1) * 4 // the quantum holding the padding ends the chunk
		}
		n, err := base64.StdEncoding.Decode(dst[len(dst):cap(dst)], src[:end])
		dst = dst[:len(dst)+n]
		if err != nil {
			var at base64.CorruptInputError
			if errors.As(err, &at) {
				return dst, status.Errorf(codes.Internal, "grpc-web: malformed base64 in request body at byte %d", d.consumed+int64(at))
			}
			return dst, status.Errorf(codes.Internal, "grpc-web: malformed base64 in request body: %v", err)
		}
		d.consumed += int64(end)
		src = src[end:]
	}
	return dst, nil
}

// stripNewlines removes CR and LF from b in place and returns the new length.
func stripNewlines(b []byte) int {
	if !bytes.ContainsAny(b, "\r\n") {
		return len(b)
	}
	n := 0
	for _, c := range b {
		if c != '\r' && c != '\n' {
			b[n] = c
			n++
		}
	}
	return n
}
