package resolvers

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	gqlexec "github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator/rules"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/schema"
)

// Caller is what the executor needs from the routing core: a routed upstream for each call, and the
// options to call it with. *routing.Proxy satisfies it.
type Caller interface {
	Route(ctx context.Context, fullMethod string, md metadata.MD) (routing.Upstream, error)
	CallOptions() []grpc.CallOption
	// CallUnary makes a unary call: routed, recorded for the endpoint's breaker and outlier detection,
	// and retried as the route's policy and the cluster's budget allow.
	CallUnary(ctx context.Context, fullMethod string, md metadata.MD, req, resp any, opts ...grpc.CallOption) error
	// Admit decides on cost calls of a method as routing them would, without making one: how a
	// batched link's calls meet the policies of the method the link calls, before its batch method
	// is called (routing.Proxy.Admit). release (never nil) gives back the concurrency slots the
	// admission holds, once the batch call is over. The error is the refusal, a gRPC status.
	Admit(ctx context.Context, fullMethod string, md metadata.MD, cost int) (release func(), err error)
}

// Types resolves the message types of google.protobuf.Any values and of error details, for
// rendering them as JSON. *dynamicpb.Types over a snapshot's files and protoregistry.GlobalTypes
// satisfy it.
type Types interface {
	protoregistry.MessageTypeResolver
	protoregistry.ExtensionTypeResolver
}

