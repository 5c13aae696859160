package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/protogate/gateway/config"
)

// adminAuth checks the admin port's credentials: tokens stored as SHA-256 digests.
type adminAuth struct {
	digests [][sha256.Size]byte
	header  string // the API key header, also accepted
	denial  *status.Status
	body    []byte // denial as a google.rpc.Status JSON body
}

func newAdminAuth(cfg config.Auth) (*adminAuth, error) {
	if len(cfg.Admin.Tokens) == 0 {
		return nil, nil
	}
	a := &adminAuth{header: strings.ToLower(cmpOr(cfg.APIKeys.Header, config.DefaultAPIKeyHeader))}
	for i, t := range cfg.Admin.Tokens {
		var d [sha256.Size]byte
		if n, err := hex.Decode(d[:], []byte(t.SHA256)); err != nil || n != sha256.Size {
			return nil, fmt.Errorf("admin.tokens[%d]: sha256 is not a hex SHA-256 digest", i)
		}
		a.digests = append(a.digests, d)
	}
	st, err := status.New(codes.Unauthenticated, "the admin API requires an admin token: Authorization: Bearer <token>").
		WithDetails(&errdetails.ErrorInfo{Reason: "ADMIN_CREDENTIALS_REQUIRED", Domain: Domain})
	if err != nil {
		return nil, err
	}
	a.denial = st
	if a.body, err = protojson.Marshal(st.Proto()); err != nil {
		return nil, err
	}
	return a, nil
}

// admits reports whether token is an admin token. Every configured digest is compared, in constant
// time, whatever matches.
func (a *adminAuth) admits(token string) bool {
	if token == "" {
		return false
	}
	d := sha256.Sum256([]byte(token))
	ok := 0
	for i := range a.digests {
		ok |= subtle.ConstantTimeCompare(a.digests[i][:], d[:])
	}
	return ok == 1
}

// credential returns the admin credential a request carries: a bearer token, an ApiKey, or the
// API key header.
func (a *adminAuth) credential(authorization, keyHeader string) string {
	if scheme, cred, ok := strings.Cut(authorization, " "); ok &&
		(strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "ApiKey")) {
		return strings.TrimSpace(cred)
	}
	return keyHeader
}

const adminChallenge = `Bearer realm="` + Realm + `-admin"`

// AdminMiddleware guards the admin port's HTTP API with the admin credentials; nil when none are
// set. A request without a valid admin token gets 401 with WWW-Authenticate and a google.rpc.Status
// JSON body. The caller keeps health, readiness and metrics outside it.
func (a *Authenticator) AdminMiddleware() func(http.Handler) http.Handler {
	ad := a.admin
	if ad == nil {
		return nil
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ad.admits(ad.credential(r.Header.Get("Authorization"), r.Header.Get(ad.header))) {
				next.ServeHTTP(w, r)
				return
			}
			h := w.Header()
			h.Set("WWW-Authenticate", adminChallenge)
			h.Set("Content-Type", "application/json")
			h.Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write(ad.body)
		})
	}
}

// AdminUnaryInterceptor and AdminStreamInterceptor guard the admin port's gRPC server (the admin
// service and its reflection) with the admin credentials, sent as "authorization: Bearer <token>"
// metadata; nil when none are set.
func (a *Authenticator) AdminUnaryInterceptor() grpc.UnaryServerInterceptor {
	ad := a.admin
	if ad == nil {
		return nil
	}
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := ad.check(ctx); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// AdminStreamInterceptor is AdminUnaryInterceptor for streaming methods.
func (a *Authenticator) AdminStreamInterceptor() grpc.StreamServerInterceptor {
	ad := a.admin
	if ad == nil {
		return nil
	}
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := ad.check(ss.Context()); err != nil {
			return err
		}
		return handler(srv, ss)
	}
}

func (ad *adminAuth) check(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	first := func(k string) string {
		if v := md.Get(k); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if ad.admits(ad.credential(first("authorization"), first(ad.header))) {
		return nil
	}
	return ad.denial.Err()
}
