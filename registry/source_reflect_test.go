package registry_test

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/protogate/gateway/examples/shop"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/transcoder"
)

// startShop runs the example shop in-process and returns the address of one of its services.
func startShop(t testing.TB, service string) string {
	t.Helper()
	s, err := shop.Start(shop.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s.Addr(service)
}

// serve runs a gRPC server with the user service on a loopback port; with reflection and health
// when reflect is set.
func serve(t testing.TB, reflect bool) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	usersv1.RegisterUserServiceServer(s, usersv1.UnimplementedUserServiceServer{})
	if reflect {
		reflection.Register(s)
		healthpb.RegisterHealthServer(s, health.NewServer())
	}
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func TestFilesFromReflection(t *testing.T) {
	addr := startShop(t, "users")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	files, services, err := registry.FilesFromReflection(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"shop.users.v1.UserService"}; !slices.Equal(services, want) {
		t.Errorf("services = %q, want %q (reflection and health left out)", services, want)
	}
	rules, err := transcoder.HTTPRules(findMethod(t, files, "shop.users.v1.UserService.GetUser"))
	if err != nil || len(rules) != 1 || rules[0].GetGet() != "/v1/users/{id}" {
		t.Errorf("GetUser rules = %v, %v", rules, err)
	}
	if _, err := files.FindFileByPath("grpc/health/v1/health.proto"); err == nil {
		t.Error("health.proto was collected though its service was left out")
	}
	want := []string{
		"google/api/annotations.proto", "google/api/field_behavior.proto", "google/api/http.proto",
		"google/protobuf/descriptor.proto", "google/protobuf/field_mask.proto", "google/protobuf/struct.proto",
		"google/protobuf/timestamp.proto", "google/protobuf/wrappers.proto", "shop/users/v1/users.proto",
	}
	if got := paths(files); !slices.Equal(got, want) {
		t.Errorf("files = %q\nwant %q", got, want)
	}
}

func TestFilesFromReflectionNamedServices(t *testing.T) {
	addr := serve(t, true)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	files, services, err := registry.FilesFromReflection(ctx, addr, []string{"grpc.health.v1.Health", "shop.users.v1.UserService", "grpc.health.v1.Health"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"grpc.health.v1.Health", "shop.users.v1.UserService"}; !slices.Equal(services, want) {
		t.Errorf("services = %q, want %q", services, want)
	}
	if _, err := files.FindDescriptorByName("grpc.health.v1.Health"); err != nil {
		t.Error(err)
	}
}

func TestFilesFromReflectionErrors(t *testing.T) {
	withReflection := serve(t, true)
	withoutReflection := serve(t, false)

	// A port nothing listens on: connections are refused.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := lis.Addr().String()
	lis.Close()

	// A port that accepts connections and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()

	for _, tc := range []struct {
		name     string
		addr     string
		services []string
		timeout  time.Duration
		within   time.Duration // how soon the error must come
		want     string        // start of the error
	}{
		{"unknown service", withReflection, []string{"acme.Foo"}, 10 * time.Second, 3 * time.Second,
			"reflection at " + withReflection + " does not list service acme.Foo (it lists: grpc.health.v1.Health, grpc.reflection.v1.ServerReflection, grpc.reflection.v1alpha.ServerReflection, shop.users.v1.UserService)"},
		{"no reflection", withoutReflection, nil, 10 * time.Second, 3 * time.Second,
			"reflection at " + withoutReflection + ": the server does not offer gRPC server reflection (grpc.reflection.v1 or v1alpha): "},
		{"connection refused", refused, nil, 10 * time.Second, 3 * time.Second, "reflection at " + refused + ": unavailable: "},
		{"silent server", silent.Addr().String(), nil, 500 * time.Millisecond, 2 * time.Second, "reflection at " + silent.Addr().String() + ": deadline exceeded: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), tc.timeout)
			defer cancel()
			start := time.Now()
			_, _, err := registry.FilesFromReflection(ctx, tc.addr, tc.services)
			took := time.Since(start)
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error = %q\nwant    %q...", err, tc.want)
			}
			if took > tc.within {
				t.Errorf("took %v with a timeout of %v; want at most %v", took, tc.timeout, tc.within)
			}
		})
	}
}