// Options configure a handler. The zero value serves with the defaults each field names; a negative
// limit turns that limit off.
type Options struct {
	// MaxDepth bounds how deeply fields nest (default 12). Introspection fields are not counted:
	// gqlparser bounds their depth itself.
	MaxDepth int
	// MaxComplexity bounds an operation's cost (default 2000): each field costs 1, each field that
	// calls a method (root fields and links) 10, plus what its selections cost. __type is free.
	MaxComplexity int
	// MaxAliases bounds the number of aliased fields in an operation (default 30).
	MaxAliases int
	// MaxRootFields bounds the number of root fields of an operation (default 20).
	MaxRootFields int
	// MaxFields bounds the number of fields and fragment spreads validation checks (default 2000,
	// as MaxComplexity): each once as written, every operation's and fragment's, however often its
	// fragment is spread in an operation, and again where validation checks it again (a
	// fragment's for each operation that spreads it; one inside inline fragments once more for
	// each of them, in each operation and fragment that reaches it). It is measured on the parsed
	// document before validation, which the other limits follow: validation compares the fields
	// of a selection set that share a response name pairwise, and the fragments spread in it
	// likewise (gqlparser's OverlappingFieldsCanBeMerged), so its time grows with the square of
	// their number. Every field costs at least 1 in MaxComplexity, so a document over the default
	// would be over that budget anyway, unless its fields are introspection's or those of
	// operations it does not run, or it counts many spreads or fields checked again. It bounds
	// too, FieldPairsPerField times over (200,000 at the default), the cost of comparing the fields sharing a
	// response name that validation compares: in a selection set, with its inline fragments and
	// the fragments it spreads, and across the selection sets of such fields, which the response
	// merges. Within the fields allowed, one name written 2000 times makes 2 million.
	MaxFields int
	// MaxFragments bounds the number of fragment definitions in a document (default 500),
	// measured with MaxFields before validation: validation compares every two different
	// fragments spread in one selection set, so its time grows with the square of their number
	// (about 0.05s for 500 fragments, 0.25s for 1000, 0.8s for 1800).
	MaxFragments int
	// MaxDocumentBytes bounds the size of a GraphQL document (default 64 KiB); a request body may
	// be four times that, for variables.
	MaxDocumentBytes int
	// MaxConcurrentCalls bounds the upstream calls one operation makes at once (default 32).
	MaxConcurrentCalls int
	// DisableIntrospection refuses __schema and __type (INTROSPECTION_DISABLED), and keeps error
	// messages from suggesting names of the schema (gqlparser's "Did you mean \"role\"?", the
	// values of an enum), so that guessing does not rebuild it either. Introspection is on by
	// default, so tools and the demo can explore the schema; production may turn it off.
	DisableIntrospection bool
	// APQ accepts automatic persisted queries: a client may send a document's SHA-256 alone once
	// the gateway has seen the document (kept in an LRU cache of APQCacheSize, default 1000).
	APQ          bool
	APQCacheSize int
	// PersistedOperations are documents, each keyed by the hex SHA-256 of its text, that clients may
	// send by that hash, as APQ clients do ({"extensions":{"persistedQuery":{"version":1,
	// "sha256Hash":...}}}), by the hash of the text without its trailing line breaks (which a YAML
	// block may keep and a client's copy usually has not), or by the hash of that text and one "\n"
	// (a .graphql file's, as sha256sum hashes it). Trailing line breaks do not tell two documents
	// apart either when one is sent in full.
	PersistedOperations map[string]string
	// PersistedNames name persisted operations in the problems the handler reports about them
	// (Handler.PersistedProblems), by the hash PersistedOperations keys each by: the gateway passes
	// the names its config file gives the operations written inline. One without a name is named by
	// its hash.
	PersistedNames map[string]string
	// PersistedOnly refuses every document that is not among PersistedOperations, sent by hash or
	// in full: the allowlist mode for production. It excludes APQ.
	PersistedOnly bool
	// Routes bind persisted operations to REST routes (GET /v1/dashboard/{userId}): Handler.ServeRoute
	// runs the operation with the path variables and query parameters as its variables.
	Routes []Route
	// ForwardHeaders are request headers copied into the metadata of every upstream call, besides
	// the defaults: Authorization, X-Request-Id, Traceparent, Tracestate and Baggage. Over
	// WebSocket, the headers of the upgrade request and, for those it lacks, the same keys of the
	// connection_init payload (browsers cannot set headers on the upgrade) are forwarded.
	ForwardHeaders []string
	// Types resolves the types of Any values and error details (default protoregistry.GlobalTypes).
	// Pass dynamicpb.NewTypes(snapshot files) to render the registered services' own types.
	Types Types
	// Page serves a small self-contained query page to browsers: GET with Accept: text/html and
	// no query parameter. Not with DisableIntrospection: the page shows the schema, which is then
	// not served.
	Page bool
	// Logger receives what clients cannot be told: panics in the executor (default slog.Default()).
	Logger *slog.Logger
	// OnOperation, when set, is called once per operation, after validation and the limits, with
	// the operation's complexity (as MaxComplexity measures it, measured even when that limit is
	// off); the operation's upstream calls run under the context it returns. The gateway passes
	// ratelimit.WithOperationCost, so a rate limit charges a GraphQL operation its complexity.
	OnOperation func(ctx context.Context, complexity int) context.Context
	// Stopping, when set, is done when the gateway stops: its WebSockets then close with 1001
	// Going Away "the gateway is shutting down", each once its running operations have sent their
	// last message (at once, for one running nothing; the gateway ends the subscriptions still
	// running shortly before its drain ends: routing.Proxy.EndStreams).
	Stopping context.Context
	// Current, when set, reports whether what the handler serves under is still the gateway's
	// current configuration: the handler itself (schema, limits, persisted operations) and the
	// request policies its requests came through (the JSON limits and the firewall a WebSocket's
	// messages are held to). Once it reports false, a WebSocket whose client starts an operation
	// (graphql-transport-ws subscribe, graphql-ws start) closes with 1012 Service Restart "the
	// gateway's configuration changed: reconnect" instead of running it, so the client runs it on a
	// new socket under the current configuration; the socket's running operations go on until then.
	// It is called once per operation a WebSocket starts: an atomic load, not a computation.
	Current func() bool
}

// DefaultForwardHeaders are the request headers every upstream call carries when present.
var DefaultForwardHeaders = []string{"authorization", "x-request-id", "traceparent", "tracestate", "baggage"}

// Defaults of the options: what a zero limit means.
const (
	DefaultMaxDepth           = 12
	DefaultMaxComplexity      = 2000
	DefaultMaxAliases         = 30
	DefaultMaxRootFields      = 20
	DefaultMaxFields          = 2000
	DefaultMaxFragments       = 500
	DefaultMaxDocumentBytes   = 64 << 10
	DefaultMaxConcurrentCalls = 32
	DefaultAPQCacheSize       = 1000
	queryCacheSize            = 1000
)

