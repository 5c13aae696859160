package auth_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/auth"
	"github.com/protogate/gateway/policies/policy"
)

var tcontext = context.Background()

// TestJWT runs every token case through a Step requiring scope orders:read.
func TestJWT(t *testing.T) {
	e := newEnv(t)
	s := e.step(t, config.RuleAuth{Scopes: []string{"orders:read"}})
	now := e.clock.now()
	hsWithPublicKey := func() string {
		// The algorithm-confusion attack: HS256 "signed" with the issuer's RSA public key.
		der, err := x509.MarshalPKIXPublicKey(key("rs").key.Public())
		if err != nil {
			t.Fatal(err)
		}
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, e.claims())
		tok.Header["kid"] = "rs-1"
		out, err := tok.SignedString(der)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	none := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, e.claims())
		out, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	valid := key("es").sign(t, e.claims())
	tampered := func() string {
		parts := strings.Split(valid, ".")
		other := strings.Split(key("es").sign(t, e.claims("sub", "admin")), ".")
		return parts[0] + "." + other[1] + "." + parts[2]
	}

	bearerInvalid := func(desc string) []string {
		return []string{`Bearer realm="protogate", error="invalid_token", error_description="` + desc + `"`, `ApiKey realm="protogate", header="x-api-key"`}
	}
	tests := []struct {
		name    string
		headers []string
		code    codes.Code // OK when admitted
		reason  string
		www     []string
	}{
		{"no credentials", nil, codes.Unauthenticated, "CREDENTIALS_MISSING",
			[]string{`Bearer realm="protogate"`, `ApiKey realm="protogate", header="x-api-key"`}},
		{"empty bearer", []string{"authorization", "Bearer "}, codes.Unauthenticated, "TOKEN_MALFORMED", nil},
		{"malformed", bearer("not.a.jwt"), codes.Unauthenticated, "TOKEN_MALFORMED",
			bearerInvalid("the bearer token is not a well-formed JWT")},
		{"two segments", bearer("abc.def"), codes.Unauthenticated, "TOKEN_MALFORMED", nil},
		{"basic scheme", []string{"authorization", "Basic dTpw"}, codes.Unauthenticated, "AUTH_SCHEME_UNSUPPORTED", nil},
		{"bad signature", bearer(key("rogue").sign(t, e.claims())), codes.Unauthenticated, "TOKEN_SIGNATURE_INVALID", nil},
		{"tampered payload", bearer(tampered()), codes.Unauthenticated, "TOKEN_SIGNATURE_INVALID", nil},
		{"expired", bearer(key("es").sign(t, e.claims("exp", now.Add(-time.Minute).Unix()))), codes.Unauthenticated, "TOKEN_EXPIRED",
			bearerInvalid("the token has expired")},
		{"expired within skew", bearer(key("es").sign(t, e.claims("exp", now.Add(-10*time.Second).Unix()))), codes.OK, "", nil},
		{"not yet valid", bearer(key("es").sign(t, e.claims("nbf", now.Add(time.Minute).Unix()))), codes.Unauthenticated, "TOKEN_NOT_YET_VALID", nil},
		{"nbf within skew", bearer(key("es").sign(t, e.claims("nbf", now.Add(10*time.Second).Unix()))), codes.OK, "", nil},
		{"no exp", bearer(key("es").sign(t, e.claims("exp", nil))), codes.Unauthenticated, "TOKEN_CLAIMS_INVALID", nil},
		{"no sub", bearer(key("es").sign(t, e.claims("sub", nil))), codes.Unauthenticated, "TOKEN_CLAIMS_INVALID", nil},
		{"sub a list", bearer(key("es").sign(t, e.claims("sub", []string{"alice", "admin"}))), codes.Unauthenticated, "TOKEN_CLAIMS_INVALID", nil},
		{"wrong issuer", bearer(key("es").sign(t, e.claims("iss", "https://evil.test"))), codes.Unauthenticated, "TOKEN_ISSUER_INVALID", nil},
		{"wrong audience", bearer(key("es").sign(t, e.claims("aud", "billing"))), codes.Unauthenticated, "TOKEN_AUDIENCE_INVALID", nil},
		{"no audience", bearer(key("es").sign(t, e.claims("aud", nil))), codes.Unauthenticated, "TOKEN_AUDIENCE_INVALID", nil},
		{"audience in a list", bearer(key("es").sign(t, e.claims("aud", []string{"billing", "shop"}))), codes.OK, "", nil},
		{"alg none", bearer(none()), codes.Unauthenticated, "TOKEN_ALGORITHM_REFUSED", nil},
		{"HS256 with the public key", bearer(hsWithPublicKey()), codes.Unauthenticated, "TOKEN_ALGORITHM_REFUSED", nil},
		{"unknown kid", bearer(key("es2").sign(t, e.claims())), codes.Unauthenticated, "TOKEN_KEY_UNKNOWN", nil},
		{"missing scope", bearer(key("es").sign(t, e.claims("scope", "users:read"))), codes.PermissionDenied, "SCOPE_MISSING",
			[]string{`Bearer realm="protogate", error="insufficient_scope", scope="orders:read"`}},
		{"scp list", bearer(key("es").sign(t, e.claims("scope", nil, "scp", []string{"orders:read"}))), codes.OK, "", nil},
		{"valid ES256", bearer(valid), codes.OK, "", nil},
		{"valid RS256", bearer(key("rs").sign(t, e.claims())), codes.OK, "", nil},
		{"valid ES384", bearer(key("es384").sign(t, e.claims())), codes.OK, "", nil},
		{"valid EdDSA", bearer(key("ed").sign(t, e.claims())), codes.OK, "", nil},
		{"lower-case scheme", []string{"authorization", "bearer " + valid}, codes.OK, "", nil},
		{"api key", []string{"x-api-key", testAPIKey}, codes.OK, "", nil},
		{"api key scheme", []string{"authorization", "ApiKey " + testAPIKey}, codes.OK, "", nil},
		{"bad api key", []string{"x-api-key", "guess"}, codes.Unauthenticated, "API_KEY_INVALID", nil},
		{"two authorizations", append(bearer(valid), "authorization", "Bearer garbage"), codes.Unauthenticated, "CREDENTIALS_AMBIGUOUS", nil},
		{"two api keys", []string{"x-api-key", testAPIKey, "x-api-key", "other"}, codes.Unauthenticated, "CREDENTIALS_AMBIGUOUS", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := call(tt.headers...)
			err := s.Admit(c)
			if tt.code == codes.OK {
				if err != nil {
					t.Fatalf("Admit: %v", err)
				}
				if c.Identity == nil {
					t.Fatal("admitted without an identity")
				}
				return
			}
			if err == nil {
				t.Fatalf("Admit admitted, want %v %s", tt.code, tt.reason)
			}
			r := refusalOf(t, err)
			if r.code != tt.code || r.reason != tt.reason {
				t.Errorf("refused with %v %s, want %v %s", r.code, r.reason, tt.code, tt.reason)
			}
			if tt.www != nil && !slices.Equal(r.www, tt.www) {
				t.Errorf("WWW-Authenticate %q, want %q", r.www, tt.www)
			}
			if len(r.www) == 0 {
				t.Error("refusal without WWW-Authenticate")
			}
			if c.Identity != nil {
				t.Error("refused call has an identity")
			}
			if strings.Contains(err.Error(), valid) || strings.Contains(err.Error(), testAPIKey) {
				t.Error("the error echoes the credential")
			}
		})
	}
}

