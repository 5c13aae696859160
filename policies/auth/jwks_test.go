package auth_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/internal/testlog"
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

// TestJWKSURLsFetchedAtOnce: at start the key sets of several providers' URLs are fetched at once.
// The server answers only once every fetch has arrived, which fetches made one after the other
// never see (each would wait out the client's timeout alone); then every provider's tokens verify
// without fetching again.
func TestJWKSURLsFetchedAtOnce(t *testing.T) {
	const providers = 3
	body := jwksOf(t, key("es"))
	var arrived, served atomic.Int32
	all := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if arrived.Add(1) == providers {
			close(all)
		}
		select {
		case <-all:
		case <-r.Context().Done():
			return
		}
		served.Add(1)
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	cfg := providersAt(srv.URL, providers)
	client := srv.Client()
	client.Timeout = 2 * time.Second
	clk := newClock()
	a, err := auth.NewWithOptions(cfg, auth.WithClock(clk.now), auth.WithHTTPClient(client))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got := served.Load(); got != providers {
		t.Fatalf("%d of %d key sets served at start", got, providers)
	}
	s, err := a.Step(config.RuleAuth{Required: true})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{auth: a, clock: clk}
	for i := range providers {
		tok := key("es").sign(t, e.claims("iss", fmt.Sprintf("https://idp%d.test", i)))
		if err := s.Admit(call(bearer(tok)...)); err != nil {
			t.Errorf("idp%d's token: %v", i, err)
		}
	}
	if got := arrived.Load(); got != providers {
		t.Errorf("%d fetches, want %d", got, providers)
	}
}

// providersAt is testConfig with n JWT providers in its one's place, idp0 to idp<n-1>, each with
// the issuer https://idp<i>.test and its key set at base/idp<i>/jwks.json.
func providersAt(base string, n int) config.Auth {
	cfg := testConfig("")
	one := cfg.JWT[0]
	cfg.JWT = nil
	for i := range n {
		p := one
		p.Name, p.Issuer = fmt.Sprintf("idp%d", i), fmt.Sprintf("https://idp%d.test", i)
		p.JWKSFile, p.JWKSURL = "", fmt.Sprintf("%s/idp%d/jwks.json", base, i)
		cfg.JWT = append(cfg.JWT, p)
	}
	return cfg
}

// TestJWKSURLsNeverAnswering: key set URLs that accept connections and never answer hold the start
// up for one wait all told, even with a client without a timeout; each failed fetch is logged, the
// providers' tokens are refused with TOKEN_KEY_UNKNOWN, and once the URLs answer, the next token
// past jwks_min_refresh fetches its provider's set and verifies.
func TestJWKSURLsNeverAnswering(t *testing.T) {
	const providers = 3
	body := jwksOf(t, key("es"))
	var answering atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !answering.Load() {
			<-r.Context().Done() // until the gateway gives up
			return
		}
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	cfg := providersAt(srv.URL, providers)
	var logged testlog.Buffer
	clk := newClock()
	a, err := auth.NewWithOptions(cfg, auth.WithClock(clk.now), auth.WithHTTPClient(&http.Client{}),
		auth.WithStartWait(100*time.Millisecond), auth.WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
	if err != nil {
		t.Fatalf("URLs not answering at start: %v", err)
	}
	defer a.Close()
	if n := strings.Count(logged.String(), "cannot load JWT key set"); n != providers {
		t.Errorf("%d failed fetches logged, want %d:\n%s", n, providers, logged.String())
	}
	s, err := a.Step(config.RuleAuth{Required: true})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{auth: a, clock: clk}
	tok := key("es").sign(t, e.claims("iss", "https://idp0.test"))
	// A token before the URL answers fetches again (cut short here by its call's end), and is
	// refused.
	c := call(bearer(tok)...)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.Ctx = ctx
	if r := refusalOf(t, s.Admit(c)); r.reason != "TOKEN_KEY_UNKNOWN" {
		t.Errorf("token before its key set was fetched: %s, want TOKEN_KEY_UNKNOWN", r.reason)
	}
	answering.Store(true)
	if r := refusalOf(t, s.Admit(call(bearer(tok)...))); r.reason != "TOKEN_KEY_UNKNOWN" {
		t.Errorf("token within jwks_min_refresh of the last fetch: %s, want TOKEN_KEY_UNKNOWN", r.reason)
	}
	clk.advance(config.DefaultJWKSMinRefresh)
	if err := s.Admit(call(bearer(tok)...)); err != nil {
		t.Errorf("token once its key set URL answers: %v", err)
	}
}

// TestJWKSWaitEndsWithItsContext: the wait for a key set URL that accepts connections and never
// answers ends when WithContext's context does (a gateway told to stop while it starts), not when
// the start's wait would.
func TestJWKSWaitEndsWithItsContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // accepts, never answers, and stops the start once the fetch has connected
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		cancel()
		_, _ = io.Copy(io.Discard, c)
	}()
	built := make(chan error, 1)
	go func() {
		a, err := auth.NewWithOptions(providersAt("http://"+ln.Addr().String(), 1), auth.WithHTTPClient(&http.Client{}),
			auth.WithStartWait(time.Hour), auth.WithContext(ctx), auth.WithLogger(slog.New(slog.DiscardHandler)))
		if err == nil {
			a.Close()
		}
		built <- err
	}()
	select {
	case err := <-built:
		if err != nil {
			t.Errorf("a key set URL not answering at start: %v, want the authenticator", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("NewWithOptions still waits for the key set 20s after its context ended")
	}
}

// TestPreviousKeysKept: an authenticator built to replace another (a reload that changed the auth
// section) while an identity provider is down starts with the keys the other held from the same
// provider's URL, so its tokens go on verifying; a provider whose URL changed does not.
func TestPreviousKeysKept(t *testing.T) {
	srv := newJWKSServer(t, jwksOf(t, key("es")))
	cfg := testConfig("")
	cfg.JWT[0].JWKSFile, cfg.JWT[0].JWKSURL = "", srv.URL+"/jwks.json"
	clk := newClock()
	opts := []auth.Option{auth.WithClock(clk.now), auth.WithHTTPClient(srv.Client()), auth.WithLogger(slog.New(slog.DiscardHandler))}
	before, err := auth.NewWithOptions(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	tok := key("es").sign(t, (&env{clock: clk}).claims())

	srv.set(nil) // the identity provider goes down; the reload adds an API key
	cfg.APIKeys.Keys = append(cfg.APIKeys.Keys, config.APIKey{Consumer: "new-bot", SHA256: digest("new-key")})
	for _, tc := range []struct {
		name string
		url  string
		opts []auth.Option
		want string
	}{
		{"replacing", srv.URL + "/jwks.json", []auth.Option{auth.WithPrevious(before)}, "OK"},
		{"without the previous", srv.URL + "/jwks.json", nil, "TOKEN_KEY_UNKNOWN"},
		{"at another URL", srv.URL + "/other.json", []auth.Option{auth.WithPrevious(before)}, "TOKEN_KEY_UNKNOWN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			c.JWT = []config.JWTProvider{cfg.JWT[0]}
			c.JWT[0].JWKSURL = tc.url
			after, err := auth.NewWithOptions(c, append(append([]auth.Option(nil), opts...), tc.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer after.Close()
			s, err := after.Step(config.RuleAuth{Required: true})
			if err != nil {
				t.Fatal(err)
			}
			got := "OK"
			if err := s.Admit(call(bearer(tok)...)); err != nil {
				got = refusalOf(t, err).reason
			}
			if got != tc.want {
				t.Errorf("a token of the provider's key: %s, want %s", got, tc.want)
			}
		})
	}
}
