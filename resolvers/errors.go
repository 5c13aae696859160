package resolvers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	_ "google.golang.org/genproto/googleapis/rpc/errdetails" // links the standard error details, so they render as JSON
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/protogate/gateway/routing"
)

// Error codes of the failures the GraphQL front detects itself, in extensions.code. Failures of
// calls carry the gRPC code's name instead ("NOT_FOUND"); gqlgen's own failures keep its codes
// (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, PERSISTED_QUERY_NOT_FOUND), and so does the
// complexity limit. An operation over a limit also carries extensions.limit (its name: "depth",
// "complexity", ...), max and actual.
const (
	CodeComplexityLimit       = "COMPLEXITY_LIMIT_EXCEEDED"
	CodeDepthLimit            = "DEPTH_LIMIT_EXCEEDED"
	CodeAliasLimit            = "ALIAS_LIMIT_EXCEEDED"
	CodeRootFieldLimit        = "ROOT_FIELD_LIMIT_EXCEEDED"
	CodeFieldLimit            = "FIELD_LIMIT_EXCEEDED"
	CodeFragmentLimit         = "FRAGMENT_LIMIT_EXCEEDED"
	CodeDocumentTooLarge      = "DOCUMENT_TOO_LARGE"
	CodeIntrospectionDisabled = "INTROSPECTION_DISABLED"
	CodeOperationNotAllowed   = "OPERATION_NOT_ALLOWED"
)

// codeName is the name of a gRPC code as google.rpc.Code spells it: NOT_FOUND, INVALID_ARGUMENT.
func codeName(c codes.Code) string {
	if name, ok := rpccode.Code_name[int32(c)]; ok {
		return name
	}
	return rpccode.Code_UNKNOWN.String()
}

// present is the server's error presenter: every error a client sees passes here. Errors that carry
// a gRPC status (failed calls, invalid arguments, malformed upstream data) become the status message
// with extensions.code and extensions.details; the text "rpc error: code = ... desc = ..." never
// reaches a client. Errors gqlgen made (parsing, validation, limits) keep their message and code.
func (x *executor) present(ctx context.Context, err error) *gqlerror.Error {
	var ge *gqlerror.Error
	if !errors.As(err, &ge) {
		ge = gqlerror.WrapPath(graphql.GetPath(ctx), err)
	}
	if code, ok := ge.Extensions["code"]; ok {
		if ge.Message == "operation  not found" { // gqlgen's, for a document of several operations and no name
			ge.Message = "the document has several operations: name the one to run in operationName"
		}
		if code == errcode.ValidationFailed {
			var op *ast.OperationDefinition
			if graphql.HasOperationContext(ctx) {
				op = graphql.GetOperationContext(ctx).Operation
			}
			wordGqlparserError(x.s.AST(), op, ge, x.suggest)
		}
		return ge
	}
	cause := ge.Err
	if cause == nil {
		// A message of gqlgen's own (a bad APQ hash): the request is wrong.
		setCode(ge, codeName(codes.InvalidArgument))
		return ge
	}
	st, ok := status.FromError(routing.PublicError(cause))
	if !ok {
		st = status.FromContextError(cause)
	}
	ge.Message = st.Message()
	setCode(ge, codeName(st.Code()))
	if ge.Extensions == nil {
		ge.Extensions = make(map[string]any, 2)
	}
	ge.Extensions["details"] = x.details(st)
	return ge
}

// bodyShape words encoding/json's complaint about a request body of the wrong shape ("cannot
// unmarshal array into Go value of type graphql.RawParams") as the client wrote it, without Go's
// type names.
func bodyShape(msg string) string {
	const prefix = "json request body could not be decoded: "
	for _, m := range [...]struct{ goName, says string }{
		{"RawParams.query ", "query must be a string"},
		{"RawParams.operationName ", "operationName must be a string"},
		{"RawParams.variables ", "variables must be a JSON object"},
		{"RawParams.extensions ", "extensions must be a JSON object"},
		{"type graphql.RawParams", "the body must be one JSON object (batched requests are not supported)"},
	} {
		if strings.Contains(msg, m.goName) {
			return prefix + m.says
		}
	}
	return msg
}

func setCode(ge *gqlerror.Error, code string) {
	if ge.Extensions == nil {
		ge.Extensions = make(map[string]any, 2)
	}
	ge.Extensions["code"] = code
}