// TestIdentityUpstream: a verified caller's identity and chosen claims go upstream, and what the
// client sent under those keys is stripped, admitted or not.
func TestIdentityUpstream(t *testing.T) {
	e := newEnv(t)
	s := e.step(t, config.RuleAuth{Required: true})
	spoof := []string{"x-consumer-id", "admin", "x-consumer-scopes", "root", "x-consumer-org", "evil"}

	c := call(append(bearer(key("es").sign(t, e.claims("email", nil))), spoof...)...)
	if err := s.Admit(c); err != nil {
		t.Fatal(err)
	}
	up := c.Upstream(c.MD, false)
	want := metadata.MD{
		"authorization":     c.MD["authorization"],
		"x-consumer-id":     {"user-1"},
		"x-consumer-scopes": {"orders:read users:read"},
		"x-consumer-org":    {"acme"},
	}
	if !mdEqual(up, want) {
		t.Errorf("upstream metadata %v, want %v", up, want)
	}
	id := c.Identity
	if id.Consumer != "user-1" || id.Method != "jwt" || id.Provider != "test" || !slices.Equal(id.Scopes, []string{"orders:read", "users:read"}) {
		t.Errorf("identity %+v", id)
	}

	c = call(append([]string{"x-api-key", testAPIKey}, spoof...)...)
	if err := s.Admit(c); err != nil {
		t.Fatal(err)
	}
	up = c.Upstream(c.MD, false)
	if got := up["x-consumer-id"]; !slices.Equal(got, []string{"ci-bot"}) {
		t.Errorf("api key consumer upstream %q", got)
	}
	if got := up["x-api-key"]; !slices.Equal(got, []string{testAPIKey}) {
		t.Errorf("the verified key went upstream as %q, want it as sent", got)
	}
	if _, ok := up["x-consumer-org"]; ok {
		t.Error("spoofed x-consumer-org went upstream")
	}

	c = call(spoof...)
	if s.Admit(c) == nil {
		t.Fatal("admitted without credentials")
	}
	for _, k := range []string{"x-consumer-id", "x-consumer-scopes", "x-consumer-org"} {
		if _, ok := c.Upstream(c.MD, false)[k]; ok {
			t.Errorf("%s not stripped from a refused call", k)
		}
	}
}

