package bench

import (
	"context"
	"log/slog"
	"net"
	"time"

	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/config"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/registry"
)

// testServiceName is the one service of grpc_testing's test.proto the backend implements.
const testServiceName = "grpc.testing.TestService"

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

// ServeGateway runs a gateway with GatewaySpec(backend) on the given data and admin listeners until ctx
// ends, then drains for up to a second. It logs warnings and errors only.
func ServeGateway(ctx context.Context, dataLn, adminLn net.Listener, backend string, log *slog.Logger) error {
	server.TuneRuntime() // as `gateway serve` runs; the backend and the load generator keep Go's defaults
	spec, err := GatewaySpec(backend)
	if err != nil {
		return err
	}
	cfg := config.Default()
	cfg.Listen, cfg.AdminListen = dataLn.Addr().String(), adminLn.Addr().String()
	cfg.ShutdownGrace = time.Second
	srv, err := server.New(cfg, server.WithLogger(log))
	if err != nil {
		return err
	}
	if _, err := srv.Apply(spec); err != nil {
		return err
	}
	return srv.ServeListeners(ctx, dataLn, adminLn, nil)
}
