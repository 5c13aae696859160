package ratelimit_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies"
)

// headerFieldsYAML limits GetProduct to 3 calls a minute, in one bucket (key: method), with the
// header fields HEADER_FIELDS.
const headerFieldsYAML = `
policies:
  rate_limit:
    header_fields: HEADER_FIELDS
  rules:
    - name: products
      match: {method: shop.catalog.v1.CatalogService/GetProduct}
      rate_limit: {rate: 3, per: 1m, key: method}
`

// TestHeaderFieldsReload: a reload that changes header_fields alone applies at once (the next
// snapshot's calls carry the other style's fields) and keeps the limiter, so what is left of
// each bucket carries over: a new limiter would start everyone full again.
func TestHeaderFieldsReload(t *testing.T) {
	parse := func(fields string) config.Policies {
		t.Helper()
		cfg, err := config.Parse("gateway.yaml", []byte(strings.Replace(headerFieldsYAML, "HEADER_FIELDS", fields, 1)))
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Policies
	}
	first := parse("draft-10")
	e, err := policies.NewEngine(first, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	// admit makes one call under the policies p compiles to, as the native gRPC front does, and
	// returns the response header metadata it would send.
	admit := func(p config.Policies) metadata.MD {
		t.Helper()
		set, err := e.Compile(p, []string{getProduct}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx := grpc.NewContextWithServerTransportStream(context.Background(), transportStream{})
		adm, err := set.Admit(ctx, getProduct, metadata.MD{}, false, 1)
		if err != nil {
			t.Fatalf("call refused: %v", err)
		}
		return metadata.Pairs(adm.Header...)
	}

	header := admit(first)
	if want := (metadata.MD{"ratelimit": {`"products";r=2;t=20`}, "ratelimit-policy": {`"products";q=3;w=60`}}); !reflect.DeepEqual(header, want) {
		t.Fatalf("first call: header %v, want %v", map[string][]string(header), map[string][]string(want))
	}
	header = admit(parse("draft-06"))
	if got := header.Get("ratelimit-remaining"); len(got) != 1 || got[0] != "1" {
		t.Errorf("after the reload to draft-06: ratelimit-remaining %q, want 1: the bucket should be kept (header %v)", got, map[string][]string(header))
	}
	if got := header.Get("ratelimit-policy"); len(got) != 1 || got[0] != "3;w=60" {
		t.Errorf("after the reload to draft-06: ratelimit-policy %q, want 3;w=60", got)
	}
	if got := header.Get("ratelimit"); len(got) != 0 {
		t.Errorf("after the reload to draft-06: ratelimit %q, want none", got)
	}
	header = admit(parse("draft-10"))
	if got := header.Get("ratelimit"); len(got) != 1 || !strings.HasPrefix(got[0], `"products";r=0;t=`) {
		t.Errorf("back to draft-10: ratelimit %q, want r=0 (header %v)", got, map[string][]string(header))
	}
}