func mdEqual(a, b metadata.MD) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestClaims: rules require claims by exact value; lists match by containment; nested paths.
func TestClaims(t *testing.T) {
	e := newEnv(t)
	s := e.step(t, config.RuleAuth{Claims: []config.ClaimMatch{
		{Claim: "org.id", Value: "acme"}, {Claim: "roles", Value: "buyer"}, {Claim: "email_verified", Value: "true"},
	}})
	ok := e.claims("roles", []string{"viewer", "buyer"}, "email_verified", true)
	if err := s.Admit(call(bearer(key("es").sign(t, ok))...)); err != nil {
		t.Fatalf("matching claims refused: %v", err)
	}
	for name, c := range map[string]jwt.MapClaims{
		"other org":        e.claims("roles", []string{"buyer"}, "email_verified", true, "org", map[string]any{"id": "umbrella"}),
		"role missing":     e.claims("roles", []string{"viewer"}, "email_verified", true),
		"not verified":     e.claims("roles", "buyer", "email_verified", false),
		"string not bool":  e.claims("roles", "buyer", "email_verified", "yes"),
		"claim not object": e.claims("roles", "buyer", "email_verified", true, "org", "acme"),
	} {
		t.Run(name, func(t *testing.T) {
			r := refusalOf(t, s.Admit(call(bearer(key("es").sign(t, c))...)))
			if r.code != codes.PermissionDenied || r.reason != "CLAIM_MISMATCH" {
				t.Errorf("got %v %s, want PermissionDenied CLAIM_MISMATCH", r.code, r.reason)
			}
		})
	}
	r := refusalOf(t, s.Admit(call("x-api-key", testAPIKey)))
	if r.code != codes.PermissionDenied {
		t.Errorf("API key against a claim rule: %v, want PermissionDenied", r.code)
	}
}

