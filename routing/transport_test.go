package routing_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/internal/testlog"
	"github.com/protogate/gateway/internal/testnet"
	"github.com/protogate/gateway/internal/testpki"
	"github.com/protogate/gateway/routing"
)

// tlsHealthServer starts a gRPC server over TLS with cert and the health service on a loopback port,
// and returns its address.
func tlsHealthServer(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}})))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return lis.Addr().String()
}

// checkOnce makes one health check on conn, without waiting for the connection to be ready, and
// returns its error as a client of the gateway would see it.
func checkOnce(conn *grpc.ClientConn, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return routing.PublicError(err)
}

// TestPoolTLSTransport reaches a TLS backend over a TLS transport, and checks that the pool keeps
// one endpoint per address and transport: a plaintext acquire of the same address gets another
// endpoint (which fails against the TLS server), while a transport with equal settings, built
// anew as a reloaded config builds it, shares the endpoint.
func TestPoolTLSTransport(t *testing.T) {
	cert := testpki.SelfSigned(t, "127.0.0.1")
	root := cert.Leaf
	addr := tlsHealthServer(t, cert)
	pool, dials := countingPool(t)

	over := func(roots ...*x509.Certificate) routing.Transport {
		return routing.Transport{TLS: &routing.TLSConfig{RootCAs: roots}}
	}
	secure, err := pool.AcquireWith(addr, over(root), routing.EndpointConfig{})
	if err != nil {
		t.Fatal(err)
	}
	healthCheck(t, secure.Conn())

	again, err := pool.AcquireWith(addr, over(root), routing.EndpointConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if again != secure {
		t.Error("two transports with the same settings got different endpoints")
	}
	plain, err := pool.Acquire(addr)
	if err != nil {
		t.Fatal(err)
	}
	if plain == secure || plain.Conn() == secure.Conn() {
		t.Fatal("a plaintext and a TLS acquire of one address share an endpoint")
	}
	if err := checkOnce(plain.Conn(), 10*time.Second); status.Code(err) != codes.Unavailable {
		t.Errorf("plaintext call to a TLS server: %v, want Unavailable", err)
	}
	if got := dials.Load(); got != 2 {
		t.Errorf("dialed %d times, want 2", got)
	}
	stats := pool.Stats()
	if len(stats) != 2 || stats[0].Address != addr || stats[1].Address != addr ||
		stats[0].Transport != "plaintext" || !strings.HasPrefix(stats[1].Transport, "tls, ca ") {
		t.Errorf("Stats = %+v, want %s over plaintext, then over tls with its CA", stats, addr)
	}

	// Released to the last reference, the TLS endpoint leaves the pool; the plaintext one stays.
	pool.Release(again)
	pool.Release(secure)
	waitShutdown(t, secure.Conn())
	if got := pool.Len(); got != 1 {
		t.Errorf("Len = %d after releasing the TLS endpoint, want 1", got)
	}
	pool.Release(plain)
}

// TestPoolTLSVerification: a server whose certificate the transport's roots do not vouch for, or
// that is not valid for the name verified, is refused with Unavailable "upstream connection failed:
// TLS handshake failed", which says nothing of the address or the certificate. The server name
// defaults to the endpoint's host; set, it replaces it.
func TestPoolTLSVerification(t *testing.T) {
	cert := testpki.SelfSigned(t, "backend.test") // not valid for 127.0.0.1
	root := cert.Leaf
	addr := tlsHealthServer(t, cert)
	stranger := testpki.SelfSigned(t, "127.0.0.1", "backend.test").Leaf
	pool := routing.NewPool(nil, routing.WithPoolLogger(quietLog()))
	defer pool.Close()

	for _, tc := range []struct {
		name string
		tls  routing.TLSConfig
		ok   bool
	}{
		{"server name verified", routing.TLSConfig{RootCAs: []*x509.Certificate{root}, ServerName: "backend.test"}, true},
		{"default server name is the host", routing.TLSConfig{RootCAs: []*x509.Certificate{root}}, false},
		{"wrong CA", routing.TLSConfig{RootCAs: []*x509.Certificate{stranger}, ServerName: "backend.test"}, false},
		{"system roots", routing.TLSConfig{ServerName: "backend.test"}, false},
		{"insecure_skip_verify", routing.TLSConfig{InsecureSkipVerify: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := pool.AcquireWith(addr, routing.Transport{TLS: &tc.tls}, routing.EndpointConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Release(e)
			err = checkOnce(e.Conn(), 10*time.Second)
			if tc.ok {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			const want = "upstream connection failed: TLS handshake failed"
			if s, _ := status.FromError(err); s.Code() != codes.Unavailable || s.Message() != want {
				t.Fatalf("Check: %v; want Unavailable %q", err, want)
			}
		})
	}
}

// TestResolvedClusterVerifiesTheName: over TLS, an endpoint that a resolved cluster took from a host
// name verifies that name, not the address it resolved to.
func TestResolvedClusterVerifiesTheName(t *testing.T) {
	cert := testpki.SelfSigned(t, "backend.test")
	root := cert.Leaf
	addr := tlsHealthServer(t, cert)
	_, port, _ := net.SplitHostPort(addr)
	dns := newFakeDNS(map[string][]netip.Addr{"backend.test": ips("127.0.0.1")})
	pool := routing.NewPool(nil, routing.WithPoolLookup(dns.lookup), routing.WithPoolLogger(quietLog()))
	defer pool.Close()

	c, err := pool.NewResolvedCluster("backend", []string{"backend.test:" + port}, routing.ClusterConfig{
		DNSRefresh: time.Hour,
		Transport:  routing.Transport{TLS: &routing.TLSConfig{RootCAs: []*x509.Certificate{root}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	eps := c.Endpoints()
	if len(eps) != 1 || eps[0].Addr() != addr {
		t.Fatalf("endpoints %v, want [%s]", addrsOf(eps), addr)
	}
	if got := eps[0].Transport().TLS.ServerName; got != "backend.test" {
		t.Errorf("ServerName = %q, want backend.test", got)
	}
	healthCheck(t, eps[0].Conn())
}

// TestConnectTimeout: a backend that takes the TCP connection and then says nothing (a listener
// that never accepts, or one that accepts and never writes) holds a connection attempt until the
// transport's connect timeout, which then fails the call with Unavailable "upstream connection
// failed: timed out", plaintext or TLS. A backend that closes the connection itself is not a
// timeout. With the default timeout, 5s, a call with a shorter deadline meets its deadline instead.
func TestConnectTimeout(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close() // never accepted: the kernel completes the handshakes, nobody answers
	unaccepted := lis.Addr().String()
	silent := testnet.Silent(t)
	closing := testnet.Closing(t)
	pool := routing.NewPool(nil, routing.WithPoolLogger(quietLog()))
	defer pool.Close()

	const timedOut = "upstream connection failed: timed out"
	short := 50 * time.Millisecond
	for _, tc := range []struct {
		name      string
		addr      string
		transport routing.Transport
		deadline  time.Duration
		want      codes.Code
		causes    []string // the messages allowed, when want is Unavailable
	}{
		{"plaintext, never accepted", unaccepted, routing.Transport{ConnectTimeout: short}, 3 * time.Second, codes.Unavailable, []string{timedOut}},
		{"plaintext, accepted and silent", silent, routing.Transport{ConnectTimeout: short}, 3 * time.Second, codes.Unavailable, []string{timedOut}},
		{"tls", unaccepted, routing.Transport{TLS: &routing.TLSConfig{InsecureSkipVerify: true}, ConnectTimeout: short}, 3 * time.Second, codes.Unavailable, []string{timedOut}},
		{"tls, accepted and silent", silent, routing.Transport{TLS: &routing.TLSConfig{InsecureSkipVerify: true}, ConnectTimeout: short}, 3 * time.Second, codes.Unavailable, []string{timedOut}},
		// Closed at once: the gateway's preface write or read meets the close, as a pipe broken,
		// a reset or an end of file, by the timing.
		{"plaintext, closed by the backend", closing, routing.Transport{ConnectTimeout: 3 * time.Second}, 3 * time.Second, codes.Unavailable,
			[]string{"upstream connection failed: connection closed", "upstream connection failed: connection reset"}},
		{"default", unaccepted, routing.Transport{}, 300 * time.Millisecond, codes.DeadlineExceeded, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := pool.AcquireWith(tc.addr, tc.transport, routing.EndpointConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Release(e)
			err = checkOnce(e.Conn(), tc.deadline)
			if status.Code(err) != tc.want {
				t.Fatalf("Check: %v; want %v", err, tc.want)
			}
			if msg := status.Convert(err).Message(); tc.causes != nil && !slices.Contains(tc.causes, msg) {
				t.Errorf("message %q, want one of %q", msg, tc.causes)
			}
		})
	}
}

// TestHTTPHealthCheckOverTLS: an HTTP health check of an endpoint reached over TLS asks over https,
// with the transport's roots: the endpoint is healthy while the server answers 200 over TLS, and a
// transport whose roots do not vouch for the server fails its checks.
func TestHTTPHealthCheckOverTLS(t *testing.T) {
	var checks, plain atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		checks.Add(1)
		if r.TLS == nil {
			plain.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	stranger := testpki.SelfSigned(t, "127.0.0.1").Leaf
	pool := routing.NewPool(nil, routing.WithPoolLogger(quietLog()))
	defer pool.Close()
	hc := routing.EndpointConfig{Health: routing.HealthCheckConfig{
		Interval: 2 * time.Millisecond, Timeout: time.Second, UnhealthyThreshold: 1, HTTPPath: "/healthz",
	}}

	wrong, err := pool.AcquireWith(addr, routing.Transport{TLS: &routing.TLSConfig{RootCAs: []*x509.Certificate{stranger}}}, hc)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a check with the wrong roots failing", func() bool { return !wrong.Stats().Healthy })
	if got := checks.Load(); got != 0 {
		t.Errorf("the server answered %d checks whose TLS handshake should have failed", got)
	}
	pool.Release(wrong)

	right, err := pool.AcquireWith(addr, routing.Transport{TLS: &routing.TLSConfig{RootCAs: []*x509.Certificate{srv.Certificate()}}}, hc)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "checks over TLS", func() bool { return checks.Load() >= 3 })
	if !right.Stats().Healthy {
		t.Error("unhealthy while answering 200 over TLS")
	}
	if got := plain.Load(); got != 0 {
		t.Errorf("%d checks came without TLS", got)
	}
	pool.Release(right)
	srv.CloseClientConnections()
}

// TestTransportString: transports that differ are described differently, and the description
// names what differs from the defaults.
func TestTransportString(t *testing.T) {
	a := testpki.SelfSigned(t, "a.test").Leaf
	b := testpki.SelfSigned(t, "b.test").Leaf
	client := testpki.SelfSigned(t, "client.test")
	for _, tc := range []struct {
		t    routing.Transport
		want string
	}{
		{routing.Transport{}, "plaintext"},
		{routing.Transport{ConnectTimeout: routing.DefaultConnectTimeout}, "plaintext"},
		{routing.Transport{ConnectTimeout: 2 * time.Second}, "plaintext, connect_timeout 2s"},
		{routing.Transport{TLS: &routing.TLSConfig{}}, "tls"},
		{routing.Transport{TLS: &routing.TLSConfig{RootCAs: []*x509.Certificate{a}}}, "tls, ca "},
		{routing.Transport{TLS: &routing.TLSConfig{RootCAs: []*x509.Certificate{b}}}, "tls, ca "},
		{routing.Transport{TLS: &routing.TLSConfig{ServerName: "users.internal", InsecureSkipVerify: true}},
			"tls, server_name users.internal, insecure_skip_verify"},
		{routing.Transport{TLS: &routing.TLSConfig{Certificate: &client}, ConnectTimeout: time.Second}, "tls, client_cert "},
	} {
		got := tc.t.String()
		if !strings.HasPrefix(got, tc.want) || !strings.HasSuffix(tc.want, " ") && got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
	ca := func(c *x509.Certificate) string {
		return routing.Transport{TLS: &routing.TLSConfig{RootCAs: []*x509.Certificate{c}}}.String()
	}
	if ca(a) == ca(b) {
		t.Errorf("two CAs are both described %q", ca(a))
	}
	if got := (routing.Transport{TLS: &routing.TLSConfig{Certificate: &client}, ConnectTimeout: time.Second}).String(); !strings.HasSuffix(got, ", connect_timeout 1s") {
		t.Errorf("String() = %q, want it to end with the connect timeout", got)
	}
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	accepted atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// TestTLSHandshakeFailureLogged: what clients are not told of a failed handshake, the operators
// read in the pool's log, with the endpoint: once while attempts keep failing the same way.
func TestTLSHandshakeFailureLogged(t *testing.T) {
	cert := testpki.SelfSigned(t, "127.0.0.1")
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	counted := &countingListener{Listener: lis}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}})))
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(counted) }()
	defer func() { srv.Stop(); <-done }()
	addr := lis.Addr().String()

	stranger := testpki.SelfSigned(t, "127.0.0.1").Leaf
	var buf testlog.Buffer
	pool := routing.NewPool(nil, routing.WithPoolLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	defer pool.Close()
	e, err := pool.AcquireWith(addr, routing.Transport{TLS: &routing.TLSConfig{RootCAs: []*x509.Certificate{stranger}}}, routing.EndpointConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Release(e)
	if err := checkOnce(e.Conn(), 10*time.Second); status.Code(err) != codes.Unavailable {
		t.Fatalf("Check with the wrong roots: %v, want Unavailable", err)
	}
	// The connection keeps trying, one attempt after another: once the third has begun, the
	// second has failed.
	waitUntil(t, "three attempts", func() bool { return counted.accepted.Load() >= 3 })
	logged := buf.String()
	if n := strings.Count(logged, "endpoint TLS handshake failed"); n != 1 ||
		!strings.Contains(logged, "endpoint="+addr) || !strings.Contains(logged, "x509: certificate signed by unknown authority") {
		t.Errorf("logged %d handshake failures, want 1 naming the endpoint and the reason:\n%s", n, logged)
	}
}

// TestClientCertificateRefusalLogged: a backend that requires a client certificate refuses the one
// the gateway sends, or its lack, over TLS 1.3 with an alert that arrives after the gateway's side of
// the handshake is done, on the first read. Clients are told the handshake failed, from the first
// call; the operators read why, once while attempts keep failing the same way.
func TestClientCertificateRefusalLogged(t *testing.T) {
	serverCert := testpki.SelfSigned(t, "127.0.0.1")
	clients, strangers := testpki.NewCA(t, "clients"), testpki.NewCA(t, "strangers")
	trusted, stranger := clients.Client(t, "gateway"), strangers.Client(t, "gateway")
	for _, tc := range []struct {
		name string
		cert *tls.Certificate
		want string
	}{
		{"none", nil, "the cluster's tls has none (cert_file)"},
		{"of an issuer the backend does not name", &stranger, "is not of an issuer or key it accepts, so none was sent"},
		{"refused", &trusted, "closed the connection on the one sent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			counted := &countingListener{Listener: lis}
			srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{
				Certificates: []tls.Certificate{serverCert},
				ClientAuth:   tls.RequireAndVerifyClientCert,
				ClientCAs:    clients.Pool(),
				MinVersion:   tls.VersionTLS13,
				VerifyPeerCertificate: func([][]byte, [][]*x509.Certificate) error {
					return errors.New("no client is welcome")
				},
			})))
			done := make(chan struct{})
			go func() { defer close(done); _ = srv.Serve(counted) }()
			defer func() { srv.Stop(); <-done }()
			addr := lis.Addr().String()

			var buf testlog.Buffer
			pool := routing.NewPool(nil, routing.WithPoolLogger(slog.New(slog.NewTextHandler(&buf, nil))))
			defer pool.Close()
			e, err := pool.AcquireWith(addr, routing.Transport{TLS: &routing.TLSConfig{
				RootCAs: []*x509.Certificate{serverCert.Leaf}, Certificate: tc.cert,
			}}, routing.EndpointConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Release(e)
			const public = "upstream connection failed: TLS handshake failed"
			if err := checkOnce(e.Conn(), 10*time.Second); status.Code(err) != codes.Unavailable || status.Convert(err).Message() != public {
				t.Fatalf("Check: %v, want Unavailable %q", err, public)
			}
			waitUntil(t, "three attempts", func() bool { return counted.accepted.Load() >= 3 })
			waitUntil(t, "the refusal logged", func() bool { return strings.Contains(buf.String(), "endpoint TLS handshake failed") })
			logged := buf.String()
			if n := strings.Count(logged, "endpoint TLS handshake failed"); n != 1 ||
				!strings.Contains(logged, "endpoint="+addr) || !strings.Contains(logged, tc.want) {
				t.Errorf("logged %d handshake failures, want 1 naming the endpoint and saying %q:\n%s", n, tc.want, logged)
			}
		})
	}
}
