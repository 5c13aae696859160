package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/config"
	adminv1 "github.com/protogate/gateway/gen/gateway/admin/v1"
)

// TestAdminCredentials: with policies.auth.admin set, the admin API (JSON and gRPC) answers only
// callers with an admin token; health, readiness and metrics stay open.
func TestAdminCredentials(t *testing.T) {
	const token = "0ps-t0ken"
	sum := sha256.Sum256([]byte(token))
	var p config.Policies
	p.Auth.Admin.Tokens = []config.AdminToken{{Name: "ops", SHA256: hex.EncodeToString(sum[:])}}
	g := startGateway(t, harnessOptions{
		policies: &p,
	})
	get := func(path, auth string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(testContext(t), http.MethodGet, "http://"+g.admin+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("GET %s: 401 without WWW-Authenticate", path)
		}
		return resp.StatusCode
	}
	for _, tc := range []struct {
		path, auth string
		want       int
	}{
		{"/healthz", "", http.StatusOK},
		{"/readyz", "", http.StatusOK},
		{"/v1/registrations", "", http.StatusUnauthorized},
		{"/v1/registrations", "Bearer wrong", http.StatusUnauthorized},
		{"/v1/status", "Bearer " + token, http.StatusOK},
		{"/v1/registrations", "Bearer " + token, http.StatusOK},
	} {
		if got := get(tc.path, tc.auth); got != tc.want {
			t.Errorf("GET %s (%q): %d, want %d", tc.path, tc.auth, got, tc.want)
		}
	}

	conn, err := grpc.NewClient(g.admin, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := adminv1.NewAdminServiceClient(conn)
	ctx := testContext(t)
	if _, err := client.Status(ctx, &adminv1.StatusRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("admin gRPC without a token: %v, want Unauthenticated", err)
	}
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	if _, err := client.Status(ctx, &adminv1.StatusRequest{}); err != nil {
		t.Errorf("admin gRPC with the token: %v", err)
	}
}

// TestAdminJSONStrict: the admin API's JSON refuses a key it does not know (a misspelt dry_run
// must not register for real), and a wrong method gets 405 with the methods the path takes.
func TestAdminJSONStrict(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	do := func(method, path, body string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(testContext(t), method, "http://"+g.admin+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		return doRequest(t, http.DefaultClient, req)
	}
	resp, body := do(http.MethodPost, "/v1/registrations", `{"name": "typo", "endpoints": ["127.0.0.1:1"], "dry-run": true}`)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `unknown field \"dry-run\"`) {
		t.Errorf("POST with an unknown key: %d %s, want 400 naming it", resp.StatusCode, body)
	}
	if _, body := do(http.MethodGet, "/v1/registrations/typo", ""); !strings.Contains(body, `"code":5`) {
		t.Errorf("the refused registration exists: %s", body)
	}
	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodPut, "/v1/registrations", "GET, POST"},
		{http.MethodPost, "/v1/registrations/users", "DELETE, GET"},
		{http.MethodDelete, "/v1/status", "GET"},
	} {
		resp, body := do(tc.method, tc.path, "")
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != tc.allow || !strings.Contains(body, "(allowed: "+tc.allow+")") {
			t.Errorf("%s %s: %d Allow %q %s, want 405 with Allow %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"), body, tc.allow)
		}
	}
}

// TestAdminRefusesCrossSite: a web page cannot drive the admin API from a browser. Its "simple"
// requests (text/plain bodies, sent without a CORS preflight) and anything with a foreign Origin
// are refused and change nothing; clients that are not browsers are served as before.
func TestAdminRefusesCrossSite(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	do := func(method, path, contentType, origin, body string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(testContext(t), method, "http://"+g.admin+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		return doRequest(t, http.DefaultClient, req)
	}
	const rollback = `{"version": "1"}`
	for _, tc := range []struct {
		name, contentType, origin string
		status                    int
	}{
		{"text/plain", "text/plain", "", http.StatusUnsupportedMediaType},
		{"a form", "application/x-www-form-urlencoded", "", http.StatusUnsupportedMediaType},
		{"no content type", "", "", http.StatusUnsupportedMediaType},
		{"JSON from another origin", "application/json", "http://evil.example", http.StatusForbidden},
	} {
		resp, body := do(http.MethodPost, "/v1/registrations/users:rollback", tc.contentType, tc.origin, rollback)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, body, tc.status)
		}
	}
	if resp, body := do(http.MethodGet, "/v1/registrations", "", "http://evil.example", ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET from another origin: %d %s, want 403", resp.StatusCode, body)
	}
	// The admin port's own origin, and no origin at all, are served.
	if resp, body := do(http.MethodGet, "/v1/registrations", "", "http://"+g.admin, ""); resp.StatusCode != http.StatusOK {
		t.Errorf("GET from the admin port's own origin: %d %s, want 200", resp.StatusCode, body)
	}
	if resp, body := do(http.MethodPost, "/v1/registrations/users:rollback", "application/json; charset=utf-8", "", rollback); resp.StatusCode == http.StatusUnsupportedMediaType || resp.StatusCode == http.StatusForbidden {
		t.Errorf("a JSON POST without Origin: %d %s, want it served", resp.StatusCode, body)
	}
	// The Content-Type is asked of requests the API would serve: a method the path does not take
	// is a 405 naming those it does, an unknown path a 404, as curl's bare -X POST finds out.
	for _, tc := range []struct {
		method, path, allow string
		status              int
	}{
		{http.MethodPost, "/v1/status", "GET", http.StatusMethodNotAllowed},
		{http.MethodPut, "/v1/registrations", "GET, POST", http.StatusMethodNotAllowed},
		{http.MethodPost, "/v1/nothing", "", http.StatusNotFound},
	} {
		resp, body := do(tc.method, tc.path, "", "", "")
		if resp.StatusCode != tc.status || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s without a Content-Type: %d Allow %q %s, want %d Allow %q", tc.method, tc.path,
				resp.StatusCode, resp.Header.Get("Allow"), body, tc.status, tc.allow)
		}
	}
}
