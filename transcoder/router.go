package transcoder

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protogate/gateway/routing"
)

// Router maps HTTP requests to the Bindings of a set of services. NewRouter compiles it once per
// snapshot; it is immutable and safe for concurrent use.
//
// Matching walks a trie keyed by path segments: each node has a map of literal children, one
// single-segment wildcard child and one "**" tail. When several templates match a path, the one with
// the most literal segments wins (so /v1/users:batchGet and /v1/users/me beat /v1/users/{id}); among
// those with as many, the one whose first literal comes earliest wins (literal before "*" before "**",
// segment by segment from the left, which is how Envoy's and ESP's path matcher order their walk).
// grpc-gateway's ServeMux differs: it scans routes in reverse registration order and takes the first
// that matches. Templates are tried for the request's HTTP method only; a path that matches only
// templates of other methods is a 405 whose Allow header lists them, and a path nothing matches is a
// 404. A custom verb (":publish") is split off the last segment first; if no template with that verb
// matches, the whole last segment is matched as a plain segment, as grpc-gateway does.
type Router struct {
	root     node
	bindings []*Binding
	types    resolver
	headers  headerPolicy // WithRouteHeaders
}

// RouterOption configures NewRouter.
type RouterOption func(*routerOptions)

type routerOptions struct {
	noDefaultRoutes bool
	types           TypeResolver
	routeHeaders    []string
}

// WithoutDefaultRoutes turns off the default POST /{package.Service}/{Method} route of methods that
// have no google.api.http rule.
func WithoutDefaultRoutes() RouterOption {
	return func(o *routerOptions) { o.noDefaultRoutes = true }
}

// WithTypes sets the resolver for the message types of google.protobuf.Any values and of extensions,
// in requests, responses and error details: normally the snapshot's registered types. Types it does
// not know are looked up in the types linked into the gateway.
func WithTypes(t TypeResolver) RouterOption {
	return func(o *routerOptions) { o.types = t }
}

// WithRouteHeaders adds request headers that pass upstream as metadata, under their lower-cased
// names, besides the Handler's (WithHeaders): the headers the snapshot's routes match on and its
// clusters hash, so that routing sees them over REST as over gRPC. Being the snapshot's, they change
// with it, without a restart. Names no header can pass under (hop-by-hop, keys gRPC reserves) are
// ignored.
func WithRouteHeaders(names ...string) RouterOption {
	return func(o *routerOptions) { o.routeHeaders = append(o.routeHeaders, names...) }
}

// node is one trie node: the templates that reach it have matched the segments on the way.
type node struct {
	lits map[string]*node // literal segments, unescaped
	wild *node            // "*": any one non-empty segment
	tail *node            // "**": the rest of the path, zero or more non-empty segments; holds only ends
	ends []endpoint       // templates that end here, by verb
	// maxLits is the most literal segments any template below this node still has: a walk that cannot
	// beat the best match found so far stops early.
	maxLits int
}

// endpoint holds the bindings of one template (path and verb), one per HTTP method, sorted by method.
type endpoint struct {
	verb     string
	bindings []*Binding
}

// NewRouter compiles the HTTP bindings of services. It fails when a rule does not compile against its
// messages or two methods bind the same HTTP method and template; a method binding one route twice
// keeps the first.
func NewRouter(services []protoreflect.ServiceDescriptor, opts ...RouterOption) (*Router, error) {
	var o routerOptions
	for _, opt := range opts {
		opt(&o)
	}
	r := &Router{types: resolver{local: o.types}, headers: newRouteHeaders(o.routeHeaders)}
	cs := make(codecs)
	js := newJSONCodecs()
	for _, sd := range services {
		methods := sd.Methods()
		for i := range methods.Len() {
			m := methods.Get(i)
			rules, err := HTTPRules(m)
			if err != nil {
				return nil, err
			}
			for j, rule := range rules {
				b, err := compileBinding(m, rule, j, &r.types, cs)
				if err != nil {
					return nil, err
				}
				b.compileJSONRequest(js)
				if err := r.add(b, false); err != nil {
					return nil, err
				}
			}
			if len(rules) == 0 && !o.noDefaultRoutes {
				b, err := defaultBinding(m, &r.types, cs)
				if err != nil {
					return nil, err
				}
				b.compileJSONRequest(js)
				if err := r.add(b, true); err != nil {
					return nil, err
				}
			}
		}
	}
	r.root.finish()
	slices.SortStableFunc(r.bindings, func(a, b *Binding) int {
		if c := strings.Compare(a.template.Key(), b.template.Key()); c != 0 {
			return c
		}
		return strings.Compare(a.httpMethod, b.httpMethod)
	})
	return r, nil
}

