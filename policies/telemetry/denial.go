package telemetry

import (
	"context"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/policies/telemetry/callinfo"
)

// Denied records that an admission Step refused a call of method in ctx with err, for the
// request's access-log line, span and the gateway_policy_denials_total metric. The admitter calls
// it on a refusal; policies that answer HTTP requests themselves (the WAF, size limits) call
// callinfo.Deny with their own policy name. unregistered says method is none of the snapshot's
// descriptors (see callinfo.Info.Unregistered). It costs nothing when ctx's request is not observed.
func Denied(ctx context.Context, method string, unregistered bool, err error) {
	info := callinfo.From(ctx)
	if info == nil || err == nil {
		return
	}
	info.Attempt(method)
	if unregistered {
		info.Unregistered()
	}
	info.Deny(DenialOf(err))
}

// DenialOf describes a policy's refusal: the policy named by its status code (auth for
// UNAUTHENTICATED and PERMISSION_DENIED, rate_limit for RESOURCE_EXHAUSTED) or by its details (a
// google.rpc.QuotaFailure's subject, "concurrency/..." or "rate_limit/..."; an ErrorInfo reason
// RATE_LIMIT_...), and the reason its ErrorInfo gives (else the code's name).
func DenialOf(err error) callinfo.Denial {
	st := status.Convert(err)
	d := callinfo.Denial{Code: uint32(st.Code()), Reason: codeName(st.Code())}
	switch st.Code() {
	case codes.Unauthenticated, codes.PermissionDenied:
		d.Policy = "auth"
	case codes.ResourceExhausted:
		d.Policy = "rate_limit"
	default:
		d.Policy = "policy"
	}
	named := false // the reason is an ErrorInfo's
	for _, detail := range st.Details() {
		switch detail := detail.(type) {
		case *errdetails.ErrorInfo:
			if r := detail.GetReason(); r != "" && !named {
				d.Reason, named = r, true
				if strings.HasPrefix(r, "RATE_LIMIT_") {
					d.Policy = "rate_limit"
				}
			}
		case *errdetails.QuotaFailure:
			if v := detail.GetViolations(); len(v) > 0 {
				if p, _, ok := strings.Cut(v[0].GetSubject(), "/"); ok && (p == "concurrency" || p == "rate_limit") {
					d.Policy = p
				}
			}
		}
	}
	return d
}
