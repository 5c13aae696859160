package policies_test

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/keys"
	"github.com/protogate/gateway/internal/testlog"
	"github.com/protogate/gateway/policies"
)

const (
	getOrder   = "/shop.orders.v1.OrderService/GetOrder"
	listOrders = "/shop.orders.v1.OrderService/ListOrders"
	getUser    = "/shop.users.v1.UserService/GetUser"
)

func keyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// compile parses yaml as a config file and compiles its policies over the three methods.
func compile(t *testing.T, yaml string) *policies.Set {
	t.Helper()
	cfg, err := config.Parse("gateway.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	e, err := policies.NewEngine(cfg.Policies, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	set, err := e.Compile(cfg.Policies, []string{getOrder, getUser, listOrders}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

var rulesYAML = `
policies:
  auth:
    api_keys:
      keys:
        - {consumer: reader, sha256: ` + keyHash("reader-key") + `, scopes: ["orders:read"]}
        - {consumer: nobody, sha256: ` + keyHash("nobody-key") + `}
  rules:
    - name: get-order-needs-scope
      match: {method: shop.orders.v1.OrderService/GetOrder}
      auth: {required: true, scopes: ["orders:read"]}
    - name: one-at-a-time
      match: {method: shop.orders.v1.OrderService/GetOrder}
      concurrency: {max: 1, key: consumer}
    - name: orders-need-a-key
      match: {service: shop.orders.v1.OrderService}
      auth: {required: true}
`

func admit(set *policies.Set, method string, kv ...string) (metadata.MD, func(), error) {
	adm, err := set.Admit(context.Background(), method, metadata.Pairs(kv...), false, 1)
	return adm.Upstream, adm.Release, err
}

// TestFirstRulePerAspectDecides checks the rule semantics: for each aspect the first matching rule
// that sets it decides, so the method rule's scope requirement wins over the service rule's, and the
// service rule still covers the other methods.
func TestFirstRulePerAspectDecides(t *testing.T) {
	set := compile(t, rulesYAML)
	cases := []struct {
		method string
		key    string
		want   codes.Code
	}{
		{getOrder, "", codes.Unauthenticated},
		{getOrder, "nobody-key", codes.PermissionDenied}, // authenticated, but the method rule wants a scope
		{getOrder, "reader-key", codes.OK},
		{listOrders, "", codes.Unauthenticated},
		{listOrders, "nobody-key", codes.OK}, // the service rule asks for a key, no scope
		{getUser, "", codes.OK},              // no rule
	}
	for _, c := range cases {
		var kv []string
		if c.key != "" {
			kv = []string{"x-api-key", c.key}
		}
		_, release, err := admit(set, c.method, kv...)
		if release != nil {
			release()
		}
		if got := status.Code(err); got != c.want {
			t.Errorf("%s with key %q: got %v (%v), want %v", c.method, c.key, got, err, c.want)
		}
	}
}

// TestIdentityIsVerifiedNotForwarded checks that a client cannot name itself: identity metadata a
// client sends is stripped on every method, and the verified consumer replaces it.
func TestIdentityIsVerifiedNotForwarded(t *testing.T) {
	set := compile(t, rulesYAML)
	md, _, err := admit(set, getUser, "x-consumer-id", "admin", "x-other", "kept")
	if err != nil {
		t.Fatal(err)
	}
	if v := md.Get("x-consumer-id"); len(v) != 0 {
		t.Errorf("a client's own x-consumer-id reached the upstream: %q", v)
	}
	if v := md.Get("x-other"); len(v) != 1 || v[0] != "kept" {
		t.Errorf("other metadata changed: %q", v)
	}
	md, release, err := admit(set, listOrders, "x-api-key", "nobody-key", "x-consumer-id", "admin")
	if err != nil {
		t.Fatal(err)
	}
	if release != nil {
		defer release()
	}
	if v := md.Get("x-consumer-id"); len(v) != 1 || v[0] != "nobody" {
		t.Errorf("upstream consumer = %q, want [nobody]", v)
	}
}

// TestConcurrencySlotHeldUntilRelease checks that the release Admit returns is what frees a
// concurrency slot, and that a refused call holds none.
func TestConcurrencySlotHeldUntilRelease(t *testing.T) {
	set := compile(t, rulesYAML)
	_, release, err := admit(set, getOrder, "x-api-key", "reader-key")
	if err != nil {
		t.Fatal(err)
	}
	if release == nil {
		t.Fatal("a call holding a concurrency slot got no release")
	}
	if _, _, err := admit(set, getOrder, "x-api-key", "reader-key"); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second call in flight: got %v, want RESOURCE_EXHAUSTED", err)
	}
	release()
	_, release, err = admit(set, getOrder, "x-api-key", "reader-key")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	release()
}

// TestUnchangedMetadataIsNotCopied checks the fast path: a method without policies admits the
// caller's metadata as it is.
func TestUnchangedMetadataIsNotCopied(t *testing.T) {
	set := compile(t, rulesYAML)
	in := metadata.Pairs("x-request-id", "1")
	adm, err := set.Admit(context.Background(), getUser, in, false, 1)
	out, release := adm.Upstream, adm.Release
	if err != nil || release != nil {
		t.Fatalf("got release %v, err %v", release != nil, err)
	}
	out["x-mark"] = []string{"same map"}
	if in.Get("x-mark") == nil {
		t.Error("Admit copied metadata it did not change")
	}
}

// TestOwnedMetadataChangedInPlace: the identity goes upstream in a copy of the caller's metadata,
// unless the caller hands over its own copy (the gRPC proxy does), which then carries it.
func TestOwnedMetadataChangedInPlace(t *testing.T) {
	set := compile(t, rulesYAML)
	for _, owned := range []bool{false, true} {
		in := metadata.Pairs("x-api-key", "nobody-key", "x-consumer-id", "spoofed")
		adm, err := set.Admit(context.Background(), listOrders, in, owned, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got := adm.Upstream.Get("x-consumer-id"); len(got) != 1 || got[0] != "nobody" {
			t.Errorf("owned %v: upstream x-consumer-id %q, want the verified consumer", owned, got)
		}
		if got, want := in.Get("x-consumer-id"), map[bool]string{false: "spoofed", true: "nobody"}[owned]; len(got) != 1 || got[0] != want {
			t.Errorf("owned %v: the caller's x-consumer-id is %q, want %q", owned, got, want)
		}
	}
}

func BenchmarkAdmitNoPolicies(b *testing.B) {
	set := compile(&testing.T{}, rulesYAML)
	md := metadata.Pairs("x-request-id", "1")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := set.Admit(ctx, getUser, md, false, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAdmitAPIKey(b *testing.B) {
	set := compile(&testing.T{}, rulesYAML)
	md := metadata.Pairs("x-api-key", "nobody-key")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		adm, err := set.Admit(ctx, listOrders, md, false, 1)
		release := adm.Release
		if err != nil {
			b.Fatal(err)
		}
		if release != nil {
			release()
		}
	}
}

// demoChainSet compiles the demo's method policies over listOrders: the demo JWT provider with
// scope orders:read required, a rate limit keyed by consumer that never trips, and the telemetry
// Step (tracing on with no exporter, metrics, access log to io.Discard); it returns the set and the
// metadata of a call with a valid token.
func demoChainSet(b *testing.B) (*policies.Set, metadata.MD) {
	p := config.Policies{
		Auth: config.Auth{JWT: []config.JWTProvider{{
			Name: "demo", Issuer: keys.DemoIssuer, Audiences: []string{keys.DemoAudience}, JWKS: string(keys.DemoJWKS),
		}}},
		Rules: []config.PolicyRule{
			{Name: "orders-need-a-token", Match: config.PolicyMatch{Service: "shop.orders.v1.OrderService"},
				Auth: config.RuleAuth{Providers: []string{"demo"}, Scopes: []string{"orders:read"}}},
			{Name: "orders-rate", Match: config.PolicyMatch{Service: "shop.orders.v1.OrderService"},
				RateLimit: config.RuleRateLimit{Rate: 100_000_000, Per: time.Second, Key: "consumer"}},
		},
		Tracing: config.Tracing{Enabled: true, SampleRatio: "1"},
	}.Completed()
	e, err := policies.NewEngine(p, nil, policies.WithAccessLogWriter(io.Discard))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close() })
	set, err := e.Compile(p, []string{getOrder, getUser, listOrders}, nil)
	if err != nil {
		b.Fatal(err)
	}
	block, _ := pem.Decode(keys.DemoPrivateKeyPEM)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iss": keys.DemoIssuer, "aud": keys.DemoAudience,
		"sub": "1", "scope": "orders:read", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	tok.Header["kid"] = keys.DemoKeyID
	signed, err := tok.SignedString(key)
	if err != nil {
		b.Fatal(err)
	}
	return set, metadata.Pairs("authorization", "Bearer "+signed, "x-request-id", "1")
}

// BenchmarkAdmitDemoChain is the method policies of the demo on an admitted call with a token
// verified before: the cached JWT check, the telemetry Step, the rate limit, and the upstream
// metadata naming the consumer.
func BenchmarkAdmitDemoChain(b *testing.B) {
	set, md := demoChainSet(b)
	peerCtx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}})
	if _, err := set.Admit(peerCtx, listOrders, md, false, 1); err != nil { // verify the token once
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		own := md.Copy() // each call's own copy, as the gRPC proxy admits it (changed in place)
		for pb.Next() {
			adm, err := set.Admit(peerCtx, listOrders, own, true, 1)
			if err != nil || len(adm.Upstream.Get("x-consumer-id")) != 1 {
				b.Error(adm.Upstream, err)
				return
			}
			if adm.Release != nil {
				adm.Release()
			}
		}
	})
}