// add inserts a binding. A default route that an explicit rule already claims is dropped.
func (r *Router) add(b *Binding, isDefault bool) error {
	n := &r.root
	for _, seg := range b.template.Segments {
		switch seg.Kind {
		case Literal:
			lit, err := unescape(seg.Value, false)
			if err != nil {
				return fmt.Errorf("method %s: %v", b.method.FullName(), err)
			}
			if n.lits == nil {
				n.lits = make(map[string]*node)
			}
			child := n.lits[lit]
			if child == nil {
				child = new(node)
				n.lits[lit] = child
			}
			n = child
		case Wildcard:
			if n.wild == nil {
				n.wild = new(node)
			}
			n = n.wild
		case DoubleWildcard:
			if n.tail == nil {
				n.tail = new(node)
			}
			n = n.tail
		}
	}
	verb, err := unescape(b.template.Verb, false)
	if err != nil {
		return fmt.Errorf("method %s: %v", b.method.FullName(), err)
	}
	i := slices.IndexFunc(n.ends, func(e endpoint) bool { return e.verb == verb })
	if i < 0 {
		n.ends = append(n.ends, endpoint{verb: verb})
		i = len(n.ends) - 1
	}
	e := &n.ends[i]
	j, found := slices.BinarySearchFunc(e.bindings, b.httpMethod, func(x *Binding, m string) int { return strings.Compare(x.httpMethod, m) })
	if found {
		other := e.bindings[j]
		switch {
		case isDefault:
			return nil
		case other.method.FullName() == b.method.FullName():
			return nil // the same route twice in one method's bindings: the first stays
		default:
			return fmt.Errorf("REST route %s %s of %s collides with %s %s of %s",
				b.httpMethod, b.template, b.method.FullName(), other.httpMethod, other.template, other.method.FullName())
		}
	}
	e.bindings = slices.Insert(e.bindings, j, b)
	r.bindings = append(r.bindings, b)
	return nil
}

// finish computes maxLits bottom-up.
func (n *node) finish() int {
	best := 0
	for _, c := range n.lits {
		best = max(best, 1+c.finish())
	}
	if n.wild != nil {
		best = max(best, n.wild.finish())
	}
	if n.tail != nil {
		n.tail.finish()
	}
	n.maxLits = best
	return best
}

// binding returns the binding of an HTTP method and verb that ends at n, or nil.
func (n *node) binding(method, verb string) *Binding {
	for i := range n.ends {
		if n.ends[i].verb != verb {
			continue
		}
		for _, b := range n.ends[i].bindings {
			if b.httpMethod == method {
				return b
			}
		}
	}
	return nil
}

// Bindings lists every compiled binding, ordered by template and HTTP method.
func (r *Router) Bindings() []*Binding { return slices.Clone(r.bindings) }

// Match finds the binding for r's method and path and records the path's segments in p, from which
// the binding's path variables take their values. The path is the request's escaped path when it has
// one (r.URL.RawPath), so an encoded '/' stays inside its segment. Errors are *Error values: NotFound,
// or 405 Method Not Allowed with the allowed methods.
func (rt *Router) Match(r *http.Request, p *Params) (*Binding, error) {
	if r.URL.RawPath != "" {
		return rt.Lookup(r.Method, r.URL.RawPath, true, p)
	}
	return rt.Lookup(r.Method, r.URL.Path, false, p)
}

// MatchCall is Match as the REST front resolves a request: a WebSocket handshake (a GET) on the
// path of a streaming method bound to POST finds that method, where Match answers 405. Policies
// that pick a request's rules by its method (the WAF's mode) resolve requests with it.
func (rt *Router) MatchCall(r *http.Request, p *Params) (*Binding, error) {
	b, err := rt.Match(r, p)
	if err != nil && isWebSocket(r) {
		b, err = rt.matchUpgrade(r, p, err)
	}
	return b, err
}

// Lookup is Match on an HTTP method and a path: percent-encoded when raw, else already decoded (as
// url.URL.Path is, which then holds no encoded '/').
func (rt *Router) Lookup(method, path string, raw bool, p *Params) (*Binding, error) {
	if raw && strings.IndexByte(path, '#') >= 0 {
		// A fragment is the client's own and never sent (RFC 9110, 4.2.3): a '#' in a request
		// target is a client's mistake, not a path variable's data. (A decoded path's '#' was sent
		// as %23, data: net/http sets RawPath for a target holding '#' itself.)
		return nil, NewError(codes.InvalidArgument, fmt.Sprintf("request path %q holds a '#': a fragment is never sent, and a '#' in data is written %%23", path))
	}
	if !p.split(path, raw) {
		return nil, noRoute(method, path)
	}
	verb, verbEnd := p.verb()
	if b := rt.resolve(method, verb, verbEnd, p); b != nil {
		return b, nil
	}
	if method == http.MethodHead {
		if b := rt.head(verb, verbEnd, p); b != nil {
			return b, nil
		}
	}
	// Nothing for this method: a 405 if the path matches for another one. Allow lists what the path
	// serves: each method a matching template binds (the best such template serves it), and HEAD
	// when GET's binding would answer it, so a client following Allow is not answered 405 again.
	var allow []string
	if verbEnd >= 0 {
		p.end = verbEnd
		allow = rt.allowed(verb, p, allow)
		p.end = len(path)
	}
	allow = rt.allowed("", p, allow)
	if len(allow) == 0 {
		return nil, noRoute(method, path)
	}
	if method != http.MethodHead && method != http.MethodGet && rt.head(verb, verbEnd, p) != nil {
		allow = append(allow, http.MethodHead)
	}
	return nil, MethodNotAllowed(method, path, allow...)
}

