package transcoder

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/protogate/gateway/routing"
)

// Error is a failed REST call in the gateway's one error model: a gRPC status (code, message,
// details), the cause, and for the failures HTTP names more precisely than the code table (405, 413,
// 415) the HTTP status to use instead.
type Error struct {
	code       codes.Code
	msg        string
	details    []*anypb.Any
	httpStatus int    // 0: HTTPStatus(code)
	allow      string // the Allow header of a 405
	cause      error
}

// NewError returns an Error with a code and message.
func NewError(code codes.Code, msg string) *Error { return &Error{code: code, msg: msg} }

func (e *Error) Error() string { return e.msg }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.cause }

// Code is the error's gRPC code.
func (e *Error) Code() codes.Code { return e.code }

// GRPCStatus is the error as a gRPC status, for status.FromError and the other fronts.
func (e *Error) GRPCStatus() *status.Status {
	st := status.New(e.code, e.msg)
	if len(e.details) == 0 {
		return st
	}
	p := st.Proto()
	p.Details = e.details
	return status.FromProto(p)
}

// HTTPStatus is the HTTP status the error renders with.
func (e *Error) HTTPStatus() int {
	if e.httpStatus != 0 {
		return e.httpStatus
	}
	return HTTPStatus(e.code)
}

// HTTPStatus maps a gRPC code to its HTTP status by the standard table (grpc-gateway's
// runtime.HTTPStatusFromCode, which follows google.rpc.Code): InvalidArgument, FailedPrecondition and
// OutOfRange 400, Unauthenticated 401, PermissionDenied 403, NotFound 404, AlreadyExists and Aborted
// 409, ResourceExhausted 429, Canceled 499, Unimplemented 501, Unavailable 503, DeadlineExceeded 504,
// the rest 500.
func HTTPStatus(code codes.Code) int { return runtime.HTTPStatusFromCode(code) }

// badRequest is an InvalidArgument naming field, with a google.rpc.BadRequest detail.
func badRequest(field, msg string) *Error {
	e := &Error{code: codes.InvalidArgument, msg: msg}
	if d, err := anypb.New(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: msg}}}); err == nil {
		e.details = []*anypb.Any{d}
	}
	return e
}

// WithHTTPStatus returns err in the error model (see asError), rendered with httpStatus instead of
// the status of its code: for the failures HTTP names more precisely than the code table, such as
// 413, 414 and 431 from the request limits.
func WithHTTPStatus(err error, httpStatus int) *Error {
	e := *asError(err)
	e.httpStatus = httpStatus
	return &e
}

// asError turns any error into the error model: an *Error as it is, a gRPC status with its details,
// a context error as Canceled or DeadlineExceeded, a body over its limit as 413, anything else as
// Internal.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if st, ok := status.FromError(routing.PublicError(err)); ok {
		p := st.Proto()
		return &Error{code: codes.Code(p.GetCode()), msg: p.GetMessage(), details: p.GetDetails(), cause: err}
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return &Error{code: codes.ResourceExhausted, msg: fmt.Sprintf("request body larger than %d bytes", tooBig.Limit), httpStatus: http.StatusRequestEntityTooLarge, cause: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{code: codes.DeadlineExceeded, msg: err.Error(), cause: err}
	case errors.Is(err, context.Canceled):
		return &Error{code: codes.Canceled, msg: err.Error(), cause: err}
	}
	return &Error{code: codes.Internal, msg: err.Error(), cause: err}
}

// WriteError renders err as a google.rpc.Status JSON body, with the HTTP status of its code (or the
// more precise one it carries) and, for a 405, the Allow header. Details whose type the gateway does
// not link are rendered as {"@type": ..., "value": base64}. Any error is accepted; see asError.
func WriteError(w http.ResponseWriter, err error) {
	writeError(w, err, resolver{}, appendStatusJSON)
}

