package resolvers

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/protogate/gateway/transcoder/mediarange"
)

// sseTransport serves GraphQL over Server-Sent Events: a POST preferring text/event-stream, its
// body one JSON object that Handler.ServeHTTP has read and checked (readPOSTBody). Its stream is
// the one gqlgen's transport.SSE writes, which clients and the query page read: a comment opens
// it, each response is a "next" event, a "complete" event ends it, and a comment keeps it open
// while it is idle. It answers as the POST transport does where gqlgen's does not: a request
// refused before its operation runs has its errors in its event without a "data" entry (the
// GraphQL specification, section 7.1.2), where gqlgen's writes "data": null; and a body of the
// wrong shape is 400 in the JSON type Accept negotiates, without the body quoted back.
type sseTransport struct {
	keepAlive time.Duration // how long the stream may be idle before a comment keeps it open
}

var _ graphql.Transport = sseTransport{}

// Supports reports whether r is a POST whose Accept prefers an event stream (wantsEventStream),
// other than a WebSocket's handshake; Handler.ServeHTTP has refused one whose body is not JSON.
func (sseTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodPost && r.Header.Get("Upgrade") == "" && wantsEventStream(r.Header.Values("Accept"))
}

// mediaEventStream is the media type of Server-Sent Events.
const mediaEventStream = "text/event-stream"

// wantsEventStream reports whether a request's Accept header values prefer Server-Sent Events to
// one response in JSON, by their q-values as RFC 9110 has them and as the REST front chooses
// between SSE and NDJSON: when Accept names text/event-stream with a q-value above 0 and no lower
// than either JSON type's (jsonQualities: the q-value of the most specific range that matches it).
// A tie goes to the event stream, which the client named; a client that does not name it (*/*,
// text/*) gets JSON.
func wantsEventStream(accept []string) bool {
	sse := 0.0
	for typ, params := range mediarange.Ranges(accept) {
		if strings.EqualFold(typ, mediaEventStream) {
			sse = max(sse, mediarange.Q(params))
		}
	}
	if sse <= 0 {
		return false
	}
	asJSON, asGraphQL, _ := jsonQualities(accept)
	return sse >= max(asJSON.q, asGraphQL.q)
}

// Do runs the operation r's body describes and streams its responses.
func (t sseTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	params, ok := readParams(w, r, exec)
	if !ok {
		return
	}
	ctx := r.Context()
	opCtx, errs := exec.CreateOperationContext(ctx, params)
	ctx = graphql.WithOperationContext(ctx, opCtx)

	h := w.Header()
	h.Set("Content-Type", mediaEventStream)
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	s := &eventStream{w: w, rc: http.NewResponseController(w)}
	s.write([]byte(":\n\n")) // the opening, which sseWriter holds back until the call is admitted
	if t.keepAlive > 0 {
		defer s.keepOpen(t.keepAlive)()
	}
	if errs != nil {
		s.next(encodeJSON(requestErrors(exec.DispatchError(ctx, errs))))
	} else {
		responses, ctx := exec.DispatchOperation(ctx, opCtx)
		for resp := responses(ctx); resp != nil; resp = responses(ctx) {
			s.next(encodeJSON(resp)) // with "data": null when a failure took the whole of it
		}
	}
	s.write([]byte("event: complete\n\n"))
}

// eventStream writes the events of one response, and the comments that keep it open, one whole
// event at a time, each flushed at once.
type eventStream struct {
	w  http.ResponseWriter
	rc *http.ResponseController

	mu   sync.Mutex   // serialises writes
	idle *time.Ticker // ticks when the stream has been idle for the keep-alive interval; nil without one
	wait time.Duration
}

// next writes a "next" event carrying data, a response as JSON.
func (s *eventStream) next(data []byte) {
	b := make([]byte, 0, len(data)+len("event: next\ndata: \n\n"))
	b = append(append(append(b, "event: next\ndata: "...), data...), "\n\n"...)
	s.write(b)
	if s.idle != nil {
		s.idle.Reset(s.wait)
	}
}

// write writes b and flushes it. A client that went away makes it fail; the operation's context
// ends then, and with it the stream.
func (s *eventStream) write(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(b); err == nil {
		_ = s.rc.Flush()
	}
}

// keepOpen writes a comment each time the stream has been idle for interval, until the returned
// function is called, which returns once no more comes: the stream's writer is the handler's only
// until it returns.
func (s *eventStream) keepOpen(interval time.Duration) (stop func()) {
	s.idle, s.wait = time.NewTicker(interval), interval
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-s.idle.C:
				s.write([]byte(": ping\n\n"))
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		s.idle.Stop()
	}
}
