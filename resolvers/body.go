package resolvers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A GraphQL POST's body is one JSON object. The POST and SSE transports decode the first JSON
// value of a body (readParams), as gqlgen's do, and ignore what follows it, so `{"query":"{ a }"}
// garbage`, or two objects in a row, would run the first operation. And they decode the object
// into graphql.RawParams with encoding/json, whose last value of a key wins:
// `{"query":"{ a }","query":"{ b }"}` runs b, while an inspector reading the first query (a
// firewall, a log) sees a. The handler reads the body once, refuses one with anything but
// whitespace after its first value or with a request parameter (query, operationName, variables,
// extensions) given twice, and hands the transport the same bytes: the checks are one scan of the
// bytes (scanBody), not a second decoding. A batch (an array) is passed on, and readParams refuses
// it. gqlgen's WebSocket transport decodes the payload of an operation (graphql-transport-ws's
// subscribe, graphql-ws's start) into the same parameters, with the same last-wins rule: the same
// scan refuses one that gives a parameter twice (wsprotocol.go).

// postBody is a POST's body, read whole and checked, as the transport reads it again. Pooled:
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
// and checks that it holds no more than one JSON value, giving no request parameter twice. It
// returns the body to hand on, or the status and error to refuse the request with: 413
// DOCUMENT_TOO_LARGE past the limit, 408 DEADLINE_EXCEEDED for a body that did not arrive in the
// time the limits policy allows it, 400 INVALID_ARGUMENT for data after the value (never quoted
// back), a parameter given twice (named, with the offset of its second key) or a body that could
// not be read.
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
			return nil, http.StatusRequestEntityTooLarge, bodyTooLarge(-1, tooBig.Limit)
		}
		if st, ok := status.FromError(err); ok && st.Code() == codes.DeadlineExceeded {
			// The limits policy's bound on the time a body takes (sanitize): 408, as for REST.
			return nil, http.StatusRequestTimeout, requestError(codeName(codes.DeadlineExceeded), "%s", st.Message())
		}
		return nil, http.StatusBadRequest, requestError(codeName(codes.InvalidArgument), "the request body could not be read: %v", err)
	}
	if c := firstByte(buf); c != '{' && c != '[' { // a batch ('[') is gqlgen's to refuse
		b.release()
		return nil, http.StatusBadRequest, requestError(codeName(codes.InvalidArgument),
			"the body must be one JSON object, with the operation's query")
	}
	trailing, repeated := scanBody(buf)
	if trailing >= 0 {
		b.release()
		return nil, http.StatusBadRequest, requestError(codeName(codes.InvalidArgument),
			"the body must be one JSON object: data follows it at byte %d", trailing)
	}
	if repeated >= 0 {
		err := repeatedParam("the body", buf, repeated)
		b.release()
		return nil, http.StatusBadRequest, err
	}
	b.r.Reset(buf)
	return b, 0, nil
}

// repeatedParam is the error for buf, an object (a POST's body, a WebSocket operation's payload)
// that gives a request parameter twice, the second time with the key at buf[at]; whole is what the
// error calls buf ("the body", "the payload").
func repeatedParam(whole string, buf []byte, at int) error {
	return requestError(codeName(codes.InvalidArgument), "%s must be one JSON object with each key once: %s",
		whole, keyGivenTwice(buf, at, params[:]))
}

