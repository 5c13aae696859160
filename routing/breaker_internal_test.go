package routing

import (
	"log/slog"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// An open circuit's refusal tells when probes resume: the whole seconds left, at least one, made
// again only when that number changes.
func TestBreakerRefusalSaysTimeLeft(t *testing.T) {
	b := newBreaker("192.0.2.1:50051", BreakerConfig{OpenTimeout: 10 * time.Second}, slog.New(slog.DiscardHandler), func() {})
	opened := int64(1_000 * time.Second)
	b.openUntil.Store(opened + int64(10*time.Second))
	delay := func(now int64) time.Duration {
		t.Helper()
		st := status.Convert(b.openError(now))
		if st.Code() != codes.Unavailable || len(st.Details()) != 1 {
			t.Fatalf("refusal %v, want Unavailable with a RetryInfo", st)
		}
		return st.Details()[0].(*errdetails.RetryInfo).GetRetryDelay().AsDuration()
	}
	for _, tc := range []struct {
		after time.Duration
		want  time.Duration
	}{
		{0, 10 * time.Second},
		{time.Millisecond, 10 * time.Second}, // 9.999s: rounded up
		{4 * time.Second, 6 * time.Second},
		{9500 * time.Millisecond, time.Second},
		{11 * time.Second, time.Second}, // half-open, its probes taken
	} {
		if got := delay(opened + int64(tc.after)); got != tc.want {
			t.Errorf("%v after opening: RetryInfo %v, want %v", tc.after, got, tc.want)
		}
	}
	if a, c := b.openError(opened+int64(4*time.Second)), b.openError(opened+int64(4200*time.Millisecond)); a != c {
		t.Error("two refusals in the same second were made twice")
	}
}
