package waf

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/corazawaf/coraza/v3/types"

	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/transcoder"
)

// head is what of a request every transaction about it sees before a body: the connection, the
// request line, the headers, and the arguments the target carries (the path segments of REST
// routes, persisted operations' included, a GraphQL GET's variables and its document's string
// literals). The request's own transaction and those of its streamed messages process the same
// head, so rules keyed on the target or the headers apply to each message as to the request.
type head struct {
	front                                      policy.Front
	remoteAddr, uri, method, proto, host, path string
	header                                     http.Header
	contentLength                              int64
	body                                       bool // the request has a body
	transferEncoding                           []string
	// anyContentType: the request calls a method that takes a google.api.HttpBody's bytes of any
	// Content-Type, which are not inspected (rawBody), so no rule refuses the type or its charset.
	anyContentType bool
	// graphQLArgs are a GraphQL GET's query parameters, as the front reads them: parsed once for
	// the request (policy.Query), and shared with the front. nil for other requests.
	graphQLArgs url.Values
}

// headOf returns r's head. It refers to r's header map: clone it to keep the head past the request.
func headOf(r *http.Request, front policy.Front) head {
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	h := head{
		front:            front,
		remoteAddr:       r.RemoteAddr,
		uri:              uri,
		method:           r.Method,
		proto:            r.Proto,
		host:             r.Host,
		path:             r.URL.Path,
		header:           r.Header,
		contentLength:    r.ContentLength,
		body:             r.Body != nil && r.Body != http.NoBody,
		transferEncoding: r.TransferEncoding,
	}
	if front == policy.FrontGraphQL && r.Method == http.MethodGet && r.URL.RawQuery != "" {
		h.graphQLArgs, _ = policy.Query(r) // malformed: what parses of it (the front refuses it)
	}
	return h
}

// process gives tx the head and runs the request headers phase.
func (h *head) process(tx types.Transaction) *types.Interruption {
	host, port := h.remoteAddr, 0
	if hh, p, err := net.SplitHostPort(h.remoteAddr); err == nil {
		host = hh
		port, _ = strconv.Atoi(p)
	}
	tx.ProcessConnection(host, port, "", 0)
	tx.ProcessURI(h.uri, h.method, h.proto)
	for k, vs := range h.header {
		for _, v := range vs {
			// The server answers "Expect: 100-continue" itself (curl sends it with bodies over 1 MB):
			// it is no header of the request's for the rules, which restrict Expect.
			if k == "Expect" && strings.EqualFold(v, "100-continue") {
				continue
			}
			if k == "Content-Type" && h.front != policy.FrontGRPCWeb {
				v = frontContentType(v)
			}
			tx.AddRequestHeader(k, v)
		}
	}
	if h.host != "" {
		tx.AddRequestHeader("Host", h.host)
		tx.SetServerName(h.host)
	}
	// net/http moves these out of the header map; the rules check them.
	if h.contentLength >= 0 && h.header.Get("Content-Length") == "" && h.body {
		tx.AddRequestHeader("Content-Length", strconv.FormatInt(h.contentLength, 10))
	}
	if len(h.transferEncoding) > 0 {
		tx.AddRequestHeader("Transfer-Encoding", strings.Join(h.transferEncoding, ","))
	}
	// A REST path's segments are arguments (path variables): inspect each decoded, as a query
	// argument is. So are those of a persisted operation's REST route, which the GraphQL front
	// serves off the GraphQL endpoint: its path variables are the operation's variables.
	if h.front == policy.FrontREST || h.front == policy.FrontGraphQL && !policy.IsGraphQLEndpoint(h.path) {
		addSegments(h.path, tx.AddPathRequestArgument)
	}
	if h.anyContentType {
		for _, id := range contentTypePolicy {
			tx.(ruleRemover).RemoveRuleByID(id)
		}
	}
	if h.graphQLArgs != nil {
		if vars := h.graphQLArgs.Get("variables"); vars != "" {
			flattenJSON([]byte(vars), "variables", tx.AddGetRequestArgument)
		}
		addLiterals(h.graphQLArgs.Get("query"), "query", tx.AddGetRequestArgument)
	}
	return tx.ProcessRequestHeaders()
}

// contentTypePolicy are the Core Rule Set's rules that refuse a body's Content-Type, or its charset,
// as not among those the rules read (tx.allowed_request_content_type, and _charset): no policy for
// a body the rules do not read.
var contentTypePolicy = [...]int{920420, 920480}

// ruleRemover removes a rule from one transaction, as ctl:ruleRemoveById does. Coraza's
// transactions have the method but types.Transaction does not name it; New checks that they have it.
type ruleRemover interface{ RemoveRuleByID(id int) }

// frontContentType is the Content-Type the rules see of a REST or GraphQL request: what the front
// reads the body as (transcoder.RequestBodyKind), under the name the rule set allows and parses it by,
// with the header's parameters. So every type the front reads as JSON (any application/*+json) or
// as NDJSON (application/jsonlines, ...) is inspected as such, and none is refused as a type the
// rule set does not know.
func frontContentType(v string) string {
	name := ""
	switch transcoder.RequestBodyKind(v) {
	case transcoder.BodyJSON:
		name = "application/json"
	case transcoder.BodyNDJSON:
		name = "application/x-ndjson"
	default:
		return v
	}
	typ, params, cut := strings.Cut(v, ";")
	switch {
	case strings.EqualFold(strings.TrimSpace(typ), name):
		return v
	case cut:
		return name + ";" + params
	}
	return name
}
