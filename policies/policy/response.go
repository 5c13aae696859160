package policy

import (
	"context"
	"errors"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// ResponseHeaders is where the Steps of an admitted call put headers for the call's response: a rate
// limit's RateLimit-* headers, which tell a client how much of its quota is left before it is
// refused. A front that can carry them puts one in the call's context with WithResponseHeaders
// before routing the call; a Step hands them over with Call.SetResponseHeaders.
//
// The gRPC fronts need not: on a call whose context carries a grpc.ServerTransportStream (the
// native gRPC server's, the gRPC-Web front's) the headers are collected in the Call
// (Call.ResponseHeaderPairs), which the admitter hands the proxy to merge into the header the
// upstream sends (routing.Admission.Header).
type ResponseHeaders interface {
	// SetResponseHeaders puts hs on the response, replacing what an earlier set put under the same
	// names. rank orders the sets of calls that one response answers together (a GraphQL
	// operation's field calls): such a front keeps the set of the lowest rank. A rate limit ranks
	// its set by the tokens left, so the most restrictive decision is the one reported. It may be
	// called from several goroutines at once when one response answers several calls, and must
	// not keep hs, which the caller reuses.
	SetResponseHeaders(rank int64, hs []Header)
}

// Header is one response header a Step hands to the front.
type Header struct {
	Name  *HeaderName
	Value string
}

// HeaderName is a response header's name in the two forms the fronts write it in: canonical for
// HTTP ("Ratelimit-Policy") and lower case for gRPC metadata ("ratelimit-policy"). Steps build their
// names once, with NewHeaderName, so that neither form is computed per call.
type HeaderName struct{ http, grpc string }

// NewHeaderName returns the forms of name, a valid HTTP header name.
func NewHeaderName(name string) *HeaderName {
	return &HeaderName{http: textproto.CanonicalMIMEHeaderKey(name), grpc: strings.ToLower(name)}
}

// HTTP is the canonical HTTP form of the name.
func (n *HeaderName) HTTP() string { return n.http }

// GRPC is the lower-case metadata form of the name.
func (n *HeaderName) GRPC() string { return n.grpc }

type responseHeadersKey struct{}

// WithResponseHeaders returns ctx carrying rh, where the Steps admitting a call made under ctx put
// their response headers.
func WithResponseHeaders(ctx context.Context, rh ResponseHeaders) context.Context {
	return context.WithValue(ctx, responseHeadersKey{}, rh)
}

// RefusalRank ranks the response headers of a refused call (SetRefusalHeaders) below those of every
// admitted one, whose rank is what they have left (zero or more). A refusal that asks the client to
// wait longer ranks lower still (RefusalRank minus its Retry-After seconds): of several refusals in
// one response, the headers that go out say when every refused call may come back.
const RefusalRank = -1

// SetRefusalHeaders hands the HTTP headers of err, a rate or concurrency limit's refusal
// (RESOURCE_EXHAUSTED, with Retry-After and RateLimit-*), to the ResponseHeaders in ctx, at
// RefusalRank: for a front that answers several calls in one response (GraphQL), where the refused
// call is one failed field of a 200 and the response still tells the client when to come back. Any
// other error, or a ctx without ResponseHeaders, is ignored.
func SetRefusalHeaders(ctx context.Context, err error) {
	var d *Denial
	if !errors.As(err, &d) || d.st.Code() != codes.ResourceExhausted || len(d.header) == 0 {
		return
	}
	rh, ok := ctx.Value(responseHeadersKey{}).(ResponseHeaders)
	if !ok {
		return
	}
	hs := make([]Header, 0, len(d.header))
	for name, vs := range d.header {
		if len(vs) > 0 {
			hs = append(hs, Header{Name: NewHeaderName(name), Value: vs[0]})
		}
	}
	rank := int64(RefusalRank)
	if wait, err := strconv.ParseInt(d.header.Get("Retry-After"), 10, 64); err == nil && wait > 0 {
		rank -= wait
	}
	rh.SetResponseHeaders(rank, hs)
}

// HTTPResponseHeaders is the ResponseHeaders of a front that answers one call with one HTTP
// response (REST): it sets the headers on the response's header map, which must not have been
// written yet. The rank is of no use to it.
type HTTPResponseHeaders http.Header

// SetResponseHeaders sets hs on h.
func (h HTTPResponseHeaders) SetResponseHeaders(_ int64, hs []Header) {
	vals := make([]string, len(hs)) // one allocation for every value
	for i, hd := range hs {
		vals[i] = hd.Value
		h[hd.Name.http] = vals[i : i+1 : i+1]
	}
}

// WantsResponseHeaders reports whether the front serving the call takes response headers: a Step
// checks it before it renders any, so that a call whose front takes none costs it nothing.
func (c *Call) WantsResponseHeaders() bool { return c.responseHeaders() != nil }

// SetResponseHeaders hands hs to the front serving the call (see ResponseHeaders); it does nothing
// when the front takes no response headers. hs is copied: the caller may reuse it, and a variadic
// call of it needs no allocation.
func (c *Call) SetResponseHeaders(rank int64, hs ...Header) {
	rh := c.responseHeaders()
	if rh == nil || len(hs) == 0 {
		return
	}
	own := append(c.respBuf[:0], hs...) // hs stays the caller's: on its stack
	rh.SetResponseHeaders(rank, own)
}

// responseHeaders finds, the first time it is asked, where the call's response headers go: on a
// gRPC front, the gRPC server stream in its context; else the ResponseHeaders in its context, else
// the gRPC server stream there, else the REST response the context's Request names; else nowhere
// (nil).
func (c *Call) responseHeaders() ResponseHeaders {
	if c.respFound {
		return c.resp
	}
	c.respFound = true
	if c.Ctx == nil {
		return nil
	}
	if c.Front == FrontGRPC || c.Front == FrontGRPCWeb {
		// Straight to the stream: a gRPC call's context is deep, and a lookup of a value it lacks
		// walks it whole.
		if grpc.ServerTransportStreamFromContext(c.Ctx) != nil {
			c.resp = &c.respGRPC // a field of the Call: no allocation
		}
		return c.resp
	}
	if rh, ok := c.Ctx.Value(responseHeadersKey{}).(ResponseHeaders); ok {
		c.resp = rh
	} else if grpc.ServerTransportStreamFromContext(c.Ctx) != nil {
		c.resp = &c.respGRPC
	} else if r, ok := c.Ctx.Value(requestKey{}).(*Request); ok && r.Header != nil {
		c.resp = HTTPResponseHeaders(r.Header) // the REST front's response
	}
	return c.resp
}

// grpcResponseHeaders collects a gRPC call's response headers as key, value pairs under the
// lower-case names, for the proxy to merge into the header the upstream sends (see
// Call.ResponseHeaderPairs). Merging them there costs a map update each; a grpc.SetHeader of them
// ahead would copy the whole header twice, and a map of their own would be one more to fill.
type grpcResponseHeaders struct{ pairs []string }

func (g *grpcResponseHeaders) SetResponseHeaders(_ int64, hs []Header) {
	if g.pairs == nil {
		g.pairs = make([]string, 0, 2*len(hs)) // one allocation for every name and value
	}
next:
	for _, hd := range hs {
		for i := 0; i < len(g.pairs); i += 2 {
			if g.pairs[i] == hd.Name.grpc {
				g.pairs[i+1] = hd.Value
				continue next
			}
		}
		g.pairs = append(g.pairs, hd.Name.grpc, hd.Value)
	}
}

// ResponseHeaderPairs returns the response headers the call's Steps handed over on a gRPC front,
// as key, value pairs (lower-case keys, each once) for the response's header; nil when there are
// none or the front took them itself.
func (c *Call) ResponseHeaderPairs() []string { return c.respGRPC.pairs }
