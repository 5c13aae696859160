package resolvers

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"google.golang.org/grpc/codes"

	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/transcoder/mediarange"
)

// GraphQL over HTTP: the POST and GET transports. Both read the request's parameters as gqlgen's
// transport.POST and transport.GET do, and answer as the GraphQL-over-HTTP specification has it:
// in the response type the Accept header negotiates by its q-values (responseType), which gqlgen's
// transports ignore; and a request refused before its operation runs (a document that does not
// parse or validate, variables that cannot be coerced, a body of the wrong shape, a limit) with
// errors and no "data" entry, as the GraphQL specification (section 7.1.2) has it of an error
// raised before execution begins, where gqlgen writes "data": null. The SSE transport (sse.go)
// answers so too; the WebSocket transport is gqlgen's.

// postTransport serves GraphQL over POST: the body, one JSON object that Handler.ServeHTTP has read
// and checked (readPOSTBody), holds the request's parameters.
type postTransport struct{}

var _ graphql.Transport = postTransport{}

// Supports reports whether r is a POST, other than a WebSocket's handshake; Handler.ServeHTTP has
// refused one whose body is not JSON.
func (postTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodPost && r.Header.Get("Upgrade") == ""
}

// Do runs the operation r's body describes.
func (postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if params, ok := readParams(w, r, exec); ok {
		answer(w, r, exec, params)
	}
}

// readParams decodes the request parameters of a POST from its body, one JSON value that
// Handler.ServeHTTP has read and checked (readPOSTBody). A value of the wrong shape (an array,
// {"query": 5}) is refused here: 400, in the type Accept negotiates, INVALID_ARGUMENT saying
// what is wrong without quoting the body, no data; ok is false then.
func readParams(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) (params *graphql.RawParams, ok bool) {
	params = &graphql.RawParams{}
	params.ReadTime.Start = graphql.Now()
	dec := json.NewDecoder(r.Body)
	dec.UseNumber() // as gqlgen's transports decode: numbers keep their text
	if err := dec.Decode(params); err != nil {
		w.Header().Set("Content-Type", responseType(r.Header.Values("Accept")))
		w.WriteHeader(http.StatusBadRequest)
		ge := requestError(codeName(codes.InvalidArgument), "%s", bodyShape("json request body could not be decoded: "+err.Error()))
		writeRequestErrors(w, exec.DispatchError(r.Context(), gqlerror.List{ge}))
		return nil, false
	}
	params.Headers = r.Header
	params.ReadTime.End = graphql.Now()
	return params, true
}

// getTransport serves GraphQL over GET, from the query string's parameters as policy.Query parsed
// them for the request: the firewall, Handler.ServeHTTP's checks and the transport read one parse,
// where each would parse the string again. An operation that is not a query is refused as the
// front refuses a method it does not serve: 405 (Allow: POST), UNIMPLEMENTED, no data.
type getTransport struct{}

var _ graphql.Transport = getTransport{}

// Supports reports whether r is a GET, other than a WebSocket's handshake.
func (getTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Upgrade") == ""
}

// Do runs the operation r's query string names.
func (getTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if err := badQueryString(r); err != nil { // Handler.ServeHTTP has refused it already
		writeRequestError(w, http.StatusBadRequest, err)
		return
	}
	q, _ := policy.Query(r)
	params := &graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName"), Headers: r.Header}
	params.ReadTime.Start = graphql.Now()
	for _, p := range [...]struct {
		name string
		into *map[string]any
	}{{"variables", &params.Variables}, {"extensions", &params.Extensions}} {
		if !decodeObject(strings.TrimSpace(q.Get(p.name)), p.into) {
			writeRequestError(w, http.StatusBadRequest, requestError(codeName(codes.InvalidArgument), "%s must be a JSON object", p.name))
			return
		}
	}
	params.ReadTime.End = graphql.Now()
	answer(w, r, exec, params)
}

// answer runs the operation params describe, read from r, and writes its response in the type r's
// Accept header negotiates. A request refused before the operation runs gets requestErrorStatus; over GET, an
// operation that is not a query is 405, the GraphQL-over-HTTP specification's status, coded as
// the front's other refusal of a method.
func answer(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, params *graphql.RawParams) {
	ct := responseType(r.Header.Values("Accept"))
	w.Header().Set("Content-Type", ct)
	ctx := r.Context()
	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		w.WriteHeader(requestErrorStatus(ct, errs))
		writeRequestErrors(w, exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs))
		return
	}
	if op := opCtx.Operation.Operation; r.Method == http.MethodGet && op != ast.Query {
		w.Header().Set("Allow", http.MethodPost)
		writeRequestError(w, http.StatusMethodNotAllowed, requestError(codeName(codes.Unimplemented),
			"GET requests only allow query operations: send the %s with POST", op))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	writeJSON(w, responses(ctx)) // with "data": null when a failure took the whole of it
}

