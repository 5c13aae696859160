package routing

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
)

// drainingBit is set in Endpoint.state once the endpoint has left its pool;
// the bits below it count calls in flight.
const drainingBit = 1 << 62

// EndpointConfig is the resilience state's settings that belong to an endpoint rather than a
// cluster. They are part of the endpoint's identity: the clusters that list an address with the
// same transport and settings share one endpoint, its breaker and its health, while a cluster
// whose settings differ gets an endpoint of its own ([Pool.AcquireWith]). The zero value means the
// defaults: breaker and passive outlier detection on, no active health checks.
type EndpointConfig struct {
	Breaker BreakerConfig
	Health  HealthCheckConfig
	Outlier OutlierConfig
}

// OutlierConfig configures passive outlier detection: an endpoint whose calls fail in a row is
// ejected (not picked) for a time that grows with each ejection. The zero value means the defaults.
type OutlierConfig struct {
	// Disabled turns passive outlier detection off.
	Disabled bool
	// ConsecutiveFailures sick-backend outcomes in a row eject the endpoint. Default 5.
	ConsecutiveFailures int32
	// BaseEjectionTime is the first ejection's length; the n-th lasts n times as long. Default 30s.
	BaseEjectionTime time.Duration
	// MaxEjectionTime caps an ejection. Default 300s.
	MaxEjectionTime time.Duration
}

// Outlier detection defaults.
const (
	DefaultOutlierFailures  = 5
	DefaultBaseEjectionTime = 30 * time.Second
	DefaultMaxEjectionTime  = 300 * time.Second
)

func (c OutlierConfig) withDefaults() OutlierConfig {
	if c.ConsecutiveFailures <= 0 {
		c.ConsecutiveFailures = DefaultOutlierFailures
	}
	if c.BaseEjectionTime <= 0 {
		c.BaseEjectionTime = DefaultBaseEjectionTime
	}
	if c.MaxEjectionTime <= 0 {
		c.MaxEjectionTime = DefaultMaxEjectionTime
	}
	c.MaxEjectionTime = max(c.MaxEjectionTime, c.BaseEjectionTime)
	return c
}

// withDefaults fills in the defaults and drops what a disabled breaker or outlier detection
// ignores, so that settings that behave alike compare equal.
func (c EndpointConfig) withDefaults() EndpointConfig {
	if c.Breaker.Disabled {
		c.Breaker = BreakerConfig{Disabled: true}
	} else {
		c.Breaker = c.Breaker.withDefaults()
	}
	c.Health = c.Health.withDefaults()
	if c.Outlier.Disabled {
		c.Outlier = OutlierConfig{Disabled: true}
	} else {
		c.Outlier = c.Outlier.withDefaults()
	}
	return c
}

// String describes c for operators, as endpoint metrics and logs label it: "defaults", or the
// settings that differ from the defaults, named as a cluster's configuration names them:
// "health_check.interval 5s, circuit_breaker.consecutive_failures 3". Settings that differ, once
// their defaults are filled, are described differently.
func (c EndpointConfig) String() string {
	c = c.withDefaults()
	var parts []string
	add := func(name string, v any) { parts = append(parts, fmt.Sprintf("%s %v", name, v)) }
	if h := c.Health; h.Interval > 0 {
		add("health_check.interval", h.Interval)
		if h.Timeout != min(DefaultHealthTimeout, h.Interval) {
			add("health_check.timeout", h.Timeout)
		}
		if h.HealthyThreshold != DefaultHealthyThreshold {
			add("health_check.healthy_threshold", h.HealthyThreshold)
		}
		if h.UnhealthyThreshold != DefaultUnhealthyThreshold {
			add("health_check.unhealthy_threshold", h.UnhealthyThreshold)
		}
		if h.Service != "" {
			add("health_check.service", strconv.Quote(h.Service))
		}
		if h.HTTPPath != "" {
			add("health_check.http_path", strconv.Quote(h.HTTPPath))
		}
	}
	if b := c.Breaker; b.Disabled {
		parts = append(parts, "circuit_breaker.disabled")
	} else {
		if b.ConsecutiveFailures != DefaultBreakerFailures {
			add("circuit_breaker.consecutive_failures", b.ConsecutiveFailures)
		}
		if b.OpenTimeout != DefaultBreakerOpenTimeout {
			add("circuit_breaker.open_timeout", b.OpenTimeout)
		}
		if b.HalfOpenRequests != 1 {
			add("circuit_breaker.half_open_requests", b.HalfOpenRequests)
		}
	}
	if o := c.Outlier; o.Disabled {
		parts = append(parts, "outlier_detection.disabled")
	} else {
		if o.ConsecutiveFailures != DefaultOutlierFailures {
			add("outlier_detection.consecutive_failures", o.ConsecutiveFailures)
		}
		if o.BaseEjectionTime != DefaultBaseEjectionTime {
			add("outlier_detection.base_ejection_time", o.BaseEjectionTime)
		}
		if o.MaxEjectionTime != DefaultMaxEjectionTime {
			add("outlier_detection.max_ejection_time", o.MaxEjectionTime)
		}
	}
	if len(parts) == 0 {
		return "defaults"
	}
	return strings.Join(parts, ", ")
}

