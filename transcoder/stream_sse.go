package transcoder

import (
	"bytes"
	"net/http"
	"strings"

	"google.golang.org/grpc/metadata"

	"github.com/protogate/gateway/transcoder/mediarange"
)

// Server-Sent Events responses, chosen by Accept: text/event-stream (acceptsEventStream). Each
// response message is an event of the default type ("message", so EventSource.onmessage sees it)
// whose data is the message as JSON. A failure after the first message is an "error" event whose data is the
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

// acceptsEventStream reports whether a stream is answered as Server-Sent Events rather than NDJSON,
// the two types the front can write it in, by the q-values of Accept: when Accept names
// text/event-stream with a q-value above 0 and no lower than NDJSON's. NDJSON's is the q-value of
// the most specific range that matches it: one of its names (application/x-ndjson,
// application/jsonl...), else application/*, else */*; 0 when none does. A tie goes to SSE, which
// the client named; a client that does not name text/event-stream (Accept: */* or text/*, or none)
// gets NDJSON, as one that accepts neither type does.
func acceptsEventStream(accept []string) bool {
	sse, ndjson := 0.0, 0.0
	ndjsonRank := 0 // how specific the range ndjson comes from: 3 a name, 2 application/*, 1 */*
	for typ, params := range mediarange.Ranges(accept) {
		rank := 0
		switch {
		case strings.EqualFold(typ, contentTypeEventStream):
			sse = max(sse, mediarange.Q(params))
		case typ != "" && RequestBodyKind(typ) == BodyNDJSON:
			rank = 3
		case strings.EqualFold(typ, "application/*"):
			rank = 2
		case typ == "*/*":
			rank = 1
		}
		if q := mediarange.Q(params); rank > ndjsonRank || rank > 0 && rank == ndjsonRank && q > ndjson {
			ndjson, ndjsonRank = q, rank
		}
	}
	return sse > 0 && sse >= ndjson
}