// limit resolves an option: 0 is the default, negative is off (0).
func limit(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// NewHandler returns the GraphQL front for one snapshot: gqlgen's server over an executable schema
// that runs every operation against s by calling methods through c. It serves POST and GET
// (application/json), Server-Sent Events (POST with Accept: text/event-stream) and WebSocket
// (graphql-transport-ws, and the older graphql-ws); ServeRoute serves the REST routes of
// Options.Routes. Build one per snapshot and swap it whole: a handler's query cache holds documents
// validated against its schema.
func NewHandler(s *schema.Schema, c Caller, opts Options) (*Handler, error) {
	if s == nil || c == nil {
		return nil, errors.New("resolvers: a schema and a caller are required")
	}
	if opts.PersistedOnly && opts.APQ {
		return nil, errors.New("resolvers: APQ would let clients add documents in persisted-only mode; turn one off")
	}
	if opts.PersistedOnly && len(opts.PersistedOperations) == 0 {
		return nil, errors.New("resolvers: persisted-only mode without persisted operations refuses everything")
	}
	persisted, err := checkPersisted(opts.PersistedOperations)
	if err != nil {
		return nil, err
	}
	// Persisted operations that do not validate against s are the operator's fault: reported, and
	// answered INTERNAL (persisted.go).
	invalid := invalidPersisted(s.AST(), opts.PersistedOperations, !opts.DisableIntrospection)
	faults := make(map[string]string, len(invalid))
	for doc, errs := range invalid {
		faults[doc] = persistedFault(errs)
	}
	x := newExecutor(s, c, opts)

	// Operation parameters: the inspection of what a WebSocket client sent first (the WAF's, see
	// messageInspection), persisted operations next, then APQ, then the size of what results.
	registerRefusalKind()
	exts := []graphql.HandlerExtension{messageInspection{present: x.present}}
	if persisted != nil || opts.PersistedOnly {
		exts = append(exts, persistedOperations{docs: persisted, faults: faults, only: opts.PersistedOnly})
	}
	if opts.APQ {
		exts = append(exts, extension.AutomaticPersistedQuery{Cache: lru.New[string](limit(opts.APQCacheSize, DefaultAPQCacheSize))})
	} else {
		exts = append(exts, noAPQ{})
	}
	cache := lru.New[*ast.QueryDocument](queryCacheSize)
	lim := limits{
		depth:      limit(opts.MaxDepth, DefaultMaxDepth),
		aliases:    limit(opts.MaxAliases, DefaultMaxAliases),
		rootFields: limit(opts.MaxRootFields, DefaultMaxRootFields),
		fields:     limit(opts.MaxFields, DefaultMaxFields),
		fragments:  limit(opts.MaxFragments, DefaultMaxFragments),
		docBytes:   limit(opts.MaxDocumentBytes, DefaultMaxDocumentBytes),
		validated:  cache,
	}
	exts = append(exts, lim, variableCoercion{schema: s.AST()}) // variables.go: after the document's limits, before complexity
	exts = append(exts, validationErrorLimit{})
	freeFields := complexity.WithIgnoreFields(map[string]struct{}{s.AST().Query.Name + ".__type": {}})
	if n := limit(opts.MaxComplexity, DefaultMaxComplexity); n > 0 {
		exts = append(exts, newComplexityLimit(x, n)) // extension.FixedComplexityLimit without argument maps
	}
	if opts.OnOperation != nil {
		exts = append(exts, &operationCost{hook: opts.OnOperation, opts: []complexity.Option{freeFields}})
	}
	if !opts.DisableIntrospection {
		exts = append(exts, extension.Introspection{})
	}
	validation := func() *rules.Rules { return validationRules(!opts.DisableIntrospection) }

	srv := handler.New(x)
	// gqlgen's transport.SSE, its request errors written as over POST.
	srv.AddTransport(sseTransport{keepAlive: 15 * time.Second})
	srv.AddTransport(postTransport{}) // gqlgen's transport.POST, answering in the type Accept negotiates
	srv.AddTransport(getTransport{})  // gqlgen's transport.GET, likewise, on the request's one parse of its query string
	srv.AddTransport(transport.Websocket{
		Implementation:        wsImplementation{stopping: opts.Stopping, current: opts.Current, present: x.present},
		KeepAlivePingInterval: 15 * time.Second,
		InitTimeout:           10 * time.Second,
		InitFunc:              connectionInit,
	})
	srv.SetQueryCache(cache)
	srv.SetValidationRulesFn(validation)
	srv.SetDisableSuggestion(opts.DisableIntrospection) // gqlgen's own knob, for the rules it swaps
	srv.SetErrorPresenter(x.present)
	srv.SetRecoverFunc(x.recoverPanic)
	for _, e := range exts {
		srv.Use(e)
	}

	h := &Handler{srv: srv, maxBody: int64(lim.docBytes) * 4, problems: persistedProblems(opts, invalid)}
	if lim.docBytes == 0 {
		h.maxBody = 0
	}
	if opts.Page && !opts.DisableIntrospection {
		h.page = pageHTML
	}
	if len(opts.Routes) > 0 {
		exec := gqlexec.New(x)
		exec.SetQueryCache(cache)
		exec.SetDefaultRulesFn(validation)
		exec.SetDisableSuggestion(opts.DisableIntrospection)
		exec.SetErrorPresenter(x.present)
		exec.SetRecoverFunc(x.recoverPanic)
		for _, e := range exts {
			exec.Use(e)
		}
		if h.routes, err = newOpRoutes(opts.Routes, persisted, faults, exec, h.maxBody); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Handler is the GraphQL front of one snapshot: the request size bound, the WebSocket origin check
// and the browser page in front of gqlgen's server, and the REST routes bound to persisted
// operations.
type Handler struct {
	srv      *handler.Server
	maxBody  int64
	page     []byte
	routes   *opRoutes
	problems []string // the persisted operations that do not validate against the schema
}

// PersistedProblems describes the persisted operations that do not validate against the handler's
// schema, with their first errors, sorted (see PersistedProblems); nil when all do. Calls to them
// are answered INTERNAL: the operator, not the client, has to act, by correcting the operation or
// registering what it needs.
func (h *Handler) PersistedProblems() []string { return h.problems }

// ServeHTTP serves GraphQL requests (for /graphql).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.page != nil && r.Method == http.MethodGet && wantsHTML(r) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
		_, _ = w.Write(h.page)
		return
	}
	if status, err := unsupported(r); err != nil {
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", "GET, POST")
		}
		writeRequestError(w, status, err)
		return
	}
	if r.Method == http.MethodGet && r.Header.Get("Upgrade") == "" {
		if err := badQueryString(r); err != nil {
			writeRequestError(w, http.StatusBadRequest, err)
			return
		}
	}
	if h.maxBody > 0 && r.Body != nil && r.Body != http.NoBody {
		if r.ContentLength > h.maxBody {
			writeRequestError(w, http.StatusRequestEntityTooLarge, bodyTooLarge(r.ContentLength, h.maxBody))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
	}
	if r.Method == http.MethodPost && r.Header.Get("Upgrade") == "" {
		body, status, err := readPOSTBody(r) // one JSON value, nothing after it: see body.go
		if err != nil {
			writeRequestError(w, status, err)
			return
		}
		defer body.release()
		r.Body = body
	}
	switch {
	case r.Header.Get("Upgrade") != "": // a WebSocket: the transport hijacks the connection
		if err := checkOrigin(r); err != nil {
			writeRequestError(w, http.StatusForbidden, err)
			return
		}
	case r.Method == http.MethodPost && wantsEventStream(r.Header.Values("Accept")):
		// SSE is a POST's (sseTransport); a GET asking for it is answered as other GETs are.
		sw := &sseWriter{ResponseWriter: w}
		defer sw.finish()
		w, r = sw, r.WithContext(withSSEWriter(r.Context(), sw))
	default:
		hw := &headerWriter{ResponseWriter: w}
		w, r = hw, r.WithContext(policy.WithResponseHeaders(r.Context(), &hw.headers))
	}
	h.srv.ServeHTTP(w, r)
}

// unsupported refuses what no transport serves, with the status the GraphQL-over-HTTP specification
// gives it and an error in the GraphQL shape: a method other than GET and POST (405), a POST whose
// body is not JSON in UTF-8 (415).
func unsupported(r *http.Request) (int, error) {
	switch r.Method {
	case http.MethodGet:
		return 0, nil
	case http.MethodPost:
		ct := r.Header.Get("Content-Type")
		if ct == "application/json" || ct == "application/json; charset=utf-8" {
			return 0, nil // what clients send, without parsing it
		}
		mt, params, err := mime.ParseMediaType(ct)
		if cs, ok := params["charset"]; err == nil && mt == "application/json" && (!ok || strings.EqualFold(cs, "utf-8")) {
			return 0, nil
		}
		return http.StatusUnsupportedMediaType, requestError(codeName(codes.InvalidArgument),
			"Content-Type %q: a GraphQL POST carries a JSON body in UTF-8 (application/json)", ct)
	}
	return http.StatusMethodNotAllowed, requestError(codeName(codes.Unimplemented),
		"method %s: GraphQL is served over GET and POST", r.Method)
}

// badQueryString refuses the query string of a GET that does not parse, or that gives a request
// parameter (query, operationName, variables, extensions) twice, before anything reads it: the
// transport would run the first, while an inspector reading the last (a firewall, a log) sees
// another, as a POST's body giving a key twice would (body.go). It makes the request's one parse of
// it (policy.Query), which the firewall may have made already and the transport reads; the
// transport refuses variables and extensions that are not a JSON object as it decodes them
// (getTransport).
func badQueryString(r *http.Request) error {
	q, err := policy.Query(r)
	if err != nil {
		return requestError(codeName(codes.InvalidArgument), "the query string does not parse: %v", err)
	}
	for _, name := range params {
		if n := len(q[name]); n > 1 {
			return requestError(codeName(codes.InvalidArgument), "the query string must give each parameter once: %q is given %d times", name, n)
		}
	}
	return nil
}

// wantsHTML reports whether a GET is a browser asking for a page rather than a query. It parses
// the query string only for a request that accepts HTML, and then once for the request
// (policy.Query).
func wantsHTML(r *http.Request) bool {
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		return false
	}
	q, _ := policy.Query(r)
	return q.Get("query") == ""
}

