package resolvers

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"google.golang.org/grpc/codes"

	"github.com/protogate/gateway/policies/policy"
)

// getTransport serves GraphQL over GET as gqlgen's transport.GET does, from the query string's
// parameters as policy.Query parsed them for the request: the firewall, Handler.ServeHTTP's checks
// and the transport read one parse, where each would parse the string again. Its answers are
// gqlgen's, which statusWriter adjusts: the response type the Accept header asks for and gqlgen's
// status for a request error; an operation that is not a query is refused as the front refuses a
// method it does not serve: 405 (Allow: POST), UNIMPLEMENTED, no data.
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
	ct := responseType(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", ct)
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

	ctx := r.Context()
	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		w.WriteHeader(requestErrorStatus(ct, errs))
		writeResponse(w, exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs))
		return
	}
	if op := opCtx.Doc.Operations.ForName(opCtx.OperationName); op.Operation != ast.Query {
		// The GraphQL-over-HTTP specification's 405, coded as the front's other refusal of a method.
		w.Header().Set("Allow", http.MethodPost)
		writeRequestError(w, http.StatusMethodNotAllowed, requestError(codeName(codes.Unimplemented),
			"GET requests only allow query operations: send the %s with POST", op.Operation))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	writeResponse(w, responses(ctx))
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

// responseType is the media type of the response to a request that accepts accept, as gqlgen's
// transports choose it: application/json for no Accept, a wildcard or application/json, else
// application/graphql-response+json, the first of the two that accept names deciding.
func responseType(accept string) string {
	if accept == "" {
		return mediaJSON
	}
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "*/*", "application/*", mediaJSON:
			return mediaJSON
		case mediaGraphQLResponse:
			return mediaGraphQLResponse
		}
	}
	return mediaGraphQLResponse
}

// requestErrorStatus is gqlgen's status for errors that refuse a request before it runs: a protocol
// error (a document that does not parse or validate) is 400 for application/graphql-response+json
// and 422 for application/json (which statusWriter turns into 200); other errors are 200.
func requestErrorStatus(ct string, errs gqlerror.List) int {
	switch {
	case errcode.GetErrorKind(errs) != errcode.KindProtocol:
		return http.StatusOK
	case ct == mediaGraphQLResponse:
		return http.StatusBadRequest
	}
	return http.StatusUnprocessableEntity
}

// writeResponse writes resp as JSON.
func writeResponse(w http.ResponseWriter, resp *graphql.Response) {
	b, err := json.Marshal(resp)
	if err != nil {
		b = []byte(`{"errors":[{"message":"internal error: the response could not be encoded"}]}`)
	}
	_, _ = w.Write(b)
}
