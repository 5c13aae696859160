package telemetry_test

import (
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/telemetry"
	"github.com/protogate/gateway/policies/telemetry/callinfo"
)

// TestDenialOf: a refusal is put down to the policy that made it, by its code or its details, with
// its ErrorInfo reason when it has one.
func TestDenialOf(t *testing.T) {
	quota := func(subject string) *errdetails.QuotaFailure {
		return &errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{Subject: subject}}}
	}
	for _, tc := range []struct {
		name string
		err  error
		want callinfo.Denial
	}{
		{"token", policy.Deny(codes.Unauthenticated, "expired", &errdetails.ErrorInfo{Reason: "TOKEN_EXPIRED"}),
			callinfo.Denial{Policy: "auth", Reason: "TOKEN_EXPIRED", Code: uint32(codes.Unauthenticated)}},
		{"rate", policy.Deny(codes.ResourceExhausted, "slow down", quota("rate_limit/products/client_ip")),
			callinfo.Denial{Policy: "rate_limit", Reason: "RESOURCE_EXHAUSTED", Code: uint32(codes.ResourceExhausted)}},
		{"concurrency", policy.Deny(codes.ResourceExhausted, "too many", quota("concurrency/watch/consumer")),
			callinfo.Denial{Policy: "concurrency", Reason: "RESOURCE_EXHAUSTED", Code: uint32(codes.ResourceExhausted)}},
		{"store out", policy.Deny(codes.Unavailable, "store unavailable", &errdetails.ErrorInfo{Reason: "RATE_LIMIT_STORE_UNAVAILABLE"}),
			callinfo.Denial{Policy: "rate_limit", Reason: "RATE_LIMIT_STORE_UNAVAILABLE", Code: uint32(codes.Unavailable)}},
		{"other", status.Error(codes.FailedPrecondition, "no"),
			callinfo.Denial{Policy: "policy", Reason: "FAILED_PRECONDITION", Code: uint32(codes.FailedPrecondition)}},
	} {
		if got := telemetry.DenialOf(tc.err); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
