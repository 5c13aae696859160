// Package policy holds the vocabulary every policy of the gateway is written in: the Call a policy
// decides on, the Step interface of a compiled check, the Denial a refusal carries to every front, and
// the Front a call came through. It imports nothing of the gateway, so the policy modules
// (policies/auth, policies/ratelimit, policies/waf, policies/cors, policies/telemetry) and the fronts
// can all depend on it; the policies package assembles the modules into one chain per snapshot.
//
// Data flow: every front turns a request into a call of one proto method and routes it through
// routing.Proxy.Route. Before routing, the snapshot's admitter runs the method's compiled Steps on a
// Call. A Step either lets the call through (possibly adding metadata for the upstream, naming the
// consumer, or holding a resource until the call ends) or refuses it with a Denial: a gRPC status plus
// the HTTP headers (WWW-Authenticate, Retry-After, RateLimit-*) that the REST and GraphQL fronts send.
// An admitted call's Steps may hand the front response headers too (a rate limit's RateLimit-*), through
// the ResponseHeaders the front put in the call's context.
// Because the decision is taken on the method, not on the front, gRPC, gRPC-Web, REST and GraphQL get
// the same one.
package policy

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// Front names the front a call came through.
type Front string

// The fronts.
const (
	FrontGRPC    Front = "grpc"
	FrontGRPCWeb Front = "grpc-web"
	FrontREST    Front = "rest"
	FrontGraphQL Front = "graphql"
)

// IsGraphQLEndpoint reports whether path is the GraphQL endpoint's: /graphql and what lies below it,
// which the data port hands to the GraphQL front's GraphQL handler. The GraphQL front serves the
// REST routes of persisted operations too, on every other path it is given.
func IsGraphQLEndpoint(path string) bool {
	return path == "/graphql" || strings.HasPrefix(path, "/graphql/")
}

type requestKey struct{}

// Request is what an HTTP front's request carries for the policies, recorded once in its context
// (WithRequest): the front it came through and the client's peer (address, TLS state), as gRPC's
// peer describes a native gRPC call's client. One context value, where a front and a peer.Peer
// would take two.
type Request struct {
	Front Front
	Peer  *peer.Peer
	// Header is the response's header map on the REST front, where the call's response headers
	// go (see ResponseHeaders): one call per request, admitted before the response is written.
	// Other fronts leave it nil: GraphQL admits many calls at once, concurrently.
	Header http.Header
	// RequestHeader is the HTTP request's header on the REST and GraphQL fronts, which pass only
	// some headers on as metadata: Call.Header reads the others there. Nil on the other fronts.
	RequestHeader http.Header
	// InitHeader, on a GraphQL WebSocket, holds the headers its connection_init payload carries
	// (WithInitHeader): browsers cannot set headers on a WebSocket's upgrade, so the payload is
	// where they send credentials. Call.Header reads a key there when RequestHeader, the
	// upgrade's, lacks it. Nil elsewhere.
	InitHeader http.Header
	// crossOrigin: the CORS policy allows the request's Origin (AllowCrossOrigin).
	crossOrigin bool
}

// AllowCrossOrigin records in ctx's Request that the CORS policy allows the request's Origin. A
// WebSocket handshake, which browsers send without a preflight, is accepted from that origin then
// (CrossOriginAllowed); without a Request in ctx it does nothing.
func AllowCrossOrigin(ctx context.Context) {
	if r, ok := ctx.Value(requestKey{}).(*Request); ok {
		r.crossOrigin = true
	}
}

// CrossOriginAllowed reports whether the CORS policy allowed the Origin of ctx's request.
func CrossOriginAllowed(ctx context.Context) bool {
	r, ok := ctx.Value(requestKey{}).(*Request)
	return ok && r.crossOrigin
}

