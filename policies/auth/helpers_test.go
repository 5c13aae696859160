package auth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/auth"
	"github.com/protogate/gateway/policies/policy"
)

const (
	testIssuer   = "https://issuer.test"
	testAudience = "shop"
	testAPIKey   = "k3y-for-the-ci-bot"
)

// start is the fixed time the tests' clock starts at.
var start = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// signer is a private key with the kid and alg its tokens name.
type signer struct {
	kid    string
	method jwt.SigningMethod
	key    crypto.Signer
}

func (s signer) public() auth.PublicJWK {
	return auth.PublicJWK{KID: s.kid, Alg: s.method.Alg(), Key: s.key.Public()}
}

// sign returns a token with claims, signed by s.
func (s signer) sign(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(s.method, claims)
	if s.kid != "" {
		tok.Header["kid"] = s.kid
	}
	out, err := tok.SignedString(s.key)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Keys are made once per test binary: RSA generation is slow.
var testKeys = sync.OnceValue(func() map[string]signer {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec256b, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	return map[string]signer{
		"rs": {kid: "rs-1", method: jwt.SigningMethodRS256, key: rsaKey},
		"es": {kid: "es-1", method: jwt.SigningMethodES256, key: ec256},
		// "rogue" claims es-1's kid but is another key: a forged signature.
		"rogue": {kid: "es-1", method: jwt.SigningMethodES256, key: ec256b},
		"es2":   {kid: "es-2", method: jwt.SigningMethodES256, key: ec256b},
		"es384": {kid: "es-384", method: jwt.SigningMethodES384, key: ec384},
		"ed":    {kid: "ed-1", method: jwt.SigningMethodEdDSA, key: ed},
	}
})

func key(name string) signer { return testKeys()[name] }

// clock is a settable clock for the authenticator.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(start.UnixNano())
	return c
}

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// writeJWKS writes the public keys of signers as a key set file.
func writeJWKS(t testing.TB, path string, signers ...signer) {
	t.Helper()
	data := jwksOf(t, signers...)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func jwksOf(t testing.TB, signers ...signer) []byte {
	t.Helper()
	var pubs []auth.PublicJWK
	for _, s := range signers {
		pubs = append(pubs, s.public())
	}
	data, err := auth.MarshalJWKS(pubs...)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func digest(secret string) string {
	d := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(d[:])
}

// testConfig is an auth config with one JWT provider reading jwksFile, an API key, and mTLS.
func testConfig(jwksFile string) config.Auth {
	return config.Auth{
		JWT: []config.JWTProvider{{
			Name:             "test",
			Issuer:           testIssuer,
			Audiences:        []string{testAudience},
			JWKSFile:         jwksFile,
			Algorithms:       config.JWTAlgorithms,
			ClockSkew:        new(30 * time.Second),
			ConsumerClaim:    "sub",
			ClaimsToMetadata: []config.ClaimMetadata{{Claim: "email", Metadata: "x-consumer-email"}, {Claim: "org.id", Metadata: "x-consumer-org"}},
		}},
		APIKeys: config.APIKeys{Header: "x-api-key", Keys: []config.APIKey{{Consumer: "ci-bot", SHA256: digest(testAPIKey), Scopes: []string{"orders:read"}}}},
		MTLS:    config.MTLS{Enabled: true, ConsumerFrom: "cn"},
	}
}

// env is an authenticator over a key set file holding rs, es, es384 and ed.
type env struct {
	auth  *auth.Authenticator
	clock *clock
	jwks  string
}

func newEnv(t testing.TB, mutate ...func(*config.Auth)) *env {
	t.Helper()
	e := &env{clock: newClock(), jwks: filepath.Join(t.TempDir(), "jwks.json")}
	writeJWKS(t, e.jwks, key("rs"), key("es"), key("es384"), key("ed"))
	cfg := testConfig(e.jwks)
	for _, m := range mutate {
		m(&cfg)
	}
	a, err := auth.NewWithOptions(cfg, auth.WithClock(e.clock.now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	e.auth = a
	return e
}

// claims are valid claims for the test issuer at the clock's time, with overrides.
func (e *env) claims(kv ...any) jwt.MapClaims {
	now := e.clock.now()
	c := jwt.MapClaims{
		"iss":   testIssuer,
		"aud":   testAudience,
		"sub":   "user-1",
		"iat":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"scope": "orders:read users:read",
		"email": "ada@example.com",
		"org":   map[string]any{"id": "acme"},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
			continue
		}
		c[kv[i].(string)] = kv[i+1]
	}
	return c
}

func (e *env) step(t testing.TB, rule config.RuleAuth) policy.Step {
	t.Helper()
	s, err := e.auth.Step(rule)
	if err != nil {
		t.Fatal(err)
	}
	if s == nil {
		t.Fatal("Step returned nil for a rule that requires auth")
	}
	return s
}

// call builds a call with header pairs as its metadata.
func call(headers ...string) *policy.Call {
	return &policy.Call{Ctx: tcontext, Method: "/shop.orders.v1.OrderService/ListOrders", MD: metadata.Pairs(headers...), Cost: 1}
}

func bearer(tok string) []string { return []string{"authorization", "Bearer " + tok} }

// refusal describes a Step's refusal: its code, ErrorInfo reason and WWW-Authenticate values.
type refusal struct {
	code   codes.Code
	reason string
	www    []string
}

func refusalOf(t testing.TB, err error) refusal {
	t.Helper()
	var d *policy.Denial
	if !errors.As(err, &d) {
		t.Fatalf("error %v (%T) is not a *policy.Denial", err, err)
	}
	r := refusal{code: d.GRPCStatus().Code(), www: d.HTTPHeader().Values("WWW-Authenticate")}
	for _, det := range d.GRPCStatus().Details() {
		if info, ok := det.(*errdetails.ErrorInfo); ok {
			if info.Domain != auth.Domain {
				t.Errorf("ErrorInfo domain %q, want %q", info.Domain, auth.Domain)
			}
			r.reason = info.Reason
		}
	}
	if s, ok := status.FromError(err); !ok || s.Code() != r.code {
		t.Errorf("status.FromError(%v) = %v, %v", err, s, ok)
	}
	return r
}
