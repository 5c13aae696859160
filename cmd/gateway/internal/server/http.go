package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/encoding/protojson"

	adminv1 "github.com/protogate/gateway/gen/gateway/admin/v1"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/sanitize"
	"github.com/protogate/gateway/policies/telemetry"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/routing/grpcweb"
	"github.com/protogate/gateway/transcoder"
)

// dataHandler dispatches the HTTP side of the data port: native gRPC that arrived over TLS (or on a
// connection whose first request was not gRPC), gRPC-Web, GraphQL under /graphql, and REST for
// everything else.
func (s *Server) dataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			// It may become a WebSocket, a connection the HTTP server hands over (hijacks) and its
			// drain no longer waits for: shutdown waits for this handler instead.
			s.sockets.Add(1)
			defer s.sockets.Done()
		}
		if isGRPC(r) {
			// grpc-go's own header limit (grpc.MaxHeaderListSize) holds on its own connections
			// only: through net/http it is checked here, and refused as the HTTP fronts refuse.
			if err := sanitize.CheckHeaderBytes(r.Header, int64(s.grpcHeaderBytes)); err != nil {
				sanitize.WriteRefusal(w, r, policy.FrontGRPC, err)
				return
			}
			s.grpcHTTP.ServeHTTP(w, abortableRecv(w, r))
			return
		}
		f := s.currentFronts()
		switch {
		case grpcweb.IsGRPCWebRequest(r) || isGRPCWebPreflight(r):
			f.web.ServeHTTP(w, r)
		case isGraphQL(r):
			f.graphql.ServeHTTP(w, r)
		case isOpenAPI(r):
			f.openapi.ServeHTTP(w, r)
		case f.gql.hasRoute(r): // a REST route bound to a persisted GraphQL operation
			f.graphql.ServeHTTP(w, r)
		default: // the REST front, which refuses the gRPC it does not serve (unservedGRPC)
			f.rest.ServeHTTP(w, r)
		}
	})
}

// abortableRecv gives r, a native gRPC call for grpcHTTP, a receive abort (routing.WithRecvAbort),
// as routing.AbortableRecv gives those on grpc-go's own connections: grpc-go runs no tap handle on
// these, and ends their streams when their requests' contexts end, with no status. The abort
// ends the call's pending receive through its body instead (lateBody).
func abortableRecv(w http.ResponseWriter, r *http.Request) *http.Request {
	b := &lateBody{ReadCloser: r.Body, rc: http.NewResponseController(w)}
	r = r.WithContext(routing.WithRecvAbort(r.Context(), b.abort))
	r.Body = b
	return r
}

// lateBody is the body of a native gRPC call through net/http, whose abort sets its read deadline
// to now: the read of it grpc-go's transport makes fails, with errRequestLate, which grpc-go
// answers the call with. Its code is UNAVAILABLE, grpc-go's for a body that fails: it has none
// for a deadline here (on its own connections the call gets DEADLINE_EXCEEDED).
type lateBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	aborted atomic.Bool
}

var errRequestLate = errors.New("the request did not arrive in time")

func (b *lateBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && b.aborted.Load() && errors.Is(err, os.ErrDeadlineExceeded) {
		err = errRequestLate
	}
	return n, err
}

func (b *lateBody) abort() {
	b.aborted.Store(true)
	_ = b.rc.SetReadDeadline(time.Now())
}

