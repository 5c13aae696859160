package listen_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/protogate/gateway/cmd/gateway/internal/listen"
)

// One port, two servers: gRPC connections go to the native gRPC server,
// everything else to net/http.
func ExampleNew() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	split := listen.New(ln)

	grpcServer := grpc.NewServer()
	healthpb.RegisterHealthServer(grpcServer, health.NewServer())

	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true) // REST over h2c with prior knowledge
	httpServer := &http.Server{
		Protocols: &protocols,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "REST over %s", r.Proto)
		}),
	}

	done := make(chan struct{}, 3)
	for _, serve := range []func() error{
		split.Serve,
		func() error { return grpcServer.Serve(split.GRPC()) },
		func() error { return httpServer.Serve(split.HTTP()) },
	} {
		go func() { serve(); done <- struct{}{} }()
	}

	resp, err := http.Get("http://" + ln.Addr().String() + "/v1/users/1")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))

	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	health, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("gRPC health:", health.GetStatus())
	cc.Close()

	split.Close()
	grpcServer.Stop()
	httpServer.Close()
	http.DefaultClient.CloseIdleConnections()
	for range 3 {
		<-done
	}
	// Output:
	// REST over HTTP/1.1
	// gRPC health: SERVING
}
