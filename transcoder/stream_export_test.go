package transcoder

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
)

// ReadLines reads a newline-delimited request body as the streaming front does, each line at most
// max bytes: the lines it yields (copied) and their line numbers, then the error that stopped it
// (nil at the end of the body).
func ReadLines(r io.Reader, max int) (lines []string, numbers []int, err error) {
	l := newLineReader(r, max)
	for {
		line, err := l.next()
		if errors.Is(err, io.EOF) {
			return lines, numbers, nil
		}
		if err != nil {
			return lines, numbers, err
		}
		lines = append(lines, string(line))
		numbers = append(numbers, l.line)
	}
}

// StreamRenderer returns the renderer of one streamed response message of the binding r matches: an
// NDJSON line, or an SSE event when sse is set.
func StreamRenderer(h *Handler, r *http.Request, sse bool) (func(b, data []byte) ([]byte, error), error) {
	c := &Call{h: h, router: h.router(), w: httptest.NewRecorder(), r: r}
	b, err := c.router.Match(r, &c.params)
	if err != nil {
		return nil, err
	}
	c.binding = b
	if sse {
		return (&sseStream{c: c}).message, nil
	}
	return (&ndjsonStream{c: c}).message, nil
}

// IsWebSocket reports whether a request asks for a WebSocket.
func IsWebSocket(method string, header http.Header) bool {
	r := httptest.NewRequest(method, "/", strings.NewReader(""))
	r.Header = header
	return isWebSocket(r)
}

// ReadValues reads a request body of JSON values (application/json) as the streaming front does,
// each at most max bytes: the values it yields (copied), then the error that stopped it (nil at
// the end of the body).
func ReadValues(r io.Reader, max int) (values []string, err error) {
	v := newMessageReader(r, "application/json", max)
	for {
		value, err := v.next()
		if errors.Is(err, io.EOF) {
			return values, nil
		}
		if err != nil {
			return values, err
		}
		values = append(values, string(value))
	}
}

// ResetDelay is how long a cut-off HTTP/2 download waits before its stream is reset.
const ResetDelay = resetDelay
