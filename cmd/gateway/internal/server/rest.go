package server

import (
	"net/http"
	"sync/atomic"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/transcoder"
)

// restFront is the REST front: the transcoder built from the config's rest settings and the REST
// front's body bound (policies.limits.max_body_bytes), replaced whole when a reload changes them.
// A request is served by the handler current when it arrives.
type restFront struct {
	streams *transcoder.Streams // NDJSON, SSE and WebSocket streaming, shared by every handler
	h       atomic.Pointer[transcoder.Handler]
}

// ServeHTTP serves r with the current handler, unless r is gRPC in a form the gateway does not
// serve (unservedGRPC).
func (f *restFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := unservedGRPC(r); err != nil {
		transcoder.WriteError(w, err)
		return
	}
	f.h.Load().ServeHTTP(w, r)
}

// build returns the transcoder cfg describes, or why the settings do not make one.
func (f *restFront) build(cfg *config.Config, s *Server) (*transcoder.Handler, error) {
	opts := []transcoder.HandlerOption{transcoder.WithStreaming(f.streams),
		// One body limit for every HTTP front: the REST front's follows policies.limits.
		transcoder.WithMaxBodyBytes(int64(cfg.Policies.Limits.MaxBodyBytes)),
		transcoder.WithHeaders(cfg.REST.ForwardHeaders...), transcoder.WithRequestReadTime(s.readTime)}
	if cfg.REST.DiscardUnknownFields {
		opts = append(opts, transcoder.WithDiscardUnknown())
	}
	if cfg.REST.EmitUnpopulated {
		opts = append(opts, transcoder.WithEmitUnpopulated())
	}
	return transcoder.NewHandler(func() *transcoder.Router { return s.current().REST() }, s.proxy, opts...)
}

// PrepareREST readies a reloaded config's rest settings (forward_headers, discard_unknown_fields,
// emit_unpopulated) and policies.limits.max_body_bytes for the REST front, and returns the function
// that puts them in force: requests from then on are served with them, requests in flight finish
// with the ones they started with. It fails, changing nothing, when they do not make a REST front
// (a forward_headers entry no header can pass under), so that a reload can be refused whole.
func (s *Server) PrepareREST(cfg *config.Config) (apply func(), err error) {
	h, err := s.rest.build(cfg, s)
	if err != nil {
		return nil, err
	}
	return func() { s.rest.h.Store(h) }, nil
}