// TestProviders: a rule listing providers refuses credentials from the others.
func TestProviders(t *testing.T) {
	e := newEnv(t)
	jwtOnly := e.step(t, config.RuleAuth{Providers: []string{"test"}})
	keyOnly := e.step(t, config.RuleAuth{Providers: []string{config.ProviderAPIKey}})
	tok := key("es").sign(t, e.claims())
	if err := jwtOnly.Admit(call(bearer(tok)...)); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		s policy.Step
		h []string
	}{
		"api key on a jwt rule":  {jwtOnly, []string{"x-api-key", testAPIKey}},
		"jwt on an api key rule": {keyOnly, bearer(tok)},
	} {
		r := refusalOf(t, tc.s.Admit(call(tc.h...)))
		if r.code != codes.Unauthenticated || r.reason != "PROVIDER_NOT_ALLOWED" {
			t.Errorf("%s: %v %s, want PROVIDER_NOT_ALLOWED", name, r.code, r.reason)
		}
	}
	if err := keyOnly.Admit(call("x-api-key", testAPIKey)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.auth.Step(config.RuleAuth{Providers: []string{"okta"}}); err == nil {
		t.Error("Step accepted an unknown provider")
	}
	if s, err := e.auth.Step(config.RuleAuth{}); s != nil || err != nil {
		t.Errorf("Step of an empty rule = %v, %v; want nil, nil", s, err)
	}
}

// TestCredentialsInTwoPlaces: a call carrying both an Authorization header and an API key is
// refused CREDENTIALS_AMBIGUOUS, whichever is valid and whatever the rule accepts: the gateway
// would verify one while the upstream, which gets both, might read the other. So on every front,
// however each is sent: gRPC metadata, REST's Authorization (passed on as metadata) beside a plain
// X-Api-Key header or a Grpc-Metadata- one, GraphQL's headers.
func TestCredentialsInTwoPlaces(t *testing.T) {
	e := newEnv(t)
	tok := key("es").sign(t, e.claims())
	rules := map[string]config.RuleAuth{
		"jwt or key": {Providers: []string{"test", config.ProviderAPIKey}},
		"any":        {Required: true},
		"jwt only":   {Providers: []string{"test"}},
		"key only":   {Providers: []string{config.ProviderAPIKey}},
		"mtls only":  {Providers: []string{config.ProviderMTLS}},
		"anonymous":  {AllowAnonymous: true},
	}
	pairs := map[string][2]string{ // the Authorization header, the API key
		"valid jwt, invalid key":         {"Bearer " + tok, "not-a-key"},
		"valid jwt, valid key":           {"Bearer " + tok, testAPIKey},
		"invalid jwt, valid key":         {"Bearer not.a.jwt", testAPIKey},
		"key in authorization, bad key":  {"ApiKey " + testAPIKey, "not-a-key"},
		"the same key in both":           {"ApiKey " + testAPIKey, testAPIKey},
		"bad key in authorization, key":  {"ApiKey not-a-key", testAPIKey},
		"unsupported scheme, valid key":  {"Basic dTpw", testAPIKey},
		"lower-case scheme, invalid key": {"bearer " + tok, "not-a-key"},
	}
	fronts := map[string]func(authz, apiKey string) *policy.Call{
		"grpc": func(authz, apiKey string) *policy.Call { return call("authorization", authz, "x-api-key", apiKey) },
		"rest, X-Api-Key header": func(authz, apiKey string) *policy.Call {
			return httpCall(policy.FrontREST, metadata.Pairs("authorization", authz), http.Header{"Authorization": {authz}, "X-Api-Key": {apiKey}})
		},
		"rest, Grpc-Metadata-X-Api-Key": func(authz, apiKey string) *policy.Call {
			return httpCall(policy.FrontREST, metadata.Pairs("authorization", authz, "x-api-key", apiKey), http.Header{"Authorization": {authz}, "Grpc-Metadata-X-Api-Key": {apiKey}})
		},
		"graphql": func(authz, apiKey string) *policy.Call {
			return httpCall(policy.FrontGraphQL, metadata.Pairs("authorization", authz), http.Header{"Authorization": {authz}, "X-Api-Key": {apiKey}})
		},
	}
	for rname, rule := range rules {
		s := e.step(t, rule)
		for pname, p := range pairs {
			for fname, mk := range fronts {
				c := mk(p[0], p[1])
				err := s.Admit(c)
				if err == nil {
					t.Errorf("%s, %s, %s: admitted as %+v; the upstream gets x-api-key %q", rname, pname, fname, c.Identity, c.Upstream(c.MD, false)["x-api-key"])
					continue
				}
				if r := refusalOf(t, err); r.code != codes.Unauthenticated || r.reason != "CREDENTIALS_AMBIGUOUS" {
					t.Errorf("%s, %s, %s: %v %s, want UNAUTHENTICATED CREDENTIALS_AMBIGUOUS", rname, pname, fname, r.code, r.reason)
				}
				if strings.Contains(err.Error(), tok) || strings.Contains(err.Error(), testAPIKey) {
					t.Errorf("%s, %s, %s: the error echoes a credential", rname, pname, fname)
				}
			}
		}
	}

	// Each alone, on REST as a plain header, is verified as before.
	s := e.step(t, rules["jwt or key"])
	for name, c := range map[string]*policy.Call{
		"jwt":                  httpCall(policy.FrontREST, metadata.Pairs("authorization", "Bearer "+tok), http.Header{"Authorization": {"Bearer " + tok}}),
		"key in authorization": httpCall(policy.FrontREST, metadata.Pairs("authorization", "ApiKey "+testAPIKey), http.Header{"Authorization": {"ApiKey " + testAPIKey}}),
		"key header":           httpCall(policy.FrontREST, nil, http.Header{"X-Api-Key": {testAPIKey}}),
		"empty key beside jwt": call("authorization", "Bearer "+tok, "x-api-key", ""),
	} {
		if err := s.Admit(c); err != nil || c.Identity == nil {
			t.Errorf("%s alone: %v, identity %+v", name, err, c.Identity)
		}
	}
	if r := refusalOf(t, s.Admit(httpCall(policy.FrontREST, nil, http.Header{"X-Api-Key": {"not-a-key"}}))); r.reason != "API_KEY_INVALID" {
		t.Errorf("an invalid key alone: %s, want API_KEY_INVALID", r.reason)
	}

	// A gateway with no API keys reads no API key header: x-api-key is then any header.
	noKeys := newEnv(t, func(a *config.Auth) { a.APIKeys.Keys = nil })
	c := call("authorization", "Bearer "+tok, "x-api-key", "not-a-key")
	if err := noKeys.step(t, config.RuleAuth{Required: true}).Admit(c); err != nil {
		t.Errorf("a JWT beside x-api-key on a gateway without API keys: %v", err)
	}
}

