package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/shop"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	"github.com/protogate/gateway/internal/testlog"
	"github.com/protogate/gateway/internal/testpki"
)

// resetWindow is the tests' window of premature resets: a connection is closed after 11 of 20.
const resetWindow = 20

// resetsGateway starts a gateway whose connections are closed after resetWindow/2+1 premature
// resets, serving TLS (and returning a client configuration that trusts it) or h2c, in front of a
// shop that answers after latency.
func resetsGateway(t *testing.T, useTLS bool, latency time.Duration, logs io.Writer) (*gateway, *tls.Config) {
	t.Helper()
	o := harnessOptions{
		shop:   shop.Options{Latency: latency},
		server: []server.Option{server.WithResetWindow(resetWindow), server.WithLogger(slog.New(slog.NewJSONHandler(logs, nil)))},
	}
	if !useTLS {
		return startGateway(t, o), nil
	}
	ca := testpki.NewCA(t, "test server CA")
	certFile, keyFile := testpki.WriteKeyPair(t, t.TempDir(), "server", ca.Server(t))
	o.config = func(c *config.Config) { c.TLS = config.ServerTLS{CertFile: certFile, KeyFile: keyFile} }
	return startGateway(t, o), &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// TestRapidResetClosesConnection: a client that opens HTTP/2 streams and resets each at once (HTTP/2
// "rapid reset", CVE-2023-44487) has its connection closed once more than half of a window's
// streams were reset so, on each server of the data port: grpc-go's (h2c native gRPC, proxied and
// the gateway's own unary health check, reset before its request came) and net/http's (REST over
// h2c, native gRPC and REST over TLS). The gateway logs it once, with the client's address, and
// counts it.
func TestRapidResetClosesConnection(t *testing.T) {
	for _, tc := range []struct {
		name         string
		tls          bool
		method, path string
		contentType  string
		timeout      string // grpc-timeout, none when ""
	}{
		{"h2c gRPC proxied", false, "POST", "/shop.catalog.v1.CatalogService/GetProduct", "application/grpc", ""},
		{"h2c gRPC health check", false, "POST", "/grpc.health.v1.Health/Check", "application/grpc", ""},
		{"h2c REST", false, "GET", "/v1/products/p1", "application/json", ""},
		{"TLS gRPC", true, "POST", "/shop.catalog.v1.CatalogService/GetProduct", "application/grpc", ""},
		{"TLS REST", true, "GET", "/v1/products/p1", "application/json", ""},
		// A deadline does not pass resets long before it for resets at it.
		{"h2c gRPC with a deadline", false, "POST", "/shop.catalog.v1.CatalogService/GetProduct", "application/grpc", "100m"},
		{"TLS gRPC with a deadline", true, "POST", "/shop.catalog.v1.CatalogService/GetProduct", "application/grpc", "100m"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &testlog.Buffer{}
			// The shop answers late, so that no call can end before its client resets it.
			g, tlsCfg := resetsGateway(t, tc.tls, 100*time.Millisecond, logs)
			conn, err := net.Dial("tcp", g.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			scheme := "http"
			if tc.tls {
				cfg := tlsCfg.Clone()
				cfg.NextProtos = []string{"h2"}
				tlsConn := tls.Client(conn, cfg)
				if err := tlsConn.Handshake(); err != nil {
					t.Fatal(err)
				}
				conn, scheme = tlsConn, "https"
			}
			const streams = 50 * resetWindow
			headers := []string{":method", tc.method, ":scheme", scheme, ":path", tc.path,
				":authority", g.addr, "content-type", tc.contentType, "te", "trailers"}
			if tc.timeout != "" {
				headers = append(headers, "grpc-timeout", tc.timeout)
			}
			sent, err := rapidReset(conn, streams, headers...)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the connection is still open after %d streams reset at once", sent)
			}
			// Closed, and for the resets: its log line and metric say so.

			var closed []string
			for line := range strings.Lines(logs.String()) {
				var e struct{ Level, Msg, Client string }
				if json.Unmarshal([]byte(line), &e) == nil && strings.Contains(e.Msg, "rapid reset") {
					if e.Level != "WARN" || e.Client != conn.LocalAddr().String() {
						t.Errorf("logged %s, want a warning naming the client %s", line, conn.LocalAddr())
					}
					closed = append(closed, line)
				}
			}
			if len(closed) != 1 {
				t.Errorf("logged the close %d times, want once:\n%s", len(closed), logs.String())
			}
			wantMetrics(t, g, `gateway_connections_closed_total{reason="premature_resets"} 1`)
		})
	}
}