// WithRequest records r in ctx.
func WithRequest(ctx context.Context, r *Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// WithInitHeader returns ctx with a copy of its Request whose InitHeader is h: the context a GraphQL
// WebSocket's operations run under once its connection_init payload, carrying h, is accepted. A ctx
// without a Request is returned as it is.
func WithInitHeader(ctx context.Context, h http.Header) context.Context {
	r, ok := ctx.Value(requestKey{}).(*Request)
	if !ok {
		return ctx
	}
	cp := *r
	cp.InitHeader = h
	return WithRequest(ctx, &cp)
}

// header returns the values of key in the request's header or, when it has none there, in its
// WebSocket's connection_init payload.
func (r *Request) header(key string) []string {
	if vs := r.RequestHeader.Values(key); len(vs) > 0 || r.InitHeader == nil {
		return vs
	}
	return r.InitHeader.Values(key)
}

// FrontAndPeerFrom returns the front and the client's peer recorded in ctx (WithRequest), with one
// lookup: FrontGRPC when there is no Request, and gRPC's peer when the Request names none.
func FrontAndPeerFrom(ctx context.Context) (Front, *peer.Peer) {
	front := FrontGRPC
	if r, ok := ctx.Value(requestKey{}).(*Request); ok {
		if r.Peer != nil {
			return r.Front, r.Peer
		}
		front = r.Front
	}
	p, _ := peer.FromContext(ctx)
	return front, p
}

// Identity is the consumer a call was authenticated as.
type Identity struct {
	// Consumer names the caller: a JWT's subject, an API key's consumer, a client certificate's
	// subject common name.
	Consumer string
	// Method is how the consumer was authenticated: "jwt", "api_key" or "mtls".
	Method string
	// Provider names the configured provider (JWT issuer entry, key set) that vouched for it.
	Provider string
	// Scopes are the scopes granted (a JWT's "scope" or "scp" claim).
	Scopes []string
	// Claims are the verified token's claims; nil for API keys and certificates.
	Claims map[string]any
}

// Call is one method call asking to be admitted. The admitter builds it; Steps read it and record
// their effects on it. A Call belongs to one call and is not safe for concurrent use.
type Call struct {
	// Ctx is the call's context: its deadline, trace span, front.
	Ctx context.Context
	// Method is the full method name, "/pkg.Service/Method".
	Method string
	// Unregistered: Method is none of the snapshot's descriptors' (a call an explicit route
	// proxies), so its name is the client's.
	Unregistered bool
	// Front is the front the call came through.
	Front Front
	// MD is the call's incoming metadata (for HTTP fronts, the headers that become metadata). Read
	// only: a Step that changes what goes upstream uses SetUpstream and StripUpstream.
	MD metadata.MD
	// Peer is the client's address and transport security, when known.
	Peer *peer.Peer
	// Identity is set by the authentication step when the caller proved who it is.
	Identity *Identity
	// Cost is the call's weight for rate limits: 1, or n when the call stands for n calls of
	// Method (a GraphQL link batched into another method, one call per key). A GraphQL operation's
	// price is in its context instead (ratelimit.WithOperationCost).
	Cost int

	set     []string // key, value pairs for the upstream metadata
	strip   []string // keys removed from the upstream metadata
	done    []func()
	doneBuf [2]func() // done's first storage: no allocation for one or two
	// Where response headers go (see ResponseHeaders), found on first use: resp, nil for nowhere;
	// respGRPC backs resp on the gRPC fronts. respBuf is SetResponseHeaders' copy of a Step's
	// headers (a rate limit's four).
	resp      ResponseHeaders
	respFound bool
	respGRPC  grpcResponseHeaders
	respBuf   [4]Header
}

// SetUpstream makes the upstream see key: value in the call's metadata, replacing what the client sent
// under key. key must be lower case.
func (c *Call) SetUpstream(key, value string) {
	if c.set == nil {
		c.set = make([]string, 0, 8) // identity, scopes and a few claims: one allocation
	}
	c.set = append(c.set, key, value)
}

// StripUpstream removes key (lower case) from the metadata sent upstream: how headers that pretend to
// carry a verified identity are dropped.
func (c *Call) StripUpstream(keys ...string) { c.strip = append(c.strip, keys...) }

// OnDone registers f to run once when the call ends, admitted or not (after a later Step refused it):
// how a concurrency limit gives its slot back.
func (c *Call) OnDone(f func()) {
	if c.done == nil {
		c.done = c.doneBuf[:0]
	}
	c.done = append(c.done, f)
}

// Finish runs the functions registered with OnDone, last registered first.
func (c *Call) Finish() {
	for i := len(c.done) - 1; i >= 0; i-- {
		c.done[i]()
	}
	c.done = nil
}

// Reset clears c for another call, keeping the storage of its upstream changes: how an admitter
// reuses Calls. The Call must not be in use any more, nor its Finish still to run.
func (c *Call) Reset() {
	clear(c.set)
	clear(c.strip)
	set, strip := c.set[:0], c.strip[:0]
	*c = Call{set: set, strip: strip}
}

// Releases reports whether Finish has anything to run.
func (c *Call) Releases() bool { return len(c.done) > 0 }

// Upstream returns the metadata to send upstream: md with the stripped keys removed and the set ones
// replaced. It returns md itself, unchanged and uncopied, when no Step changed anything, and
// changed in place when owned (the caller's own copy, which nothing else uses); else a copy.
func (c *Call) Upstream(md metadata.MD, owned bool) metadata.MD {
	if len(c.set) == 0 && len(c.strip) == 0 {
		return md
	}
	out := md
	if !owned || md == nil {
		out = make(metadata.MD, len(md)+len(c.set)/2)
		for k, v := range md {
			out[k] = v
		}
	}
	for _, k := range c.strip {
		delete(out, k)
	}
	vals := make([]string, len(c.set)/2) // the set values' storage: one allocation for all
	for i := 0; i < len(c.set); i += 2 {
		v := vals[i/2 : i/2+1 : i/2+1]
		v[0] = c.set[i+1]
		out[c.set[i]] = v
	}
	return out
}

// Header returns the first value of key (lower case) in the call's incoming metadata, or, on the
// REST and GraphQL fronts, which pass only some of a request's headers on as metadata, in its HTTP
// header (on a GraphQL WebSocket, the upgrade's, else the connection_init payload's). So a Step keyed
// by a header (an API key's, a rate limit's header:<name>) reads it alike on every front, without the
// header having to go upstream.
func (c *Call) Header(key string) string {
	if v := c.MD[key]; len(v) > 0 {
		return v[0]
	}
	if (c.Front == FrontREST || c.Front == FrontGraphQL) && c.Ctx != nil {
		if r, ok := c.Ctx.Value(requestKey{}).(*Request); ok {
			if vs := r.header(key); len(vs) > 0 {
				return vs[0]
			}
		}
	}
	return ""
}

// Credential returns the value the call carries for key (lower case), as Header does, and whether
// it is ambiguous: sent more than once with different values, counting its metadata and, on the REST
// and GraphQL fronts, its HTTP request's header and its WebSocket's connection_init payload. A credential sent twice (two headers, or a header and a Grpc-Metadata- copy of it that
// differs) is ambiguous; the same value passed on as metadata too is not. One lookup of each, where Header and a check of its own would take two.
func (c *Call) Credential(key string) (value string, ambiguous bool) {
	seen := false
	add := func(vs []string) {
		for _, v := range vs {
			if !seen {
				value, seen = v, true
			} else if v != value {
				ambiguous = true
			}
		}
	}
	add(c.MD[key])
	if (c.Front == FrontREST || c.Front == FrontGraphQL) && c.Ctx != nil {
		if r, ok := c.Ctx.Value(requestKey{}).(*Request); ok {
			add(r.RequestHeader.Values(key))
			if r.InitHeader != nil { // a WebSocket's payload: one that differs from the upgrade's is a second credential
				add(r.InitHeader.Values(key))
			}
		}
	}
	return value, ambiguous
}

// ClientIP returns the client's address, or the zero Addr when it is unknown.
func (c *Call) ClientIP() netip.Addr {
	if c.Peer == nil || c.Peer.Addr == nil {
		return netip.Addr{}
	}
	switch a := c.Peer.Addr.(type) {
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	default:
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return netip.Addr{}
		}
		return ap.Addr().Unmap()
	}
}

