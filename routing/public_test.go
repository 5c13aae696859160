package routing_test

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/protogate/gateway/routing"
)

func TestPublicError(t *testing.T) {
	for _, tc := range []struct {
		name string
		code codes.Code
		msg  string
		want string // "" when the error must pass unchanged
	}{
		{"dial refused", codes.Unavailable,
			`connection error: desc = "transport: Error while dialing: dial tcp 10.0.0.7:50051: connect: connection refused"`,
			"upstream connection failed: connection refused"},
		{"reset mid-call", codes.Unavailable,
			`error reading from server: read tcp 10.0.0.2:41234->10.0.0.7:50051: read: connection reset by peer`,
			"upstream connection failed: connection reset"},
		{"closed mid-call", codes.Unavailable, "error reading from server: EOF", "upstream connection failed: connection closed"},
		{"tls", codes.Unavailable,
			`connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate is valid for users.internal, not 10.0.0.7"`,
			"upstream connection failed: TLS handshake failed"},
		{"client certificate refused", codes.Unavailable,
			`connection error: desc = "error reading server preface: remote error: tls: certificate required"`,
			"upstream connection failed: TLS handshake failed"},
		{"no preface within the connect timeout", codes.Unavailable,
			`connection error: desc = "error reading server preface: raw-read tcp 10.0.0.2:41234->10.0.0.7:50051: use of closed network connection"`,
			"upstream connection failed: timed out"},
		{"closed by the server before its preface", codes.Unavailable,
			`connection error: desc = "error reading server preface: EOF"`, "upstream connection failed: connection closed"},
		{"tls handshake timed out", codes.Unavailable,
			`connection error: desc = "transport: authentication handshake failed: context deadline exceeded"`,
			"upstream connection failed: timed out"},
		{"bare socket error", codes.Unavailable,
			"write tcp 10.0.0.2:41234->10.0.0.7:50051: write: broken pipe", "upstream connection failed: connection closed"},
		{"unresolvable", codes.Unavailable,
			`connection error: desc = "transport: Error while dialing: dial tcp: lookup users.internal on 10.0.0.1:53: no such host"`,
			"upstream connection failed: host not found"},
		{"goaway", codes.Unavailable,
			`closing transport due to: connection error: desc = "error reading from server: EOF", received prior goaway: code: NO_ERROR`,
			"upstream connection failed: connection closed"},
		{"unknown transport failure", codes.Internal, "transport: something new", "upstream connection failed: connection error"},
		{"deadline raced by the upstream", codes.DeadlineExceeded, "stream terminated by RST_STREAM with error code: CANCEL", "context deadline exceeded"},
		{"deadline before a connection was ready", codes.DeadlineExceeded, "context deadline exceeded while waiting for connections to become ready", "context deadline exceeded"},
		{"stream reset", codes.Internal, "stream terminated by RST_STREAM with error code: INTERNAL_ERROR", "upstream connection failed: stream reset"},
		// The upstream's own statuses are its to word, even when they name an address.
		{"backend's status", codes.Unavailable, "backend down for maintenance", ""},
		{"backend names a host", codes.NotFound, "user 1 not found on users-0:50051", ""},
		{"backend's internal", codes.Internal, "database: connection refused", ""},
		{"backend's dial error", codes.Internal, "failed to connect: dial tcp 10.0.0.9:5432: connect: connection refused", ""},
		{"backend's socket error", codes.Internal, "read tcp 10.0.0.9:41000->10.0.0.10:5432: read: connection reset by peer", ""},
		{"backend's unavailable socket", codes.Unavailable, "read tcp: database gone", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, _ := status.New(tc.code, tc.msg).WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(1)})
			in := st.Err()
			got := routing.PublicError(in)
			if tc.want == "" {
				if got != in {
					t.Fatalf("PublicError(%v) = %v, want it unchanged", in, got)
				}
				return
			}
			gst := status.Convert(got)
			if gst.Code() != tc.code || gst.Message() != tc.want {
				t.Errorf("PublicError(%q) = %v %q, want %v %q", tc.msg, gst.Code(), gst.Message(), tc.code, tc.want)
			}
			if len(gst.Details()) != 1 {
				t.Errorf("details %v, want the RetryInfo kept", gst.Details())
			}
			if strings.Contains(gst.Message(), "10.0.0") {
				t.Errorf("%q names an address", gst.Message())
			}
		})
	}
	if routing.PublicError(nil) != nil {
		t.Error("PublicError(nil) != nil")
	}
	plain := errors.New("not a status")
	if routing.PublicError(plain) != plain {
		t.Error("an error without a status changed")
	}
}