// Check reads what serving would read and fetches nothing: a key set URL is not asked (a gateway's
// config is validated where its identity provider may not be reachable), and a key file that
// serving would refuse is refused.
func TestCheckIsOffline(t *testing.T) {
	var fetches atomic.Int32
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		_, _ = io.WriteString(w, `{"keys": []}`)
	}))
	defer jwks.Close()
	cfg, err := config.Parse("gateway.yaml", []byte(`
policies:
  auth:
    jwt:
      - {name: corp, issuer: corp, jwks_url: "`+jwks.URL+`/jwks.json"}
  rules:
    - {name: corp-only, match: {service: shop.orders.v1.OrderService}, auth: {providers: [corp]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := policies.Check(cfg.Policies, nil); err != nil {
		t.Errorf("Check: %v", err)
	}
	if n := fetches.Load(); n != 0 {
		t.Errorf("Check fetched the key set %d times, want 0", n)
	}

	dir := t.TempDir()
	tiny := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(tiny, []byte(`{"keys": [{"kty": "RSA", "kid": "tiny", "n": "AQAB", "e": "AQAB"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Policies.Auth.JWT[0].JWKSURL, cfg.Policies.Auth.JWT[0].JWKSFile = "", tiny
	if err := policies.Check(cfg.Policies, nil); err == nil || !strings.Contains(err.Error(), `jwt provider "corp"`) {
		t.Errorf("Check of a key set with a 17-bit RSA key: %v, want an error naming provider corp", err)
	}
}

// The rate limiter reports its store failing to the engine's log, as every other policy does.
func TestLimiterLogsToTheEngine(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := lis.Addr().String()
	lis.Close() // nothing answers there: the store is down
	cfg, err := config.Parse("gateway.yaml", []byte(`
policies:
  rate_limit:
    backend: redis
    redis: {address: "`+closed+`", failure_mode: open}
  rules:
    - {name: orders-rate, match: {service: shop.orders.v1.OrderService}, rate_limit: {rate: 10, key: client_ip}}
`))
	if err != nil {
		t.Fatal(err)
	}
	var logged testlog.Buffer
	e, err := policies.NewEngine(cfg.Policies, slog.New(slog.NewTextHandler(&logged, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	set, err := e.Compile(cfg.Policies, []string{getOrder}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := admit(set, getOrder); err != nil {
		t.Fatalf("admit with the store down and failure_mode open: %v", err)
	}
	if !strings.Contains(logged.String(), "rate limit store unavailable") {
		t.Errorf("the engine's log lacks the store's failure:\n%s", logged.String())
	}
}
