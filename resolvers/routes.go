package resolvers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	gqlexec "github.com/99designs/gqlgen/graphql/executor"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"

	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/transcoder/textvalue"
)

// Route binds a persisted operation to a REST route, so one GraphQL document defines a REST
// aggregation endpoint: GET /v1/dashboard/{userId} runs the dashboard query with $userId from the
// path.
//
// The operation's variables come from the path variables, then from query parameters of the same
// name (repeated for lists), then, for a method with a body, from a JSON object in the body, decoded
// as /graphql decodes variables: numbers keep their text, so a 64-bit integer arrives exact. Values
// from the path and the query are converted to the variable's type: Int, Float and Boolean are
// parsed as the REST front parses an int32, a double and a bool; other types take the text (String,
// ID, enums, Int64 and the gateway's other scalars read strings). A list takes every value of its
// query parameter, any other variable one: a parameter given twice is refused. The response is the
// operation's data object, 200; an
// operation whose root fields all fail answers with the HTTP status of its first error's code and
// a google.rpc.Status body; partial data answers 200 with {"data": ..., "errors": [...]}.
type Route struct {
	// Method is the HTTP method: GET (the default), POST, PUT, PATCH or DELETE.
	Method string
	// Path is "/" followed by segments, each a literal or a {variable} of the operation that takes
	// the whole segment: "/v1/dashboard/{userId}".
	Path string
	// Operation is the hex SHA-256 of a document among Options.PersistedOperations.
	Operation string
	// OperationName selects the operation of a document that holds several.
	OperationName string
}

// opRoutes are the REST routes of persisted operations: a trie of path segments per HTTP method.
type opRoutes struct {
	exec    *gqlexec.Executor
	maxBody int64
	methods map[string]*routeNode
}

type routeNode struct {
	lits  map[string]*routeNode
	param *routeNode
	route *opRoute // a route ends here
}

// opRoute is one compiled Route.
type opRoute struct {
	method, path string
	doc, opName  string
	params       []string                           // the path variables, by segment, "" for literals
	vars         map[string]*ast.VariableDefinition // the operation's variables
	fault        string                             // why the operation cannot run, when it does not validate
}

// newOpRoutes compiles routes of the persisted documents; faults say why those that do not validate
// against the schema cannot run, by document.
func newOpRoutes(routes []Route, persisted, faults map[string]string, exec *gqlexec.Executor, maxBody int64) (*opRoutes, error) {
	rs := &opRoutes{exec: exec, maxBody: maxBody, methods: make(map[string]*routeNode)}
	for _, r := range routes {
		if err := rs.add(r, persisted, faults); err != nil {
			return nil, fmt.Errorf("resolvers: route %s %s: %w", r.Method, r.Path, err)
		}
	}
	return rs, nil
}

func (rs *opRoutes) add(r Route, persisted, faults map[string]string) error {
	method := strings.ToUpper(r.Method)
	if method == "" {
		method = http.MethodGet
	}
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return fmt.Errorf("method %q is not GET, POST, PUT, PATCH or DELETE", r.Method)
	}
	doc, ok := persisted[strings.ToLower(r.Operation)]
	if !ok {
		return fmt.Errorf("operation %q is not a persisted operation", r.Operation)
	}
	op, err := routeOperation(doc, r.OperationName)
	if err != nil {
		return err
	}
	or := &opRoute{method: method, path: r.Path, doc: doc, opName: r.OperationName, vars: make(map[string]*ast.VariableDefinition), fault: faults[doc]}
	for _, v := range op.VariableDefinitions {
		or.vars[v.Variable] = v
	}
	segs, err := RoutePath(r.Path)
	if err != nil {
		return err
	}
	n := rs.methods[method]
	if n == nil {
		n = &routeNode{}
		rs.methods[method] = n
	}
	for _, s := range segs {
		if s.Variable == "" {
			or.params = append(or.params, "")
			if n.lits == nil {
				n.lits = make(map[string]*routeNode)
			}
			if n.lits[s.Literal] == nil {
				n.lits[s.Literal] = &routeNode{}
			}
			n = n.lits[s.Literal]
			continue
		}
		if or.vars[s.Variable] == nil {
			return fmt.Errorf("path variable {%s} is not a variable of the operation", s.Variable)
		}
		or.params = append(or.params, s.Variable)
		if n.param == nil {
			n.param = &routeNode{}
		}
		n = n.param
	}
	if n.route != nil {
		return fmt.Errorf("the route is bound twice (also as %s %s)", n.route.method, n.route.path)
	}
	n.route = or
	return nil
}