// rapidReset opens HTTP/2 streams on conn with the request headers given as name, value pairs,
// and resets each at once, until it has sent streams of them or conn fails; it reads what the
// server sends meanwhile. It returns how many it sent and the error reading conn ended with.
func rapidReset(conn net.Conn, streams int, headers ...string) (sent int, readErr error) {
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for i := 0; i+1 < len(headers); i += 2 {
		if err := enc.WriteField(hpack.HeaderField{Name: headers[i], Value: headers[i+1]}); err != nil {
			return 0, err
		}
	}
	read := make(chan error, 1)
	go func() {
		fr := http2.NewFramer(nil, conn)
		for {
			if _, err := fr.ReadFrame(); err != nil {
				read <- err
				return
			}
		}
	}()
	fr := http2.NewFramer(conn, nil)
	write := func() error {
		if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
			return err
		}
		if err := fr.WriteSettings(); err != nil {
			return err
		}
		for ; sent < streams; sent++ {
			id := uint32(2*sent + 1)
			if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block.Bytes(), EndHeaders: true}); err != nil {
				return err
			}
			if err := fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
				return err
			}
		}
		return nil
	}
	// Writing fails once the server closed the connection, or at its deadline; reading ends then too.
	_ = write()
	return sent, <-read
}

// countedCatalog starts a gateway (resetsGateway) and returns a catalog client of it on one
// connection of its own, and the number of times that client has dialed: more than once, the
// gateway closed its connection.
func countedCatalog(t *testing.T, useTLS bool, latency time.Duration, logs io.Writer) (catalogv1.CatalogServiceClient, *atomic.Int32) {
	t.Helper()
	g, tlsCfg := resetsGateway(t, useTLS, latency, logs)
	creds := insecure.NewCredentials()
	if useTLS {
		creds = credentials.NewTLS(tlsCfg)
	}
	dials := new(atomic.Int32)
	conn, err := grpc.NewClient(g.addr, grpc.WithTransportCredentials(creds),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			dials.Add(1)
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return catalogv1.NewCatalogServiceClient(conn), dials
}

// TestCancelledCallsKeepTheirConnection: a client that cancels some of its calls before their
// answer is complete — here 3 calls in 10, as a user leaving a page ends a stream it watched —
// keeps its connection, over h2c and TLS: more than half of a window's streams must be reset so
// to close it, many resets over many calls do not.
func TestCancelledCallsKeepTheirConnection(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "h2c", true: "TLS"}[useTLS], func(t *testing.T) {
			logs := &testlog.Buffer{}
			catalog, dials := countedCatalog(t, useTLS, 0, logs)
			ctx := testContext(t)

			const calls = 10 * resetWindow
			for i := range calls {
				if i%10 >= 3 {
					if _, err := catalog.GetProduct(ctx, &catalogv1.GetProductRequest{Id: "p1"}); err != nil {
						t.Fatalf("call %d: %v", i, err)
					}
					continue
				}
				watchCtx, cancel := context.WithCancel(ctx)
				watch, err := catalog.WatchInventory(watchCtx, &catalogv1.WatchInventoryRequest{Id: "p1"})
				if err == nil {
					_, err = watch.Recv()
				}
				cancel() // the stream is reset: its answer goes on until the client cancels
				if err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			if n := dials.Load(); n != 1 {
				t.Errorf("the client connected %d times, want once: the gateway closed its connection", n)
			}
			if strings.Contains(logs.String(), "rapid reset") {
				t.Errorf("the gateway logged a close for resets:\n%s", logs.String())
			}
		})
	}
}

// TestDeadlineResetsKeepTheirConnection: a client whose calls end at their short deadlines, before
// a slow backend answers, resets each call's stream at its deadline, which the gateway, timing the
// deadline from the call's arrival, may see a moment before its own copy passes: those resets are
// the calls' deadlines, not premature resets, and the client keeps its connection, over h2c
// (grpc-go's server) and TLS (net/http's).
func TestDeadlineResetsKeepTheirConnection(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "h2c", true: "TLS"}[useTLS], func(t *testing.T) {
			logs := &testlog.Buffer{}
			catalog, dials := countedCatalog(t, useTLS, 300*time.Millisecond, logs)
			ctx := testContext(t)

			const calls, parallel = 4 * resetWindow, 5
			var wg sync.WaitGroup
			errs := make(chan error, calls)
			for range parallel {
				wg.Go(func() {
					for range calls / parallel {
						callCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
						_, err := catalog.GetProduct(callCtx, &catalogv1.GetProductRequest{Id: "p1"})
						cancel()
						if status.Code(err) != codes.DeadlineExceeded {
							errs <- err
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("a call ended with %v, want DEADLINE_EXCEEDED", err)
			}
			if n := dials.Load(); n != 1 {
				t.Errorf("the client connected %d times, want once: the gateway closed its connection", n)
			}
			if strings.Contains(logs.String(), "rapid reset") {
				t.Errorf("the gateway logged a close for resets:\n%s", logs.String())
			}
		})
	}
}