// Endpoint is one upstream address, the [Transport] it is reached over, the
// settings of its resilience state ([EndpointConfig]), and its long-lived
// connection. Endpoints are shared by every cluster that lists the address
// with the same transport and settings, and are owned by the [Pool] that
// created them, as is their resilience state: calls in flight, latency EWMA,
// circuit breaker, health, ejections and the connection's state, which
// therefore survive snapshot swaps. Its methods are safe for concurrent use.
type Endpoint struct {
	addr      string
	key       endpointKey // the pool's
	transport Transport
	via       string // transport.String(), for stats and logs
	settings  string // cfg.String(), for stats and logs
	conn      *grpc.ClientConn
	pool      *Pool
	log       *slog.Logger

	state atomic.Int64 // calls in flight, plus drainingBit once released
	done  func()       // e.end, cached so Begin does not allocate
	// changed is e.signal, cached for the breaker and timers: it tells the pool's subscribers that
	// the endpoint's availability may have changed.
	changed func()

	cfg          EndpointConfig          // with defaults filled; never changes
	br           atomic.Pointer[breaker] // nil when disabled; a new one when a health check passes again
	ewma         atomic.Uint64           // float64 bits: latency EWMA in nanoseconds as of sampled; 0 = no sample
	sampled      atomic.Int64            // nanotime of the EWMA's last sample
	streak       atomic.Int32            // sick outcomes in a row, for outlier detection
	ejectedUntil atomic.Int64            // nanotime the last ejection ends, or ended if forgiven; 0 = never ejected
	ejections    atomic.Int32            // ejection multiplier: grows per ejection, decays with success
	ejectedTotal atomic.Int64
	unhealthy    atomic.Bool // the active health check's verdict
	// connState is conn's connectivity.State, kept current by watchConn, so that picking reads it
	// without grpc's lock; Idle (0) while nothing watches.
	connState atomic.Int32
	openErr   error // the status of a call refused by the open circuit

	refs int                // references held through pool; guarded by pool.mu
	stop context.CancelFunc // ends the endpoint's goroutines (watchConn, runHealth); guarded by pool.mu
	// linger ends the endpoint's stay among the pool's lingering ones, the lingerGen-th; both
	// guarded by pool.mu.
	linger    *time.Timer
	lingerGen uint64

	closeOnce sync.Once
	closeErr  error
}

// newEndpoint returns the endpoint of key, reached over t on conn, for pool (nil in tests).
func newEndpoint(key endpointKey, t Transport, conn *grpc.ClientConn, pool *Pool) *Endpoint {
	e := &Endpoint{addr: key.addr, key: key, transport: t, via: t.String(), cfg: key.settings,
		settings: key.settings.String(), conn: conn, pool: pool, log: slog.Default()}
	if pool != nil && pool.log != nil {
		e.log = pool.log
	}
	// One address may be reached over several transports, and with several settings: the log says
	// which endpoint it means.
	e.log = e.log.With("transport", e.via, "settings", e.settings)
	e.done = e.end
	e.changed = e.signal
	e.openErr = &unsentError{errCircuitOpen}
	if !e.cfg.Breaker.Disabled {
		e.br.Store(newBreaker(e.addr, e.cfg.Breaker, e.log, e.changed))
	}
	return e
}

// openError is the status of a call refused at now by e's open circuit: Unavailable, with the time
// left until probes resume as a google.rpc.RetryInfo.
func (e *Endpoint) openError(now int64) error {
	if br := e.br.Load(); br != nil {
		return br.openError(now)
	}
	return e.openErr
}

// Addr returns the endpoint's address ("host:port").
func (e *Endpoint) Addr() string { return e.addr }

// Transport returns how the endpoint is connected to.
func (e *Endpoint) Transport() Transport { return e.transport }

// Conn returns the endpoint's connection.
func (e *Endpoint) Conn() *grpc.ClientConn { return e.conn }

