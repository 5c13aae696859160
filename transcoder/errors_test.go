package transcoder_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/transcoder"
)

// TestWriteErrorHeaders checks the headers an error brings to a REST response: a RetryInfo detail
// (an open circuit, a rate limit) becomes Retry-After, rounded up to whole seconds, and a policy's
// own headers are sent as they are and win.
func TestWriteErrorHeaders(t *testing.T) {
	retry := func(d time.Duration) error {
		st, err := status.New(codes.Unavailable, "circuit open").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)})
		if err != nil {
			t.Fatal(err)
		}
		return st.Err()
	}
	cases := []struct {
		name       string
		err        error
		status     int
		header     string
		wantHeader string
	}{
		{"open circuit", retry(10 * time.Second), 503, "Retry-After", "10"},
		{"rounded up", retry(1500 * time.Millisecond), 503, "Retry-After", "2"},
		{"no retry info", status.Error(codes.Unavailable, "down"), 503, "Retry-After", ""},
		{"policy header wins", policy.Deny(codes.ResourceExhausted, "slow down",
			&errdetails.RetryInfo{RetryDelay: durationpb.New(30 * time.Second)}).WithHeader("Retry-After", "7"), 429, "Retry-After", "7"},
		{"challenge", policy.Deny(codes.Unauthenticated, "who are you").WithHeader("WWW-Authenticate", `Bearer realm="x"`), 401, "Www-Authenticate", `Bearer realm="x"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			transcoder.WriteError(w, c.err)
			if w.Code != c.status {
				t.Errorf("status %d, want %d", w.Code, c.status)
			}
			if got := w.Header().Get(c.header); got != c.wantHeader {
				t.Errorf("%s = %q, want %q", c.header, got, c.wantHeader)
			}
		})
	}
}

// TestWriteGraphQLError: a refusal of a GraphQL request before it runs has the status and headers
// of the one error model and the body of a GraphQL error, its details as GraphQL errors carry them.
func TestWriteGraphQLError(t *testing.T) {
	err := policy.Deny(codes.PermissionDenied, `blocked: "x"`,
		&errdetails.ErrorInfo{Reason: "WAF_BLOCKED", Domain: "waf.protogate.dev"}).WithHeader("X-Why", "rules")
	w := httptest.NewRecorder()
	transcoder.WriteGraphQLError(w, err)
	const want = `{"errors":[{"message":"blocked: \"x\"","extensions":{"code":"PERMISSION_DENIED","details":[` +
		`{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"WAF_BLOCKED","domain":"waf.protogate.dev"}]}}]}`
	if w.Code != 403 || w.Header().Get("X-Why") != "rules" || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("status %d, headers %v", w.Code, w.Header())
	}
	if got := compact(t, w.Body.Bytes()); got != want {
		t.Errorf("body\n%s\nwant\n%s", got, want)
	}
	w = httptest.NewRecorder()
	transcoder.WriteGraphQLError(w, transcoder.WithHTTPStatus(status.Error(codes.ResourceExhausted, "too big"), 413))
	if want := `{"errors":[{"message":"too big","extensions":{"code":"RESOURCE_EXHAUSTED","details":[]}}]}`; w.Code != 413 || w.Body.String() != want {
		t.Errorf("413: status %d, body %s", w.Code, w.Body)
	}
}