// httpCall builds a call of the REST or GraphQL front: md the headers passed on as metadata, h the
// HTTP request's header.
func httpCall(front policy.Front, md metadata.MD, h http.Header) *policy.Call {
	ctx := policy.WithRequest(tcontext, &policy.Request{Front: front, RequestHeader: h})
	return &policy.Call{Ctx: ctx, Method: "/shop.orders.v1.OrderService/ListOrders", Front: front, MD: md, Cost: 1}
}

// TestAnonymous: allow_anonymous lets callers without credentials through, but still refuses bad ones.
func TestAnonymous(t *testing.T) {
	e := newEnv(t)
	s := e.step(t, config.RuleAuth{AllowAnonymous: true})
	c := call("x-consumer-id", "admin")
	if err := s.Admit(c); err != nil {
		t.Fatalf("anonymous refused: %v", err)
	}
	if c.Identity != nil {
		t.Error("anonymous call has an identity")
	}
	if _, ok := c.Upstream(c.MD, false)["x-consumer-id"]; ok {
		t.Error("spoofed identity went upstream from an anonymous call")
	}
	r := refusalOf(t, s.Admit(call(bearer(key("es").sign(t, e.claims("exp", start.Add(-time.Hour).Unix())))...)))
	if r.reason != "TOKEN_EXPIRED" {
		t.Errorf("expired token on an anonymous method: %s, want TOKEN_EXPIRED", r.reason)
	}
	c = call(bearer(key("es").sign(t, e.claims()))...)
	if err := s.Admit(c); err != nil || c.Identity == nil || c.Identity.Consumer != "user-1" {
		t.Errorf("valid token on an anonymous method: %v, identity %+v", err, c.Identity)
	}
}

