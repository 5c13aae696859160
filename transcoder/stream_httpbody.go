package transcoder

import (
	"net/http"
	"time"

	"google.golang.org/grpc/metadata"
)

// google.api.HttpBody streams. A streaming method whose response (or response_body field) is a
// google.api.HttpBody streams one document, a download, not a sequence of messages, as grpc-gateway
// serves it: the response's Content-Type is the first message's content_type
// (application/octet-stream when it names none; later messages' are ignored), and the body is each
// message's data, as it is, nothing between them, flushed as it arrives. The request's Accept does
// not change that, text/event-stream included: the data is the representation (a backend that
// serves EventSource clients streams text/event-stream data itself).
//
// The end. OK: the body ends, the upstream's trailers as HTTP trailers Grpc-Trailer-*. A failure
// before the first message is an ordinary error response. After it nothing can be added that a
// client would not take for the document's bytes, so the response is cut off: the call sets
// Call.cutOff and ServeStream, once the call is over, panics with http.ErrAbortHandler, net/http's
// way to abort a response. HTTP/1.1 then closes the connection without the chunked body's last
// chunk, HTTP/2 resets the stream (RST_STREAM, INTERNAL_ERROR), resetDelay after the last bytes:
// every client sees a truncated download, none a complete-looking one. The status goes to the
// request's telemetry (the access log's grpc_code), not to the client: a reset stream carries no
// trailers.
//
// HEAD (on a path whose GET is such a method): GET's status and headers, the Content-Type from the
// first message; the call is then cancelled, the rest not asked for (see Call.relay). Over a
// WebSocket each message's data is one binary frame (stream_ws.go).

// resetDelay is how long a cut-off HTTP/2 download waits, its last bytes flushed, before its stream
// is reset. The RST_STREAM follows those bytes' DATA frames on the wire anyway, but a client that
// reads them in one go may drop the data with the reset: libcurl before 8.1 does (a read that brings
// the stream's reset fails, what came with it discarded), so curl printed neither the headers nor
// the first bytes. Sent apart, they are read apart. net/http tells a handler nothing of what the
// client has read (a PING's ACK would), so the wait is a bounded guess, as Envoy's
// delayed_close_timeout is; it is short, on a response that has failed, and a client that goes
// away ends it.
const resetDelay = 100 * time.Millisecond

// delayReset waits resetDelay, or until the client is gone, before an HTTP/2 download is reset.
func (c *Call) delayReset() {
	if c.r.ProtoMajor != 2 {
		return
	}
	t := time.NewTimer(resetDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.r.Context().Done():
	}
}

type httpBodyStream struct {
	c  *Call
	rc *http.ResponseController

	// first is the first message's data, which start decoded for its content type, until
	// message, called next on that message, takes it rather than decode it again.
	first     []byte
	haveFirst bool
}

func (s *httpBodyStream) start(first []byte) {
	contentType := contentTypeOctetStream
	if first != nil {
		if ct, body, err := s.c.httpBody(first); err == nil { // else message reports it
			contentType, s.first, s.haveFirst = ct, body, true
		}
	}
	setStreamHeaders(s.c.w.Header(), contentType)
	s.c.w.WriteHeader(http.StatusOK)
	_ = s.rc.Flush()
}

func (s *httpBodyStream) message(b, data []byte) ([]byte, error) {
	if s.haveFirst {
		body := s.first
		s.first, s.haveFirst = nil, false
		return append(b, body...), nil
	}
	_, body, err := s.c.httpBody(data)
	if err != nil {
		return nil, err
	}
	return append(b, body...), nil
}

func (s *httpBodyStream) flush(b []byte) error {
	if _, err := s.c.w.Write(b); err != nil {
		return err
	}
	return s.rc.Flush()
}

func (s *httpBodyStream) end(trailer metadata.MD, err error) {
	if err != nil {
		s.c.cutOff = true
		return
	}
	setTrailers(s.c.w.Header(), trailer)
}
