package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/auth"
)

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// jwksServer serves a key set that tests swap, counting fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	fetches atomic.Int32
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	s := &jwksServer{body: body}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		body := s.body
		s.mu.Unlock()
		if body == nil {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(body []byte) {
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

// TestJWKSRotation: a key set published at a URL rotates without a restart. A token naming a new
// key id makes the gateway fetch the set (once per jwks_min_refresh); a key that drops out of the
// set stops verifying, cached verifications included; a failed fetch keeps the keys.
func TestJWKSRotation(t *testing.T) {
	srv := newJWKSServer(t, jwksOf(t, key("es")))
	clk := newClock()
	cfg := testConfig("")
	cfg.JWT[0].JWKSFile, cfg.JWT[0].JWKSURL = "", srv.URL+"/jwks.json"
	cfg.JWT[0].JWKSRefresh, cfg.JWT[0].JWKSMinRefresh = time.Hour, 10*time.Second
	a, err := auth.NewWithOptions(cfg, auth.WithClock(clk.now), auth.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s, err := a.Step(config.RuleAuth{Required: true})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{auth: a, clock: clk}
	old := key("es").sign(t, e.claims())
	next := key("es2").sign(t, e.claims())
	admit := func(tok string) string {
		t.Helper()
		err := s.Admit(call(bearer(tok)...))
		if err == nil {
			return "OK"
		}
		return refusalOf(t, err).reason
	}

	if got := srv.fetches.Load(); got != 1 {
		t.Fatalf("%d fetches at start, want 1", got)
	}
	if got := admit(old); got != "OK" {
		t.Fatalf("old key: %s", got)
	}
	// The issuer starts signing with es-2 before the gateway fetched it: the unknown kid fetches.
	srv.set(jwksOf(t, key("es"), key("es2")))
	if got := admit(next); got != "OK" {
		t.Fatalf("new key after rotation: %s", got)
	}
	if got := srv.fetches.Load(); got != 2 {
		t.Errorf("%d fetches after an unknown kid, want 2", got)
	}
	// Unknown kids again within jwks_min_refresh do not fetch again.
	rogue := key("es384").sign(t, e.claims())
	for range 5 {
		if got := admit(rogue); got != "TOKEN_KEY_UNKNOWN" {
			t.Fatalf("unknown kid: %s", got)
		}
	}
	if got := srv.fetches.Load(); got != 2 {
		t.Errorf("%d fetches after repeated unknown kids within min refresh, want 2", got)
	}
	clk.advance(11 * time.Second)
	if got := admit(rogue); got != "TOKEN_KEY_UNKNOWN" {
		t.Fatalf("unknown kid: %s", got)
	}
	if got := srv.fetches.Load(); got != 3 {
		t.Errorf("%d fetches after min refresh passed, want 3", got)
	}

	// A failed fetch keeps the keys.
	srv.set(nil)
	if err := a.Refresh(context.Background()); err == nil {
		t.Error("Refresh against a failing server returned nil")
	}
	if got := admit(old); got != "OK" {
		t.Errorf("old key after a failed fetch: %s", got)
	}
	// es-1 drops out: its tokens, verified and cached before, stop verifying; es-2 goes on.
	srv.set(jwksOf(t, key("es2")))
	if err := a.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := admit(old); got != "TOKEN_KEY_UNKNOWN" {
		t.Errorf("token of a retired key: %s, want TOKEN_KEY_UNKNOWN", got)
	}
	if got := admit(next); got != "OK" {
		t.Errorf("token of the current key: %s", got)
	}
}

// TestJWKSFileRotation: a key set file is read again when a token names a key id it lacked.
func TestJWKSFileRotation(t *testing.T) {
	e := newEnv(t)
	s := e.step(t, config.RuleAuth{Required: true})
	tok := key("es2").sign(t, e.claims())
	if r := refusalOf(t, s.Admit(call(bearer(tok)...))); r.reason != "TOKEN_KEY_UNKNOWN" {
		t.Fatalf("before rotation: %s", r.reason)
	}
	writeJWKS(t, e.jwks, key("es"), key("es2"))
	e.clock.advance(config.DefaultJWKSMinRefresh)
	if err := s.Admit(call(bearer(tok)...)); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
}

// TestNewErrors: keys that cannot be loaded at start are reported, for files; a URL that does not
// answer yet is not fatal.
func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"not json":    "{",
		"no keys":     `{}`,
		"private key": `{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA","d":"AA"}]}`,
		"short rsa":   `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`,
		"bad point":   `{"keys":[{"kty":"EC","crv":"P-256","x":"` + strings.Repeat("A", 43) + `","y":"` + strings.Repeat("A", 43) + `"}]}`,
	} {
		path := dir + "/" + strings.ReplaceAll(name, " ", "_") + ".json"
		writeFile(t, path, body)
		if a, err := auth.New(testConfig(path)); err == nil {
			a.Close()
			t.Errorf("%s: New succeeded", name)
		}
	}
	if a, err := auth.New(testConfig(dir + "/missing.json")); err == nil {
		a.Close()
		t.Error("missing key file: New succeeded")
	}
	srv := newJWKSServer(t, nil)
	cfg := testConfig("")
	cfg.JWT[0].JWKSFile, cfg.JWT[0].JWKSURL = "", srv.URL
	a, err := auth.NewWithOptions(cfg, auth.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatalf("URL not answering at start: %v", err)
	}
	a.Close()
}
