package server_test

import (
	"slices"
	"testing"

	"github.com/jhump/protoreflect/grpcreflect"

	"github.com/protogate/gateway/examples/shop"
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
