package resolvers

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync"

	"google.golang.org/grpc/codes"
)

// A GraphQL POST's body is one JSON object. gqlgen's transports (POST and SSE) decode the first
// JSON value of a body and ignore what follows it, so `{"query":"{ a }"} garbage`, or two objects
// in a row, would run the first operation. The handler reads the body once, refuses one with
// anything but whitespace after its first value, and hands gqlgen the same bytes: the check is a
// scan of the bytes (trailingData), not a second decoding. A batch (an array) is passed on, and
// gqlgen refuses it as before.

// postBody is a POST's body, read whole and checked, as gqlgen's transport reads it again. Pooled:
// release it once the request is served.
type postBody struct {
	buf []byte
	r   bytes.Reader
}

func (b *postBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b *postBody) Close() error               { return nil }

var postBodies = sync.Pool{New: func() any { return new(postBody) }}

const (
	maxPooledBody     = 64 << 10 // a larger buffer is not kept for the next request
	maxPreallocedBody = 64 << 10 // what a Content-Length reserves at most before the bytes arrive
)

// release returns b to the pool; gqlgen has copied what it read.
func (b *postBody) release() {
	if cap(b.buf) > maxPooledBody {
		return
	}
	b.r.Reset(nil)
	postBodies.Put(b)
}

// readPOSTBody reads r's body, already bounded by http.MaxBytesReader when the handler has a limit,
// and checks that it holds no more than one JSON value. It returns the body to hand on, or the
// status and error to refuse the request with: 413 DOCUMENT_TOO_LARGE past the limit, 400
// INVALID_ARGUMENT for data after the value (never quoted back) or a body that could not be read.
func readPOSTBody(r *http.Request) (*postBody, int, error) {
	b := postBodies.Get().(*postBody)
	buf := b.buf[:0]
	if n := r.ContentLength; n > 0 && n >= int64(cap(buf)) {
		buf = slices.Grow(buf, int(min(n, maxPreallocedBody))+1) // +1: the read that sees EOF
	}
	buf, err := appendAll(buf, r.Body)
	b.buf = buf
	if err != nil {
		b.release()
		if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
			return nil, http.StatusRequestEntityTooLarge, requestError(CodeDocumentTooLarge,
				"request body exceeds the limit of %d bytes", tooBig.Limit)
		}
		return nil, http.StatusBadRequest, requestError(codeName(codes.InvalidArgument), "the request body could not be read: %v", err)
	}
	if c := firstByte(buf); c != '{' && c != '[' { // a batch ('[') is gqlgen's to refuse
		b.release()
		return nil, http.StatusBadRequest, requestError(codeName(codes.InvalidArgument),
			"the body must be one JSON object, with the operation's query")
	}
	if i := trailingData(buf); i >= 0 {
		b.release()
		return nil, http.StatusBadRequest, requestError(codeName(codes.InvalidArgument),
			"the body must be one JSON object: data follows it at byte %d", i)
	}
	b.r.Reset(buf)
	return b, 0, nil
}

// firstByte returns the first byte of buf that is not JSON whitespace, or 0.
func firstByte(buf []byte) byte {
	for _, c := range buf {
		switch c {
		case ' ', '\t', '\n', '\r':
		default:
			return c
		}
	}
	return 0
}

// appendAll appends what r holds to buf, as io.ReadAll does into a buffer of its own.
func appendAll(buf []byte, r io.Reader) ([]byte, error) {
	if cap(buf) == 0 {
		buf = make([]byte, 0, 512)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// trailingData returns the offset of the first byte that is not whitespace after the first JSON
// value of b, or -1 when there is none: b is one value (or none) and whitespace. It finds where the
// value ends without validating it, so that a malformed body (b ending inside its first value, or
// starting with no value) gets -1 and is left to the decoder to refuse.
func trailingData(b []byte) int {
	i := skipSpace(b, 0)
	if i == len(b) {
		return -1
	}
	end := valueEnd(b, i)
	if end < 0 {
		return -1
	}
	if j := skipSpace(b, end); j < len(b) {
		return j
	}
	return -1
}

// valueEnd returns the offset just past the JSON value that starts at b[i], or -1 when b ends
// inside it or b[i] starts none. An object or an array ends at the bracket that closes the first
// one, counted by depth (strings skipped whole, so brackets within them do not count); a number or
// a literal is the run of bytes that could spell one.
func valueEnd(b []byte, i int) int {
	switch c := b[i]; {
	case c == '"':
		return stringEnd(b, i)
	case c == '{' || c == '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				if i = stringEnd(b, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	case isLiteralByte(c):
		for i < len(b) && isLiteralByte(b[i]) {
			i++
		}
		return i
	}
	return -1
}

// stringEnd returns the offset just past the string whose opening quote is b[i], or -1 when b ends
// inside it. It jumps from quote to quote (bytes.IndexByte); a quote preceded by an odd number of
// backslashes is escaped. Each backslash is looked at once at most, by the quote that follows it.
func stringEnd(b []byte, i int) int {
	for j := i + 1; ; j++ {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1
		}
		j += k
		n := 0
		for b[j-1-n] == '\\' { // stops at b[i] at the latest: a quote
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
	}
}

// skipSpace returns the offset of the first byte of b from i on that is not JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// isLiteralByte reports whether c can be part of a number, true, false or null.
func isLiteralByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '+' || c == '.'
}