// keyGivenTwice says which of names the key at buf[at] gives again, where, and, when it is not
// spelled as the name, that keys match whatever their case or escapes.
func keyGivenTwice(buf []byte, at int, names []string) string {
	raw := buf[at+1 : stringEnd(buf, at)-1]
	name := names[keyOf(raw, names)]
	hint := ""
	if string(raw) != name {
		hint = "; keys match whatever their case or escapes"
	}
	return fmt.Sprintf("%q is given twice (again at byte %d%s)", name, at, hint)
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

// scanBody scans b, a POST's body or a WebSocket operation's payload, once: scanObject for the
// request parameters (params).
func scanBody(b []byte) (trailing, repeated int) { return scanObject(b, params[:]) }

// scanObject scans b once. trailing is the offset of the first byte that is not whitespace after
// the first JSON value of b, or -1 when there is none: b is one value (or none) and whitespace.
// repeated is, when that value is an object, the offset of the key that names one of names (as
// keyOf matches them; at most 8) a second time, or -1. The scan finds where the value ends without
// validating it, so that a malformed b (ending inside its first value, or starting with no value)
// gets -1 for both and is left to the decoder to refuse. It allocates nothing.
func scanObject(b []byte, names []string) (trailing, repeated int) {
	i := skipSpace(b, 0)
	if i == len(b) {
		return -1, -1
	}
	end, repeated := valueEnd(b, i, names)
	if end < 0 {
		return -1, -1
	}
	if j := skipSpace(b, end); j < len(b) {
		return j, repeated
	}
	return -1, repeated
}

// valueEnd returns the offset just past the JSON value that starts at b[i], or -1 when b ends
// inside it or b[i] starts none. An object or an array ends at the bracket that closes the first
// one, counted by depth (strings skipped whole, so brackets within them do not count); a number or
// a literal is the run of bytes that could spell one. For an object it also returns the offset of
// the first of its keys (those at depth 1, after its opening brace or a comma) that names one of
// names an earlier key named, or -1.
func valueEnd(b []byte, i int, names []string) (end, repeated int) {
	repeated = -1
	switch c := b[i]; {
	case c == '"':
		return stringEnd(b, i), -1
	case c == '{' || c == '[':
		object := c == '{'
		depth, key := 0, false
		var seen uint8 // the names named so far, as bits 1<<keyOf
		for i < len(b) {
			switch b[i] {
			case '"':
				start := i
				if i = stringEnd(b, i); i < 0 {
					return -1, -1
				}
				if key {
					key = false
					if p := keyOf(b[start+1:i-1], names); p >= 0 && repeated < 0 {
						if seen&(1<<p) != 0 {
							repeated = start
						}
						seen |= 1 << p
					}
				}
				continue
			case '{', '[':
				depth++
				key = object && depth == 1
			case ',':
				key = object && depth == 1
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1, repeated
				}
			}
			i++
		}
		return -1, -1
	case isLiteralByte(c):
		for i < len(b) && isLiteralByte(b[i]) {
			i++
		}
		return i, -1
	}
	return -1, -1
}

// params are the request parameters gqlgen decodes a POST's object into (graphql.RawParams's
// fields); any other key of the object is ignored.
var params = [...]string{"query", "operationName", "variables", "extensions"}

// keyOf returns the index in names of the name a key names, or -1; raw is the key's JSON text
// between its quotes. A key names a field as encoding/json matches it to the field: once unescaped,
// it equals the field's name or does under Unicode case folding (bytes.EqualFold), so "Query",
// "QUERY" and "\u0071uery" name query too, and "extenſions" (a long s) extensions.
func keyOf(raw []byte, names []string) int {
	for p, name := range names {
		if keyNames(raw, name) {
			return p
		}
	}
	return -1
}

// keyNames reports whether raw, a JSON string's text between its quotes, names the ASCII name as
// keyOf says. It decodes raw a character at a time, and stops at the first that differs.
func keyNames(raw []byte, name string) bool {
	j := 0
	for i := 0; i < len(raw); j++ {
		var r rune
		if c := raw[i]; c == '\\' {
			var n int
			r, n = unescape(raw[i:])
			i += n
		} else if c < utf8.RuneSelf {
			r = rune(c)
			i++
		} else {
			var n int
			r, n = utf8.DecodeRune(raw[i:])
			i += n
		}
		if j == len(name) || !foldsTo(r, name[j]) {
			return false
		}
	}
	return j == len(name)
}

// unescape decodes the JSON escape at the start of s (a backslash and what follows it), and returns
// the character and its length in s. A \u escape of a surrogate decodes as utf8.RuneError: the
// character it is part of is none of an ASCII name's, and neither is one of a malformed escape.
func unescape(s []byte) (rune, int) {
	if len(s) < 2 {
		return utf8.RuneError, len(s)
	}
	switch s[1] {
	case '"', '\\', '/':
		return rune(s[1]), 2
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		if len(s) < 6 {
			return utf8.RuneError, len(s)
		}
		var r rune
		for _, c := range s[2:6] {
			switch {
			case '0' <= c && c <= '9':
				r = r<<4 | rune(c-'0')
			case 'a' <= c && c <= 'f':
				r = r<<4 | rune(c-'a'+10)
			case 'A' <= c && c <= 'F':
				r = r<<4 | rune(c-'A'+10)
			default:
				return utf8.RuneError, 2
			}
		}
		if utf16.IsSurrogate(r) {
			return utf8.RuneError, 6
		}
		return r, 6
	}
	return utf8.RuneError, 2
}

// foldsTo reports whether r is the ASCII character c or folds to it: the other case of a letter,
// or a character whose case folding orbit holds c (the Kelvin sign K for k, the long s ſ for s).
func foldsTo(r rune, c byte) bool {
	switch {
	case r == rune(c):
		return true
	case r < utf8.RuneSelf:
		return 'a' <= c|0x20 && c|0x20 <= 'z' && byte(r)|0x20 == c|0x20
	}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f == rune(c) {
			return true
		}
	}
	return false
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
