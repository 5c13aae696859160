package routing

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/sony/gobreaker/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// HealthCheckConfig configures active health checks with grpc.health.v1 Check, or with an HTTP GET
// for upstreams that are not gRPC servers. The pool runs one checker per endpoint, however many
// clusters (with these settings) and snapshots list it. The zero value turns active checks off.
type HealthCheckConfig struct {
	// Interval between checks; 0 turns active checks off.
	Interval time.Duration
	// Timeout bounds one check, connecting included. Default 1s (at most Interval).
	Timeout time.Duration
	// HealthyThreshold passing checks in a row make an unhealthy endpoint healthy. Default 1.
	HealthyThreshold int
	// UnhealthyThreshold failing checks in a row make a healthy endpoint unhealthy. Default 2.
	UnhealthyThreshold int
	// Service is the service name asked about; "" asks about the server as a whole.
	Service string
	// HTTPPath, when set, checks with an HTTP GET of http://<endpoint address><HTTPPath> (https,
	// with the endpoint's TLS settings, when its [Transport] is TLS) instead of grpc.health.v1: a
	// 2xx status passes, anything else (or no answer) fails.
	HTTPPath string
}

// Health check defaults.
const (
	DefaultHealthTimeout      = time.Second
	DefaultHealthyThreshold   = 1
	DefaultUnhealthyThreshold = 2
)

func (c HealthCheckConfig) withDefaults() HealthCheckConfig {
	if c.Interval <= 0 {
		return HealthCheckConfig{}
	}
	if c.Timeout <= 0 {
		c.Timeout = min(DefaultHealthTimeout, c.Interval)
	}
	if c.HealthyThreshold <= 0 {
		c.HealthyThreshold = DefaultHealthyThreshold
	}
	if c.UnhealthyThreshold <= 0 {
		c.UnhealthyThreshold = DefaultUnhealthyThreshold
	}
	return c
}

// runHealth checks e every interval until ctx ends. An endpoint turning unhealthy is not picked
// (outside panic mode); one turning healthy again is forgiven its failed calls ([Endpoint.forgive]),
// so it gets traffic again within one interval of recovering.
func (e *Endpoint) runHealth(ctx context.Context, hc HealthCheckConfig) {
	var check func(context.Context) bool
	if hc.HTTPPath != "" {
		// A transport of its own, closed when the checker ends, so no connection outlives it; over
		// TLS when the endpoint's calls are, with the same roots, server name and certificate.
		tr, scheme := e.transport.httpTransport()
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is an answer, not a 2xx
		}}
		url := scheme + "://" + e.addr + hc.HTTPPath
		check = func(ctx context.Context) bool { return checkHTTP(ctx, client, url, hc.Timeout) }
	} else {
		client := healthpb.NewHealthClient(e.conn)
		req := &healthpb.HealthCheckRequest{Service: hc.Service}
		check = func(ctx context.Context) bool { return e.check(ctx, client, req, hc.Timeout) }
	}
	t := time.NewTicker(hc.Interval)
	defer t.Stop()
	passes, fails := 0, 0
	for {
		if check(ctx) {
			passes, fails = passes+1, 0
			if e.unhealthy.Load() && passes >= hc.HealthyThreshold {
				// Forgiven before it shows healthy: whoever sees it healthy sees its new breaker,
				// and a failure counted from then on is not forgotten.
				e.forgive(nanotime(), "a health check passed")
				e.unhealthy.Store(false)
				e.log.Info("endpoint healthy", "endpoint", e.addr)
				e.changed()
			}
		} else if ctx.Err() == nil {
			passes, fails = 0, fails+1
			if !e.unhealthy.Load() && fails >= hc.UnhealthyThreshold {
				e.unhealthy.Store(true)
				e.log.Warn("endpoint unhealthy", "endpoint", e.addr, "failed_checks", fails)
				e.changed()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// forgive ends what failed calls imposed on e, for reason: an ejection in force ends now, and the
// circuit, open or half-open, is closed (a new breaker, so failures counted before do not count
// towards the next trip). The active health check vouches for the backend, which would otherwise
// wait out the ejection and the open timeout; Envoy's outlier detection likewise unejects a host
// that passes an active check. Each is logged as the transition it is, so the log never leaves an
// endpoint ejected or its circuit open while it takes calls. The ejection multiplier stays: the
// next ejection lasts longer, unless the endpoint goes without one for a base ejection time.
func (e *Endpoint) forgive(now int64, reason string) {
	if until := e.ejectedUntil.Load(); until > now && e.ejectedUntil.CompareAndSwap(until, now) {
		e.log.Info("endpoint ejection ended early", "endpoint", e.addr, "reason", reason,
			"left", time.Duration(until-now).Round(time.Millisecond).String())
	}
	e.streak.Store(0)
	old := e.br.Load()
	if old == nil {
		return
	}
	// Retired first, so that a probe the old breaker admitted, ending later, does not log a state
	// change of a breaker no longer in use.
	old.retire()
	e.br.Store(newBreaker(e.addr, e.cfg.Breaker, e.log, e.changed))
	if from := old.cb.State(); from != gobreaker.StateClosed {
		e.log.Info("circuit breaker state changed", "endpoint", e.addr, "from", from.String(),
			"to", gobreaker.StateClosed.String(), "reason", reason)
	}
}

// HealthCheckCall marks a call on an endpoint's connection as the gateway's own active health
// check rather than a call made for a client, for the client interceptors the connection was
// dialed with ([DialWith]): instrumentation that counts upstream calls should let it through
// unobserved ([IsHealthCheck]). A check that times out waiting for a backend that is down would
// otherwise count as an upstream call that failed with DEADLINE_EXCEEDED, and every check that
// passes as one that succeeded.
var HealthCheckCall grpc.CallOption = healthCheckCall{}

type healthCheckCall struct{ grpc.EmptyCallOption }

// IsHealthCheck reports whether opts, a call's options as a client interceptor gets them, include
// [HealthCheckCall]. It looks at each option's type only, and does not allocate.
func IsHealthCheck(opts []grpc.CallOption) bool {
	for _, o := range opts {
		if _, ok := o.(healthCheckCall); ok {
			return true
		}
	}
	return false
}

// check runs one health check. A backend without the health service (Unimplemented) counts as
// healthy: it answered.
func (e *Endpoint) check(ctx context.Context, client healthpb.HealthClient, req *healthpb.HealthCheckRequest, timeout time.Duration) bool {
	if e.conn.GetState() == connectivity.TransientFailure {
		// Do not wait out grpc's reconnect backoff, which grows to minutes: a backend that
		// returned should be seen at the next check.
		e.conn.ResetConnectBackoff()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := client.Check(ctx, req, grpc.WaitForReady(true), HealthCheckCall)
	if err != nil {
		return status.Code(err) == codes.Unimplemented
	}
	return resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
}

// checkHTTP runs one HTTP health check: a GET of url answered with a 2xx status within timeout.
func checkHTTP(ctx context.Context, client *http.Client, url string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	req.Header.Set("User-Agent", "protogate-health-check")
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	// Drain a little of the body so the connection can be reused, then close it.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}
