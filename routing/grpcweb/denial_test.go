package grpcweb_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/routing/grpcweb"
)

// headerError is a refusal that asks the HTTP fronts for response headers, as a policy's denial does.
type headerError struct {
	st     *status.Status
	header http.Header
}

func (e *headerError) Error() string              { return e.st.Message() }
func (e *headerError) GRPCStatus() *status.Status { return e.st }
func (e *headerError) HTTPHeader() http.Header    { return e.header }

// TestErrorHeaders checks that a call refused before anything was sent gets the HTTP headers its
// error asks for (WWW-Authenticate, Retry-After) with its trailers-only response, also when the
// error is wrapped, and that a refusal after the headers went out still ends with its status.
func TestErrorHeaders(t *testing.T) {
	refusal := &headerError{
		st:     status.New(codes.Unauthenticated, "credentials missing"),
		header: http.Header{"Www-Authenticate": {`Bearer realm="protogate"`}, "Retry-After": {"3"}},
	}
	for _, tc := range []struct {
		name        string
		err         error
		sendHeader  bool
		wantHeaders bool
	}{
		{"refused", refusal, false, true},
		{"wrapped", fmt.Errorf("admission: %w", refusal), false, true},
		{"after headers", refusal, true, false},
		{"plain status", status.Error(codes.Unauthenticated, "no"), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := grpcweb.NewHandler(func(_ any, stream grpc.ServerStream) error {
				if tc.sendHeader {
					if err := stream.SendHeader(nil); err != nil {
						return err
					}
				}
				return tc.err
			})
			req := httptest.NewRequest(http.MethodPost, "/shop.users.v1.UserService/GetUser", bytes.NewReader([]byte{0, 0, 0, 0, 0}))
			req.Header.Set("Content-Type", "application/grpc-web+proto")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := rec.Header()
			if tc.sendHeader {
				if !bytes.Contains(rec.Body.Bytes(), []byte("grpc-status: 16")) {
					t.Errorf("trailer frame without grpc-status 16: %q", rec.Body.Bytes())
				}
			} else if got.Get("Grpc-Status") != "16" {
				t.Errorf("Grpc-Status %q, want 16", got.Get("Grpc-Status"))
			}
			if has := got.Get("Www-Authenticate") != ""; has != tc.wantHeaders {
				t.Errorf("WWW-Authenticate %q, want it: %v", got.Get("Www-Authenticate"), tc.wantHeaders)
			}
			if tc.wantHeaders && got.Get("Retry-After") != "3" {
				t.Errorf("Retry-After %q, want 3", got.Get("Retry-After"))
			}
		})
	}
}