// Step is one compiled check of a method's admission chain: authentication, authorization, a rate or
// concurrency limit. Admit returns nil to let the call go on to the next Step, or an error — a
// *Denial, or any gRPC status — to refuse it. Steps are built once per snapshot and shared by
// concurrent calls.
type Step interface {
	Admit(c *Call) error
}

// StepFunc adapts a function to Step.
type StepFunc func(c *Call) error

// Admit calls f.
func (f StepFunc) Admit(c *Call) error { return f(c) }

// Middleware wraps a front's HTTP handler with a policy that needs the HTTP request itself: CORS,
// size limits, the WAF, access logs, trace extraction. It is applied once per snapshot, never per
// request.
type Middleware func(front Front, next http.Handler) http.Handler

// HeaderHook is run on a response's headers once, just before they are written (the first
// WriteHeader, Write or Flush): CORS adds there the exposed names of the headers the front set.
type HeaderHook interface {
	BeforeHeader(h http.Header)
}

// HookWriter is implemented by a ResponseWriter of an outer middleware (telemetry's) that can run
// a HeaderHook itself, so that an inner middleware need not wrap the writer once more (an allocation
// and an indirection per request). SetHeaderHook reports false when the writer has a hook already;
// the caller then wraps the writer as it would otherwise.
type HookWriter interface {
	http.ResponseWriter
	SetHeaderHook(HeaderHook) bool
}
