package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/protogate/gateway/cmd/gateway/internal/demo"
	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/shop"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/transcoder"
)

// benchChain names the policy set a gateway of BenchmarkPolicyChain serves.
type benchChain int

const (
	chainNone  benchChain = iota // no policies at all: no admitter, no middleware, no metrics
	chainDemo                    // the demo's chain without the WAF
	chainDemoW                   // the demo's chain with the WAF blocking
)

var benchChains = [...]string{"none", "chain", "chain+waf"}

// accessLogOff, set by BENCH_WITHOUT=accesslog, leaves the benchmark's access log off.
var accessLogOff bool

// benchPolicies are the demo's policies as the benchmark serves them: OrderService needs the demo
// JWT (cached after the first call), a rate limit on it that never trips, CORS, size limits, every
// request traced with no exporter, metrics and the access log (to io.Discard); with the WAF in
// blocking mode for chainDemoW.
func benchPolicies(c benchChain) config.Policies {
	p := demo.Policies()
	p.Rules = append(p.Rules, config.PolicyRule{
		Name:      "orders-rate",
		Match:     config.PolicyMatch{Service: "shop.orders.v1.OrderService"},
		RateLimit: config.RuleRateLimit{Rate: 100_000_000, Per: time.Second, Key: "consumer"},
	})
	p.AccessLog.Output = config.AccessLogOff // WithAccessLogWriter(io.Discard) turns it on
	if ratio := os.Getenv("BENCH_SAMPLE_RATIO"); ratio != "" {
		p.Tracing.SampleRatio = ratio // the demo traces every request; production samples a share
	}
	if c != chainDemoW {
		p.WAF.Mode = "off"
	}
	for _, part := range strings.Split(os.Getenv("BENCH_WITHOUT"), ",") {
		switch part {
		case "auth":
			p.Rules = slices.DeleteFunc(p.Rules, func(r config.PolicyRule) bool { return len(r.Auth.Providers) > 0 })
		case "ratelimit":
			p.Rules = slices.DeleteFunc(p.Rules, func(r config.PolicyRule) bool { return r.RateLimit.Rate > 0 })
		case "ratelimit-headers":
			for i := range p.Rules {
				p.Rules[i].RateLimit.Headers = new(bool) // false: the limit without its RateLimit-* headers
			}
		case "cors":
			p.CORS = config.CORS{}
		case "tracing":
			p.Tracing.Enabled = false
		case "metrics":
			p.Metrics.Disabled = true
		case "accesslog":
			accessLogOff = true
		}
	}
	return p.Completed()
}

// clientMetadata is what the benchmarks' clients send with every call: the token, an x-request-id,
// and the traceparent BENCH_TRACEPARENT gives, if any (a client in a traced fleet propagates its
// trace: "00-<trace id>-<span id>-00" is one its own sampler did not sample).
func clientMetadata(token string) []string {
	kv := []string{"authorization", "Bearer " + token, "x-request-id", "bench"}
	if tp := os.Getenv("BENCH_TRACEPARENT"); tp != "" {
		kv = append(kv, "traceparent", tp)
	}
	return kv
}

// setHeaders sets clientMetadata on a REST request, with a browser's Origin.
func setHeaders(h http.Header, token string) {
	kv := clientMetadata(token)
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	h.Set("Origin", "http://localhost:5173")
}

// startBenchGateway starts the shop and a gateway serving chain, for a benchmark.
func startBenchGateway(b *testing.B, c benchChain) *gateway {
	b.Helper()
	if c == chainNone {
		return startGateway(b, harnessOptions{
			config: func(cfg *config.Config) { cfg.Policies.Metrics.Disabled = true },
			spec: func(s *registry.Spec, _ *shop.Shop) {
				s.Admission = func(config.Policies, []string, func(*http.Request) (*transcoder.Binding, bool)) (routing.Admitter, error) {
					return nil, nil
				}
			},
		})
	}
	p := benchPolicies(c)
	var opts []server.Option
	if !accessLogOff {
		opts = append(opts, server.WithAccessLogWriter(io.Discard))
	}
	return startGateway(b, harnessOptions{
		policies: &p,
		server:   opts,
	})
}

