package listen_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/cmd/gateway/internal/listen"
)

// waitLimit bounds every wait in these tests, so a bug fails a test instead
// of hanging it.
const waitLimit = 10 * time.Second

// fixture is a Split on a loopback port with a gRPC server (health service)
// on GRPC() and an HTTP/1.1 + h2c server on HTTP().
type fixture struct {
	split *listen.Split
	addr  string

	grpc   *grpc.Server
	health *health.Server
	http   *http.Server

	grpcConns atomic.Int32 // connections the gRPC server began
	httpConns atomic.Int32 // connections the HTTP server began

	splitDone, grpcDone, httpDone *result
	stopOnce                      sync.Once
}

func start(t *testing.T, opts ...listen.Option) *fixture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		split:  listen.New(ln, opts...),
		addr:   ln.Addr().String(),
		health: health.NewServer(),
	}
	f.grpc = grpc.NewServer(grpc.StatsHandler(connCounter{&f.grpcConns}))
	healthpb.RegisterHealthServer(f.grpc, f.health)

	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	f.http = &http.Server{
		Protocols: &protocols,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, "http %s %s %d", r.Proto, r.Header.Get("Content-Type"), n)
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				f.httpConns.Add(1)
			}
		},
	}

	f.splitDone = run(f.split.Serve)
	f.grpcDone = run(func() error { return f.grpc.Serve(f.split.GRPC()) })
	f.httpDone = run(func() error { return f.http.Serve(f.split.HTTP()) })
	t.Cleanup(func() { f.stop(t) })
	return f
}

// stop closes the split and both servers and waits for all three to return.
func (f *fixture) stop(t *testing.T) {
	t.Helper()
	f.stopOnce.Do(func() {
		if err := f.split.Close(); err != nil {
			t.Errorf("Split.Close: %v", err)
		}
		f.grpc.Stop()
		f.http.Close()
		if err := wait(t, f.splitDone, "Split.Serve"); err != nil {
			t.Errorf("Split.Serve after Close = %v, want nil", err)
		}
		wait(t, f.grpcDone, "grpc.Server.Serve")
		wait(t, f.httpDone, "http.Server.Serve")
	})
}

// result is the outcome of a function run in its own goroutine.
type result struct {
	done chan struct{}
	err  error
}

func run(fn func() error) *result {
	r := &result{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = fn()
	}()
	return r
}

func (r *result) returned() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// wait returns r's error once its function has returned.
func wait(t *testing.T, r *result, what string) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(waitLimit):
		t.Fatalf("%s did not return within %v", what, waitLimit)
		return nil
	}
}

type connCounter struct{ n *atomic.Int32 }

func (c connCounter) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (c connCounter) HandleRPC(context.Context, stats.RPCStats)                         {}
func (c connCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (c connCounter) HandleConn(_ context.Context, s stats.ConnStats) {
	if _, ok := s.(*stats.ConnBegin); ok {
		c.n.Add(1)
	}
}

func (f *fixture) checkHealth(t *testing.T) error {
	t.Helper()
	cc, err := grpc.NewClient(f.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return err
	}
	if got := resp.GetStatus(); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health status = %v, want SERVING", got)
	}
	return nil
}

// client returns an HTTP client that speaks only the given protocol:
// HTTP/1.1, or HTTP/2 with prior knowledge.
func client(t *testing.T, h2c bool) *http.Client {
	t.Helper()
	var p http.Protocols
	if h2c {
		p.SetUnencryptedHTTP2(true)
	} else {
		p.SetHTTP1(true)
	}
	tr := &http.Transport{Protocols: &p}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: waitLimit}
}

