package bench

import (
	"context"
	"errors"
	"net"
	"time"

	"google.golang.org/grpc"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/protogate/gateway/examples/shop"
)

// NewBackend returns the benchmark's backend server: the example shop's users service (with its
// reflection and health) and grpc.testing.TestService, on one gRPC server.
func NewBackend() (*grpc.Server, error) {
	s, err := shop.NewServer("users", shop.Options{})
	if err != nil {
		return nil, err
	}
	testgrpc.RegisterTestServiceServer(s, newTestService())
	return s, nil
}

// ServeBackend serves NewBackend on lis until ctx ends, then stops: in-flight calls get a second to
// finish. It closes lis.
func ServeBackend(ctx context.Context, lis net.Listener) error {
	s, err := NewBackend()
	if err != nil {
		return errors.Join(err, lis.Close())
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	stopped := make(chan struct{})
	go func() { s.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(time.Second):
		s.Stop()
		<-stopped
	}
	return nil
}
