package transcoder

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Streamed request bodies (client and bidi streaming over plain HTTP) are newline-delimited JSON:
// each line one request message. Lines end with "\n" (a "\r" before it is dropped); the last line
// needs no newline; lines of only spaces and tabs are skipped. The body may be any size, but each
// line is bounded by the handler's body limit (WithMaxBodyBytes): a longer one is refused with 413.
// Content-Type may be absent, any of the names of NDJSON (BodyNDJSON: application/x-ndjson,
// application/jsonl...), application/json or any application/*+json; anything else is 415. A body labelled application/json (or +json) is read as
// a sequence of JSON values instead, as a JSON decoder reads a stream: each value one message,
// written over as many lines as it likes, values separated by any whitespace or none.

// messageReader reads the request messages of a streamed body, one JSON text each.
type messageReader interface {
	// next returns the next message, valid until the next call; io.EOF at the end of the body.
	next() ([]byte, error)
	// position names the message next returned last, for errors: "line", 3.
	position() (string, int)
}

// newMessageReader reads body as the stream its Content-Type says, each message at most max bytes.
func newMessageReader(body io.Reader, contentType string, max int) messageReader {
	if RequestBodyKind(contentType) == BodyNDJSON || strings.TrimSpace(contentType) == "" {
		return newLineReader(body, max)
	}
	return &valueReader{r: bufio.NewReaderSize(body, min(max+1, 64<<10)), max: max}
}

func (l *lineReader) position() (string, int) { return "line", l.line }

// valueReader reads a sequence of JSON values. It finds where each ends (strings and nesting
// followed, nothing else checked: protojson reads the value) without decoding it.
type valueReader struct {
	r   *bufio.Reader
	max int
	n   int // the number of the value next returned last
	buf []byte
}

func (v *valueReader) position() (string, int) { return "message", v.n }

func (v *valueReader) next() ([]byte, error) {
	v.buf = v.buf[:0]
	var c byte
	var err error
	for { // whitespace between values
		if c, err = v.r.ReadByte(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, bodyReadError(err)
		}
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			break
		}
	}
	v.n++
	depth, inString, escaped := 0, false, false
	for {
		if len(v.buf) == v.max {
			return nil, &Error{
				code:       codes.ResourceExhausted,
				msg:        fmt.Sprintf("message %d of the request body is longer than the limit of %d bytes", v.n, v.max),
				httpStatus: http.StatusRequestEntityTooLarge,
			}
		}
		v.buf = append(v.buf, c)
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		}
		if depth <= 0 && !inString && !v.scalarGoesOn(c) {
			return v.buf, nil
		}
		if c, err = v.r.ReadByte(); err != nil {
			if errors.Is(err, io.EOF) {
				return v.buf, nil // a value cut short: protojson says what is wrong with it
			}
			return nil, bodyReadError(err)
		}
	}
}

// scalarGoesOn reports whether the value that c, outside any string, object or array, is the last
// byte of so far, goes on: a number or a literal (true, null) ends at the first byte that cannot be
// part of it, which is left for the next value.
func (v *valueReader) scalarGoesOn(c byte) bool {
	if c == '"' || c == '}' || c == ']' {
		return false
	}
	next, err := v.r.Peek(1)
	if err != nil {
		return false
	}
	switch next[0] {
	case ' ', '\t', '\r', '\n', '{', '[', '"', '}', ']', ',':
		return false
	}
	return true
}

// lineReader reads the lines of a newline-delimited body.
type lineReader struct {
	r    *bufio.Reader
	max  int
	line int    // the number of the line next returned (from 1), counting blank ones
	buf  []byte // a line longer than the reader's buffer is assembled here
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, min(max+1, 64<<10)), max: max}
}

// next returns the next non-blank line, trimmed of spaces, tabs and the line end; it is valid until
// the next call. At the end of the body it returns io.EOF.
func (l *lineReader) next() ([]byte, error) {
	for {
		line, err := l.readLine()
		if err != nil {
			return nil, err
		}
		if line = bytes.Trim(line, " \t\r"); len(line) > 0 {
			return line, nil
		}
	}
}

// readLine reads one line, blank or not, without its "\n".
func (l *lineReader) readLine() ([]byte, error) {
	l.line++
	l.buf = l.buf[:0]
	for {
		chunk, err := l.r.ReadSlice('\n')
		n := len(chunk)
		if err == nil {
			n-- // the newline does not count
		}
		if len(l.buf)+n > l.max {
			return nil, &Error{
				code:       codes.ResourceExhausted,
				msg:        fmt.Sprintf("line %d of the request body is longer than the limit of %d bytes", l.line, l.max),
				httpStatus: http.StatusRequestEntityTooLarge,
			}
		}
		switch {
		case err == nil:
			if len(l.buf) == 0 {
				return chunk[:len(chunk)-1], nil
			}
			l.buf = append(l.buf, chunk[:len(chunk)-1]...)
			return l.buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			l.buf = append(l.buf, chunk...)
		case errors.Is(err, io.EOF):
			l.buf = append(l.buf, chunk...)
			if len(l.buf) == 0 {
				return nil, io.EOF
			}
			return l.buf, nil // the last line, without a newline
		default:
			return nil, bodyReadError(err)
		}
	}
}

// bodyReadError is a failure to read the request body: 413 past a limit; a policy's refusal met
// while reading (a JSON limit of a body read as it arrives) as the policy words it, with its
// details; 400 otherwise.
func bodyReadError(err error) error {
	var tooBig *http.MaxBytesError
	var refusal interface{ GRPCStatus() *status.Status }
	if errors.As(err, &tooBig) || errors.As(err, &refusal) {
		return asError(err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &Error{code: codes.InvalidArgument, msg: "request body ended early", cause: err}
	}
	return &Error{code: codes.InvalidArgument, msg: fmt.Sprintf("reading the request body: %v", err), cause: err}
}

// checkStreamBodyType accepts the Content-Type of a streamed request body.
func checkStreamBodyType(contentType string) error {
	if k := RequestBodyKind(contentType); k == BodyNDJSON || k == BodyJSON {
		return nil
	}
	return &Error{
		code:       codes.InvalidArgument,
		msg:        fmt.Sprintf("unsupported content type %q for a streamed request body: send newline-delimited JSON (application/x-ndjson)", contentType),
		httpStatus: http.StatusUnsupportedMediaType,
	}
}
