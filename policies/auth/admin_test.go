package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/config"
)

const adminToken = "admin-t0ken-for-tests"

// TestAdminMiddleware: the admin API answers only callers with an admin token.
func TestAdminMiddleware(t *testing.T) {
	e := newEnv(t, func(a *config.Auth) { a.Admin.Tokens = []config.AdminToken{{Name: "ops", SHA256: digest(adminToken)}} })
	mw := e.auth.AdminMiddleware()
	if mw == nil {
		t.Fatal("AdminMiddleware is nil with admin tokens configured")
	}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	for _, tc := range []struct {
		name   string
		header []string
		want   int
		reason string // of the refusal
	}{
		{"no token", nil, http.StatusUnauthorized, "ADMIN_CREDENTIALS_REQUIRED"},
		{"empty bearer", []string{"Authorization", "Bearer "}, http.StatusUnauthorized, "ADMIN_CREDENTIALS_REQUIRED"},
		{"wrong token", []string{"Authorization", "Bearer nope"}, http.StatusUnauthorized, "ADMIN_TOKEN_INVALID"},
		{"api key as admin", []string{"X-Api-Key", testAPIKey}, http.StatusUnauthorized, "ADMIN_TOKEN_INVALID"},
		{"two tokens", []string{"Authorization", "Bearer nope", "Authorization", "Bearer " + adminToken}, http.StatusUnauthorized, "ADMIN_CREDENTIALS_AMBIGUOUS"},
		{"token and key", []string{"Authorization", "Bearer " + adminToken, "X-Api-Key", adminToken}, http.StatusUnauthorized, "ADMIN_CREDENTIALS_AMBIGUOUS"},
		{"bearer", []string{"Authorization", "Bearer " + adminToken}, http.StatusOK, ""},
		{"api key header", []string{"X-Api-Key", adminToken}, http.StatusOK, ""},
	} {
		r := httptest.NewRequest(http.MethodGet, "/v1/registrations", nil)
		for i := 0; i+1 < len(tc.header); i += 2 {
			r.Header.Add(tc.header[i], tc.header[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, w.Code, tc.want)
		}
		if tc.want == http.StatusUnauthorized {
			if w.Header().Get("WWW-Authenticate") == "" || !strings.Contains(w.Body.String(), `"code":16`) {
				t.Errorf("%s: 401 without challenge or google.rpc.Status body: %v %s", tc.name, w.Header(), w.Body)
			}
			if !strings.Contains(w.Body.String(), `"reason":"`+tc.reason+`"`) {
				t.Errorf("%s: %s, want reason %s", tc.name, w.Body, tc.reason)
			}
		}
	}

	unary := e.auth.AdminUnaryInterceptor()
	stream := e.auth.AdminStreamInterceptor()
	if unary == nil || stream == nil {
		t.Fatal("admin interceptors are nil with admin tokens configured")
	}
	handler := func(context.Context, any) (any, error) { return "ok", nil }
	for _, tc := range []struct {
		md   metadata.MD
		want codes.Code
	}{
		{nil, codes.Unauthenticated},
		{metadata.Pairs("authorization", "Bearer wrong"), codes.Unauthenticated},
		{metadata.Pairs("authorization", "Bearer "+adminToken, "authorization", "Bearer "+adminToken), codes.Unauthenticated},
		{metadata.Pairs("authorization", "Bearer "+adminToken), codes.OK},
	} {
		ctx := metadata.NewIncomingContext(context.Background(), tc.md)
		_, err := unary(ctx, nil, &grpc.UnaryServerInfo{FullMethod: "/gateway.admin.v1.AdminService/ListRegistrations"}, handler)
		if got := status.Code(err); got != tc.want {
			t.Errorf("unary with %v: %v, want %v", tc.md, got, tc.want)
		}
		err = stream(nil, fakeStream{ctx}, &grpc.StreamServerInfo{}, func(any, grpc.ServerStream) error { return nil })
		if got := status.Code(err); got != tc.want {
			t.Errorf("stream with %v: %v, want %v", tc.md, got, tc.want)
		}
	}

	open := newEnv(t)
	if open.auth.AdminMiddleware() != nil || open.auth.AdminUnaryInterceptor() != nil || open.auth.AdminStreamInterceptor() != nil {
		t.Error("admin guards are not nil without admin tokens")
	}
}

type fakeStream struct{ ctx context.Context }

func (f fakeStream) Context() context.Context   { return f.ctx }
func (fakeStream) SetHeader(metadata.MD) error  { return nil }
func (fakeStream) SendHeader(metadata.MD) error { return nil }
func (fakeStream) SetTrailer(metadata.MD)       {}
func (fakeStream) SendMsg(any) error            { return nil }
func (fakeStream) RecvMsg(any) error            { return nil }