// outgoing returns the metadata upstream calls of an operation carry: the allowlisted headers of the
// request (over WebSocket, of its upgrade or else of its connection_init payload), or nil when it has
// none.
func (x *executor) outgoing(ctx context.Context, opCtx *graphql.OperationContext) metadata.MD {
	var md metadata.MD
	init, _ := ctx.Value(initHeaderKey{}).(http.Header) // set for operations over WebSocket
	for i, name := range x.forward {
		vals := opCtx.Headers.Values(x.forwardCanon[i])
		if len(vals) == 0 {
			vals = init[x.forwardCanon[i]]
		}
		if len(vals) == 0 {
			continue
		}
		if md == nil {
			md = make(metadata.MD, 2)
		}
		md[name] = vals
	}
	return md
}

// initHeaderKey is the context key of a WebSocket's connection_init headers (initHeader), which its
// operations run with.
type initHeaderKey struct{}

// initHeader reads the headers a connection_init payload carries in place of the upgrade request's:
// its string values, by header name in any case, at the top level or, for names the top level lacks,
// in a "headers" object as some clients send them. A name given twice with different values (as
// x-api-key and X-Api-Key) keeps both, as a repeated request header does: a credential sent so is
// ambiguous.
func initHeader(p transport.InitPayload) http.Header {
	h := stringValues(p)
	if hs, ok := p["headers"].(map[string]any); ok {
		for name, vs := range stringValues(hs) {
			if _, ok := h[name]; !ok {
				h[name] = vs
			}
		}
	}
	return h
}

// stringValues returns the non-empty string values of m by header name, in the order of m's keys.
func stringValues(m map[string]any) http.Header {
	h := make(http.Header, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if v, ok := m[k].(string); ok && v != "" {
			name := textproto.CanonicalMIMEHeaderKey(k)
			if !slices.Contains(h[name], v) {
				h[name] = append(h[name], v)
			}
		}
	}
	return h
}

// writeRequestError answers a request the server refuses before gqlgen sees it.
func writeRequestError(w http.ResponseWriter, code int, ge error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	b := append([]byte(`{"errors":[`), mustJSON(ge)...)
	_, _ = w.Write(append(b, "]}"...))
}

// mustJSON marshals an error for a response body; errors always marshal.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`{"message":"internal error"}`)
	}
	return b
}