func (f *fixture) post(t *testing.T, c *http.Client, contentType string, body []byte) string {
	t.Helper()
	resp, err := c.Post("http://"+f.addr+"/v1/users", contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", contentType, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (f *fixture) checkConns(t *testing.T, grpcConns, httpConns int32) {
	t.Helper()
	if got := f.grpcConns.Load(); got != grpcConns {
		t.Errorf("gRPC server began %d connections, want %d", got, grpcConns)
	}
	if got := f.httpConns.Load(); got != httpConns {
		t.Errorf("HTTP server began %d connections, want %d", got, httpConns)
	}
}

func TestGRPCReachesGRPCServer(t *testing.T) {
	f := start(t)
	if err := f.checkHealth(t); err != nil {
		t.Fatalf("health check: %v", err)
	}
	f.checkConns(t, 1, 0)
}

func TestHTTP1ReachesHTTPServer(t *testing.T) {
	f := start(t)
	c := client(t, false)
	for _, ct := range []string{"application/json", "application/grpc-web+proto", "application/grpc"} {
		if got, want := f.post(t, c, ct, []byte("{}")), "http HTTP/1.1 "+ct+" 2"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	f.checkConns(t, 0, 1)
}

func TestH2CReachesHTTPServer(t *testing.T) {
	for _, ct := range []string{"application/json", "application/grpc-web+proto", "application/grpc-web-text"} {
		t.Run(ct, func(t *testing.T) {
			f := start(t)
			c := client(t, true)
			// Several requests, one with a body larger than the initial flow
			// control window, on one connection: net/http would hang up on
			// the second SETTINGS ACK if the Split did not remove the first.
			bodies := [][]byte{[]byte("{}"), bytes.Repeat([]byte("x"), 200<<10), nil, []byte("{}")}
			for _, body := range bodies {
				want := fmt.Sprintf("http HTTP/2.0 %s %d", ct, len(body))
				if got := f.post(t, c, ct, body); got != want {
					t.Errorf("got %q, want %q", got, want)
				}
			}
			f.checkConns(t, 0, 1)
		})
	}
}

// dialRaw opens a plain TCP connection to the split that the test closes.
func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readUntilClosed reads c until the peer closes it and returns what it read.
// A reset counts as closed; a read that is still waiting after limit fails
// the test.
func readUntilClosed(t *testing.T, c net.Conn, limit time.Duration) []byte {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(limit)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("connection not closed by the split: %v (read %q)", err, got)
	}
	return got
}

func TestSilentClientClosedAfterTimeoutWithoutBlocking(t *testing.T) {
	const timeout = time.Second
	for _, tc := range []struct {
		name     string
		send     []byte
		wantRead []byte
	}{
		{name: "nothing"},
		{name: "part of the preface", send: []byte(http2.ClientPreface[:10])},
		{name: "preface and settings", send: newOpening(t).bytes(), wantRead: emptySettings},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, listen.WithSniffTimeout(timeout))
			began := time.Now()
			silent := dialRaw(t, f.addr)
			if _, err := silent.Write(tc.send); err != nil {
				t.Fatal(err)
			}

			// Another client is served while the silent one is held. The
			// split accepts in order, so it is already sniffing the silent
			// connection.
			if got, want := f.post(t, client(t, false), "application/json", nil), "http HTTP/1.1 application/json 0"; got != want {
				t.Errorf("got %q, want %q", got, want)
			}
			if err := f.checkHealth(t); err != nil {
				t.Errorf("health check: %v", err)
			}
			served := time.Since(began)

			got := readUntilClosed(t, silent, waitLimit)
			if !bytes.Equal(got, tc.wantRead) {
				t.Errorf("silent client read %x, want %x", got, tc.wantRead)
			}
			if closed := time.Since(began); closed < timeout {
				t.Errorf("silent connection closed after %v, before the %v sniff timeout", closed, timeout)
			}
			if served >= timeout {
				t.Errorf("other clients were served after %v, not before the silent one's %v timeout", served, timeout)
			}
			f.checkConns(t, 1, 1)
		})
	}
}

func TestInvalidOpeningClosed(t *testing.T) {
	writeFrame := func(write func(fr *http2.Framer) error) []byte {
		o := newOpening(t)
		o.check(t, write(o.fr))
		return o.bytes()
	}
	for _, tc := range []struct {
		name string
		opts []listen.Option
		send []byte
	}{
		{name: "http1 after preface", send: []byte(http2.ClientPreface + "GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{name: "text after preface", send: []byte(http2.ClientPreface + strings.Repeat("garbage ", 100))},
		{name: "headers before settings", send: headersWithoutSettings(t)},
		{name: "data before headers", send: writeFrame(func(fr *http2.Framer) error { return fr.WriteData(1, true, []byte("{}")) })},
		{name: "frame larger than allowed", send: writeFrame(func(fr *http2.Framer) error { return fr.WriteRawFrame(0xfa, 0, 0, make([]byte, 16<<10+1)) })},
		{name: "bad header block", send: writeFrame(func(fr *http2.Framer) error {
			return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x80}, EndHeaders: true})
		})},
		{name: "over the byte cap", opts: []listen.Option{listen.WithMaxSniffBytes(1 << 10)}, send: writeFrame(func(fr *http2.Framer) error {
			for range 100 {
				if err := fr.WritePing(false, [8]byte{}); err != nil {
					return err
				}
			}
			return nil
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The default 10 s timeout: the connection is closed for what it
			// sent, well before that.
			f := start(t, tc.opts...)
			c := dialRaw(t, f.addr)
			began := time.Now()
			if _, err := c.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			got := readUntilClosed(t, c, listen.DefaultSniffTimeout/2)
			if !bytes.HasPrefix(emptySettings, got) {
				t.Errorf("read %x, want a prefix of the split's SETTINGS frame", got)
			}
			if d := time.Since(began); d >= listen.DefaultSniffTimeout/2 {
				t.Errorf("closed after %v", d)
			}
			f.checkConns(t, 0, 0)
		})
	}
}