// routeOperation finds the operation a route runs: a query or mutation of doc.
func routeOperation(doc, name string) (*ast.OperationDefinition, error) {
	qd, err := parser.ParseQuery(&ast.Source{Input: doc})
	if err != nil {
		return nil, fmt.Errorf("operation: %w", err)
	}
	var op *ast.OperationDefinition
	switch {
	case name != "":
		op = qd.Operations.ForName(name)
	case len(qd.Operations) == 1:
		op = qd.Operations[0]
	default:
		return nil, errors.New("the document holds several operations; name one")
	}
	switch {
	case op == nil:
		return nil, fmt.Errorf("the document has no operation %q", name)
	case op.Operation == ast.Subscription:
		return nil, errors.New("a subscription cannot be a REST route")
	}
	return op, nil
}

// RouteSegment is one segment of a route path: a literal, or a variable taking the whole segment.
type RouteSegment struct {
	Literal  string
	Variable string
}

// RoutePath parses the path of a Route: "/" and segments, each a literal ([A-Za-z0-9._~-]) or
// {name}, with name a GraphQL variable name; no segment is empty, and no variable repeats.
func RoutePath(path string) ([]RouteSegment, error) {
	if !strings.HasPrefix(path, "/") || path == "/" {
		return nil, fmt.Errorf("path %q must start with / and have a segment", path)
	}
	var out []RouteSegment
	seen := make(map[string]bool)
	for _, s := range strings.Split(path[1:], "/") {
		switch {
		case s == "":
			return nil, fmt.Errorf("path %q has an empty segment", path)
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			name := s[1 : len(s)-1]
			if !isName(name) {
				return nil, fmt.Errorf("path %q: {%s} is not a variable name", path, name)
			}
			if seen[name] {
				return nil, fmt.Errorf("path %q: {%s} appears twice", path, name)
			}
			seen[name] = true
			out = append(out, RouteSegment{Variable: name})
		default:
			for i := 0; i < len(s); i++ {
				if c := s[i]; !(c == '-' || c == '.' || c == '_' || c == '~' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
					return nil, fmt.Errorf("path %q: segment %q: a literal segment holds letters, digits and -._~ only", path, s)
				}
			}
			out = append(out, RouteSegment{Literal: s})
		}
	}
	return out, nil
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// match finds the route of method and path, and the path's segments. HEAD is served as GET (RFC
// 9110, 9.3.2), as the REST front serves it; net/http leaves the body out.
func (rs *opRoutes) match(method, path string) (*opRoute, []string) {
	r := rs.find(method, path)
	if r == nil && method == http.MethodHead {
		r = rs.find(http.MethodGet, path)
	}
	if r == nil {
		return nil, nil
	}
	return r, strings.Split(path[1:], "/")
}

// find finds the route of method and path, without splitting the path.
func (rs *opRoutes) find(method, path string) *opRoute {
	n := rs.methods[method]
	if n == nil || len(path) < 2 || path[0] != '/' {
		return nil
	}
	return n.walk(path[1:])
}

// walk matches path, the segments below n joined by '/', literals before variables.
func (n *routeNode) walk(path string) *opRoute {
	seg, rest, more := strings.Cut(path, "/")
	if c := n.lits[seg]; c != nil {
		if r := c.below(rest, more); r != nil {
			return r
		}
	}
	if n.param != nil && seg != "" {
		return n.param.below(rest, more)
	}
	return nil
}

// below is the route that ends at n when the path does (!more), else the one rest matches below n.
func (n *routeNode) below(rest string, more bool) *opRoute {
	if !more {
		return n.route
	}
	return n.walk(rest)
}

// allowed returns the HTTP methods routes take on path, sorted; nil when there are none.
func (rs *opRoutes) allowed(path string) []string {
	var out []string
	for method := range rs.methods {
		if rs.find(method, path) != nil {
			out = append(out, method)
		}
	}
	slices.Sort(out)
	return out
}

// HasRoute reports whether a request of method for path is for a REST route of a persisted
// operation (Options.Routes).
func (h *Handler) HasRoute(method, path string) bool {
	if h.routes == nil {
		return false
	}
	return h.routes.find(method, path) != nil || method == http.MethodHead && h.routes.find(http.MethodGet, path) != nil
}

// RouteMethods returns the HTTP methods that REST routes of persisted operations (Options.Routes)
// take on path, sorted, or nil when none does: a request for path with another method is answered
// 405 Method Not Allowed with these in its Allow header, by ServeRoute or by a caller that adds
// methods other handlers serve on the path.
func (h *Handler) RouteMethods(path string) []string {
	if h.routes == nil {
		return nil
	}
	return h.routes.allowed(path)
}

// ServeRoute serves r when its path is that of a REST route of a persisted operation
// (Options.Routes), and reports whether it was: the route's operation, or when no route of the path
// takes r's method, 405 Method Not Allowed with the methods that do in the Allow header and a
// google.rpc.Status body (UNIMPLEMENTED), as the REST front answers.
func (h *Handler) ServeRoute(w http.ResponseWriter, r *http.Request) bool {
	if h.routes == nil {
		return false
	}
	route, segs := h.routes.match(r.Method, r.URL.Path)
	if route == nil {
		allow := h.routes.allowed(r.URL.Path)
		if allow == nil {
			return false
		}
		writeMethodNotAllowed(w, r.Method, r.URL.Path, allow)
		return true
	}
	h.routes.serve(w, r, route, segs)
	return true
}

// writeMethodNotAllowed answers a request for a path that other methods serve: 405 with allow in
// the Allow header, and a google.rpc.Status body (UNIMPLEMENTED) naming them, as the REST front
// answers (transcoder.MethodNotAllowed).
func writeMethodNotAllowed(w http.ResponseWriter, method, path string, allow []string) {
	list := strings.Join(allow, ", ")
	w.Header().Set("Allow", list)
	writeStatusAs(w, http.StatusMethodNotAllowed, codes.Unimplemented,
		fmt.Sprintf("method %s is not allowed on %s (allowed: %s)", method, path, list), nil)
}

func (rs *opRoutes) serve(w http.ResponseWriter, r *http.Request, route *opRoute, segs []string) {
	if route.fault != "" { // the operator's operation does not validate: nothing the client sends helps
		writeStatus(w, codes.Internal, route.fault, nil)
		return
	}
	vars, err := rs.variables(w, r, route, segs)
	if err != nil {
		writeStatus(w, codes.InvalidArgument, err.Error(), nil)
		return
	}
	var headers responseHeaders
	ctx := graphql.StartOperationTrace(policy.WithResponseHeaders(r.Context(), &headers))
	params := &graphql.RawParams{Query: route.doc, OperationName: route.opName, Variables: vars, Headers: r.Header}
	params.ReadTime = graphql.TraceTiming{Start: graphql.Now(), End: graphql.Now()}
	opCtx, errs := rs.exec.CreateOperationContext(ctx, params)
	var resp *graphql.Response
	if errs != nil {
		resp = rs.exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs)
	} else {
		var responses graphql.ResponseHandler
		responses, ctx = rs.exec.DispatchOperation(ctx, opCtx)
		resp = responses(ctx)
	}
	headers.writeTo(w.Header())
	writeRouteResponse(w, resp)
}

