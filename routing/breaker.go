package routing

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"
)

// BreakerConfig configures an endpoint's circuit breaker. The zero value means the defaults.
type BreakerConfig struct {
	// Disabled turns the breaker off: the endpoint never fails fast.
	Disabled bool
	// ConsecutiveFailures sick-backend outcomes in a row open the circuit. Default 5.
	ConsecutiveFailures uint32
	// OpenTimeout is how long an open circuit fails fast before it lets probes through
	// (half-open). Default 10s.
	OpenTimeout time.Duration
	// HalfOpenRequests is how many probes a half-open circuit admits; that many successes in a row
	// close it. Default 1.
	HalfOpenRequests uint32
}

// Breaker defaults.
const (
	DefaultBreakerFailures    = 5
	DefaultBreakerOpenTimeout = 10 * time.Second
)

func (c BreakerConfig) withDefaults() BreakerConfig {
	if c.ConsecutiveFailures == 0 {
		c.ConsecutiveFailures = DefaultBreakerFailures
	}
	if c.OpenTimeout <= 0 {
		c.OpenTimeout = DefaultBreakerOpenTimeout
	}
	if c.HalfOpenRequests == 0 {
		c.HalfOpenRequests = 1
	}
	return c
}

// errSick and errExcluded are what the breaker is told about a call: a sick-backend outcome, or one
// that must not count (the caller's doing, or not reported).
var (
	errSick     = errors.New("routing: sick backend")
	errExcluded = errors.New("routing: outcome excluded")
)

// breaker is an endpoint's gobreaker two-step circuit breaker plus an atomic mirror of its state, so
// the request path reads the state without the breaker's mutex.
//
// The hot path does not allocate: gobreaker's Allow returns a new closure on every call, so while the
// circuit is closed the breaker is told only what changes its state: each sick outcome, and the first
// success after one (which resets the consecutive-failure count that trips it). Half-open probes go
// through Allow before the call, as the two-step form intends, which also bounds their number.
type breaker struct {
	cb        *gobreaker.TwoStepCircuitBreaker[struct{}]
	state     atomic.Int32 // gobreaker.State, mirrored by OnStateChange
	openUntil atomic.Int64 // nanotime at which an open circuit admits probes
	streak    atomic.Int32 // sick outcomes reported since the last reported success
	timeout   int64
	// refusal is the status of a call the open circuit refuses, for the whole seconds it says are
	// left until probes resume: made again only when that number changes.
	refusal atomic.Pointer[openRefusal]
	// retired is set once the endpoint has replaced the breaker ([Endpoint.forgive]): the state
	// changes of a retired breaker, which probes it admitted before may still cause, are not the
	// endpoint's and are neither logged nor signalled.
	retired atomic.Bool
}

// openRefusal is an open circuit's refusal, with the seconds its RetryInfo gives.
type openRefusal struct {
	secs int64
	err  error
}

// newBreaker returns a closed breaker; changed is called on every state change, and again when an
// open circuit's timeout passes (from then on the picker lets probes through).
func newBreaker(addr string, c BreakerConfig, log *slog.Logger, changed func()) *breaker {
	c = c.withDefaults()
	b := &breaker{timeout: int64(c.OpenTimeout)}
	trip := c.ConsecutiveFailures
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        addr,
		MaxRequests: c.HalfOpenRequests,
		Timeout:     c.OpenTimeout,
		ReadyToTrip: func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= trip },
		IsExcluded:  func(err error) bool { return err == errExcluded },
		OnStateChange: func(name string, from, to gobreaker.State) {
			if b.retired.Load() {
				return
			}
			if to == gobreaker.StateOpen {
				b.openUntil.Store(nanotime() + b.timeout) // before the state: readers see both
			}
			b.state.Store(int32(to))
			level := slog.LevelInfo
			if to == gobreaker.StateOpen {
				level = slog.LevelWarn
			}
			log.Log(context.Background(), level, "circuit breaker state changed", "endpoint", name, "from", from.String(), "to", to.String())
			changed()
			if to == gobreaker.StateOpen {
				// The circuit half-opens by the clock; gobreaker notices only at the next call.
				time.AfterFunc(c.OpenTimeout, changed)
			}
		},
	})
	return b
}

// retire stops the breaker from logging and signalling its state changes: the endpoint has
// replaced it.
func (b *breaker) retire() { b.retired.Store(true) }

// closed reports whether the circuit is closed, as last mirrored.
func (b *breaker) closed() bool { return gobreaker.State(b.state.Load()) == gobreaker.StateClosed }

// blocked reports whether the circuit is open and its timeout has not passed: calls fail fast and
// the picker skips the endpoint.
func (b *breaker) blocked(now int64) bool {
	return gobreaker.State(b.state.Load()) == gobreaker.StateOpen && now < b.openUntil.Load()
}

// admit asks the breaker of a circuit that is not closed to let one call through (a probe); the
// returned func reports its result.
func (b *breaker) admit() (func(error), error) { return b.cb.Allow() }

// openError is the status of a call the circuit refuses at now: Unavailable, with a RetryInfo
// (which REST sends as Retry-After) of the whole seconds left until probes resume, at least one (a
// half-open circuit's probes are taken: they take about a call's time).
func (b *breaker) openError(now int64) error {
	secs := max(1, (b.openUntil.Load()-now+int64(time.Second)-1)/int64(time.Second))
	if r := b.refusal.Load(); r != nil && r.secs == secs {
		return r.err
	}
	st, err := errCircuitOpen.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Duration(secs) * time.Second)})
	if err != nil {
		st = errCircuitOpen
	}
	r := &openRefusal{secs: secs, err: &unsentError{st}}
	b.refusal.Store(r)
	return r.err
}

// record reports the outcome of a call admitted while the circuit was closed. A circuit that has
// left the closed state since is not told: the outcome belongs to an earlier generation, which
// gobreaker's own two-step form ignores too, and told to a half-open circuit it would count as a
// probe's (a probe stream settled when it was established ends long after, as any stream does).
func (b *breaker) record(o outcome) {
	if !b.closed() {
		return
	}
	switch o {
	case outcomeFailure:
		b.streak.Add(1)
		if done, err := b.cb.Allow(); err == nil {
			done(errSick)
		}
	case outcomeSuccess:
		if b.streak.Load() != 0 {
			b.streak.Store(0)
			if done, err := b.cb.Allow(); err == nil {
				done(nil)
			}
		}
	}
}

// stateName names the breaker's state for Stats.
func (b *breaker) stateName() string {
	if b == nil {
		return "disabled"
	}
	return b.cb.State().String()
}

// breakerErr is what a probe's done func is told about outcome o.
func breakerErr(o outcome) error {
	switch o {
	case outcomeSuccess:
		return nil
	case outcomeFailure:
		return errSick
	default:
		return errExcluded
	}
}