// TestMTLS: the verified client certificate names the consumer.
func TestMTLS(t *testing.T) {
	cert := &x509.Certificate{
		Subject:        pkix.Name{CommonName: "svc-billing"},
		DNSNames:       []string{"billing.internal"},
		URIs:           []*url.URL{{Scheme: "spiffe", Host: "corp", Path: "/billing"}},
		EmailAddresses: []string{"billing@corp.example"},
	}
	withCert := func(verified bool) *policy.Call {
		c := call()
		state := tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
		if verified {
			state.VerifiedChains = [][]*x509.Certificate{{cert}}
		}
		c.Peer = &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}, AuthInfo: credentials.TLSInfo{State: state}}
		return c
	}
	for from, want := range map[string]string{"cn": "svc-billing", "dns_san": "billing.internal", "uri_san": "spiffe://corp/billing", "email_san": "billing@corp.example"} {
		e := newEnv(t, func(a *config.Auth) { a.MTLS.ConsumerFrom = from; a.MTLS.Scopes = []string{"orders:read"} })
		s := e.step(t, config.RuleAuth{Providers: []string{config.ProviderMTLS}, Scopes: []string{"orders:read"}})
		c := withCert(true)
		if err := s.Admit(c); err != nil {
			t.Fatalf("%s: %v", from, err)
		}
		if c.Identity.Consumer != want || c.Identity.Method != "mtls" {
			t.Errorf("%s: identity %+v, want consumer %q", from, c.Identity, want)
		}
		if got := c.Upstream(c.MD, false)["x-consumer-id"]; !slices.Equal(got, []string{want}) {
			t.Errorf("%s: upstream consumer %q", from, got)
		}
	}
	e := newEnv(t)
	s := e.step(t, config.RuleAuth{Providers: []string{config.ProviderMTLS}})
	for name, c := range map[string]*policy.Call{"unverified certificate": withCert(false), "plaintext": call()} {
		r := refusalOf(t, s.Admit(c))
		if r.reason != "CREDENTIALS_MISSING" {
			t.Errorf("%s: %s, want CREDENTIALS_MISSING", name, r.reason)
		}
	}
	cert.Subject.CommonName = ""
	if r := refusalOf(t, s.Admit(withCert(true))); r.reason != "CLIENT_CERTIFICATE_INVALID" {
		t.Errorf("certificate without a CN: %s, want CLIENT_CERTIFICATE_INVALID", r.reason)
	}
}