// InFlight returns the number of calls begun and not yet done.
func (e *Endpoint) InFlight() int64 { return e.state.Load() &^ drainingBit }

// Latency returns the endpoint's latency estimate: the EWMA of its unary calls' latency, faded by
// the time since the last of them ([LatencyHalfLife]), or 0 before the first one.
func (e *Endpoint) Latency() time.Duration { return time.Duration(e.latency(nanotime())) }

// LatencyHalfLife is how fast an endpoint's latency estimate fades while it gets no calls: the
// estimate halves for every LatencyHalfLife since its last sample. LeastRequest breaks ties on the
// estimate, so an endpoint that was slow is tried again once it has gone without calls for a
// while, rather than never being sampled again; if it is still slow, that call puts its estimate
// back up.
const LatencyHalfLife = time.Second

// latency returns the latency estimate at now, in nanoseconds; 0 before the first sample.
func (e *Endpoint) latency(now int64) float64 {
	return faded(math.Float64frombits(e.ewma.Load()), now-e.sampled.Load())
}

// faded returns a latency estimate v after age nanoseconds without a sample.
func faded(v float64, age int64) float64 {
	if v == 0 || age <= 0 {
		return v
	}
	return v * math.Exp2(-float64(age)/float64(LatencyHalfLife))
}

// Begin counts a call in flight until done is called. Call done exactly once,
// when the call has finished (for a stream: when it has ended). An endpoint
// released from its pool keeps its connection open until the last call in
// flight is done. Begin and done use only atomics and do not allocate.
//
// Begin the call before the snapshot holding the endpoint is released: a call
// begun on an endpoint already released and drained finds its connection
// closed and fails.
func (e *Endpoint) Begin() (done func()) {
	e.state.Add(1)
	return e.done
}

// end is the done func of Begin.
func (e *Endpoint) end() {
	if e.state.Add(-1) == drainingBit {
		// The last call of a released endpoint: close off the request path.
		go e.close()
	}
}

// healthy reports whether the endpoint may be picked outside panic mode: the active health check
// (if any) passes and it is not ejected.
func (e *Endpoint) healthy(now int64) bool {
	return !e.unhealthy.Load() && e.ejectedUntil.Load() <= now
}

// usable reports whether the endpoint may take a call outside panic mode, unless it is avoid: it is
// healthy, its circuit is not open and its connection is not failing.
func (e *Endpoint) usable(avoid *Endpoint, now int64) bool {
	return e != avoid && e.healthy(now) && !e.blocked(now) && !e.down()
}

// down reports whether the endpoint's connection is failing (grpc's TRANSIENT_FAILURE: the last
// attempt to connect failed, and grpc tries again after a backoff): a call would fail at once,
// without reaching a backend, as with an open circuit. gRPC's own round_robin likewise picks only
// ready connections.
func (e *Endpoint) down() bool {
	return connectivity.State(e.connState.Load()) == connectivity.TransientFailure
}

// watchConn keeps connState current until ctx ends or the connection is closed, and tells the
// pool's subscribers, and the log, when the connection starts or stops failing. grpc goes on
// reconnecting a failing connection by itself, with backoff, so an endpoint the balancers pass
// over for it comes back once its backend does, without a call to find out.
func (e *Endpoint) watchConn(ctx context.Context) {
	for s := e.conn.GetState(); s != connectivity.Shutdown; s = e.conn.GetState() {
		was := e.down()
		e.connState.Store(int32(s))
		if down := e.down(); down != was {
			if down {
				e.log.Warn("endpoint connection failing", "endpoint", e.addr)
			} else {
				e.log.Info("endpoint connection no longer failing", "endpoint", e.addr, "state", s.String())
			}
			e.changed()
		}
		if !e.conn.WaitForStateChange(ctx, s) {
			return
		}
	}
}

// blocked reports whether the endpoint's circuit is open: calls to it would fail fast.
func (e *Endpoint) blocked(now int64) bool {
	b := e.br.Load()
	return b != nil && b.blocked(now)
}

// ewmaWeight is the weight of a new latency sample in the EWMA.
const ewmaWeight = 0.2

