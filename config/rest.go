package config

import "strings"

// REST configures the REST front: how requests it cannot map by a google.api.http binding are
// treated, how strictly JSON bodies are read, and which headers pass upstream.
type REST struct {
	// DefaultRoutes serves every method that has no google.api.http binding at
	// POST /pkg.Service/Method, with the request message as a JSON body. Default true.
	DefaultRoutes *bool `yaml:"default_routes"`
	// DiscardUnknownFields accepts JSON bodies with fields the request message lacks, and drops
	// them. Default false: such a body is refused with 400 naming the field.
	DiscardUnknownFields bool `yaml:"discard_unknown_fields"`
	// EmitUnpopulated renders fields at their zero values in JSON responses, as grpc-gateway's
	// EmitUnpopulated does. Default false: zero values are omitted, as protojson does.
	EmitUnpopulated bool `yaml:"emit_unpopulated"`
	// ForwardHeaders are request headers passed upstream as gRPC metadata, under their
	// lower-cased names, besides Authorization, Grpc-Metadata-* and X-Forwarded-*, which always
	// are, and the headers the routes match on or a cluster's hash_key names, which always are too
	// (so routing sees them as on a gRPC call). Hop-by-hop headers never pass.
	ForwardHeaders []string `yaml:"forward_headers"`
}

// DefaultRoutesOn reports whether methods without a binding are served at POST /pkg.Service/Method.
func (r REST) DefaultRoutesOn() bool { return r.DefaultRoutes == nil || *r.DefaultRoutes }

// hopByHopHeaders are the headers of one connection, lower-cased: RFC 9110 section 7.6.1's
// Connection, Proxy-Connection, Keep-Alive, TE, Transfer-Encoding and Upgrade, with Trailer,
// Proxy-Authenticate and Proxy-Authorization (RFC 2616's list), as net/http/httputil's ReverseProxy
// drops them.
var hopByHopHeaders = []string{"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
	"proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}

// IsHopByHopHeader reports whether name, in any case, is a hop-by-hop header: one that never passes
// upstream. It is the one list of them: the REST front applies it to every request, and validation
// refuses such headers in rest.forward_headers.
func IsHopByHopHeader(name string) bool {
	for _, h := range hopByHopHeaders {
		if len(h) == len(name) && strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}

// rest checks the rest section.
func (v *validator) rest(c *Config) {
	seen := map[string]bool{}
	for i, h := range c.REST.ForwardHeaders {
		path := index("rest.forward_headers", i)
		name := strings.ToLower(h)
		switch {
		case h == "":
			v.fieldf(path, "empty header name")
		case !validHeaderName(h):
			v.fieldf(path, "%q is not a valid header name", h)
		case IsHopByHopHeader(h):
			v.fieldf(path, "%s is a hop-by-hop header and never passes", h)
		case strings.HasPrefix(name, "grpc-") && !strings.HasPrefix(name, "grpc-metadata-"):
			v.fieldf(path, "%s is reserved by gRPC", h)
		case seen[name]:
			v.fieldf(path, "%s is listed twice", h)
		}
		seen[name] = true
	}
}

// rest summarises the rest section when it differs from the defaults.
func (s *summary) rest(r REST) {
	if r.DefaultRoutesOn() && !r.DiscardUnknownFields && !r.EmitUnpopulated && len(r.ForwardHeaders) == 0 {
		return
	}
	s.line(0, "rest default_routes %t discard_unknown_fields %t emit_unpopulated %t forward_headers [%s]",
		r.DefaultRoutesOn(), r.DiscardUnknownFields, r.EmitUnpopulated, strings.Join(r.ForwardHeaders, ", "))
}
