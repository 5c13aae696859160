package server_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/jhump/protoreflect/grpcreflect"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/protogate/gateway/examples/shop"
	adminv1 "github.com/protogate/gateway/gen/gateway/admin/v1"
	"github.com/protogate/gateway/registry"
)

func TestReflectionThroughGateway(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	client := grpcreflect.NewClientAuto(testContext(t), g.conn)
	defer client.Reset()

	services, err := client.ListServices()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"shop.users.v1.UserService", "shop.orders.v1.OrderService", "shop.catalog.v1.CatalogService",
		"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
	} {
		if !slices.Contains(services, want) {
			t.Errorf("ListServices = %v, missing %s", services, want)
		}
	}

	sd, err := client.ResolveService("shop.catalog.v1.CatalogService")
	if err != nil {
		t.Fatal(err)
	}
	watch := sd.FindMethodByName("WatchInventory")
	if watch == nil || !watch.IsServerStreaming() || watch.GetInputType().GetFullyQualifiedName() != "shop.catalog.v1.WatchInventoryRequest" {
		t.Fatalf("WatchInventory described as %v", watch)
	}
	// The standard error details resolve though no registration imports them, so that clients can
	// render the details of a status (grpcurl does so by reflection).
	for _, name := range []string{"google.rpc.ErrorInfo", "google.rpc.ResourceInfo", "google.rpc.RetryInfo", "google.rpc.Status"} {
		if _, err := client.ResolveMessage(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Imports resolve through the gateway too (the Money type lives in another file).
	product := sd.GetFile().FindMessage("shop.catalog.v1.Product")
	if product == nil || product.FindFieldByName("price").GetMessageType().GetFullyQualifiedName() != "shop.common.v1.Money" {
		t.Fatalf("Product.price does not resolve to shop.common.v1.Money")
	}
}

func TestReflectionHidesUnfrontedServices(t *testing.T) {
	g := startGateway(t, harnessOptions{spec: func(spec *registry.Spec, _ *shop.Shop) {
		spec.Registrations = slices.DeleteFunc(spec.Registrations, func(r *registry.Registration) bool { return r.Name == "catalog" })
	}})
	client := grpcreflect.NewClientAuto(testContext(t), g.conn)
	defer client.Reset()
	services, err := client.ListServices()
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(services, "shop.catalog.v1.CatalogService") {
		t.Errorf("ListServices = %v lists the unregistered catalog", services)
	}
	// The gateway binary links the catalog's generated code, but reflection must not describe it.
	if _, err := client.ResolveService("shop.catalog.v1.CatalogService"); err == nil {
		t.Error("reflection described a service the gateway does not front")
	}
	if _, err := client.ResolveService("shop.users.v1.UserService"); err != nil {
		t.Errorf("users: %v", err)
	}
}

// A registration that brings an older copy of grpc/health/v1/health.proto (Check alone) does not
// change how reflection describes the gateway's own health service: Watch and List stay.
func TestReflectionKeepsOwnHealthService(t *testing.T) {
	g := startGateway(t, harnessOptions{empty: true})
	older := checkOnlyHealth()
	h := &descriptorpb.FileDescriptorProto{
		Name: proto.String("acme/h/v1/h.proto"), Package: proto.String("acme.h.v1"), Syntax: proto.String("proto3"),
		Dependency: []string{"grpc/health/v1/health.proto"},
		Service: []*descriptorpb.ServiceDescriptorProto{{Name: proto.String("H"), Method: []*descriptorpb.MethodDescriptorProto{{
			Name: proto.String("Status"), InputType: proto.String(".grpc.health.v1.HealthCheckRequest"), OutputType: proto.String(".grpc.health.v1.HealthCheckResponse"),
		}}}},
	}
	set, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{older, h}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	if _, err := g.srv.Registry().Register(ctx, &adminv1.RegisterRequest{Name: "h", Endpoints: []string{g.shop.Addr("users")},
		Source: &adminv1.RegisterRequest_DescriptorSet{DescriptorSet: set}}); err != nil {
		t.Fatal(err)
	}
	client := grpcreflect.NewClientAuto(ctx, g.conn)
	defer client.Reset()
	if _, err := client.ResolveService("acme.h.v1.H"); err != nil {
		t.Fatalf("acme.h.v1.H: %v", err)
	}
	checkHealthDescribed(t, client)
}

// A registration that vendors health.proto at another path, in the package grpc.health.v1, is
// refused: merged, its copy would be what reflection describes as the gateway's health service.
func TestReflectionRefusesVendoredHealthPackage(t *testing.T) {
	g := startGateway(t, harnessOptions{empty: true})
	vendored := checkOnlyHealth()
	vendored.Name = proto.String("third_party/health.proto")
	h2 := &descriptorpb.FileDescriptorProto{
		Name: proto.String("acme/h2/v1/h2.proto"), Package: proto.String("acme.h2.v1"), Syntax: proto.String("proto3"),
		Dependency: []string{"third_party/health.proto"},
		Service: []*descriptorpb.ServiceDescriptorProto{{Name: proto.String("H2"), Method: []*descriptorpb.MethodDescriptorProto{{
			Name: proto.String("Status"), InputType: proto.String(".grpc.health.v1.HealthCheckRequest"), OutputType: proto.String(".grpc.health.v1.HealthCheckResponse"),
		}}}},
	}
	set, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{vendored, h2}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	_, err = g.srv.Registry().Register(ctx, &adminv1.RegisterRequest{Name: "h2", Endpoints: []string{g.shop.Addr("users")},
		Source: &adminv1.RegisterRequest_DescriptorSet{DescriptorSet: set}})
	if err == nil || !strings.Contains(err.Error(), `file "third_party/health.proto" declares package grpc.health.v1`) ||
		!strings.Contains(err.Error(), `import "grpc/health/v1/health.proto"`) {
		t.Errorf("Register = %v, want it refused, naming the file, its package and the path to import", err)
	}
	client := grpcreflect.NewClientAuto(ctx, g.conn)
	defer client.Reset()
	checkHealthDescribed(t, client)
}

// checkOnlyHealth is grpc/health/v1/health.proto as a backend might vendor it from before Watch
// and List: Check alone.
func checkOnlyHealth() *descriptorpb.FileDescriptorProto {
	older := protodesc.ToFileDescriptorProto(healthpb.File_grpc_health_v1_health_proto)
	older.Service[0].Method = older.Service[0].Method[:1] // Check
	older.MessageType = slices.DeleteFunc(older.MessageType, func(m *descriptorpb.DescriptorProto) bool {
		return strings.HasPrefix(m.GetName(), "HealthList")
	})
	return older
}

// checkHealthDescribed checks that reflection describes the gateway's own grpc.health.v1.Health:
// Check, List and Watch.
func checkHealthDescribed(t *testing.T, client *grpcreflect.Client) {
	t.Helper()
	sd, err := client.ResolveService("grpc.health.v1.Health")
	if err != nil {
		t.Fatal(err)
	}
	var methods []string
	for _, m := range sd.GetMethods() {
		methods = append(methods, m.GetName())
	}
	if want := []string{"Check", "List", "Watch"}; !slices.Equal(slices.Sorted(slices.Values(methods)), want) {
		t.Errorf("grpc.health.v1.Health described with methods %q, want %q", methods, want)
	}
}
