package policy_test

import (
	"context"
	"net/http"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/protogate/gateway/policies/policy"
)

func TestAmbiguous(t *testing.T) {
	for _, tc := range []struct {
		name   string
		front  policy.Front
		md     metadata.MD
		header http.Header
		want   bool
	}{
		{"one value", policy.FrontGRPC, metadata.Pairs("x-api-key", "a"), nil, false},
		{"two values", policy.FrontGRPC, metadata.Pairs("x-api-key", "a", "x-api-key", "b"), nil, true},
		{"passed on as metadata too", policy.FrontREST, metadata.Pairs("x-api-key", "a"), http.Header{"X-Api-Key": {"a"}}, false},
		{"two headers", policy.FrontREST, nil, http.Header{"X-Api-Key": {"a", "b"}}, true},
		{"a Grpc-Metadata- copy that differs", policy.FrontREST, metadata.Pairs("x-api-key", "a"), http.Header{"X-Api-Key": {"b"}}, true},
		{"GraphQL", policy.FrontGraphQL, nil, http.Header{"X-Api-Key": {"a", "b"}}, true},
		{"absent", policy.FrontREST, nil, http.Header{}, false},
	} {
		ctx := policy.WithRequest(context.Background(), &policy.Request{Front: tc.front, RequestHeader: tc.header})
		c := &policy.Call{Ctx: ctx, Front: tc.front, MD: tc.md}
		if got := c.Ambiguous("x-api-key"); got != tc.want {
			t.Errorf("%s: Ambiguous = %v, want %v", tc.name, got, tc.want)
		}
	}
}
