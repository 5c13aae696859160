package sanitize

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/telemetry/callinfo"
	"github.com/protogate/gateway/transcoder"
)

// deny refuses a request with err, a refusal of the limits: recorded (Refused), then written in
// the front's shape (WriteRefusal).
func deny(w http.ResponseWriter, r *http.Request, front policy.Front, err error) {
	Refused(r.Context(), err)
	WriteRefusal(w, r, front, err)
}

// WriteRefusal writes err, a policy's refusal of an HTTP request, in the front's error shape: a
// trailers-only gRPC-Web (or, for native gRPC over net/http, gRPC) response (HTTP 200, the status
// in Grpc-Status and Grpc-Message, as gRPC clients read it, with the refusal's HTTP headers), a
// GraphQL response with the error in "errors", or for REST and a persisted GraphQL operation's
// REST route a google.rpc.Status JSON body; the last two with the HTTP status and headers of the
// one error model (transcoder.WriteError).
func WriteRefusal(w http.ResponseWriter, r *http.Request, front policy.Front, err error) {
	switch front {
	case policy.FrontGRPCWeb, policy.FrontGRPC:
		if d, ok := err.(interface{ HTTPHeader() http.Header }); ok {
			for k, vs := range d.HTTPHeader() {
				w.Header()[k] = append(w.Header()[k], vs...)
			}
		}
		if front == policy.FrontGRPC {
			writeStatus(w, "application/grpc", status.Convert(err))
			return
		}
		WriteGRPCWebStatus(w, r, status.Convert(err))
	case policy.FrontGraphQL:
		if r != nil && !policy.IsGraphQLEndpoint(r.URL.Path) {
			transcoder.WriteError(w, err) // a persisted operation's REST route answers as REST does
			return
		}
		transcoder.WriteGraphQLError(w, err)
	default:
		transcoder.WriteError(w, err)
	}
}

// WriteGRPCWebStatus answers a gRPC-Web request with st alone: a trailers-only response.
func WriteGRPCWebStatus(w http.ResponseWriter, r *http.Request, st *status.Status) {
	ct := "application/grpc-web+proto"
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc-web-text") {
		ct = "application/grpc-web-text+proto"
	}
	writeStatus(w, ct, st)
}

// writeStatus writes a trailers-only response of content type ct with st.
func writeStatus(w http.ResponseWriter, ct string, st *status.Status) {
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Grpc-Status", strconv.Itoa(int(st.Code())))
	if msg := st.Message(); msg != "" {
		h.Set("Grpc-Message", percentEncode(msg))
	}
	w.WriteHeader(http.StatusOK)
}

// percentEncode encodes msg as gRPC encodes grpc-message: bytes outside %x20-7E, and '%', as %XX.
func percentEncode(msg string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c >= 0x20 && c <= 0x7e && c != '%' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// Refused records err, a refusal of the limits, as the request's denial (callinfo.Deny): for its
// access-log line (denied_by "limits") and the gateway_policy_denials_total metric. A body its
// client gave up on (ReadError's CANCELLED) is no refusal: it is recorded as the code the call
// ended with (callinfo.EndCall), which the telemetry counts, as a refusal, under the method the
// request's path binds to.
func Refused(ctx context.Context, err error) {
	if status.Code(err) == codes.Canceled {
		callinfo.EndCall(ctx, uint32(codes.Canceled))
		return
	}
	callinfo.From(ctx).Deny(callinfo.Denial{Policy: "limits", Reason: limitReason(err), Code: uint32(status.Code(err))})
}

// limitReason names what a refusal of the limits was about, for the access log and the denials
// metric: BODY_TOO_LARGE, URL_TOO_LONG, HEADERS_TOO_LARGE, UNSUPPORTED_CONTENT_ENCODING, or INVALID_
// and the part of the request its google.rpc.BadRequest names (INVALID_PATH, INVALID_BODY...).
func limitReason(err error) string {
	var e interface{ HTTPStatus() int }
	if errors.As(err, &e) {
		switch e.HTTPStatus() {
		case http.StatusRequestEntityTooLarge:
			return "BODY_TOO_LARGE"
		case http.StatusRequestURITooLong:
			return "URL_TOO_LONG"
		case http.StatusRequestHeaderFieldsTooLarge:
			return "HEADERS_TOO_LARGE"
		case http.StatusUnsupportedMediaType:
			return "UNSUPPORTED_CONTENT_ENCODING"
		}
	}
	st := status.Convert(err)
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			return "INVALID_" + strings.ToUpper(br.GetFieldViolations()[0].GetField())
		}
	}
	return st.Code().String()
}
