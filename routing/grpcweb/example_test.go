package grpcweb_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/protogate/gateway/routing/grpcweb"
)

// The gateway's gRPC front is one grpc.StreamHandler; the same handler
// serves browsers through a grpcweb.Handler, chosen by content type.
func ExampleNewHandler() {
	proxy := func(_ any, stream grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(stream)
		return status.Errorf(codes.Unimplemented, "no route for %s", method)
	}
	web := grpcweb.NewHandler(proxy)
	listener := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if grpcweb.IsGRPCWebRequest(r) {
			web.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	})

	// An empty GetUser request, as a browser's gRPC-Web client sends it.
	req := httptest.NewRequest(http.MethodPost, "/shop.users.v1.UserService/GetUser", bytes.NewReader([]byte{0, 0, 0, 0, 0}))
	req.Header.Set("Content-Type", "application/grpc-web+proto")
	rec := httptest.NewRecorder()
	listener.ServeHTTP(rec, req)

	fmt.Println(rec.Code, rec.Header().Get("Grpc-Status"), rec.Header().Get("Grpc-Message"))
	// Output: 200 12 no route for /shop.users.v1.UserService/GetUser
}

// Services the gateway answers itself are registered on the gRPC-Web
// Handler as on its native gRPC server, with the same implementation; every
// other method still goes to the proxy.
func ExampleHandler_RegisterService() {
	proxy := func(_ any, stream grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(stream)
		return status.Errorf(codes.Unimplemented, "no route for %s", method)
	}
	web := grpcweb.NewHandler(proxy)
	healthpb.RegisterHealthServer(web, health.NewServer()) // as on the grpc.Server

	// An empty Check request (the server itself), as a browser's gRPC-Web client sends it.
	req := httptest.NewRequest(http.MethodPost, "/grpc.health.v1.Health/Check", bytes.NewReader([]byte{0, 0, 0, 0, 0}))
	req.Header.Set("Content-Type", "application/grpc-web+proto")
	rec := httptest.NewRecorder()
	web.ServeHTTP(rec, req)

	// The body: one message frame (5 bytes of header, then 2 of message), then the trailer frame.
	body := rec.Body.Bytes()
	var resp healthpb.HealthCheckResponse
	if err := proto.Unmarshal(body[5:7], &resp); err != nil {
		panic(err)
	}
	fmt.Printf("%d %v %q\n", rec.Code, resp.GetStatus(), body[12:])
	// Output: 200 SERVING "grpc-status: 0\r\n"
}
