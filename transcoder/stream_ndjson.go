package transcoder

import (
	"net/http"

	"google.golang.org/grpc/metadata"
)

// Newline-delimited JSON responses, grpc-gateway's streaming format: each response message is a
// line {"result": <message>}, and a failure after the first message is a last line
// {"error": <google.rpc.Status>}. Every line is flushed as it is written.
//
// Content-Type is application/x-ndjson. grpc-gateway sends application/json (its marshaler's type)
// for the same body, but the body is not one JSON document, and clients that honour the type fail on
// the second line; grpc-gateway's own clients read line by line and do not check the type, so they
// read this stream unchanged.

const contentTypeNDJSON = "application/x-ndjson"

type ndjsonStream struct {
	c  *Call
	rc *http.ResponseController
}

func (s *ndjsonStream) start([]byte) {
	setStreamHeaders(s.c.w.Header(), contentTypeNDJSON)
	s.c.w.WriteHeader(http.StatusOK)
	_ = s.rc.Flush() // the client sees the stream has begun, and its headers, at once
}

func (s *ndjsonStream) message(b, data []byte) ([]byte, error) {
	return appendResultLine(b, s.c, data)
}

// appendResultLine appends {"result":<message>}\n.
func appendResultLine(b []byte, c *Call, data []byte) ([]byte, error) {
	b = append(b, `{"result":`...)
	b, err := c.appendResponseJSON(b, data)
	if err != nil {
		return nil, err
	}
	return append(b, "}\n"...), nil
}

func (s *ndjsonStream) flush(b []byte) error {
	if _, err := s.c.w.Write(b); err != nil {
		return err
	}
	return s.rc.Flush()
}

func (s *ndjsonStream) end(trailer metadata.MD, err error) {
	setTrailers(s.c.w.Header(), trailer)
	if err != nil {
		_ = s.flush(appendErrorLine(nil, err, s.c.router.types))
	}
}

// appendErrorLine appends {"error":<google.rpc.Status>}\n.
func appendErrorLine(b []byte, err error, types resolver) []byte {
	b = append(b, `{"error":`...)
	b = appendStatusJSON(b, asError(err), types)
	return append(b, "}\n"...)
}