// WriteGraphQLError writes err as the GraphQL front answers a request refused before it is
// executed (a policy's refusal: the firewall, a size limit): the status and headers WriteError
// would send, and the body GraphQL clients read,
// {"errors":[{"message":"...","extensions":{"code":"PERMISSION_DENIED","details":[...]}}]}, the
// shape of every other GraphQL error.
func WriteGraphQLError(w http.ResponseWriter, err error) {
	writeError(w, err, resolver{}, appendGraphQLErrorJSON)
}

func writeError(w http.ResponseWriter, err error, types resolver, render func([]byte, *Error, resolver) []byte) {
	e := asError(err)
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	if e.allow != "" {
		h.Set("Allow", e.allow)
	}
	var withHeader interface{ HTTPHeader() http.Header }
	if errors.As(err, &withHeader) {
		for k, v := range withHeader.HTTPHeader() {
			h[k] = v
		}
	}
	if h.Get("Retry-After") == "" {
		if after, ok := retryAfter(e); ok {
			h.Set("Retry-After", after)
		}
	}
	body := render(make([]byte, 0, 64+len(e.msg)), e, types)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.HTTPStatus())
	_, _ = w.Write(body)
}

// appendStatusJSON renders {"code":N,"message":"...","details":[...]}: the protojson form of
// google.rpc.Status, always with its details array.
func appendStatusJSON(b []byte, e *Error, types resolver) []byte {
	b = append(b, `{"code":`...)
	b = strconv.AppendInt(b, int64(e.code), 10)
	b = append(b, `,"message":`...)
	msg, _ := json.Marshal(e.msg)
	b = append(b, msg...)
	b = appendDetailsJSON(append(b, `,"details":`...), e, types)
	return append(b, '}')
}

// appendGraphQLErrorJSON renders the error as a GraphQL response with one request error (see
// WriteGraphQLError): extensions.code is the code's google.rpc.Code name.
func appendGraphQLErrorJSON(b []byte, e *Error, types resolver) []byte {
	b = append(b, `{"errors":[{"message":`...)
	msg, _ := json.Marshal(e.msg)
	b = append(b, msg...)
	name, ok := rpccode.Code_name[int32(e.code)]
	if !ok {
		name = rpccode.Code_UNKNOWN.String()
	}
	b = append(b, `,"extensions":{"code":"`...)
	b = append(b, name...)
	b = appendDetailsJSON(append(b, `","details":`...), e, types)
	return append(b, "}}]}"...)
}

// appendDetailsJSON renders the error's details as a JSON array, each in protobuf's JSON form with
// its "@type"; one of a type nobody can resolve keeps its type URL, with its bytes in base64.
func appendDetailsJSON(b []byte, e *Error, types resolver) []byte {
	b = append(b, '[')
	opts := protojson.MarshalOptions{AllowPartial: true, Resolver: types}
	for i, d := range e.details {
		if i > 0 {
			b = append(b, ',')
		}
		if out, err := opts.MarshalAppend(b, d); err == nil {
			b = out
			continue
		}
		url, _ := json.Marshal(d.GetTypeUrl())
		b = append(b, `{"@type":`...)
		b = append(b, url...)
		b = append(b, `,"value":"`...)
		b = base64.StdEncoding.AppendEncode(b, d.GetValue())
		b = append(b, `"}`...)
	}
	return append(b, ']')
}

// retryAfter is the Retry-After value of a status that carries a google.rpc.RetryInfo (an open
// circuit, a rate limit): its delay in whole seconds, rounded up.
func retryAfter(e *Error) (string, bool) {
	for _, d := range e.details {
		if d.GetTypeUrl() != retryInfoURL {
			continue
		}
		var ri errdetails.RetryInfo
		if proto.Unmarshal(d.GetValue(), &ri) != nil || ri.GetRetryDelay() == nil {
			continue
		}
		delay := ri.GetRetryDelay().AsDuration()
		secs := int64((delay + time.Second - 1) / time.Second)
		return strconv.FormatInt(max(secs, 0), 10), true
	}
	return "", false
}

const retryInfoURL = "type.googleapis.com/google.rpc.RetryInfo"
