package bench

import (
	"context"
	"log/slog"
	"net"
	"time"

	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/protogate/gateway/cmd/gateway/internal/demo"
	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/config"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/registry"
)

// testServiceName is the one service of grpc_testing's test.proto the backend implements.
const testServiceName = "grpc.testing.TestService"

// usersServiceName is the service of the unary loads, the one PolicyChain's rules match.
const usersServiceName = "shop.users.v1.UserService"

// UsersScope is the scope PolicyChain requires of GetUser's callers; a run's token carries it.
const UsersScope = "users:read"

// GatewaySpec registers the backend's two services with the gateway, each with its descriptors, so
// the gateway knows the kind of every method and takes its unary and server-streaming paths. Both
// registrations point at one address and so share one upstream connection.
func GatewaySpec(backend string) (registry.Spec, error) {
	users, err := registry.FilesOf(usersv1.File_shop_users_v1_users_proto)
	if err != nil {
		return registry.Spec{}, err
	}
	testing, err := registry.FilesOf(testgrpc.File_grpc_testing_test_proto)
	if err != nil {
		return registry.Spec{}, err
	}
	return registry.Spec{Registrations: []*registry.Registration{
		{Name: "users", Endpoints: []string{backend}, Files: users},
		{Name: "grpc-testing", Endpoints: []string{backend}, Files: testing, Services: []string{testServiceName}},
	}}, nil
}

// PolicyChain returns the demo's policy chain as the Policies target serves it, completed: the
// demo's JWT provider (tokens are verified once, then cached), CORS, size limits, tracing with no
// exporter and every request sampled (or new traces at sampleRatio, unless it is ""), metrics, and the access log with the demo's headers written to
// accessLog (a file path, or "stdout", "stderr" or "off", as config.AccessLog.Output takes). The WAF
// is off: issue 7 measures it separately. The demo's rules, which match the shop's other services,
// give way to two on the users service: a demo token with scope UsersScope is required, and a rate
// limit per consumer, set so high that it never trips, still sends its RateLimit-* headers.
func PolicyChain(accessLog, sampleRatio string) config.Policies {
	p := demo.Policies()
	if sampleRatio != "" {
		p.Tracing.SampleRatio = sampleRatio
	}
	p.WAF.Mode = "off"
	p.Tracing.Exporter, p.Tracing.Endpoint, p.Tracing.Insecure = config.TracingExporterNone, "", false
	p.AccessLog.Output = accessLog
	p.Rules = []config.PolicyRule{
		{
			Name:  "users-need-a-token",
			Match: config.PolicyMatch{Service: usersServiceName},
			Auth:  config.RuleAuth{Providers: []string{demo.DemoProvider}, Scopes: []string{UsersScope}},
		},
		{
			Name:      "users-rate",
			Match:     config.PolicyMatch{Service: usersServiceName},
			RateLimit: config.RuleRateLimit{Rate: 100_000_000, Per: time.Second, Key: "consumer"},
		},
	}
	return p.Completed()
}

// GatewayOptions configure the bench gateway. The zero value is the Gateway target's: the default
// configuration, and no log.
type GatewayOptions struct {
	// Policies, if set, are the policies the gateway enforces (PolicyChain, for the Policies target);
	// nil leaves the default configuration's.
	Policies *config.Policies
	// Log gets the gateway's log; nil discards it.
	Log *slog.Logger
}

// NewGateway builds a gateway in front of backend with GatewaySpec(backend) applied, ready for its
// ServeListeners. It fails if the policies do not compile.
func NewGateway(backend string, o GatewayOptions) (*server.Server, error) {
	spec, err := GatewaySpec(backend)
	if err != nil {
		return nil, err
	}
	cfg := config.Default()
	cfg.ShutdownGrace = time.Second
	if o.Policies != nil {
		// The engine is built from the config's policies (telemetry, the access log), each snapshot's
		// chains from the spec's.
		cfg.Policies = *o.Policies
		spec.Policies = *o.Policies
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv, err := server.New(cfg, server.WithLogger(log))
	if err != nil {
		return nil, err
	}
	if _, err := srv.Apply(spec); err != nil {
		return nil, err
	}
	return srv, nil
}

// ServeGateway runs NewGateway(backend, o) on the given data and admin listeners until ctx ends,
// then drains for up to a second. It tunes the process's runtime as `gateway serve` does.
func ServeGateway(ctx context.Context, dataLn, adminLn net.Listener, backend string, o GatewayOptions) error {
	server.TuneRuntime() // as `gateway serve` runs; the backend and the load generator keep Go's defaults
	srv, err := NewGateway(backend, o)
	if err != nil {
		dataLn.Close()
		adminLn.Close()
		return err
	}
	return srv.ServeListeners(ctx, dataLn, adminLn, nil)
}
