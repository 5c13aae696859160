package policy_test

import (
	"context"
	"net/http"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/protogate/gateway/policies/policy"
)

// TestCredential: a credential's value is read as Header reads it, and it is ambiguous when the call
// carries two different values for it, in its metadata, its HTTP header or across both.
func TestCredential(t *testing.T) {
	for _, tc := range []struct {
		name      string
		front     policy.Front
		md        metadata.MD
		header    http.Header
		value     string
		ambiguous bool
	}{
		{"one value", policy.FrontGRPC, metadata.Pairs("x-api-key", "a"), nil, "a", false},
		{"two values", policy.FrontGRPC, metadata.Pairs("x-api-key", "a", "x-api-key", "b"), nil, "a", true},
		{"the same value twice", policy.FrontGRPC, metadata.Pairs("x-api-key", "a", "x-api-key", "a"), nil, "a", false},
		{"an empty value before another", policy.FrontGRPC, metadata.Pairs("x-api-key", "", "x-api-key", "b"), nil, "", true},
		{"passed on as metadata too", policy.FrontREST, metadata.Pairs("x-api-key", "a"), http.Header{"X-Api-Key": {"a"}}, "a", false},
		{"a header only", policy.FrontREST, nil, http.Header{"X-Api-Key": {"a"}}, "a", false},
		{"two headers", policy.FrontREST, nil, http.Header{"X-Api-Key": {"a", "b"}}, "a", true},
		{"a Grpc-Metadata- copy that differs", policy.FrontREST, metadata.Pairs("x-api-key", "a"), http.Header{"X-Api-Key": {"b"}}, "a", true},
		{"GraphQL", policy.FrontGraphQL, nil, http.Header{"X-Api-Key": {"a", "b"}}, "a", true},
		{"the header is not read on gRPC", policy.FrontGRPC, nil, http.Header{"X-Api-Key": {"a", "b"}}, "", false},
		{"absent", policy.FrontREST, nil, http.Header{}, "", false},
	} {
		ctx := policy.WithRequest(context.Background(), &policy.Request{Front: tc.front, RequestHeader: tc.header})
		c := &policy.Call{Ctx: ctx, Front: tc.front, MD: tc.md}
		value, ambiguous := c.Credential("x-api-key")
		if value != tc.value || ambiguous != tc.ambiguous {
			t.Errorf("%s: Credential = %q, %v; want %q, %v", tc.name, value, ambiguous, tc.value, tc.ambiguous)
		}
		if h := c.Header("x-api-key"); h != value {
			t.Errorf("%s: Header = %q, Credential's value %q", tc.name, h, value)
		}
	}
}

// TestCredentialFromInitPayload: on a GraphQL WebSocket, a credential the upgrade request does not
// carry is read in the connection_init payload's headers (policy.WithInitHeader), as one in the
// upgrade's header would be; the upgrade's, when it carries one, is the one that counts.
func TestCredentialFromInitPayload(t *testing.T) {
	for _, tc := range []struct {
		name      string
		upgrade   http.Header
		init      http.Header
		value     string
		ambiguous bool
	}{
		{"in the payload", http.Header{}, http.Header{"X-Api-Key": {"a"}}, "a", false},
		{"twice in the payload", http.Header{}, http.Header{"X-Api-Key": {"a", "b"}}, "a", true},
		{"on the upgrade", http.Header{"X-Api-Key": {"a"}}, nil, "a", false},
		{"on the upgrade and in the payload", http.Header{"X-Api-Key": {"a"}}, http.Header{"X-Api-Key": {"b"}}, "a", true},
		{"the same on the upgrade and in the payload", http.Header{"X-Api-Key": {"a"}}, http.Header{"X-Api-Key": {"a"}}, "a", false},
		{"neither", http.Header{}, http.Header{"Authorization": {"Bearer t"}}, "", false},
	} {
		ctx := policy.WithRequest(context.Background(), &policy.Request{Front: policy.FrontGraphQL, RequestHeader: tc.upgrade})
		if tc.init != nil {
			ctx = policy.WithInitHeader(ctx, tc.init)
		}
		c := &policy.Call{Ctx: ctx, Front: policy.FrontGraphQL}
		value, ambiguous := c.Credential("x-api-key")
		if value != tc.value || ambiguous != tc.ambiguous {
			t.Errorf("%s: Credential = %q, %v; want %q, %v", tc.name, value, ambiguous, tc.value, tc.ambiguous)
		}
		if h := c.Header("x-api-key"); h != value {
			t.Errorf("%s: Header = %q, Credential's value %q", tc.name, h, value)
		}
	}
	if ctx := policy.WithInitHeader(context.Background(), http.Header{"X-Api-Key": {"a"}}); ctx != context.Background() {
		t.Error("WithInitHeader made a context of one without a Request")
	}
}
