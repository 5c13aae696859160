package server_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/protogate/gateway/examples/shop"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/routing"
)

// TestMetricMethodsStayBounded: method names clients make up create no series. Names under the
// services the gateway answers itself (health, reflection) and names under a service an explicit
// route proxies without its descriptors are counted under "unknown" when nothing serves them; a
// method that route's backend does serve keeps its name.
func TestMetricMethodsStayBounded(t *testing.T) {
	g := startGateway(t, harnessOptions{spec: func(spec *registry.Spec, backends *shop.Shop) {
		// The catalog without its descriptors: proxied by a route, as a service registered nowhere.
		spec.Registrations = slices.DeleteFunc(spec.Registrations, func(r *registry.Registration) bool { return r.Name == "catalog" })
		spec.GraphQL.Links = nil // they name catalog methods
		spec.Clusters = append(spec.Clusters, registry.ClusterSpec{Name: "catalog", Endpoints: []string{backends.Addr("catalog")}})
		spec.Routes = append(spec.Routes, registry.RouteSpec{
			Name:     "catalog",
			Match:    routing.Match{Prefix: "/shop.catalog.v1.CatalogService/"},
			Clusters: []registry.WeightedCluster{{Name: "catalog", Weight: 1}},
		})
	}})
	ctx := testContext(t)
	if _, err := catalogv1.NewCatalogServiceClient(g.conn).GetProduct(ctx, &catalogv1.GetProductRequest{Id: "p1"}); err != nil {
		t.Fatalf("GetProduct through the route: %v", err)
	}
	const made = 20
	for i := range made {
		for _, method := range []string{
			fmt.Sprintf("/shop.catalog.v1.CatalogService/Made%d", i), // the backend answers UNIMPLEMENTED
			fmt.Sprintf("/grpc.health.v1.Health/Made%d", i),
			fmt.Sprintf("/grpc.reflection.v1.ServerReflection/Made%d", i),
		} {
			err := g.conn.Invoke(ctx, method, &emptypb.Empty{}, &emptypb.Empty{})
			if status.Code(err) != codes.Unimplemented {
				t.Fatalf("%s: %v, want UNIMPLEMENTED", method, err)
			}
		}
	}
	wantMetrics(t, g,
		`gateway_requests_total{code="OK",front="grpc",method="/shop.catalog.v1.CatalogService/GetProduct"} 1`,
		fmt.Sprintf(`gateway_requests_total{code="UNIMPLEMENTED",front="grpc",method="unknown"} %d`, 3*made),
	)
	code, metrics := httpGet(t, "http://"+g.admin+"/metrics")
	if code != http.StatusOK || strings.Contains(metrics, "Made") {
		t.Errorf("/metrics (%d) names a method a client made up", code)
	}
}
