package policy

import (
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
)

// Denial is a policy's refusal of a call: a gRPC status (code, message, details) and the HTTP headers
// the REST, gRPC-Web and GraphQL-over-HTTP fronts send with it (WWW-Authenticate on 401, Retry-After
// and RateLimit-* on 429). The gRPC front sends the status; its details say the same in structured form
// (google.rpc.ErrorInfo, RetryInfo, QuotaFailure).
type Denial struct {
	st     *status.Status
	header http.Header
}

// Deny returns a denial with code and message, and the given details.
func Deny(code codes.Code, msg string, details ...protoadapt.MessageV1) *Denial {
	st := status.New(code, msg)
	if len(details) > 0 {
		if withDetails, err := st.WithDetails(details...); err == nil {
			st = withDetails
		}
	}
	return &Denial{st: st}
}

// WithHeader adds an HTTP response header to the denial and returns it.
func (d *Denial) WithHeader(key, value string) *Denial {
	if d.header == nil {
		d.header = make(http.Header, 2)
	}
	d.header.Add(key, value)
	return d
}

// Error returns the status message, prefixed by its code.
func (d *Denial) Error() string { return d.st.Code().String() + ": " + d.st.Message() }

// GRPCStatus makes the denial a gRPC status to status.FromError and the gRPC fronts.
func (d *Denial) GRPCStatus() *status.Status { return d.st }

// HTTPHeader is the headers the HTTP fronts add to the error response. Do not modify it.
func (d *Denial) HTTPHeader() http.Header { return d.header }
