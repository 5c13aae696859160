package routing

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// HealthCheckConfig configures active health checks with grpc.health.v1 Check. The pool runs one
// checker per endpoint, however many clusters and snapshots list it. The zero value turns active
// checks off.
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

// healthChecker is a running checker goroutine.
type healthChecker struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// stop asks the checker to end; it does not wait.
func (h *healthChecker) stop() {
	if h != nil {
		h.cancel()
	}
}

// runHealth checks e every interval until ctx ends. An endpoint turning unhealthy is not picked
// (outside panic mode); one turning healthy again is un-ejected and its circuit reset, so it gets
// traffic again within one interval of recovering.
func (e *Endpoint) runHealth(ctx context.Context, hc HealthCheckConfig) {
	client := healthpb.NewHealthClient(e.conn)
	req := &healthpb.HealthCheckRequest{Service: hc.Service}
	t := time.NewTicker(hc.Interval)
	defer t.Stop()
	passes, fails := 0, 0
	for {
		if e.check(ctx, client, req, hc.Timeout) {
			passes, fails = passes+1, 0
			if e.unhealthy.Load() && passes >= hc.HealthyThreshold {
				e.unhealthy.Store(false)
				e.ejectedUntil.Store(0)
				e.streak.Store(0)
				if cfg := e.cfg.Load(); !cfg.Breaker.Disabled {
					e.br.Store(newBreaker(e.addr, cfg.Breaker, e.log))
				}
				e.log.Info("endpoint healthy", "endpoint", e.addr)
			}
		} else if ctx.Err() == nil {
			passes, fails = 0, fails+1
			if !e.unhealthy.Load() && fails >= hc.UnhealthyThreshold {
				e.unhealthy.Store(true)
				e.log.Warn("endpoint unhealthy", "endpoint", e.addr, "failed_checks", fails)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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
	resp, err := client.Check(ctx, req, grpc.WaitForReady(true))
	if err != nil {
		return status.Code(err) == codes.Unimplemented
	}
	return resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
}
