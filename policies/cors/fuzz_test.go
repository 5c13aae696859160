package cors_test

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"

	"github.com/protogate/gateway/policies/policy"
)

// fuzzOrigins are the allowed origins of the fuzz targets (exact, any port, any subdomain, IPv6),
// each also in parts: a host "*.name" is any subdomain of name, a port "*" any port or none.
var fuzzOrigins = []struct{ origin, scheme, host, port string }{
	{"http://localhost:*", "http", "localhost", "*"},
	{"http://127.0.0.1:*", "http", "127.0.0.1", "*"},
	{"https://*.example.com", "https", "*.example.com", ""},
	{"https://app.example.org", "https", "app.example.org", ""},
	{"https://api.example.net:8443", "https", "api.example.net", "8443"},
	{"http://[::1]:*", "http", "::1", "*"},
}

// FuzzOrigin checks which Origin headers the policy allows, by an actual request and by a
// preflight alike, against a slow matcher: the origin, read by net/url, is one a browser could send
// (scheme://host[:port], a host of non-empty lower-case labels or an IPv6 address, a port in
// 1..65535 without leading zeros), and matches an allowed origin part by part.
func FuzzOrigin(f *testing.F) {
	for _, s := range []string{"http://localhost:3000", "http://localhost", "http://127.0.0.1:5173", "https://app.example.com",
		"https://a.b.example.com", "https://app.example.org", "https://example.com", "https://evilexample.com",
		"https://example.com.evil", "http://app.example.com", "https://app.example.org:8443", "https://app.example.org.evil",
		"http://localhost.evil:3000", "http://localhost:3000@evil.com", "http://localhost:3000/x", "http://localhost:",
		"http://localhost:123456", "http://local_host:3000", "http://[::1]:3000", "http://[::1", "null",
		"https://api.example.net:8443", "HTTPS://APP.EXAMPLE.COM"} {
		f.Add(s)
	}
	var origins []string
	for _, o := range fuzzOrigins {
		origins = append(origins, strconv.Quote(o.origin))
	}
	mw := middleware(f, "    allowed_origins: ["+strings.Join(origins, ", ")+"]\n")
	h := mw(policy.FrontREST, &front{})
	f.Fuzz(func(t *testing.T, origin string) {
		if !httpguts.ValidHeaderFieldValue(origin) || origin != strings.Trim(origin, " \t") {
			return // net/http refuses it, or trims it
		}
		want := slowAllowed(origin)
		w := serve(h, http.MethodGet, "/v1/products/p1", "Origin", origin)
		if got := slices.Equal(w.Header()["Access-Control-Allow-Origin"], []string{origin}); got != want {
			t.Fatalf("Origin %q: allowed %v, want %v", origin, got, want)
		}
		w = serve(h, http.MethodOptions, "/v1/products/p1", "Origin", origin, "Access-Control-Request-Method", "GET")
		if got := w.Code == http.StatusNoContent; got != want {
			t.Fatalf("Origin %q: preflight %d, want allowed %v", origin, w.Code, want)
		}
	})
}

// slowAllowed reports whether origin is a browser's origin that fuzzOrigins allow.
func slowAllowed(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Opaque != "" || u.User != nil || u.RawPath != "" || u.Path != "" || u.RawQuery != "" ||
		u.ForceQuery || u.Fragment != "" || origin != u.Scheme+"://"+u.Host {
		return false
	}
	host, port := u.Hostname(), u.Port()
	if strings.HasSuffix(u.Host, ":") || port != "" && !goodPort(port) || !goodHost(host, u.Host) {
		return false
	}
	for _, o := range fuzzOrigins {
		hostOK := host == o.host
		if sub, ok := strings.CutPrefix(o.host, "*"); ok {
			hostOK = strings.HasSuffix(host, sub)
		}
		if u.Scheme == o.scheme && hostOK && (o.port == "*" || port == o.port) {
			return true
		}
	}
	return false
}

// goodHost reports whether host (hostport's, as net/url reads it) is a name of non-empty labels
// of lower-case letters, digits and '-', or an IPv6 address in brackets.
func goodHost(host, hostport string) bool {
	if strings.HasPrefix(hostport, "[") {
		ip := net.ParseIP(host)
		return ip != nil && strings.Contains(host, ":") && host == strings.ToLower(host)
	}
	labels := strings.Split(host, ".")
	return !slices.ContainsFunc(labels, func(l string) bool {
		return l == "" || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-") != ""
	})
}

// goodPort reports whether port is a port as browsers write one: 1..65535, no leading zero.
func goodPort(port string) bool {
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535 && strconv.Itoa(n) == port
}

// FuzzPreflightHeaders checks the reading of Access-Control-Request-Headers: a preflight is allowed
// exactly when every comma-separated name, without the spaces and tabs around it (HTTP's optional
// whitespace) and in any ASCII case, is an allowed one (or empty).
func FuzzPreflightHeaders(f *testing.F) {
	for _, s := range []string{"content-type", "content-type, x-secret", "Content-Type,AUTHORIZATION", " , ,", "",
		"x-grpc-web,x-user-agent,grpc-timeout", "content-type\t,\tauthorization", "content-type;", "content-type x",
		"X-API-KEY", "x-api-\u212aey"} {
		f.Add(s)
	}
	mw := middleware(f, "    allowed_origins: [\"https://app.example.org\"]\n    allowed_headers: [\"content-type\", \"authorization\", \"x-grpc-web\", \"x-user-agent\", \"grpc-timeout\", \"X-Api-Key\"]\n")
	h := mw(policy.FrontREST, &front{})
	allowed := []string{"content-type", "authorization", "x-grpc-web", "x-user-agent", "grpc-timeout", "x-api-key"}
	f.Fuzz(func(t *testing.T, requested string) {
		if !httpguts.ValidHeaderFieldValue(requested) {
			return // net/http refuses it
		}
		want := true
		for name := range strings.SplitSeq(requested, ",") {
			name = asciiLower(strings.Trim(name, " \t"))
			want = want && (name == "" || slices.Contains(allowed, name))
		}
		w := serve(h, http.MethodOptions, "/v1/orders", "Origin", "https://app.example.org",
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", requested)
		if got := w.Code == http.StatusNoContent; got != want {
			t.Fatalf("Access-Control-Request-Headers %q: preflight %d, want allowed %v", requested, w.Code, want)
		}
	})
}

// asciiLower lower-cases the ASCII letters of s, and only those.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
