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
// Content-Type may be absent, application/x-ndjson, application/jsonl, application/json or any
// application/*+json; anything else is 415.

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
	if IsNDJSON(contentType) {
		return nil
	}
	if f, ok := requestFormat(contentType); ok && f == formatJSON {
		return nil
	}
	return &Error{
		code:       codes.InvalidArgument,
		msg:        fmt.Sprintf("unsupported content type %q for a streamed request body: send newline-delimited JSON (application/x-ndjson)", contentType),
		httpStatus: http.StatusUnsupportedMediaType,
	}
}

// IsNDJSON reports whether contentType names newline-delimited JSON, under any of the names the
// REST front takes a stream of request messages in (application/x-ndjson, application/jsonl,
// application/jsonlines, application/x-jsonlines). Policies that read request bodies (the WAF) use
// it to tell a stream from one JSON document.
func IsNDJSON(contentType string) bool {
	typ, _ := mediaType(contentType)
	return strings.EqualFold(typ, contentTypeNDJSON) || strings.EqualFold(typ, "application/jsonl") ||
		strings.EqualFold(typ, "application/jsonlines") || strings.EqualFold(typ, "application/x-jsonlines")
}