// TestCachedTokenExpires: a cached verification is not served past the token's expiry.
func TestCachedTokenExpires(t *testing.T) {
	e := newEnv(t)
	s := e.step(t, config.RuleAuth{Required: true})
	tok := key("es").sign(t, e.claims("exp", start.Add(time.Minute).Unix()))
	for range 3 {
		if err := s.Admit(call(bearer(tok)...)); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.advance(time.Minute + 29*time.Second) // within the 30s skew
	if err := s.Admit(call(bearer(tok)...)); err != nil {
		t.Fatalf("within skew: %v", err)
	}
	e.clock.advance(2 * time.Second)
	if r := refusalOf(t, s.Admit(call(bearer(tok)...))); r.reason != "TOKEN_EXPIRED" {
		t.Errorf("cached token past exp: %s, want TOKEN_EXPIRED", r.reason)
	}
}

// TestClockSkewFromConfig: a provider's clock_skew as the file writes it is the leeway on exp, so
// "clock_skew: 0s" admits no token past its expiry (it used to be read as the 30s default), and a
// provider that leaves the key out keeps the default.
func TestClockSkewFromConfig(t *testing.T) {
	e := newEnv(t)
	expired := key("es").sign(t, e.claims("exp", e.clock.now().Add(-2*time.Second).Unix()))
	for _, tc := range []struct {
		skew   string
		reason string // "" when the token is admitted
	}{
		{"", ""},
		{"clock_skew: 0s", "TOKEN_EXPIRED"},
		{"clock_skew: 1s", "TOKEN_EXPIRED"},
		{"clock_skew: 5s", ""},
	} {
		cfg, err := config.Parse("gateway.yaml", []byte(fmt.Sprintf(`
policies:
  auth:
    jwt:
      - name: test
        issuer: %s
        audiences: [%s]
        jwks_file: %q
        %s
`, testIssuer, testAudience, e.jwks, tc.skew)))
		if err != nil {
			t.Fatal(err)
		}
		a, err := auth.NewWithOptions(cfg.Policies.Auth, auth.WithClock(e.clock.now))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Close() })
		s, err := a.Step(config.RuleAuth{Required: true})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Admit(call(bearer(expired)...))
		switch {
		case tc.reason == "" && err != nil:
			t.Errorf("%q: a token expired 2s ago: %v, want it admitted", tc.skew, err)
		case tc.reason != "" && err == nil:
			t.Errorf("%q: a token expired 2s ago is admitted, want %s", tc.skew, tc.reason)
		case tc.reason != "":
			if r := refusalOf(t, err); r.reason != tc.reason {
				t.Errorf("%q: a token expired 2s ago: %s, want %s", tc.skew, r.reason, tc.reason)
			}
		}
	}
}

// TestHS256: only a provider with a secret file accepts HS256 tokens, signed with that secret.
func TestHS256(t *testing.T) {
	secret := "0123456789abcdef0123456789abcdef-hs"
	path := t.TempDir() + "/hs.key"
	writeFile(t, path, secret+"\n")
	e := newEnv(t, func(a *config.Auth) {
		a.JWT = append(a.JWT, config.JWTProvider{Name: "legacy", Issuer: "legacy", SecretFile: path, Algorithms: []string{"HS256"}, ConsumerClaim: "sub"})
	})
	s := e.step(t, config.RuleAuth{Required: true})
	hs := func(secret, iss string) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, e.claims("iss", iss, "aud", nil)).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	c := call(bearer(hs(secret, "legacy"))...)
	if err := s.Admit(c); err != nil {
		t.Fatalf("HS256 with the secret: %v", err)
	}
	if c.Identity.Provider != "legacy" {
		t.Errorf("provider %q", c.Identity.Provider)
	}
	if r := refusalOf(t, s.Admit(call(bearer(hs("another secret of thirty-two bytes!", "legacy"))...))); r.reason != "TOKEN_SIGNATURE_INVALID" {
		t.Errorf("HS256 with another secret: %s", r.reason)
	}
	if r := refusalOf(t, s.Admit(call(bearer(hs(secret, testIssuer))...))); r.reason != "TOKEN_ALGORITHM_REFUSED" {
		t.Errorf("HS256 for the JWKS issuer: %s, want TOKEN_ALGORITHM_REFUSED", r.reason)
	}
	if r := refusalOf(t, s.Admit(call(bearer(key("es").sign(t, e.claims("iss", "legacy")))...))); r.reason != "TOKEN_ALGORITHM_REFUSED" {
		t.Errorf("ES256 for the HS256 issuer: %s, want TOKEN_ALGORITHM_REFUSED", r.reason)
	}
}

// TestIdentityHeaders lists the keys stripped from every call.
func TestIdentityHeaders(t *testing.T) {
	e := newEnv(t, func(a *config.Auth) { a.Identity.Strip = []string{"x-tenant"} })
	got := e.auth.IdentityHeaders()
	want := []string{"x-consumer-id", "x-consumer-scopes", "x-consumer-email", "x-consumer-org", "x-tenant"}
	if !slices.Equal(got, want) {
		t.Errorf("IdentityHeaders() = %q, want %q", got, want)
	}
}
