package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/shop"
	"github.com/protogate/gateway/registry"
)

// TestRESTConfig checks the rest section end to end: default routes off, unknown JSON fields
// dropped, zero values rendered (unset message fields as null, which /openapi.json admits), and an allowlisted header reaching the backend as metadata.
func TestRESTConfig(t *testing.T) {
	cfg, err := config.Parse("gateway.yaml", []byte(`
rest:
  default_routes: false
  discard_unknown_fields: true
  emit_unpopulated: true
  forward_headers: [X-Tenant-Id]
`))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var tenant []string
	g := startGateway(t, harnessOptions{
		shop: shop.Options{OnCall: func(ctx context.Context, method string) {
			md, _ := metadata.FromIncomingContext(ctx)
			mu.Lock()
			tenant = append(tenant, md.Get("x-tenant-id")...)
			mu.Unlock()
		}},
		config: func(c *config.Config) { c.REST = cfg.REST },
		spec: func(spec *registry.Spec, _ *shop.Shop) {
			base, err := registry.SpecFromConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			spec.REST, spec.OpenAPI.EmitUnpopulated = base.REST, base.OpenAPI.EmitUnpopulated
		},
	})
	rest := newRESTClient(g)
	do := func(method, path, body string, header ...string) (int, string) {
		t.Helper()
		r := rest.do(t, method, path, body, header...)
		return r.status, string(r.body)
	}

	if code, body := do("POST", "/shop.users.v1.UserService/GetUser", `{"id": "1"}`); code != http.StatusNotFound {
		t.Errorf("default route with default_routes off: %d %s, want 404", code, body)
	}
	code, body := do("POST", "/v1/users", `{"name": "Rest Config", "email": "rest-config@example.com", "noSuchField": 1}`, "X-Tenant-Id", "acme")
	if code != http.StatusOK {
		t.Fatalf("unknown field with discard_unknown_fields: %d %s, want 200", code, body)
	}
	// A new user has no tags: emit_unpopulated renders the empty list anyway.
	if !strings.Contains(strings.ReplaceAll(body, " ", ""), `"tags":[]`) {
		t.Errorf("emit_unpopulated: zero value missing from %s", body)
	}
	// ... and an unset message field as null, which the document the gateway serves admits.
	if !strings.Contains(strings.ReplaceAll(body, " ", ""), `"address":null`) {
		t.Errorf("emit_unpopulated: unset message field not null in %s", body)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					AnyOf []struct {
						Type string `json:"type"`
					} `json:"anyOf"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if r := rest.do(t, "GET", "/openapi.json", ""); r.status != http.StatusOK || json.Unmarshal(r.body, &doc) != nil {
		t.Fatalf("openapi.json: %d %.200s", r.status, r.body)
	}
	if any := doc.Components.Schemas["shop.users.v1.User"].Properties["address"].AnyOf; len(any) != 2 || any[1].Type != "null" {
		t.Errorf("emit_unpopulated: the document's User.address is %+v, which does not admit null", any)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(tenant) != 1 || tenant[0] != "acme" {
		t.Errorf("backend saw x-tenant-id %q, want [acme]", tenant)
	}
}

// TestRESTConfigReload: a reload's rest settings and body bound apply to the REST front from the
// next request, without a restart; settings that make no REST front are refused, changing nothing.
func TestRESTConfigReload(t *testing.T) {
	tenants := make(chan []string, 8)
	g := startGateway(t, harnessOptions{shop: shop.Options{OnCall: func(ctx context.Context, method string) {
		if method == "/shop.users.v1.UserService/CreateUser" {
			md, _ := metadata.FromIncomingContext(ctx)
			tenants <- md.Get("x-tenant-id")
		}
	}}})
	rest := newRESTClient(g)
	create := func(name string) (int, string) {
		t.Helper()
		r := rest.do(t, "POST", "/v1/users", `{"name": "`+name+`", "email": "`+name+`@example.com", "noSuchField": 1}`, "X-Tenant-Id", "acme")
		return r.status, string(r.body)
	}
	if code, body := create("before"); code != http.StatusBadRequest {
		t.Fatalf("an unknown field before the reload: %d %s, want 400", code, body)
	}

	cfg := config.Default()
	cfg.REST.DiscardUnknownFields, cfg.REST.EmitUnpopulated = true, true
	cfg.REST.ForwardHeaders = []string{"X-Tenant-Id"}
	apply, err := g.srv.PrepareREST(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := create("prepared"); code != http.StatusBadRequest {
		t.Errorf("settings prepared, not applied, served: %d, want 400", code)
	}
	apply()
	code, body := create("after")
	if code != http.StatusOK || !strings.Contains(strings.ReplaceAll(body, " ", ""), `"tags":[]`) {
		t.Fatalf("after the reload: %d %s, want 200 with the empty tags rendered", code, body)
	}
	if got := <-tenants; len(got) != 1 || got[0] != "acme" {
		t.Errorf("after the reload the backend saw x-tenant-id %q, want [acme]", got)
	}

	bad := config.Default()
	bad.REST.ForwardHeaders = []string{"Connection"}
	if _, err := g.srv.PrepareREST(bad); err == nil {
		t.Error("PrepareREST accepted a hop-by-hop forward_headers entry")
	}
	if code, body := create("still"); code != http.StatusOK {
		t.Errorf("after a refused reload: %d %s, want the reloaded settings still serving", code, body)
	}
}