// decodeObject decodes v, a JSON object of variables or extensions (a GET's query parameter, the
// body of a persisted operation's REST route), into into as gqlgen decodes a POST's (numbers keep
// their text, as json.Number), and reports whether v is one: empty and null are none, and fine;
// any other value, or data after the object, is not.
func decodeObject(v string, into *map[string]any) bool {
	if v == "" || v == "null" {
		return true
	}
	if v[0] != '{' {
		return false
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	return dec.Decode(into) == nil && dec.Decode(new(json.RawMessage)) == io.EOF
}

// Response media types of GraphQL over HTTP.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// responseType negotiates the media type of a response from the request's Accept header values,
// as RFC 9110 has it: each of the two types takes the q-value of the most specific media range
// that matches it (its name, else application/*, else */*), the higher q-value wins, and 0 refuses
// a type. On a tie the type whose range comes first wins, and application/json when one range (a
// wildcard) gives both. No Accept is application/json, as the GraphQL-over-HTTP specification has
// it for the clients that predate application/graphql-response+json; an Accept that allows
// neither type gets application/graphql-response+json, as from gqlgen's transports, rather than a
// 406.
func responseType(accept []string) string {
	asJSON, asGraphQL, named := jsonQualities(accept)
	switch {
	case !named:
		return mediaJSON
	case asJSON.q <= 0 && asGraphQL.q <= 0:
		return mediaGraphQLResponse
	case asJSON.q != asGraphQL.q:
		if asJSON.q > asGraphQL.q {
			return mediaJSON
		}
		return mediaGraphQLResponse
	case asGraphQL.at < asJSON.at:
		return mediaGraphQLResponse
	}
	return mediaJSON
}

// quality is what Accept says of one media type: its q-value, how specific the range that gives
// it is (3 its name, 2 application/*, 1 */*, 0 none), and where that range is in Accept.
type quality struct {
	q        float64
	rank, at int
}

// give takes a range's q-value when the range is more specific than the one q came from, or as
// specific and higher.
func (to *quality) give(q float64, rank, at int) {
	if rank > to.rank || rank == to.rank && q > to.q {
		*to = quality{q: q, rank: rank, at: at}
	}
}

// jsonQualities reads what Accept says of the two JSON types of responses, application/json and
// application/graphql-response+json, and whether it names any media range at all.
func jsonQualities(accept []string) (asJSON, asGraphQL quality, named bool) {
	at := 0
	for typ, params := range mediarange.Ranges(accept) {
		named = named || typ != ""
		switch q := mediarange.Q(params); {
		case strings.EqualFold(typ, mediaJSON):
			asJSON.give(q, 3, at)
		case strings.EqualFold(typ, mediaGraphQLResponse):
			asGraphQL.give(q, 3, at)
		case strings.EqualFold(typ, "application/*"):
			asJSON.give(q, 2, at)
			asGraphQL.give(q, 2, at)
		case typ == "*/*":
			asJSON.give(q, 1, at)
			asGraphQL.give(q, 1, at)
		}
		at++
	}
	return asJSON, asGraphQL, named
}

// requestErrorStatus is the status of errors that refuse a request before it runs, as the
// GraphQL-over-HTTP specification recommends: a protocol error (a document that does not parse or
// validate, variables, a limit: gqlgen's errcode.KindProtocol) is 400 for
// application/graphql-response+json, and 200 for application/json, whose clients read the errors
// from the body (gqlgen's transports answer 422); other errors are 200.
func requestErrorStatus(ct string, errs gqlerror.List) int {
	if ct == mediaGraphQLResponse && errcode.GetErrorKind(errs) == errcode.KindProtocol {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// writeRequestErrors writes resp, the response to a request refused before its operation ran, as
// JSON without "data" (requestErrors).
func writeRequestErrors(w http.ResponseWriter, resp *graphql.Response) {
	writeJSON(w, requestErrors(resp))
}

// requestErrors is what is written of resp, the response to a request refused before its
// operation ran: its errors and any extensions, without the "data" entry graphql.Response always
// has.
func requestErrors(resp *graphql.Response) any {
	return struct {
		Errors     gqlerror.List  `json:"errors"`
		Extensions map[string]any `json:"extensions,omitempty"`
	}{resp.Errors, resp.Extensions}
}

// writeJSON writes v, a response, as JSON.
func writeJSON(w http.ResponseWriter, v any) {
	_, _ = w.Write(encodeJSON(v))
}

// encodeJSON encodes v, a response, as JSON.
func encodeJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`{"errors":[{"message":"internal error: the response could not be encoded"}]}`)
	}
	return b
}
