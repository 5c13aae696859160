package transcoder

import (
	"bytes"
	"net/http"
	"strings"

	"google.golang.org/grpc/metadata"
)

// Server-Sent Events responses, chosen by Accept: text/event-stream. Each response message is an
// event of the default type ("message", so EventSource.onmessage sees it) whose data is the message
// as JSON. A failure after the first message is an "error" event whose data is the
// google.rpc.Status JSON; a stream that ends with OK sends a last "complete" event with data {},
// so a client can tell the end from a dropped connection (EventSource reconnects after either
// unless the page closes it). A failure before the first message is an ordinary error response,
// which EventSource reports without reconnecting.

const contentTypeEventStream = "text/event-stream"

type sseStream struct {
	c  *Call
	rc *http.ResponseController
}

func (s *sseStream) start([]byte) {
	setStreamHeaders(s.c.w.Header(), contentTypeEventStream)
	s.c.w.WriteHeader(http.StatusOK)
	_ = s.rc.Flush()
}

func (s *sseStream) message(b, data []byte) ([]byte, error) {
	start := len(b)
	b = append(b, "data: "...)
	b, err := s.c.appendResponseJSON(b, data)
	if err != nil {
		return nil, err
	}
	return appendEventEnd(b, start), nil
}

// appendEventEnd ends the event that starts at b[start:]: "\n\n", after splitting any line break
// inside its data into more "data: " lines (compact JSON has none; protojson's output is compact).
func appendEventEnd(b []byte, start int) []byte {
	if bytes.IndexByte(b[start:], '\n') >= 0 || bytes.IndexByte(b[start:], '\r') >= 0 {
		ev := string(b[start:])
		ev = strings.ReplaceAll(ev, "\r\n", "\n")
		ev = strings.ReplaceAll(ev, "\r", "\n")
		b = append(b[:start], strings.ReplaceAll(ev, "\n", "\ndata: ")...)
	}
	return append(b, "\n\n"...)
}

func (s *sseStream) flush(b []byte) error {
	if _, err := s.c.w.Write(b); err != nil {
		return err
	}
	return s.rc.Flush()
}

func (s *sseStream) end(trailer metadata.MD, err error) {
	setTrailers(s.c.w.Header(), trailer)
	if err != nil {
		b := append([]byte(nil), "event: error\ndata: "...)
		b = appendStatusJSON(b, asError(err), s.c.router.types)
		_ = s.flush(append(b, "\n\n"...))
		return
	}
	_ = s.flush([]byte("event: complete\ndata: {}\n\n"))
}

// acceptsEventStream reports whether Accept names text/event-stream with a q-value above 0.
func acceptsEventStream(accept []string) bool {
	for _, line := range accept {
		for line != "" {
			var item string
			item, line, _ = strings.Cut(line, ",")
			typ, params := mediaType(item)
			if strings.EqualFold(typ, contentTypeEventStream) && qValue(params) > 0 {
				return true
			}
		}
	}
	return false
}
