package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/protogate/gateway/cmd/gateway/internal/demo"
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/keys"
	"github.com/protogate/gateway/examples/shop"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
)

// outcome is what one front answered to one call, reduced to what must agree across fronts.
type outcome struct {
	code       codes.Code
	reason     string // the google.rpc.ErrorInfo reason, where the front carries details
	httpStatus int    // on the HTTP fronts
	header     http.Header
	retryInfo  bool // the refusal carries a google.rpc.RetryInfo (in its details, or GraphQL's extensions)
	reached    bool // the backend saw the call
}

// upstreamLog records the shop calls the backends see, and the consumer and credentials
// (authorization, x-api-key) the OrderService's carry.
type upstreamLog struct {
	mu          sync.Mutex
	calls       int
	consumers   [][]string
	credentials []metadata.MD
}

func (l *upstreamLog) onCall(ctx context.Context, method string) {
	md, _ := metadata.FromIncomingContext(ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if strings.HasPrefix(method, "/shop.orders.v1.OrderService/") {
		l.consumers = append(l.consumers, md.Get("x-consumer-id"))
		cred := metadata.MD{}
		for _, k := range []string{"authorization", "x-api-key"} {
			if v := md.Get(k); len(v) > 0 {
				cred[k] = v
			}
		}
		l.credentials = append(l.credentials, cred)
	}
}

// snapshot returns the number of calls seen, and the consumer and credentials of the last
// OrderService call.
func (l *upstreamLog) snapshot() (int, []string, metadata.MD) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.consumers) == 0 {
		return l.calls, nil, nil
	}
	return l.calls, l.consumers[len(l.consumers)-1], l.credentials[len(l.credentials)-1]
}

// target is the method a matrix row calls, as each front spells the call.
type target struct {
	method  string // full gRPC method
	req     proto.Message
	reply   func() proto.Message
	rest    [3]string // HTTP method, path, JSON body
	graphql string    // GraphQL request body
}

var (
	listOrders = target{
		method: "/shop.orders.v1.OrderService/ListOrders", req: &ordersv1.ListOrdersRequest{UserId: "1"},
		reply:   func() proto.Message { return new(ordersv1.ListOrdersResponse) },
		rest:    [3]string{http.MethodGet, "/v1/users/1/orders", ""},
		graphql: `{"query": "{ listOrders(userId: \"1\") { orders { id } } }"}`,
	}
	getProduct = target{
		method: "/shop.catalog.v1.CatalogService/GetProduct", req: &catalogv1.GetProductRequest{Id: "p1"},
		reply:   func() proto.Message { return new(catalogv1.Product) },
		rest:    [3]string{http.MethodGet, "/v1/products/p1", ""},
		graphql: `{"query": "{ getProduct(id: \"p1\") { id } }"}`,
	}
	missingProduct = target{ // admitted, then NOT_FOUND from the backend
		method: "/shop.catalog.v1.CatalogService/GetProduct", req: &catalogv1.GetProductRequest{Id: "p99"},
		reply:   func() proto.Message { return new(catalogv1.Product) },
		rest:    [3]string{http.MethodGet, "/v1/products/p99", ""},
		graphql: `{"query": "{ getProduct(id: \"p99\") { id } }"}`,
	}
	wafProbe = target{ // a SQL injection in a query parameter and in a GraphQL variable
		method: "/shop.users.v1.UserService/ListUsers", req: &usersv1.ListUsersRequest{},
		reply:   func() proto.Message { return new(usersv1.ListUsersResponse) },
		rest:    [3]string{http.MethodGet, "/v1/users?filter.country=" + url.QueryEscape("x' OR '1'='1' UNION SELECT password FROM users --"), ""},
		graphql: `{"query": "query($id: String!) { getUser(id: $id) { name } }", "variables": {"id": "1' OR '1'='1' UNION SELECT password FROM users --"}}`,
	}
	oversized = func() target { // 11 MB: over the demo's 10 MB body limit and gRPC's 4 MiB message limit
		big := strings.Repeat("a", 11<<20)
		return target{
			method: "/shop.users.v1.UserService/CreateUser", req: &usersv1.CreateUserRequest{User: &usersv1.User{Name: big, Email: "big@example.com"}},
			reply:   func() proto.Message { return new(usersv1.User) },
			rest:    [3]string{http.MethodPost, "/v1/users", `{"name": "` + big + `", "email": "big@example.com"}`},
			graphql: `{"query": "mutation($n: String!) { createUser(user: {name: $n, email: \"big@example.com\"}) { id } }", "variables": {"n": "` + big + `"}}`,
		}
	}()
)