// unservedGRPC refuses a request that is gRPC in a form the gateway does not serve, rather than
// let the REST front answer it "no route": native gRPC over HTTP/1 (505: gRPC needs HTTP/2), and
// gRPC-Web in a message encoding other than protobuf (415). nil for anything else. The REST front
// refuses them (restFront), within its request policies, so the answer carries what every other
// does: the CORS headers of an allowed origin, which a browser needs to read it; an access-log line.
func unservedGRPC(r *http.Request) error {
	const prefix = "application/grpc"
	ct := r.Header.Get("Content-Type")
	if len(ct) < len(prefix) || !strings.EqualFold(ct[:len(prefix)], prefix) {
		return nil // the REST front's requests: one comparison
	}
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	switch {
	case mt == "application/grpc" || strings.HasPrefix(mt, "application/grpc+"):
		return transcoder.WithHTTPStatus(transcoder.NewError(codes.Unimplemented, fmt.Sprintf(
			"native gRPC needs HTTP/2 (h2c with prior knowledge, or TLS with ALPN h2), not HTTP/%d.%d; gRPC-Web works over HTTP/1.1",
			r.ProtoMajor, r.ProtoMinor)), http.StatusHTTPVersionNotSupported)
	case strings.HasPrefix(mt, "application/grpc-web"):
		return transcoder.WithHTTPStatus(transcoder.NewError(codes.InvalidArgument, fmt.Sprintf(
			"gRPC-Web as %s is not served: send application/grpc-web+proto or application/grpc-web-text+proto", mt)),
			http.StatusUnsupportedMediaType)
	}
	return nil
}

// isGRPCWebPreflight reports whether r is a browser's CORS preflight for a gRPC-Web call: an OPTIONS
// request announcing a gRPC-Web content type or the x-grpc-web header, so it meets the gRPC-Web
// front's CORS policy (which the CORS middleware answers) rather than the REST router's.
func isGRPCWebPreflight(r *http.Request) bool {
	if r.Method != http.MethodOptions {
		return false
	}
	h := strings.ToLower(r.Header.Get("Access-Control-Request-Headers"))
	return strings.Contains(h, "x-grpc-web") || strings.Contains(h, "grpc-web")
}

// isOpenAPI reports whether r is for the live OpenAPI document or its docs page.
func isOpenAPI(r *http.Request) bool {
	switch r.URL.Path {
	case "/openapi.json", "/openapi.yaml", "/docs", "/docs/":
		return true
	}
	return false
}

// isGraphQL reports whether r is for the GraphQL endpoint: /graphql and below.
func isGraphQL(r *http.Request) bool {
	return policy.IsGraphQLEndpoint(r.URL.Path)
}

// adminHandler serves the admin port: health and readiness, and the admin API as gRPC (with
// reflection, for grpcurl) and as JSON over HTTP under /v1/.
func (s *Server) adminHandler(ctx context.Context) (http.Handler, *grpc.Server, error) {
	adminGRPC := grpc.NewServer(grpc.UnaryInterceptor(s.adminUnary), grpc.StreamInterceptor(s.adminStream),
		grpc.MaxRecvMsgSize(maxAdminRequest))
	adminv1.RegisterAdminServiceServer(adminGRPC, s.admin)
	reflection.Register(adminGRPC)

	// JSON as grpc-gateway renders it by default, but a key the API does not know is refused: a
	// misspelt "dry_run" must not apply a registration for real.
	strict := &runtime.HTTPBodyMarshaler{Marshaler: &runtime.JSONPb{
		MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}}
	api := runtime.NewServeMux(runtime.WithRoutingErrorHandler(routingError), runtime.WithMarshalerOption(runtime.MIMEWildcard, strict),
		runtime.WithMiddlewares(jsonOnly))
	if err := adminv1.RegisterAdminServiceHandlerServer(ctx, api, s.admin); err != nil {
		return nil, nil, err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !s.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			msg := "not ready: no snapshot is serving yet\n"
			if s.draining.Load() {
				msg = "not ready: draining, to stop\n"
			}
			_, _ = w.Write([]byte(msg))
			return
		}
		_, _ = fmt.Fprintf(w, "ready: snapshot %d\n", s.current().Version())
	})
	mux.Handle("/v1/", sameSiteAdmin(s.adminGuard(limitAdminBody(api)))) // the admin API needs policies.auth.admin credentials, when set
	if metrics := s.engine.Telemetry().MetricsHandler(); metrics != nil {
		mux.Handle("GET "+telemetry.MetricsPath(s.cfg.Policies.Metrics), metrics) // Prometheus
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		transcoder.WriteError(w, transcoder.NewError(codes.NotFound, fmt.Sprintf("no admin endpoint %s %s", r.Method, r.URL.Path)))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isGRPC(r) {
			adminGRPC.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	}), adminGRPC, nil
}

