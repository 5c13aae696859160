// Package rpcerr builds the gRPC status errors the shop's services return, with the google.rpc
// error details (ResourceInfo, BadRequest, PreconditionFailure) that clients and the gateway's
// error rendering rely on.
package rpcerr

import (
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// NotFound reports that the resource of the given kind ("user") and type
// ("shop.users.v1.User") named name does not exist: `user "99" not found`.
func NotFound(kind string, typ protoreflect.FullName, name string) error {
	return withDetails(status.Newf(codes.NotFound, "%s %q not found", kind, name), &errdetails.ResourceInfo{
		ResourceType: string(typ),
		ResourceName: name,
		Description:  fmt.Sprintf("no %s has id %q", kind, name),
	})
}

// Violation describes one invalid field of a request, named by its path in proto field names
// ("user.email", "items[1].quantity").
func Violation(field, description string) *errdetails.BadRequest_FieldViolation {
	return &errdetails.BadRequest_FieldViolation{Field: field, Description: description}
}

// BadRequest reports an InvalidArgument status carrying every violation in a BadRequest detail.
// The message lists them too, for clients that read only the message.
func BadRequest(violations ...*errdetails.BadRequest_FieldViolation) error {
	parts := make([]string, len(violations))
	for i, v := range violations {
		parts[i] = v.GetField() + ": " + v.GetDescription()
	}
	st := status.New(codes.InvalidArgument, "invalid request: "+strings.Join(parts, "; "))
	return withDetails(st, &errdetails.BadRequest{FieldViolations: violations})
}

// FailedPrecondition reports that the request cannot be carried out in the resource's current
// state, with a PreconditionFailure detail of the given type ("ORDER_STATUS") about subject
// ("orders/o3").
func FailedPrecondition(typ, subject, description string) error {
	st := status.New(codes.FailedPrecondition, description)
	return withDetails(st, &errdetails.PreconditionFailure{
		Violations: []*errdetails.PreconditionFailure_Violation{{
			Type:        typ,
			Subject:     subject,
			Description: description,
		}},
	})
}

// withDetails attaches details to st. Details are plain generated messages, so attaching them cannot
// fail in practice; should it, the status is still returned, without them.
func withDetails(st *status.Status, details ...protoadapt.MessageV1) error {
	if withDetails, err := st.WithDetails(details...); err == nil {
		st = withDetails
	}
	return st.Err()
}

// AlreadyExists reports that a resource of type typ named name would clash with an existing one;
// message says how.
func AlreadyExists(typ protoreflect.FullName, name, message string) error {
	return withDetails(status.New(codes.AlreadyExists, message), &errdetails.ResourceInfo{
		ResourceType: string(typ),
		ResourceName: name,
		Description:  message,
	})
}