// signDemo signs claims with the demo key (or with key, when set, under the demo's key id).
func signDemo(t testing.TB, claims jwt.MapClaims, method jwt.SigningMethod, key any) string {
	t.Helper()
	if key == nil {
		block, _ := pem.Decode(keys.DemoPrivateKeyPEM)
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		key = k.(crypto.Signer)
	}
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["kid"] = keys.DemoKeyID
	out, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// matrixFronts are the four fronts, each calling a target with HTTP headers (metadata for gRPC).
var matrixFronts = []struct {
	name string
	call func(t *testing.T, g *gateway, tg target, headers []string) outcome
}{
	{"grpc", matrixGRPC},
	{"grpc-web", matrixGRPCWeb},
	{"rest", matrixREST},
	{"graphql", matrixGraphQL},
}

// TestPoliciesMatrix runs every policy case through every front against the demo's policies
// (OrderService needs a demo JWT with scope orders:read, or here user 1's API key; GetProduct is
// limited to 20 calls per second per client; the WAF blocks on REST and GraphQL; bodies over 10 MB
// are refused) and requires the same decision from each, in the front's own shape: a gRPC status, a
// REST google.rpc.Status body with the HTTP status and its headers (WWW-Authenticate, Retry-After),
// a GraphQL error with extensions.code. A refused call must never reach the backend; an admitted
// one reaches it carrying the verified consumer, never the one the client claimed, and no
// credential but the one verified.
func TestPoliciesMatrix(t *testing.T) {
	log := &upstreamLog{}
	// The demo's policies, with GetProduct's limit of 20 per second made 2 per minute, so that the
	// row over the limit does not depend on how fast the machine answers (the race detector makes
	// the WAF-inspected fronts slower than 20 calls per second).
	// OrderService takes an API key too (user 1's, in x-api-key or "Authorization: ApiKey"), so
	// that the rows sending a token and a key have a rule reading both.
	policies := demo.Policies()
	const apiKey = "matrix-key-1"
	keySum := sha256.Sum256([]byte(apiKey))
	policies.Auth.APIKeys.Keys = []config.APIKey{{Consumer: "1", SHA256: hex.EncodeToString(keySum[:]), Scopes: []string{"orders:read"}}}
	policies.Rules = append([]config.PolicyRule{{
		Name:      "matrix-products",
		Match:     config.PolicyMatch{Method: "/shop.catalog.v1.CatalogService/GetProduct"},
		RateLimit: config.RuleRateLimit{Rate: 2, Per: time.Minute, Burst: 2, Key: "client_ip"},
	}, {
		Name:  "matrix-orders",
		Match: config.PolicyMatch{Service: "shop.orders.v1.OrderService"},
		Auth:  config.RuleAuth{Providers: []string{demo.DemoProvider, config.ProviderAPIKey}, Scopes: []string{"orders:read"}},
	}}, policies.Rules...)
	policies.AccessLog.Output = "off" // the decisions are what this test reads
	g := startGateway(t, harnessOptions{
		shop:     shop.Options{OnCall: log.onCall},
		policies: &policies,
	})
	now := time.Now()
	claims := func(kv ...any) jwt.MapClaims {
		c := jwt.MapClaims{
			"iss": keys.DemoIssuer, "aud": keys.DemoAudience, "sub": "1",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "scope": "orders:read",
		}
		for i := 0; i+1 < len(kv); i += 2 {
			c[kv[i].(string)] = kv[i+1]
		}
		return c
	}
	forged, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	token := func(scope string, at time.Time) string {
		tok, err := demo.Token("1", []string{scope}, time.Hour, at)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	valid := bearer(token("orders:read", now))
	spoof := []string{"X-Consumer-Id", "admin"}
	keyHeader := func(key string) []string { return []string{"X-Api-Key", key} }
	keyAuthz := []string{"Authorization", "ApiKey " + apiKey}

	all := []string{"grpc", "grpc-web", "rest", "graphql"}
	cases := []struct {
		name    string
		target  target
		headers []string
		code    codes.Code
		reason  string
		status  int      // the REST front's HTTP status for a refusal
		fronts  []string // the fronts the policy applies to (the WAF reads REST and GraphQL only)
		repeat  bool     // call until refused (rate limits)
	}{
		{"no token", listOrders, nil, codes.Unauthenticated, "CREDENTIALS_MISSING", 401, all, false},
		{"spoofed identity, no token", listOrders, spoof, codes.Unauthenticated, "CREDENTIALS_MISSING", 401, all, false},
		{"malformed token", listOrders, bearer("not-a-jwt"), codes.Unauthenticated, "TOKEN_MALFORMED", 401, all, false},
		{"bad signature", listOrders, bearer(signDemo(t, claims(), jwt.SigningMethodES256, forged)), codes.Unauthenticated, "TOKEN_SIGNATURE_INVALID", 401, all, false},
		{"alg none", listOrders, bearer(none), codes.Unauthenticated, "TOKEN_ALGORITHM_REFUSED", 401, all, false},
		{"expired", listOrders, bearer(token("orders:read", now.Add(-3*time.Hour))), codes.Unauthenticated, "TOKEN_EXPIRED", 401, all, false},
		{"wrong audience", listOrders, bearer(signDemo(t, claims("aud", "billing"), jwt.SigningMethodES256, nil)), codes.Unauthenticated, "TOKEN_AUDIENCE_INVALID", 401, all, false},
		{"wrong issuer", listOrders, bearer(signDemo(t, claims("iss", "https://evil.invalid"), jwt.SigningMethodES256, nil)), codes.Unauthenticated, "TOKEN_ISSUER_INVALID", 401, all, false},
		{"missing scope", listOrders, bearer(token("users:read", now)), codes.PermissionDenied, "SCOPE_MISSING", 403, all, false},
		{"valid", listOrders, valid, codes.OK, "", 200, all, false},
		{"valid with spoofed identity", listOrders, append(slices.Clone(valid), spoof...), codes.OK, "", 200, all, false},
		{"API key header", listOrders, keyHeader(apiKey), codes.OK, "", 200, all, false},
		{"API key in authorization", listOrders, keyAuthz, codes.OK, "", 200, all, false},
		{"invalid API key", listOrders, keyHeader("not-a-key"), codes.Unauthenticated, "API_KEY_INVALID", 401, all, false},
		// Credentials in two places: the upstream, which gets both, might read the one not verified.
		{"JWT + API key header", listOrders, append(slices.Clone(valid), keyHeader("not-a-key")...), codes.Unauthenticated, "CREDENTIALS_AMBIGUOUS", 401, all, false},
		{"JWT + valid API key header", listOrders, append(slices.Clone(valid), keyHeader(apiKey)...), codes.Unauthenticated, "CREDENTIALS_AMBIGUOUS", 401, all, false},
		{"API key in authorization + other API key header", listOrders, append(slices.Clone(keyAuthz), keyHeader("not-a-key")...), codes.Unauthenticated, "CREDENTIALS_AMBIGUOUS", 401, all, false},
		{"JWT + API key as Grpc-Metadata-", listOrders, append(slices.Clone(valid), "Grpc-Metadata-X-Api-Key", "not-a-key"), codes.Unauthenticated, "CREDENTIALS_AMBIGUOUS", 401, []string{"rest"}, false},
		{"API key in authorization + API key as Grpc-Metadata-", listOrders, append(slices.Clone(keyAuthz), "Grpc-Metadata-X-Api-Key", "not-a-key"), codes.Unauthenticated, "CREDENTIALS_AMBIGUOUS", 401, []string{"rest"}, false},
		{"over the rate limit", getProduct, nil, codes.ResourceExhausted, "", 429, all, true},
		{"waf probe", wafProbe, nil, codes.PermissionDenied, "WAF_BLOCKED", 403, []string{"rest", "graphql"}, false},
		{"oversized body", oversized, nil, codes.ResourceExhausted, "", 413, all, false},
	}
	for _, tc := range cases {
		for _, f := range matrixFronts {
			if !slices.Contains(tc.fronts, f.name) {
				continue
			}
			t.Run(tc.name+"/"+f.name, func(t *testing.T) {
				var got outcome
				admitted := 0
				before, _, _ := log.snapshot()
				for range 10 {
					got = f.call(t, g, tc.target, tc.headers)
					if !tc.repeat || got.code != codes.OK {
						break
					}
					admitted++
				}
				after, consumer, creds := log.snapshot()
				got.reached = after-before > admitted
				t.Logf("%+v (admitted before: %d)", got, admitted)
				if got.code != tc.code {
					t.Fatalf("code %v, want %v (%+v)", got.code, tc.code, got)
				}
				if tc.code == codes.OK {
					if !got.reached {
						t.Fatal("admitted but the backend saw no call")
					}
					if !slices.Equal(consumer, []string{"1"}) {
						t.Errorf("the backend saw x-consumer-id %q, want [1]", consumer)
					}
					// The backend gets the one credential the gateway verified, as sent, if the
					// front passes it on (REST and GraphQL keep a plain X-Api-Key header); never
					// another one.
					if len(creds) > 1 {
						t.Errorf("the backend saw two credentials %v", creds)
					}
					for k, v := range creds {
						if sent := sentValues(tc.headers, k); !slices.Equal(v, sent) {
							t.Errorf("the backend saw %s %q, the client sent %q", k, v, sent)
						}
					}
					return
				}
				if got.reached {
					t.Fatal("LEAK: a refused call reached the backend")
				}
				if got.reason != "" && tc.reason != "" && got.reason != tc.reason {
					t.Errorf("reason %s, want %s", got.reason, tc.reason)
				}
				if f.name == "grpc" && tc.reason != "" && got.reason == "" {
					t.Errorf("no ErrorInfo reason, want %s", tc.reason)
				}
				if f.name == "grpc-web" && got.httpStatus == http.StatusOK { // a trailers-only refusal carries the denial's headers
					if tc.code == codes.Unauthenticated && !strings.HasPrefix(got.header.Get("WWW-Authenticate"), "Bearer realm=") {
						t.Errorf("gRPC-Web: WWW-Authenticate %q, want a Bearer challenge", got.header.Get("WWW-Authenticate"))
					}
					if tc.status == http.StatusTooManyRequests && got.header.Get("Retry-After") == "" {
						t.Error("gRPC-Web: RESOURCE_EXHAUSTED without Retry-After")
					}
				}
				if f.name != "rest" {
					return
				}
				if got.httpStatus != tc.status {
					t.Errorf("HTTP status %d, want %d", got.httpStatus, tc.status)
				}
				if tc.reason != "" && got.reason == "" {
					t.Errorf("no ErrorInfo reason, want %s", tc.reason)
				}
				if tc.code == codes.Unauthenticated && !strings.HasPrefix(got.header.Get("WWW-Authenticate"), "Bearer realm=") {
					t.Errorf("WWW-Authenticate %q, want a Bearer challenge", got.header.Get("WWW-Authenticate"))
				}
				if tc.status == http.StatusTooManyRequests && got.header.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
			})
		}
	}
}

// TestRateLimitHeadersMatrix: every front tells a client how much of a rate limit is left on each
// admitted call, in its own shape: HTTP headers on REST, gRPC-Web and GraphQL, the same names in
// lower case as response header metadata on gRPC (merged with the backend's header). By default
// the fields are those of draft-ietf-httpapi-ratelimit-headers-10, RateLimit and RateLimit-Policy;
// with header_fields draft-06, RateLimit-Limit, -Remaining, -Reset and -Policy. What is left
// counts down with each call, also on a call the backend then fails (NOT_FOUND); the refusal that
// follows says when to retry (Retry-After and the same fields on REST, gRPC-Web and GraphQL,
// RetryInfo on every front). Each front calls with an Authorization of its own, the rule's key,
// so each has a bucket of its own.
func TestRateLimitHeadersMatrix(t *testing.T) {
	for _, fields := range []string{"draft-10", "draft-06"} {
		t.Run(fields, func(t *testing.T) {
			policies := demo.Policies()
			policies.RateLimit.HeaderFields = fields
			policies.Rules = append([]config.PolicyRule{{
				Name:      "matrix-headers",
				Match:     config.PolicyMatch{Method: "/shop.catalog.v1.CatalogService/GetProduct"},
				RateLimit: config.RuleRateLimit{Rate: 3, Per: time.Minute, Burst: 3, Key: "header:authorization"},
			}}, policies.Rules...)
			policies.AccessLog.Output = "off"
			g := startGateway(t, harnessOptions{
				policies: &policies,
			})
			check := rateLimitDraft10
			if fields == "draft-06" {
				check = rateLimitDraft06
			}
			for _, f := range matrixFronts {
				t.Run(f.name, func(t *testing.T) {
					auth := []string{"Authorization", "Bearer rate-limit-" + f.name}
					calls := []struct {
						target target
						code   codes.Code
					}{{getProduct, codes.OK}, {missingProduct, codes.NotFound}, {getProduct, codes.OK}}
					for i, c := range calls {
						got := f.call(t, g, c.target, auth)
						if got.code != c.code {
							t.Fatalf("call %d: code %v, want %v (%+v)", i, got.code, c.code, got)
						}
						check(t, "call "+strconv.Itoa(i), got.header, 2-i, i == 0)
					}
					got := f.call(t, g, getProduct, auth)
					if got.code != codes.ResourceExhausted || !got.retryInfo {
						t.Fatalf("fourth call: %+v, want RESOURCE_EXHAUSTED with RetryInfo", got)
					}
					if f.name != "grpc" { // gRPC has RetryInfo
						if got.header.Get("Retry-After") == "" {
							t.Errorf("refusal headers %v, want Retry-After", got.header)
						}
						check(t, "refusal", got.header, 0, false)
					}
				})
			}
		})
	}
}

// rateLimitField is a RateLimit value of draft 10 for the matrix's rule.
var rateLimitField = regexp.MustCompile(`^"matrix-headers";r=(\d+);t=(\d+)$`)

// rateLimitDraft10 checks the draft-10 fields of the matrix's rule (3 a minute, burst 3) on a
// response that left left tokens: RateLimit-Policy, and RateLimit with what is left and the seconds
// until the bucket is full, 20 exactly after the first call of a fresh bucket (one token's worth),
// at most 60 after any; each once, and none of draft 06's.
func rateLimitDraft10(t *testing.T, what string, h http.Header, left int, fresh bool) {
	t.Helper()
	if v := h.Values("RateLimit-Policy"); len(v) != 1 || v[0] != `"matrix-headers";q=3;w=60` {
		t.Errorf(`%s: RateLimit-Policy %q, want "matrix-headers";q=3;w=60 once (headers %v)`, what, v, h)
	}
	v := h.Values("RateLimit")
	m := rateLimitField.FindStringSubmatch(strings.Join(v, ","))
	if len(v) != 1 || m == nil {
		t.Errorf(`%s: RateLimit %q, want "matrix-headers";r=<left>;t=<seconds> once (headers %v)`, what, v, h)
		return
	}
	if m[1] != strconv.Itoa(left) {
		t.Errorf("%s: RateLimit %q, want r=%d", what, v[0], left)
	}
	if reset, _ := strconv.Atoi(m[2]); reset < 1 || reset > 60 || fresh && reset != 20 {
		t.Errorf("%s: RateLimit %q, want t in 1..60 seconds (20 after the first call)", what, v[0])
	}
	for _, name := range []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
		if v := h.Values(name); len(v) != 0 {
			t.Errorf("%s: %s %q, want none with draft-10", what, name, v)
		}
	}
}

// rateLimitDraft06 checks the draft-06 fields of the matrix's rule on a response that left left
// tokens: each once, and no draft-10 RateLimit.
func rateLimitDraft06(t *testing.T, what string, h http.Header, left int, fresh bool) {
	t.Helper()
	if h.Get("RateLimit-Limit") != "3" || h.Get("RateLimit-Policy") != "3;w=60" {
		t.Errorf("%s: RateLimit-Limit %q, RateLimit-Policy %q; want 3 and 3;w=60 (headers %v)", what, h.Get("RateLimit-Limit"), h.Get("RateLimit-Policy"), h)
	}
	if want := strconv.Itoa(left); h.Get("RateLimit-Remaining") != want {
		t.Errorf("%s: RateLimit-Remaining %q, want %s", what, h.Get("RateLimit-Remaining"), want)
	}
	if reset, err := strconv.Atoi(h.Get("RateLimit-Reset")); err != nil || reset < 1 || reset > 60 || fresh && reset != 20 {
		t.Errorf("%s: RateLimit-Reset %q, want 1..60 seconds (20 after the first call)", what, h.Get("RateLimit-Reset"))
	}
	if v := h.Values("RateLimit-Remaining"); len(v) > 1 {
		t.Errorf("%s: RateLimit-Remaining sent %d times: %q", what, len(v), v)
	}
	if v := h.Values("RateLimit"); len(v) != 0 {
		t.Errorf("%s: RateLimit %q, want none with draft-06", what, v)
	}
}

// sentValues returns the values of the metadata key among header pairs, however the header is
// spelled (canonical, lower case).
func sentValues(headers []string, key string) []string {
	var out []string
	for i := 0; i+1 < len(headers); i += 2 {
		if strings.EqualFold(headers[i], key) {
			out = append(out, headers[i+1])
		}
	}
	return out
}

// reasonOf returns the ErrorInfo reason among a status's details.
func reasonOf(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.Reason
		}
	}
	return ""
}

