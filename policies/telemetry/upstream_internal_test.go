package telemetry

import (
	"context"
	"runtime"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func TestSplitHostPort(t *testing.T) {
	for _, tc := range []struct {
		addr, host string
		port       int
		ok         bool
	}{
		{"127.0.0.1:50051", "127.0.0.1", 50051, true},
		{"[::1]:443", "::1", 443, true},
		{"users.internal:8080", "users.internal", 8080, true},
		{"users.internal", "users.internal", 0, false},
		{"[::1]", "[::1]", 0, false},
		{"host:http", "host", 0, false},
		{"host:70000", "host", 0, false},
	} {
		host, port, ok := splitHostPort(tc.addr)
		if host != tc.host || port != tc.port || ok != tc.ok {
			t.Errorf("splitHostPort(%q) = %q, %d, %v, want %q, %d, %v", tc.addr, host, port, ok, tc.host, tc.port, tc.ok)
		}
	}
}

// TestStreamEndedAtOpen: a stream whose context ends as it opens is reported once, by the
// context's function, which may run before the stream's own fields are all set (run with -race).
func TestStreamEndedAtOpen(t *testing.T) {
	h := &upstreamHandler{t: &Telemetry{}}
	cc, err := grpc.NewClient("127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials())) // never dialed
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	for range 100 {
		ctx, cancel := context.WithCancel(context.Background())
		streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
			cancel() // the client leaves as the stream opens
			return nil, nil
		}
		cs, err := h.stream(ctx, &grpc.StreamDesc{ServerStreams: true}, cc, "/pkg.Svc/Watch", streamer)
		if err != nil {
			t.Fatal(err)
		}
		s := cs.(*upstreamStream)
		deadline := time.Now().Add(10 * time.Second)
		for !s.done.Load() {
			if time.Now().After(deadline) {
				t.Fatal("the stream's end was never reported")
			}
			runtime.Gosched()
		}
	}
}
