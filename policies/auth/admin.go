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
	// The refusals, by what was wrong: no credential, one that is not an admin token, or two.
	missing, invalid, ambiguous adminDenial
}

// adminDenial is a refusal of the admin API, as a status and as its google.rpc.Status JSON body.
type adminDenial struct {
	st        *status.Status
	body      []byte
	challenge string // WWW-Authenticate
}

func newAdminDenial(reason, msg, challenge string) (adminDenial, error) {
	st, err := status.New(codes.Unauthenticated, msg).WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: Domain})
	if err != nil {
		return adminDenial{}, err
	}
	body, err := protojson.Marshal(st.Proto())
	return adminDenial{st: st, body: body, challenge: challenge}, err
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
	var err error
	if a.missing, err = newAdminDenial("ADMIN_CREDENTIALS_REQUIRED",
		"the admin API requires an admin token: Authorization: Bearer <token>", adminChallenge); err != nil {
		return nil, err
	}
	if a.invalid, err = newAdminDenial("ADMIN_TOKEN_INVALID",
		"the admin token is not valid", adminChallenge+`, error="invalid_token"`); err != nil {
		return nil, err
	}
	if a.ambiguous, err = newAdminDenial("ADMIN_CREDENTIALS_AMBIGUOUS",
		"the request carries more than one admin credential: send one", adminChallenge+`, error="invalid_request"`); err != nil {
		return nil, err
	}
	return a, nil
}

// decide returns the refusal of a request whose Authorization and API key header values are
// authorization and keys; nil when it carries exactly one credential, an admin token.
func (a *adminAuth) decide(authorization, keys []string) *adminDenial {
	var creds []string
	for _, v := range authorization {
		creds = append(creds, a.credential(v))
	}
	creds = append(creds, keys...)
	switch {
	case len(creds) == 0 || len(creds) == 1 && creds[0] == "":
		return &a.missing
	case len(creds) > 1:
		return &a.ambiguous
	case !a.admits(creds[0]):
		return &a.invalid
	}
	return nil
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

// credential returns the credential of an Authorization value: a bearer token or an ApiKey; the
// whole value when it names no scheme.
func (a *adminAuth) credential(authorization string) string {
	if scheme, cred, ok := strings.Cut(authorization, " "); ok &&
		(strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "ApiKey")) {
		return strings.TrimSpace(cred)
	}
	return authorization
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
			d := ad.decide(r.Header.Values("Authorization"), r.Header.Values(ad.header))
			if d == nil {
				next.ServeHTTP(w, r)
				return
			}
			h := w.Header()
			h.Set("WWW-Authenticate", d.challenge)
			h.Set("Content-Type", "application/json")
			h.Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write(d.body)
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
	if d := ad.decide(md.Get("authorization"), md.Get(ad.header)); d != nil {
		return d.st.Err()
	}
	return nil
}
