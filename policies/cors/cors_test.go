package cors_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/cors"
	"github.com/protogate/gateway/policies/policy"
)

// middleware compiles the cors section of yaml, as the gateway does after loading the file.
func middleware(t testing.TB, yaml string) policy.Middleware {
	t.Helper()
	c, err := config.Parse("gateway.yaml", []byte("policies:\n  cors:\n"+yaml))
	if err != nil {
		t.Fatal(err)
	}
	mw, err := cors.New(c.Policies.CORS)
	if err != nil || mw == nil {
		t.Fatalf("cors.New = %v, %v", mw, err)
	}
	return mw
}

const demoLike = `
    allowed_origins: ["http://localhost:*", "http://127.0.0.1:*", "https://*.example.com", "https://app.example.org"]
    allow_credentials: true
    max_age: 2h
`

// front is the handler behind the middleware: it records that it ran and sends a gRPC-Web style
// response with upstream metadata.
type front struct{ calls int }

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls++
	w.Header().Set("Grpc-Metadata-X-Trace", "t1")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{}`))
}

func serve(h http.Handler, method, target string, headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestOrigins(t *testing.T) {
	mw := middleware(t, demoLike)
	for origin, want := range map[string]bool{
		"http://localhost:3000":          true,
		"http://localhost":               true, // ":*" also matches no port
		"http://127.0.0.1:5173":          true,
		"https://app.example.com":        true,
		"https://a.b.example.com":        true,
		"https://app.example.org":        true,
		"https://example.com":            false, // "*." needs a subdomain
		"https://evilexample.com":        false,
		"https://example.com.evil":       false,
		"http://app.example.com":         false, // scheme
		"https://app.example.org:8443":   false, // port
		"https://app.example.org.evil":   false,
		"http://localhost.evil:3000":     false,
		"http://localhost:3000@evil.com": false, // not an origin: the port is not a number
		"http://localhost:3000/x":        false,
		"http://localhost:":              false,
		"http://localhost:123456":        false,
		"http://localhost:99999":         false, // no port
		"http://localhost:0":             false,
		"http://localhost:03000":         false, // not as a browser writes it
		"https://a..example.com":         false, // an empty label
		"https://.example.com":           false,
		"https://App.example.com":        false, // browsers write hosts in lower case
		"http://local_host:3000":         false,
		"http://[::1]:3000":              false, // not in the list
		"http://[::1":                    false,
		"null":                           false,
	} {
		f := &front{}
		w := serve(mw(policy.FrontREST, f), http.MethodGet, "/v1/products/p1", "Origin", origin)
		got := w.Header().Get("Access-Control-Allow-Origin")
		switch {
		case want && got != origin:
			t.Errorf("%s: Access-Control-Allow-Origin %q, want the origin", origin, got)
		case !want && got != "":
			t.Errorf("%s: Access-Control-Allow-Origin %q, want none", origin, got)
		}
		if f.calls != 1 {
			t.Errorf("%s: the front ran %d times, want 1 (CORS does not refuse actual requests)", origin, f.calls)
		}
		if v := w.Header().Get("Vary"); v != "Origin" {
			t.Errorf("%s: Vary %q, want Origin", origin, v)
		}
	}
}

func TestActualRequestHeaders(t *testing.T) {
	f := &front{}
	w := serve(middleware(t, demoLike)(policy.FrontGRPCWeb, f), http.MethodPost, "/shop.catalog.v1.CatalogService/GetProduct",
		"Origin", "http://localhost:3000", "Content-Type", "application/grpc-web+proto")
	h := w.Header()
	if h.Get("Access-Control-Allow-Origin") != "http://localhost:3000" || h.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("headers %v", h)
	}
	exposed := h.Get("Access-Control-Expose-Headers")
	names := strings.Split(exposed, ", ")
	// The rate-limit fields of both header_fields styles: draft-10's and draft-06's.
	for _, name := range []string{"grpc-status", "grpc-message", "grpc-status-details-bin", "www-authenticate", "retry-after",
		"ratelimit", "ratelimit-policy", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "grpc-metadata-x-trace"} {
		if !slices.Contains(names, name) {
			t.Errorf("Access-Control-Expose-Headers %q lacks %s", exposed, name)
		}
	}
	if h.Get("Access-Control-Allow-Methods") != "" || h.Get("Access-Control-Max-Age") != "" {
		t.Errorf("preflight headers on an actual response: %v", h)
	}
}

func TestNoOriginUntouched(t *testing.T) {
	f := &front{}
	w := serve(middleware(t, demoLike)(policy.FrontREST, f), http.MethodOptions, "/v1/products/p1")
	if f.calls != 1 || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a request without Origin: front ran %d times, headers %v", f.calls, w.Header())
	}
}

// TestGRPCWebPreflight is what a gRPC-Web client's browser sends before its first call.
func TestGRPCWebPreflight(t *testing.T) {
	f := &front{}
	w := serve(middleware(t, demoLike)(policy.FrontGRPCWeb, f), http.MethodOptions, "/shop.catalog.v1.CatalogService/GetProduct",
		"Origin", "http://localhost:8081",
		"Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "content-type,x-grpc-web,x-user-agent,grpc-timeout")
	if f.calls != 0 {
		t.Fatal("the preflight reached the front")
	}
	if w.Code != http.StatusNoContent {
		t.Fatalf("status %d %s, want 204", w.Code, w.Body)
	}
	h := w.Header()
	for k, want := range map[string]string{
		"Access-Control-Allow-Origin":      "http://localhost:8081",
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Methods":     "GET, HEAD, POST, PUT, PATCH, DELETE",
		"Access-Control-Max-Age":           "7200",
		"Vary":                             "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	allowed := h.Get("Access-Control-Allow-Headers")
	for _, name := range []string{"content-type", "x-grpc-web", "x-user-agent", "grpc-timeout", "authorization"} {
		if !strings.Contains(allowed, name) {
			t.Errorf("Access-Control-Allow-Headers %q lacks %s", allowed, name)
		}
	}
}

// TestGraphQLPreflight is what a browser sends before POSTing a GraphQL document as JSON.
func TestGraphQLPreflight(t *testing.T) {
	f := &front{}
	h := middleware(t, demoLike)(policy.FrontGraphQL, f)
	w := serve(h, http.MethodOptions, "/graphql",
		"Origin", "https://studio.example.com",
		"Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "Content-Type, Authorization")
	if w.Code != http.StatusNoContent || f.calls != 0 || w.Header().Get("Access-Control-Allow-Origin") != "https://studio.example.com" {
		t.Fatalf("status %d, front ran %d times, headers %v", w.Code, f.calls, w.Header())
	}
	w = serve(h, http.MethodPost, "/graphql", "Origin", "https://studio.example.com", "Content-Type", "application/json")
	if f.calls != 1 || w.Header().Get("Access-Control-Allow-Origin") != "https://studio.example.com" {
		t.Errorf("the POST after the preflight: front ran %d times, headers %v", f.calls, w.Header())
	}
}

func TestPreflightRefused(t *testing.T) {
	mw := middleware(t, demoLike)
	for _, tc := range []struct {
		name, origin, method, headers, want string
	}{
		{"origin", "https://evil.test", "POST", "content-type", `origin "https://evil.test" is not allowed`},
		{"method", "http://localhost:3000", "PROPFIND", "", `method "PROPFIND" is not allowed`},
		{"header", "http://localhost:3000", "POST", "content-type, x-secret", `header "x-secret" is not allowed`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &front{}
			headers := []string{"Origin", tc.origin, "Access-Control-Request-Method", tc.method}
			if tc.headers != "" {
				headers = append(headers, "Access-Control-Request-Headers", tc.headers)
			}
			w := serve(mw(policy.FrontREST, f), http.MethodOptions, "/v1/orders", headers...)
			if w.Code != http.StatusForbidden || f.calls != 0 {
				t.Fatalf("status %d, front ran %d times; want 403 without the front", w.Code, f.calls)
			}
			for k := range w.Header() {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Errorf("refused preflight carries %s", k)
				}
			}
			var st struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || st.Code != 7 || !strings.Contains(st.Message, tc.want) {
				t.Errorf("body %s (%v), want a PERMISSION_DENIED status saying %s", w.Body, err, tc.want)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestAnyOrigin(t *testing.T) {
	mw := middleware(t, `
    allowed_origins: ["*"]
    allowed_headers: ["*"]
    exposed_headers: [x-total]