// retryInfoOf reports whether a status carries a google.rpc.RetryInfo.
func retryInfoOf(st *status.Status) bool {
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.RetryInfo); ok {
			return true
		}
	}
	return false
}

// matrixGRPC calls over native gRPC; the outcome's header is the response header metadata, under
// canonical HTTP names.
func matrixGRPC(t *testing.T, g *gateway, tg target, h []string) outcome {
	ctx := testContext(t)
	for i := 0; i+1 < len(h); i += 2 {
		ctx = metadata.AppendToOutgoingContext(ctx, strings.ToLower(h[i]), h[i+1])
	}
	var md metadata.MD
	err := g.conn.Invoke(ctx, tg.method, tg.req, tg.reply(), grpc.MaxCallSendMsgSize(64<<20), grpc.Header(&md))
	st := status.Convert(err)
	header := http.Header{}
	for k, v := range md {
		header[http.CanonicalHeaderKey(k)] = v
	}
	return outcome{code: st.Code(), reason: reasonOf(st), header: header, retryInfo: retryInfoOf(st)}
}

func matrixGRPCWeb(t *testing.T, g *gateway, tg target, h []string) outcome {
	header := http.Header{}
	putHeaders(header, h)
	resp, r := grpcWebCall(t, g.addr, tg.method, tg.req, false, header)
	o := outcome{httpStatus: resp.StatusCode, header: resp.Header}
	trailer := textproto.MIMEHeader(resp.Header)
	if resp.Header.Get("Grpc-Status") == "" && resp.StatusCode == http.StatusOK { // the status is in the trailer frame
		for {
			f := readWebFrame(t, r)
			if !f.trailer {
				continue
			}
			tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(f.data, '\r', '\n'))))
			var err error
			if trailer, err = tp.ReadMIMEHeader(); err != nil {
				t.Fatalf("trailer block %q: %v", f.data, err)
			}
			break
		}
	}
	if trailer.Get("Grpc-Status") == "" {
		// A refusal before the gRPC-Web protocol started (413): the one error model's JSON body.
		body, _ := io.ReadAll(r)
		o.code, o.reason = rpcStatusOf(t, resp.StatusCode, body)
		return o
	}
	code, err := strconv.Atoi(trailer.Get("Grpc-Status"))
	if err != nil {
		t.Fatalf("grpc-status %q", trailer.Get("Grpc-Status"))
	}
	o.code = codes.Code(code)
	if bin := trailer.Get("Grpc-Status-Details-Bin"); bin != "" {
		raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(bin, "="))
		var sp spb.Status
		if err == nil && proto.Unmarshal(raw, &sp) == nil {
			o.reason = reasonOf(status.FromProto(&sp))
			o.retryInfo = retryInfoOf(status.FromProto(&sp))
		}
	}
	return o
}

