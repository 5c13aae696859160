package resolvers

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/protogate/gateway/policies/policy"
)

// responseHeaders is where the policies admitting an operation's calls put their response headers
// (policy.ResponseHeaders): a rate limit's RateLimit-*. The calls run concurrently and one HTTP
// response answers them all, so it keeps one set, that of the lowest rank (for a rate limit, the
// fewest tokens left): the operation's own decision when the rate limit prices the whole operation
// (one per rule), else the most restrictive of its calls'. Over Server-Sent Events the stream's
// opening waits for the admission (sseWriter); a WebSocket's headers are those of its upgrade,
// sent before any of its operations: they get none.
type responseHeaders struct {
	mu      sync.Mutex
	kept    bool
	rank    int64
	set     []policy.Header
	written bool // the response's headers are out: later sets are dropped
}

// SetResponseHeaders keeps hs when no set of a lower or equal rank is kept already.
func (r *responseHeaders) SetResponseHeaders(rank int64, hs []policy.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.written || r.kept && rank >= r.rank {
		return
	}
	r.kept, r.rank = true, rank
	r.set = append(r.set[:0], hs...)
}

// writeTo sets the kept headers on h, the first time it is called.
func (r *responseHeaders) writeTo(h http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.written {
		return
	}
	r.written = true
	for _, hd := range r.set {
		h.Set(hd.Name.HTTP(), hd.Value)
	}
}

// headerWriter is the response writer of a GraphQL request over POST or GET: it adds to the
// response's header the headers that the policies admitting the operation's calls handed over.
type headerWriter struct {
	http.ResponseWriter
	headers responseHeaders
}

func (w *headerWriter) WriteHeader(code int) {
	w.headers.writeTo(w.Header())
	w.ResponseWriter.WriteHeader(code)
}

func (w *headerWriter) Write(b []byte) (int, error) {
	w.headers.writeTo(w.Header()) // a Write without WriteHeader: the header goes out now
	return w.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *headerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// sseWriter is the response writer of a GraphQL request over Server-Sent Events. The transport
// (sseTransport) opens the stream, its header and a comment, before the operation runs; the writer
// holds that opening back until the subscription's call has been admitted (admitted), so that the
// header carries what the admission handed over: a rate limit's RateLimit-*. Anything else written
// first (an error event, a keep-alive) releases the opening, as does the end of the request.
//
// net/http reuses the response's buffers once the handler returns, so finish closes the writer as
// it does: a write or flush that came later (the transport makes none) does nothing.
type sseWriter struct {
	http.ResponseWriter
	headers responseHeaders

	mu      sync.Mutex // guards the fields below, and serialises writes to ResponseWriter
	open    bool       // the opening is out: writes go straight through
	held    []byte     // the opening, written while held back
	flushed bool       // a Flush came while the opening was held back
	done    bool       // the handler returned: ResponseWriter is no longer the writer's to use
}

// errSSEDone is what a write after the handler returned gets.
var errSSEDone = errors.New("graphql: the event stream's request has ended")

// SetResponseHeaders keeps hs for the response's header (policy.ResponseHeaders).
func (w *sseWriter) SetResponseHeaders(rank int64, hs []policy.Header) {
	w.headers.SetResponseHeaders(rank, hs)
}

// Write holds back the stream's opening, its first write, and releases it before any other.
func (w *sseWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return 0, errSSEDone
	}
	if !w.open {
		if w.held == nil {
			w.held = append(make([]byte, 0, len(b)), b...)
			return len(b), nil
		}
		w.releaseLocked()
	}
	return w.ResponseWriter.Write(b)
}

// WriteHeader is a failure before the stream opens (a body that does not decode): out at once.
func (w *sseWriter) WriteHeader(code int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	if !w.open {
		w.open = true
		w.headers.writeTo(w.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

// Flush flushes what was written, or, while the opening is held back, remembers to.
func (w *sseWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	if !w.open {
		w.flushed = true
		return
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// release sends the header, with the admission's response headers, and the held opening.
func (w *sseWriter) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.releaseLocked()
	}
}

// finish releases the opening if it is still held, and closes the writer: the handler is
// returning.
func (w *sseWriter) finish() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.releaseLocked()
	w.done = true
}

func (w *sseWriter) releaseLocked() {
	if w.open {
		return
	}
	w.open = true
	w.headers.writeTo(w.Header())
	if len(w.held) > 0 {
		_, _ = w.ResponseWriter.Write(w.held)
	}
	if w.flushed || len(w.held) > 0 {
		_ = http.NewResponseController(w.ResponseWriter).Flush()
	}
	w.held = nil
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *sseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type sseWriterKey struct{}

// withSSEWriter returns ctx with w, for admitted.
func withSSEWriter(ctx context.Context, w *sseWriter) context.Context {
	return policy.WithResponseHeaders(context.WithValue(ctx, sseWriterKey{}, w), w)
}

// admitted tells the SSE stream of ctx, if any, that its subscription's call has been admitted or
// refused: its opening can go, with the response headers the admission handed over.
func admitted(ctx context.Context) {
	if w, ok := ctx.Value(sseWriterKey{}).(*sseWriter); ok {
		w.release()
	}
}