`)
	f := &front{}
	w := serve(mw(policy.FrontREST, f), http.MethodOptions, "/v1/products",
		"Origin", "https://anyone.test", "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "x-anything")
	if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != "*" ||
		w.Header().Get("Access-Control-Allow-Headers") != "x-anything" || w.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("status %d, headers %v", w.Code, w.Header())
	}
	w = serve(mw(policy.FrontREST, f), http.MethodGet, "/v1/products", "Origin", "https://anyone.test")
	if w.Header().Get("Access-Control-Allow-Origin") != "*" || w.Header().Get("Vary") != "" ||
		w.Header().Get("Access-Control-Expose-Headers") != "x-total" {
		t.Errorf("headers %v: want *, no Vary (one answer for all origins), only the configured exposed header", w.Header())
	}
}

func TestOff(t *testing.T) {
	if mw, err := cors.New(config.CORS{}); mw != nil || err != nil {
		t.Errorf("New(zero) = %v, %v; want nil, nil", mw, err)
	}
	if _, err := cors.New(config.CORS{AllowedOrigins: []string{"*"}, AllowCredentials: true}); err == nil {
		t.Error(`New accepted "*" with credentials`)
	}
}

// TestStreamingFlushes: the writer that adds prefixed exposed headers keeps a streaming front's
// flushes working.
func TestStreamingFlushes(t *testing.T) {
	h := middleware(t, demoLike)(policy.FrontGraphQL, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte("data: 1\n\n"))
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
	}))
	w := serve(h, http.MethodPost, "/graphql", "Origin", "http://localhost:3000")
	if !w.Flushed {
		t.Error("not flushed")
	}
}

func BenchmarkActualRequest(b *testing.B) {
	h := middleware(b, demoLike)(policy.FrontREST, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest(http.MethodGet, "/v1/products/p1", nil)
	r.Header.Set("Origin", "http://localhost:3000")
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// hookWriter is an outer middleware's writer that runs a policy.HeaderHook itself, as the
// telemetry's does.
type hookWriter struct {
	http.ResponseWriter
	hook policy.HeaderHook
}

func (w *hookWriter) SetHeaderHook(h policy.HeaderHook) bool {
	if w.hook != nil {
		return false
	}
	w.hook = h
	return true
}

func (w *hookWriter) run() {
	if h := w.hook; h != nil {
		w.hook = nil
		h.BeforeHeader(w.Header())
	}
}

func (w *hookWriter) WriteHeader(code int) { w.run(); w.ResponseWriter.WriteHeader(code) }
func (w *hookWriter) Write(b []byte) (int, error) {
	w.run()
	return w.ResponseWriter.Write(b)
}

// TestExposeThroughHookWriter: behind a writer that runs the hook, the exposed names are the same
// as with the middleware's own writer, for one matching header (a cached value) and for several.
func TestExposeThroughHookWriter(t *testing.T) {
	h := middleware(t, demoLike)(policy.FrontGRPCWeb, &front{})
	two := middleware(t, demoLike)(policy.FrontREST, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Grpc-Metadata-A", "1")
		w.Header().Set("Grpc-Metadata-B", "2")
		w.WriteHeader(http.StatusOK)
	}))
	for i := 0; i < 3; i++ {
		for _, c := range []struct {
			h     http.Handler
			names []string
		}{{h, []string{"grpc-metadata-x-trace"}}, {two, []string{"grpc-metadata-a", "grpc-metadata-b"}}} {
			r := httptest.NewRequest(http.MethodPost, "/x", nil)
			r.Header.Set("Origin", "https://app.example.org")
			rec := httptest.NewRecorder()
			hw := &hookWriter{ResponseWriter: rec}
			c.h.ServeHTTP(hw, r)
			hdr := rec.Header()
			if got := hdr.Get("Access-Control-Allow-Origin"); got != "https://app.example.org" {
				t.Errorf("Access-Control-Allow-Origin %q", got)
			}
			exposed := hdr.Get("Access-Control-Expose-Headers")
			for _, name := range append(c.names, "grpc-status", "retry-after") {
				if !strings.Contains(exposed, name) {
					t.Errorf("Access-Control-Expose-Headers %q lacks %s", exposed, name)
				}
			}
			if hw.hook != nil {
				t.Error("the hook did not run")
			}
		}
	}
}

// TestExposeEveryHeader: "*" in exposed_headers exposes every header of the response by name, as a
// gRPC-Web page needs to read the upstream's own metadata (x-request-id).
func TestExposeEveryHeader(t *testing.T) {
	mw := middleware(t, `
    allowed_origins: ["https://app.example.org"]
    allow_credentials: true
    exposed_headers: ["*"]
`)
	h := mw(policy.FrontGRPCWeb, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "r1")
		w.Header().Set("Grpc-Status", "0")
		w.WriteHeader(http.StatusOK)
	}))
	w := serve(h, http.MethodPost, "/a.B/C", "Origin", "https://app.example.org")
	exposed := strings.ToLower(w.Header().Get("Access-Control-Expose-Headers"))
	for _, name := range []string{"x-request-id", "grpc-status"} {
		if !strings.Contains(exposed, name) {
			t.Errorf("Access-Control-Expose-Headers %q lacks %s", exposed, name)
		}
	}
}