// rpcStatusOf reads a google.rpc.Status JSON body: its code and ErrorInfo reason.
func rpcStatusOf(t *testing.T, httpStatus int, data []byte) (codes.Code, string) {
	t.Helper()
	var body struct {
		Code    *int   `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Type   string `json:"@type"`
			Reason string `json:"reason"`
		} `json:"details"`
	}
	if err := json.Unmarshal(data, &body); err != nil || body.Code == nil {
		t.Fatalf("status %d with a body that is not a google.rpc.Status: %.300s", httpStatus, data)
	}
	var reason string
	for _, d := range body.Details {
		if strings.HasSuffix(d.Type, "google.rpc.ErrorInfo") {
			reason = d.Reason
		}
	}
	return codes.Code(*body.Code), reason
}

func matrixREST(t *testing.T, g *gateway, tg target, h []string) outcome {
	resp := newRESTClient(g).do(t, tg.rest[0], tg.rest[1], tg.rest[2], h...)
	o := outcome{httpStatus: resp.status, header: resp.header}
	if resp.status != http.StatusOK {
		o.code, o.reason = rpcStatusOf(t, resp.status, resp.body)
		o.retryInfo = strings.Contains(string(resp.body), `"@type":"type.googleapis.com/google.rpc.RetryInfo"`)
	}
	return o
}

func matrixGraphQL(t *testing.T, g *gateway, tg target, h []string) outcome {
	resp := newRESTClient(g).do(t, http.MethodPost, "/graphql", tg.graphql, h...)
	o := outcome{httpStatus: resp.status, header: resp.header}
	var body struct {
		Data   map[string]json.RawMessage `json:"data"`
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(resp.body, &body); err != nil {
		t.Fatalf("GraphQL response %d is not JSON: %.300s", resp.status, resp.body)
	}
	if body.Data == nil && body.Errors == nil {
		// Even a refusal before execution (413, the WAF) is a GraphQL response.
		t.Fatalf("GraphQL response %d has neither data nor errors: %.300s", resp.status, resp.body)
	}
	if len(body.Errors) == 0 {
		for field, v := range body.Data {
			if string(v) == "null" {
				t.Fatalf("no errors and no data for %s: %s", field, resp.body)
			}
		}
		return o
	}
	name, _ := body.Errors[0].Extensions["code"].(string)
	code, ok := codeByName[name]
	if !ok {
		t.Fatalf("extensions.code %q is not a gRPC code name: %.300s", name, resp.body)
	}
	o.code = code
	if details, ok := body.Errors[0].Extensions["details"].([]any); ok {
		for _, d := range details {
			if m, ok := d.(map[string]any); ok {
				if r, ok := m["reason"].(string); ok {
					o.reason = r
				}
				if m["@type"] == "type.googleapis.com/google.rpc.RetryInfo" {
					o.retryInfo = true
				}
			}
		}
	}
	return o
}

// codeByName maps the GraphQL extensions.code names (UNAUTHENTICATED, PERMISSION_DENIED) to codes.
var codeByName = func() map[string]codes.Code {
	m := map[string]codes.Code{"OK": codes.OK}
	for c := codes.Canceled; c <= codes.Unauthenticated; c++ {
		var b strings.Builder
		for i, r := range c.String() {
			if i > 0 && r >= 'A' && r <= 'Z' {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		}
		m[strings.ToUpper(b.String())] = c
	}
	return m
}()