// maxAdminRequest bounds a request to the admin API, over gRPC and over HTTP: a registration's
// sources or descriptor set, which the CLI sends up to this size.
const maxAdminRequest = 64 << 20

// sameSiteAdmin keeps browsers' cross-site requests away from the admin API, which changes what
// the gateway serves: a page an operator has open could otherwise POST to it (a "simple" request,
// sent without a CORS preflight) and register or roll back a service. A request whose Origin is
// another host than the one it was sent to is refused; and a request to an endpoint of the API
// that takes a body must say it is JSON (jsonOnly), which a page cannot send to another site
// without the preflight the admin API never answers. Clients that are not browsers (the CLI, curl,
// scripts) send no Origin.
func sameSiteAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" {
			if u, err := url.Parse(origin); err != nil || !strings.EqualFold(u.Host, r.Host) {
				transcoder.WriteError(w, transcoder.NewError(codes.PermissionDenied,
					fmt.Sprintf("the admin API answers no cross-site request (Origin %q)", origin)))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// jsonOnly refuses a POST, PUT or PATCH to an endpoint of the admin API whose Content-Type is not
// JSON, with 415 (see sameSiteAdmin). It runs once the API's mux has matched the request, so a
// method the path does not take gets its 405 with Allow, and an unknown path its 404, whatever the
// Content-Type.
func jsonOnly(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		switch r.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			if !isJSON(r.Header.Get("Content-Type")) {
				transcoder.WriteError(w, transcoder.WithHTTPStatus(transcoder.NewError(codes.InvalidArgument,
					fmt.Sprintf("the admin API takes JSON: send Content-Type: application/json, not %q", r.Header.Get("Content-Type"))),
					http.StatusUnsupportedMediaType))
				return
			}
		}
		next(w, r, params)
	}
}

// isJSON reports whether a Content-Type is JSON: application/json, or application/<type>+json,
// with or without parameters.
func isJSON(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// limitAdminBody refuses an admin API body over maxAdminRequest: 413 when its length says so, a
// failed read when it is chunked.
func limitAdminBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxAdminRequest {
			transcoder.WriteError(w, transcoder.WithHTTPStatus(transcoder.NewError(codes.ResourceExhausted,
				fmt.Sprintf("request body of %d bytes is larger than the admin API's limit of %d bytes", r.ContentLength, maxAdminRequest)),
				http.StatusRequestEntityTooLarge))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxAdminRequest)
		next.ServeHTTP(w, r)
	})
}

// routingError renders grpc-gateway's routing failures in the one error model: an unknown path is
// NotFound, a known path with the wrong method is 405 with Allow.
func routingError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	switch httpStatus {
	case http.StatusMethodNotAllowed, http.StatusNotImplemented:
		transcoder.WriteError(w, transcoder.MethodNotAllowed(r.Method, r.URL.Path, adminMethods(r.URL.Path)...))
	case http.StatusBadRequest:
		transcoder.WriteError(w, transcoder.NewError(codes.InvalidArgument, fmt.Sprintf("bad request path %s", r.URL.Path)))
	default:
		transcoder.WriteError(w, transcoder.NewError(codes.NotFound, fmt.Sprintf("no admin endpoint %s %s", r.Method, r.URL.Path)))
	}
}

// adminMethods returns the HTTP methods the admin API binds to path, from its google.api.http rules.
func adminMethods(path string) []string {
	var out []string
	for _, b := range adminBindings() {
		if b.tpl.Matches(path) {
			out = append(out, b.method)
		}
	}
	return out
}

// adminBindings are the admin API's HTTP bindings, parsed once.
var adminBindings = sync.OnceValue(func() []adminBinding {
	var out []adminBinding
	methods := adminv1.File_gateway_admin_v1_admin_proto.Services().ByName("AdminService").Methods()
	for i := range methods.Len() {
		rules, _ := transcoder.HTTPRules(methods.Get(i))
		for _, rule := range rules {
			method, pattern := transcoder.RulePattern(rule)
			if tpl, err := transcoder.ParseTemplate(pattern); err == nil {
				out = append(out, adminBinding{method, tpl})
			}
		}
	}
	return out
})

type adminBinding struct {
	method string
	tpl    *transcoder.Template
}