// resolve finds the binding of an HTTP method for the path split in p: a template with the path's
// custom verb first, then one matching the whole last segment. It leaves p.end where the found
// binding's path ends.
func (rt *Router) resolve(method, verb string, verbEnd int, p *Params) *Binding {
	whole := p.end
	if verbEnd >= 0 {
		p.end = verbEnd
		if b := rt.find(method, verb, p); b != nil {
			return b
		}
		p.end = whole
	}
	return rt.find(method, "", p)
}

// head finds the binding a HEAD request on the path split in p is served by when no template binds
// HEAD itself: GET's, for HEAD is GET without the body (RFC 9110, 9.3.2), which net/http leaves
// out. Not a streaming method's: its "body" never ends, and net/http, which drops what a HEAD's
// handler writes without an error, would leave the upstream stream running after the client has
// its headers. Such a path answers HEAD with 405, its Allow without HEAD. The exception is a
// server stream of google.api.HttpBody, a download, whose headers come with its first message: the
// stream answers a HEAD once it has them, and ends the call (Call.relay).
func (rt *Router) head(verb string, verbEnd int, p *Params) *Binding {
	whole := p.end
	b := rt.resolve(http.MethodGet, verb, verbEnd, p)
	if b == nil || b.streamsResponse() && !(b.kind == routing.KindServerStream && b.responseRaw) {
		p.end = whole
		return nil
	}
	return b
}

// MethodNotAllowed is the 405 of a known path called with a method it does not serve: code
// Unimplemented, and an Allow header listing the methods it does serve.
func MethodNotAllowed(method, path string, allow ...string) *Error {
	allow = slices.Compact(slices.Sorted(slices.Values(allow)))
	return &Error{
		code:       codes.Unimplemented,
		msg:        fmt.Sprintf("method %s is not allowed on %s (allowed: %s)", method, path, strings.Join(allow, ", ")),
		httpStatus: http.StatusMethodNotAllowed,
		allow:      strings.Join(allow, ", "),
	}
}

// Allowed returns the methods a 405 names in its Allow header, sorted; nil for other errors.
func (e *Error) Allowed() []string {
	if e.allow == "" {
		return nil
	}
	return strings.Split(e.allow, ", ")
}

func noRoute(method, path string) error {
	return &Error{code: codes.NotFound, msg: fmt.Sprintf("no route for %s %s", method, path)}
}

// search is one walk of the trie for a method and verb. (The Params are passed along, not kept in
// it: escape analysis would otherwise see them flow into the result and move every caller's Params
// to the heap.)
type search struct {
	method string
	verb   string
	best   *Binding
	lits   int
}

func (rt *Router) find(method, verb string, p *Params) *Binding {
	s := search{method: method, verb: verb}
	s.walk(p, &rt.root, 0, 0)
	return s.best
}

func (s *search) take(b *Binding, lits int) {
	if b != nil && (s.best == nil || lits > s.lits) {
		s.best, s.lits = b, lits
	}
}

// walk matches segments i... of the path p below n, lits literal segments having matched so far.
func (s *search) walk(p *Params, n *node, i, lits int) {
	if s.best != nil && lits+n.maxLits <= s.lits {
		return // nothing below n can beat the best match
	}
	if i == p.n {
		s.take(n.binding(s.method, s.verb), lits)
		if n.tail != nil {
			s.take(n.tail.binding(s.method, s.verb), lits)
		}
		return
	}
	seg := p.segment(i)
	if n.lits != nil {
		if c := n.lits[p.literal(seg)]; c != nil {
			s.walk(p, c, i+1, lits+1)
		}
	}
	if n.wild != nil && seg != "" {
		s.walk(p, n.wild, i+1, lits)
	}
	if n.tail != nil && p.filled(i) {
		s.take(n.tail.binding(s.method, s.verb), lits)
	}
}

// allowed appends the HTTP methods of every template with verb that matches p's path (not HEAD,
// unless a template binds it: Lookup decides whether GET's binding serves it).
func (rt *Router) allowed(verb string, p *Params, out []string) []string {
	var walk func(n *node, i int)
	collect := func(n *node) {
		for _, e := range n.ends {
			if e.verb == verb {
				for _, b := range e.bindings {
					out = append(out, b.httpMethod)
				}
			}
		}
	}
	walk = func(n *node, i int) {
		if n.tail != nil && (i == p.n || p.filled(i)) {
			collect(n.tail)
		}
		if i == p.n {
			collect(n)
			return
		}
		seg := p.segment(i)
		if c := n.lits[p.literal(seg)]; c != nil {
			walk(c, i+1)
		}
		if n.wild != nil && seg != "" {
			walk(n.wild, i+1)
		}
	}
	walk(&rt.root, 0)
	return out
}