// variables collects the operation's variables from the path, the query and the body.
func (rs *opRoutes) variables(w http.ResponseWriter, r *http.Request, route *opRoute, segs []string) (map[string]any, error) {
	vars := make(map[string]any, len(route.vars))
	if r.Body != nil && r.Body != http.NoBody && r.Method != http.MethodGet {
		body := r.Body
		if rs.maxBody > 0 {
			body = http.MaxBytesReader(w, r.Body, rs.maxBody)
		}
		data, err := io.ReadAll(body)
		if err != nil {
			return nil, fmt.Errorf("reading the body: %w", err)
		}
		if !decodeObject(strings.TrimSpace(string(data)), &vars) { // as /graphql decodes variables
			return nil, errors.New("the body must be a JSON object of the operation's variables")
		}
	}
	query, _ := policy.Query(r) // parsed once for the request: the firewall reads it too
	for name, def := range route.vars {
		if vals, ok := query[name]; ok {
			v, err := convert(name, def.Type, vals)
			if err != nil {
				return nil, err
			}
			vars[name] = v
		}
	}
	for i, name := range route.params {
		if name == "" {
			continue
		}
		v, err := convert(name, route.vars[name].Type, []string{segs[i]})
		if err != nil {
			return nil, err
		}
		vars[name] = v
	}
	return vars, nil
}