// BenchmarkPolicyChain measures issue 7's performance goal end to end: the same call (ListOrders,
// as REST GET /v1/users/1/orders and as native gRPC) through three gateways over loopback, each in
// front of its own shop — no policies, the demo chain without the WAF, the demo chain with it — with
// parallel clients. The sub-benchmarks run one after the other in a round; for several rounds run
// the benchmark several times with -count 1 (-count N repeats each sub-benchmark in place, so the
// rounds would not interleave), and compare chain and chain+waf against none within each round, by
// ns/op and by cpu-ns/op (the process's CPU time per call, steadier on a shared machine).
// Allocations and CPU count the client, the gateway and the backend, all in this process.
// BENCH_SAMPLE_RATIO (e.g. 0.1) samples a share of the requests instead of the demo's every one;
// BENCH_TRACEPARENT makes the clients send that trace context (see clientMetadata);
// BENCH_WITHOUT (a comma-separated list of auth, ratelimit, ratelimit-headers, cors, tracing,
// metrics, accesslog) leaves parts of the chain out, to see what each costs.
func BenchmarkPolicyChain(b *testing.B) {
	token, err := demo.Token("1", []string{"orders:read"}, time.Hour, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	var gws [len(benchChains)]*gateway
	for c := range gws {
		gws[c] = startBenchGateway(b, benchChain(c))
	}
	for _, g := range gws { // warm up (the JWT cache, connections), and never measure a refusal
		checkBenchREST(b, g, token)
		checkBenchGRPC(b, g, token)
	}
	for c, g := range gws {
		b.Run("rest/"+benchChains[c], func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
			defer client.CloseIdleConnections()
			url := "http://" + g.addr + "/v1/users/1/orders"
			b.SetParallelism(4)
			b.ReportAllocs()
			defer reportCPU(b)()
			b.RunParallel(func(pb *testing.PB) {
				req, err := http.NewRequest(http.MethodGet, url, nil)
				if err != nil {
					b.Error(err)
					return
				}
				setHeaders(req.Header, token)
				for pb.Next() {
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
	for c, g := range gws {
		b.Run("grpc/"+benchChains[c], func(b *testing.B) {
			client := ordersv1.NewOrderServiceClient(g.conn)
			req := &ordersv1.ListOrdersRequest{UserId: "1"}
			ctx := metadata.AppendToOutgoingContext(context.Background(), clientMetadata(token)...)
			b.SetParallelism(4)
			b.ReportAllocs()
			defer reportCPU(b)()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := client.ListOrders(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkPolicyChainPaired measures the same goal as BenchmarkPolicyChain, the demo chain without
// the WAF against no policies, in a way a shared, noisy machine disturbs less: it alternates short
// blocks of calls between the two gateways, so that both see the same machine, and reports the
// chain's cost as ratios — time-x (wall time per call, chain / none: the inverse of the req/s
// ratio) and cpu-x (the process's CPU per call, chain / none). ns/op is the time of one pair of
// calls. BENCH_SAMPLE_RATIO, BENCH_TRACEPARENT and BENCH_WITHOUT apply as to BenchmarkPolicyChain.
func BenchmarkPolicyChainPaired(b *testing.B) {
	token, err := demo.Token("1", []string{"orders:read"}, time.Hour, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	gws := [2]*gateway{startBenchGateway(b, chainNone), startBenchGateway(b, chainDemo)}
	for _, g := range gws {
		checkBenchREST(b, g, token)
		checkBenchGRPC(b, g, token)
	}
	b.Run("rest", func(b *testing.B) {
		var calls [2]func() error
		for i, g := range gws {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
			defer client.CloseIdleConnections()
			url := "http://" + g.addr + "/v1/users/1/orders"
			calls[i] = func() error {
				req, err := http.NewRequest(http.MethodGet, url, nil)
				if err != nil {
					return err
				}
				setHeaders(req.Header, token)
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("status %d", resp.StatusCode)
				}
				return nil
			}
		}
		runPaired(b, calls)
	})
	b.Run("grpc", func(b *testing.B) {
		var calls [2]func() error
		ctx := metadata.AppendToOutgoingContext(context.Background(), clientMetadata(token)...)
		req := &ordersv1.ListOrdersRequest{UserId: "1"}
		for i, g := range gws {
			client := ordersv1.NewOrderServiceClient(g.conn)
			calls[i] = func() error {
				_, err := client.ListOrders(ctx, req)
				return err
			}
		}
		runPaired(b, calls)
	})
}

// runPaired makes b.N calls of each of calls[0] (the baseline) and calls[1], in alternating blocks
// (which of the two goes first alternates too), each block with pairedWorkers callers, and reports
// calls[1]'s wall and CPU time per call as ratios to calls[0]'s.
func runPaired(b *testing.B, calls [2]func() error) {
	const block = 200
	var wall, cpu [2]time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for done, n := 0, 0; done < b.N; done, n = done+block, n+1 {
		size := min(block, b.N-done)
		for k := range 2 {
			i := k ^ n&1
			t0, c0 := time.Now(), cpuTime()
			if err := callN(size, calls[i]); err != nil {
				b.Fatal(err)
			}
			wall[i] += time.Since(t0)
			cpu[i] += cpuTime() - c0
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(wall[1])/float64(wall[0]), "time-x")
	if cpu[0] > 0 {
		b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "cpu-x")
	}
}

// pairedWorkers is how many goroutines make a block's calls: as many as BenchmarkPolicyChain's
// parallel clients on two cores.
const pairedWorkers = 8

// callN makes n calls of call from pairedWorkers goroutines and returns the first error.
func callN(n int, call func() error) error {
	var next atomic.Int64
	errs := make(chan error, pairedWorkers)
	for range pairedWorkers {
		go func() {
			var err error
			for err == nil && next.Add(1) <= int64(n) {
				err = call()
			}
			errs <- err
		}()
	}
	var first error
	for range pairedWorkers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// checkBenchREST makes sure the benchmark's REST call succeeds, so that no variant measures a
// refusal.
func checkBenchREST(b *testing.B, g *gateway, token string) {
	b.Helper()
	resp := newRESTClient(g).do(b, http.MethodGet, "/v1/users/1/orders", "", "Authorization", "Bearer "+token,
		"Origin", "http://localhost:5173")
	if resp.status != http.StatusOK {
		b.Fatalf("REST: %d %s", resp.status, resp.body)
	}
}

func checkBenchGRPC(b *testing.B, g *gateway, token string) {
	b.Helper()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
	if _, err := ordersv1.NewOrderServiceClient(g.conn).ListOrders(ctx, &ordersv1.ListOrdersRequest{UserId: "1"}); err != nil {
		b.Fatalf("gRPC: %v", err)
	}
}

// reportCPU reports, when the returned function is called, the process's CPU time (user and system)
// per operation as cpu-ns/op. Client, gateway and backend all run in this process, so on a shared
// machine, where wall time per operation depends on what else runs, it is the steadier measure of what
// one call costs; at saturation req/s is about cores / cpu-ns/op.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	b.ResetTimer()
	return func() {
		b.StopTimer()
		if b.N > 0 {
			b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}
