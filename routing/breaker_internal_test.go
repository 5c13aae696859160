package routing

import (
	"log/slog"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/internal/testlog"
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

// An outcome recorded while the circuit is not closed is not the verdict of a probe: the calls
// admitted as probes give theirs. A half-open circuit with a probe stream settled when it was
// established (a success) is not reopened by that stream's failing end, and the other probe's
// success closes it.
func TestBreakerRecordsOnlyWhileClosed(t *testing.T) {
	b := newBreaker("192.0.2.1:50051", BreakerConfig{ConsecutiveFailures: 1, OpenTimeout: time.Millisecond, HalfOpenRequests: 2},
		slog.New(slog.DiscardHandler), func() {})
	b.record(outcomeFailure)
	deadline := time.Now().Add(10 * time.Second)
	for b.cb.State() != gobreaker.StateHalfOpen {
		if time.Now().After(deadline) {
			t.Fatalf("breaker %s, want half-open within 10s", b.stateName())
		}
		time.Sleep(time.Millisecond) // polling an observable condition, not synchronising
	}
	stream, err := b.admit()
	if err != nil {
		t.Fatal(err)
	}
	stream(nil) // established
	b.record(outcomeFailure)
	if s := b.stateName(); s != "half-open" {
		t.Fatalf("after a recorded failure while half-open: %s, want half-open", s)
	}
	unary, err := b.admit()
	if err != nil {
		t.Fatalf("second probe: %v", err)
	}
	unary(nil)
	if s := b.stateName(); s != "closed" {
		t.Errorf("after two probes' successes: %s, want closed", s)
	}
}

// A breaker the endpoint has replaced (a health check passed) keeps quiet: a probe it admitted
// before, failing later, trips it without a log line or a signal, as it is no longer the
// endpoint's circuit.
func TestRetiredBreakerKeepsQuiet(t *testing.T) {
	var logs testlog.Buffer
	signals := 0
	b := newBreaker("192.0.2.1:50051", BreakerConfig{ConsecutiveFailures: 1}, slog.New(slog.NewTextHandler(&logs, nil)), func() { signals++ })
	b.retire()
	b.record(outcomeFailure)
	if s := b.cb.State(); s != gobreaker.StateOpen {
		t.Fatalf("retired breaker after a failure: %s, want it tripped all the same", s)
	}
	if logged := logs.String(); logged != "" || signals != 0 {
		t.Errorf("retired breaker logged %q and signalled %d times, want neither", logged, signals)
	}
}