// convert turns the text values of a path variable or query parameter into a value of type t. A
// variable that is not a list takes one value: a query parameter given twice is refused, as the
// REST front and GET /graphql refuse one, since one reader would take the first and another the
// last. Float and Boolean are read as the REST front reads a double and a bool (package
// textvalue); a Float is finite, as GraphQL's is.
func convert(name string, t *ast.Type, vals []string) (any, error) {
	if t.Elem != nil {
		list := make([]any, 0, len(vals))
		for _, s := range vals {
			v, err := convert(name, t.Elem, []string{s})
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		return list, nil
	}
	if len(vals) != 1 {
		return nil, fmt.Errorf("%s: the query parameter is given %d times, but $%s (%s) takes one value", name, len(vals), name, t)
	}
	s := vals[0]
	switch t.NamedType {
	case "Int":
		if i, err := strconv.ParseInt(s, 10, 32); err == nil {
			return i, nil
		}
	case "Float":
		if f, ok := textvalue.Float(s, 64); ok && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f, nil
		}
	case "Boolean":
		if b, ok := textvalue.Bool(s); ok {
			return b, nil
		}
	default:
		return s, nil
	}
	return nil, fmt.Errorf("%s: %q is not a valid %s", name, s, t.NamedType)
}

// writeRouteResponse answers a route with the operation's data, or its errors.
func writeRouteResponse(w http.ResponseWriter, resp *graphql.Response) {
	data := bytes.TrimSpace(resp.Data)
	switch {
	case len(resp.Errors) == 0:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(data)
	case allNull(data):
		e := resp.Errors[0]
		code := codes.Unknown
		name, _ := e.Extensions["code"].(string)
		if c, ok := rpccode.Code_value[name]; ok {
			code = codes.Code(c)
		} else if name != "" {
			code = codes.InvalidArgument // the request's own failures: parsing, validation, limits
		}
		writeStatus(w, code, e.Message, e.Extensions["details"])
	default:
		w.Header().Set("Content-Type", "application/json")
		b, err := json.Marshal(struct {
			Data   json.RawMessage `json:"data"`
			Errors gqlerror.List   `json:"errors"`
		}{data, resp.Errors})
		if err != nil {
			writeStatus(w, codes.Internal, "rendering the response failed", nil)
			return
		}
		_, _ = w.Write(b)
	}
}

// allNull reports whether data, a response's data, is null or an object of nulls: every root field
// failed, and the route has nothing to answer with.
func allNull(data []byte) bool {
	if len(data) == 0 || string(data) == "null" {
		return true
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return false
	}
	for _, v := range fields {
		if string(v) != "null" {
			return false
		}
	}
	return true
}

// writeStatus writes a google.rpc.Status body with the HTTP status of code.
func writeStatus(w http.ResponseWriter, code codes.Code, msg string, details any) {
	writeStatusAs(w, runtime.HTTPStatusFromCode(code), code, msg, details)
}

// writeStatusAs writes a google.rpc.Status body with an HTTP status more precise than code's.
func writeStatusAs(w http.ResponseWriter, httpStatus int, code codes.Code, msg string, details any) {
	if details == nil {
		details = []any{}
	}
	b, err := json.Marshal(struct {
		Code    int32  `json:"code"`
		Message string `json:"message"`
		Details any    `json:"details"`
	}{int32(code), msg, details})
	if err != nil {
		b = []byte(`{"code":13,"message":"internal error","details":[]}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(b)
}