func TestCloseStopsServeAndChildren(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	f := start(t)
	if err := f.checkHealth(t); err != nil {
		t.Fatalf("health check: %v", err)
	}
	pending := dialRaw(t, f.addr) // being sniffed when the split closes
	if _, err := pending.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	// Reading the split's SETTINGS shows the connection is in a sniffer.
	if err := pending.SetReadDeadline(time.Now().Add(waitLimit)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(emptySettings))
	if _, err := io.ReadFull(pending, got); err != nil || !bytes.Equal(got, emptySettings) {
		t.Fatalf("read %x, %v; want the split's SETTINGS", got, err)
	}

	if err := f.split.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := wait(t, f.splitDone, "Split.Serve"); err != nil {
		t.Errorf("Serve after Close = %v, want nil", err)
	}
	for name, l := range map[string]net.Listener{"GRPC": f.split.GRPC(), "HTTP": f.split.HTTP()} {
		if c, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("%s().Accept() = %v, %v; want net.ErrClosed", name, c, err)
		}
	}
	if err := wait(t, f.grpcDone, "grpc.Server.Serve"); err == nil {
		t.Error("grpc.Server.Serve returned nil after its listener closed, want an error")
	}
	if err := wait(t, f.httpDone, "http.Server.Serve"); !errors.Is(err, net.ErrClosed) {
		t.Errorf("http.Server.Serve = %v, want net.ErrClosed", err)
	}
	if got := readUntilClosed(t, pending, listen.DefaultSniffTimeout/2); len(got) != 0 {
		t.Errorf("pending connection read %x after close", got)
	}
	if c, err := net.Dial("tcp", f.addr); err == nil {
		c.Close()
		t.Error("dial after Close succeeded")
	}
	if err := f.split.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}

	f.grpc.Stop()
	f.http.Close()
	goleak.VerifyNone(t, ignore)
}

func TestGRPCGracefulStopKeepsHTTP(t *testing.T) {
	f := start(t)
	if err := f.checkHealth(t); err != nil {
		t.Fatalf("health check: %v", err)
	}
	f.grpc.GracefulStop()
	if err := wait(t, f.grpcDone, "grpc.Server.Serve"); err != nil {
		t.Errorf("grpc.Server.Serve after GracefulStop = %v, want nil", err)
	}
	if c, err := f.split.GRPC().Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("GRPC().Accept() = %v, %v; want net.ErrClosed", c, err)
	}

	h1, h2c := client(t, false), client(t, true)
	for range 2 {
		if got, want := f.post(t, h1, "application/json", nil), "http HTTP/1.1 application/json 0"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
		if got, want := f.post(t, h2c, "application/json", nil), "http HTTP/2.0 application/json 0"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	// A new gRPC connection is classified for the stopped server and closed.
	if err := f.checkHealth(t); status.Code(err) != codes.Unavailable {
		t.Errorf("health check after GracefulStop = %v, want Unavailable", err)
	}
	f.checkConns(t, 1, 2)
	if f.splitDone.returned() {
		t.Errorf("Split.Serve returned %v after the gRPC server stopped", f.splitDone.err)
	}
}

func TestClosingHTTPKeepsGRPC(t *testing.T) {
	f := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := f.http.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := wait(t, f.httpDone, "http.Server.Serve"); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("http.Server.Serve = %v, want ErrServerClosed", err)
	}
	if err := f.checkHealth(t); err != nil {
		t.Errorf("health check after the HTTP server shut down: %v", err)
	}
	c := dialRaw(t, f.addr)
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := readUntilClosed(t, c, waitLimit); len(got) != 0 {
		t.Errorf("HTTP request after shutdown read %q, want a closed connection", got)
	}
}

func TestChildAddr(t *testing.T) {
	f := start(t)
	for _, l := range []net.Listener{f.split.GRPC(), f.split.HTTP()} {
		if got := l.Addr().String(); got != f.addr {
			t.Errorf("Addr() = %s, want %s", got, f.addr)
		}
	}
}

// TestHugeFrameDoesNotAllocate checks that a frame header declaring a large
// payload costs no allocation of that size.
func TestHugeFrameDoesNotAllocate(t *testing.T) {
	o := newOpening(t)
	in := append(o.bytes(), 0xff, 0xff, 0xff, 0xfa, 0, 0, 0, 0, 0)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, err := listen.Classify(bytes.NewReader(in), io.Discard, nil, limit); err == nil {
			t.Fatal("classified a connection with a 16 MiB frame")
		}
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("10 classifications allocated %d bytes", n)
	}
}