// observe records a finished call's outcome and latency. It returns true when the outcome asks the
// caller's cluster to consider ejecting the endpoint.
func (e *Endpoint) observe(o outcome, latency int64, unary bool, now int64) (eject bool) {
	if unary && (o == outcomeSuccess || o == outcomeFailure) {
		sample := float64(latency)
		for {
			old := e.ewma.Load()
			v := sample
			if old != 0 {
				f := faded(math.Float64frombits(old), now-e.sampled.Load())
				v = f + ewmaWeight*(sample-f)
			}
			if e.ewma.CompareAndSwap(old, math.Float64bits(v)) {
				e.sampled.Store(now)
				break
			}
		}
	}
	cfg := &e.cfg
	switch o {
	case outcomeFailure:
		if cfg.Outlier.Disabled {
			return false
		}
		return e.streak.Add(1) >= cfg.Outlier.ConsecutiveFailures
	case outcomeSuccess:
		if e.streak.Load() != 0 {
			e.streak.Store(0)
		}
		if until := e.ejectedUntil.Load(); until != 0 && e.ejections.Load() > 0 &&
			now > until+int64(cfg.Outlier.BaseEjectionTime) {
			// Healthy for a base ejection time since the last ejection ended: the next one is shorter.
			if e.ejections.Add(-1) == 0 {
				e.log.Info("endpoint recovered from ejection", "endpoint", e.addr)
			}
		}
	}
	return false
}

// eject takes the endpoint out of picking for a time that grows with each ejection.
func (e *Endpoint) eject(now int64) {
	cfg := &e.cfg
	if e.ejectedUntil.Load() > now {
		return // already ejected
	}
	n := e.ejections.Add(1)
	d := min(time.Duration(n)*cfg.Outlier.BaseEjectionTime, cfg.Outlier.MaxEjectionTime)
	e.ejectedUntil.Store(now + int64(d))
	e.ejectedTotal.Add(1)
	e.streak.Store(0)
	e.log.Warn("endpoint ejected", "endpoint", e.addr, "for", d.String(), "ejections", n)
	e.changed()
	time.AfterFunc(d, e.changed) // the ejection ends by the clock, with no call to notice it
}

// signal tells the pool's subscribers that e's availability may have changed.
func (e *Endpoint) signal() {
	if e.pool != nil {
		e.pool.changed()
	}
}

// close closes the connection once and removes the endpoint from its pool's
// draining set.
func (e *Endpoint) close() error {
	e.closeOnce.Do(func() {
		e.closeErr = e.conn.Close()
		if e.pool != nil {
			e.pool.forget(e)
		}
	})
	return e.closeErr
}

// EndpointStats is a point-in-time view of an endpoint's resilience state, for the admin API.
type EndpointStats struct {
	Address string
	// Transport describes how the endpoint is connected to ([Transport.String]): "plaintext",
	// "tls", and the settings that differ from the defaults.
	Transport string
	// Settings describes the endpoint's breaker, health check and outlier detection settings
	// ([EndpointConfig.String]): "defaults", or those that differ from the defaults. Address,
	// Transport and Settings together identify an endpoint of the pool.
	Settings string
	// Healthy is the active health check's verdict (true without active checks).
	Healthy bool
	// Ejected reports an ejection by outlier detection in force; EjectedFor is how long it has left.
	Ejected    bool
	EjectedFor time.Duration
	// Ejections counts ejections since the endpoint joined the pool.
	Ejections int64
	// Breaker is the circuit's state: "closed", "open", "half-open" or "disabled".
	Breaker  string
	InFlight int64
	// Latency is the latency estimate: the EWMA of unary call latency, faded by the time since the
	// last call ([LatencyHalfLife]).
	Latency time.Duration
	// ConsecutiveFailures counts sick-backend outcomes in a row.
	ConsecutiveFailures int32
	// Connection is the state of the endpoint's connection, as grpc names it: "IDLE" (not
	// connected, as before the first call), "CONNECTING", "READY" or "TRANSIENT_FAILURE" (the last
	// attempt to connect failed: the balancers pass over the endpoint while grpc tries again).
	Connection string
}

// Stats returns the endpoint's resilience state.
func (e *Endpoint) Stats() EndpointStats {
	now := nanotime()
	until := e.ejectedUntil.Load()
	s := EndpointStats{
		Address:             e.addr,
		Transport:           e.via,
		Settings:            e.settings,
		Healthy:             !e.unhealthy.Load(),
		Ejected:             until > now,
		Ejections:           e.ejectedTotal.Load(),
		Breaker:             e.br.Load().stateName(),
		InFlight:            e.InFlight(),
		Latency:             e.Latency(),
		ConsecutiveFailures: e.streak.Load(),
		Connection:          connectivity.State(e.connState.Load()).String(),
	}
	if s.Ejected {
		s.EjectedFor = time.Duration(until - now)
	}
	return s
}