// details renders a status's details in protobuf's JSON form, each with its "@type". A detail of a
// type the gateway cannot resolve keeps its type URL with the bytes in base64 under "value".
func (x *executor) details(st *status.Status) []json.RawMessage {
	raw := st.Proto().GetDetails()
	out := make([]json.RawMessage, 0, len(raw))
	opts := protojson.MarshalOptions{Resolver: x.types}
	for _, d := range raw {
		if b, err := opts.Marshal(d); err == nil {
			out = append(out, b)
			continue
		}
		// The standard details (ErrorInfo, RetryInfo, ...) of the gateway's own errors are linked in
		// even when no registered service uses them.
		if b, err := protojson.Marshal(d); err == nil {
			out = append(out, b)
			continue
		}
		b := appendString([]byte(`{"@type":`), d.GetTypeUrl())
		b = append(b, `,"value":`...)
		b = appendBase64(b, d.GetValue())
		out = append(out, append(b, '}'))
	}
	return out
}

// recoverPanic turns a panic in the executor into an Internal error, logging what happened; the
// client sees only that something went wrong inside the gateway.
func (x *executor) recoverPanic(ctx context.Context, v any) error {
	x.log.ErrorContext(ctx, "graphql: panic while executing an operation", slog.Any("panic", v))
	return status.Error(codes.Internal, "internal error in the GraphQL executor")
}

// limitSettings name the gateway's setting that raises each limit, by extensions.limit: the message
// of a refusal says it, so that whoever reads it knows what to change.
var limitSettings = map[string]string{
	"depth":         "graphql.max_depth",
	"aliases":       "graphql.max_aliases",
	"rootFields":    "graphql.max_root_fields",
	"fields":        "graphql.max_fields",
	"fieldPairs":    "graphql.max_fields",
	"fragments":     "graphql.max_fragments",
	"documentBytes": "graphql.max_document_bytes",
	"complexity":    "graphql.max_complexity",
}

// limitError is a request error naming a violated limit and the setting that raises it:
// extensions.limit names it, max is the limit and actual what the request has.
func limitError(code, limit, what string, got, max int) *gqlerror.Error {
	ge := gqlerror.Errorf("%s %d exceeds the limit of %d (%s)", what, got, max, limitSettings[limit])
	ge.Extensions = map[string]any{"code": code, "limit": limit, "max": max, "actual": got}
	return ge
}

// bodyTooLarge is the request error for a body over max bytes, named as limitError names a limit
// (extensions.limit "bodyBytes"); got is the body's declared length, or -1 when it declared none
// (chunked: the read stopped at the limit, so actual is not known and not given).
func bodyTooLarge(got, max int64) *gqlerror.Error {
	if got < 0 {
		ge := requestError(CodeDocumentTooLarge, "request body exceeds the limit of %d bytes", max)
		ge.Extensions["limit"], ge.Extensions["max"] = "bodyBytes", max
		return ge
	}
	ge := requestError(CodeDocumentTooLarge, "request body of %d bytes exceeds the limit of %d", got, max)
	ge.Extensions["limit"], ge.Extensions["max"], ge.Extensions["actual"] = "bodyBytes", max, got
	return ge
}

// maxValidationErrors is how many errors a request refused before it ran is answered with at most,
// as graphql-js's validate answers (its maxErrors): a document of many mistakes, such as fields
// unknown to its type, would otherwise get an error for each.
const maxValidationErrors = 100

// validationErrorLimit is the extension that answers a request refused before it ran, which is
// one answered without data, with its first maxValidationErrors errors and then graphql-js's error
// saying the list was cut. gqlparser has no such limit: it validates to the end and gqlgen
// presents every error; the cut keeps the response small.
type validationErrorLimit struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = validationErrorLimit{}

func (validationErrorLimit) ExtensionName() string                   { return "ValidationErrorLimit" }
func (validationErrorLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (validationErrorLimit) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || resp.Data != nil || len(resp.Errors) <= maxValidationErrors {
		return resp
	}
	cut := gqlerror.Errorf("Too many validation errors, error limit reached. Validation aborted.") // graphql-js's words
	errcode.Set(cut, errcode.ValidationFailed)
	resp.Errors = append(resp.Errors[:maxValidationErrors:maxValidationErrors], cut)
	return resp
}

// requestError is a request error with a code of the GraphQL front.
func requestError(code, format string, args ...any) *gqlerror.Error {
	ge := gqlerror.Errorf(format, args...)
	ge.Extensions = map[string]any{"code": code}
	return ge
}

// base64Decode reads bytes in standard or URL-safe base64, padded or not, as protobuf's JSON does.
func base64Decode(s string) ([]byte, error) {
	enc := base64.StdEncoding
	for i := 0; i < len(s); i++ {
		if s[i] == '-' || s[i] == '_' {
			enc = base64.URLEncoding
			break
		}
	}
	if len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	return enc.DecodeString(s)
}
