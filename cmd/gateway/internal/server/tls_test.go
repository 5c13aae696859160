package server_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/config"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/internal/testpki"
)

// tlsGateway starts a gateway serving TLS, and returns it with a client configuration trusting its
// certificate and a gRPC connection made with it.
func tlsGateway(t *testing.T) (*gateway, *tls.Config, *grpc.ClientConn) {
	t.Helper()
	ca := testpki.NewCA(t, "test server CA")
	certFile, keyFile := testpki.WriteKeyPair(t, t.TempDir(), "server", ca.Server(t))
	g := startGateway(t, harnessOptions{config: func(c *config.Config) {
		c.TLS = config.ServerTLS{CertFile: certFile, KeyFile: keyFile}
	}})
	tlsCfg := &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	conn, err := grpc.NewClient(g.addr, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return g, tlsCfg, conn
}

// TestTLS serves gRPC and gRPC-Web on one TLS port, negotiated by ALPN.
func TestTLS(t *testing.T) {
	g, tlsCfg, conn := tlsGateway(t)
	user, err := usersv1.NewUserServiceClient(conn).GetUser(testContext(t), &usersv1.GetUserRequest{Id: "1"})
	if err != nil || user.GetName() != "Ada Lovelace" {
		t.Fatalf("gRPC over TLS: %v, %v", user, err)
	}

	// An HTTP/1.1 client on the same port reaches the HTTP side (404 in the one error model).
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	resp, err := client.Get("https://" + g.addr + "/nowhere")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("HTTPS GET: %d %s, want a 404 JSON status", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// TestTLSGracefulDrain: over TLS, gRPC reaches the gateway through its HTTP server; a stopping
// gateway lets those calls finish too, as it does on its plaintext port (TestGracefulDrain).
func TestTLSGracefulDrain(t *testing.T) {
	g, _, conn := tlsGateway(t)
	checkDrain(t, g, conn)
}

// TestTLSMaterialRefused builds servers whose TLS material does not load: New fails, naming the
// problem, so no snapshot is ever published on it.
func TestTLSMaterialRefused(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := testpki.WriteKeyPair(t, dir, "server", testpki.SelfSigned(t))
	_, otherKey := testpki.WriteKeyPair(t, dir, "other", testpki.SelfSigned(t))
	notes := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notes, []byte("the CA is on the wiki\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tls  config.ServerTLS
		want string
	}{
		{config.ServerTLS{CertFile: certFile, KeyFile: otherKey}, "tls: cert_file " + certFile + " and key_file " + otherKey + ": tls: private key does not match public key"},
		{config.ServerTLS{CertFile: certFile, KeyFile: keyFile, ClientCAFile: notes}, `tls: client_ca_file: "` + notes + `" holds no PEM certificate`},
	} {
		cfg := config.Default()
		cfg.TLS = tc.tls
		if _, err := server.New(cfg); err == nil || err.Error() != tc.want {
			t.Errorf("New with %+v: %v, want %s", tc.tls, err, tc.want)
		}
	}
}

// TestTLSGRPCHeaderLimit: over TLS, native gRPC reaches the gateway through net/http, where grpc's
// own header limit does not hold; limits.max_header_bytes still does, as on h2c and the HTTP fronts.
func TestTLSGRPCHeaderLimit(t *testing.T) {
	_, _, conn := tlsGateway(t)
	users := usersv1.NewUserServiceClient(conn)
	ctx := metadata.AppendToOutgoingContext(testContext(t), "x-big", strings.Repeat("a", 70<<10))
	_, err := users.GetUser(ctx, &usersv1.GetUserRequest{Id: "1"})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "more than the limit of 65536") {
		t.Errorf("a call with 70 KiB of metadata: %v, want INVALID_ARGUMENT naming the limit", err)
	}
	if _, err := users.GetUser(testContext(t), &usersv1.GetUserRequest{Id: "1"}); err != nil {
		t.Errorf("a call within the limit: %v", err)
	}
}

// exchange makes a new TLS connection to addr, trusting roots and presenting client, and sends one
// HTTP/1.1 request on it; it returns the certificate the gateway served and the exchange's error
// (with TLS 1.3 a client certificate refused shows when the response is read). The certificate is
// presented whichever CAs the gateway says it accepts.
func exchange(t *testing.T, addr string, roots *x509.CertPool, client tls.Certificate) (*x509.Certificate, error) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &client, nil }})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], roundTrip(conn)
}

// roundTrip sends a request for a path nothing serves on conn and reads the answer: 404.
func roundTrip(conn net.Conn) error {
	if _, err := io.WriteString(conn, "GET /nowhere HTTP/1.1\r\nHost: gateway\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusNotFound {
		return fmt.Errorf("status %d, want 404", resp.StatusCode)
	}
	return nil
}

// TestTLSMaterialReload renews the data port's certificate, key and client CA roots in place and
// reloads them (PrepareTLS, then its apply): new connections get the new certificate and are
// verified against the new roots, a connection made before serves on; material that does not load
// (a key that is not the certificate's, a certificate caught half-written) is refused, naming its
// file, and the material serving stays.
func TestTLSMaterialReload(t *testing.T) {
	ca, clients1, clients2 := testpki.NewCA(t, "server CA"), testpki.NewCA(t, "client CA 1"), testpki.NewCA(t, "client CA 2")
	dir := t.TempDir()
	cert1 := ca.Server(t)
	certFile, keyFile := testpki.WriteKeyPair(t, dir, "server", cert1)
	caFile := clients1.WriteFile(t, dir, "client-ca.pem")
	files := &config.Config{TLS: config.ServerTLS{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile}}
	g := startGateway(t, harnessOptions{empty: true, config: func(c *config.Config) { c.TLS = files.TLS }})
	alice, bob := clients1.Client(t, "alice"), clients2.Client(t, "bob")

	if leaf, err := exchange(t, g.addr, ca.Pool(), alice); err != nil || !leaf.Equal(cert1.Leaf) {
		t.Fatalf("before the reload: %v (certificate 1 served: %v)", err, err == nil && leaf.Equal(cert1.Leaf))
	}
	established, err := tls.Dial("tcp", g.addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer established.Close()
	if err := roundTrip(established); err != nil {
		t.Fatal(err)
	}

	reload := func() error {
		t.Helper()
		apply, err := g.srv.PrepareTLS(files)
		if err != nil {
			return err
		}
		apply()
		return nil
	}
	cert2 := ca.Server(t)
	testpki.WriteKeyPair(t, dir, "server", cert2)
	clients2.WriteFile(t, dir, "client-ca.pem")
	if err := reload(); err != nil {
		t.Fatal(err)
	}
	if leaf, err := exchange(t, g.addr, ca.Pool(), bob); err != nil || !leaf.Equal(cert2.Leaf) {
		t.Errorf("a new connection after the reload: %v; certificate 2 served: %v", err, err == nil && leaf.Equal(cert2.Leaf))
	}
	if _, err := exchange(t, g.addr, ca.Pool(), alice); err == nil {
		t.Error("a client certificate of the client CA the reload replaced was accepted")
	}
	if err := roundTrip(established); err != nil {
		t.Errorf("a connection made before the reload: %v, want it served on", err)
	}

	other, _ := testpki.WriteKeyPair(t, t.TempDir(), "other", ca.Server(t))
	otherKey := strings.TrimSuffix(other, ".crt") + ".key"
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		name, file, from, want string
	}{
		{"a key that is not the certificate's", keyFile, otherKey, "key_file " + keyFile + ": tls: private key does not match public key"},
		{"a certificate caught half-written", certFile, "", "cert_file " + certFile},
	} {
		data := pem[:len(pem)/2]
		if bad.from != "" {
			if data, err = os.ReadFile(bad.from); err != nil {
				t.Fatal(err)
			}
		}
		keep, err := os.ReadFile(bad.file)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bad.file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := reload(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want an error with %q", bad.name, err, bad.want)
		}
		if leaf, err := exchange(t, g.addr, ca.Pool(), bob); err != nil || !leaf.Equal(cert2.Leaf) {
			t.Errorf("after %s was refused: %v; certificate 2 served: %v", bad.name, err, err == nil && leaf.Equal(cert2.Leaf))
		}
		if err := os.WriteFile(bad.file, keep, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestH2CGRPCHeaderLimit: on h2c, where grpc-go enforces the header list size the gateway announces,
// a list within max_header_bytes as the HTTP fronts count it (names, values and 2 bytes a field)
// passes though HTTP/2 counts 32 bytes a field; one over it is refused.
func TestH2CGRPCHeaderLimit(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	users := usersv1.NewUserServiceClient(g.conn)
	// 95 fields of 673 bytes (name and value): 64,125 bytes counted as documented, 67,005 as HTTP/2.
	kv := make([]string, 0, 2*95)
	for i := range 95 {
		kv = append(kv, fmt.Sprintf("x-k%02d", i), strings.Repeat("v", 668))
	}
	ctx := metadata.AppendToOutgoingContext(testContext(t), kv...)
	if _, err := users.GetUser(ctx, &usersv1.GetUserRequest{Id: "1"}); err != nil {
		t.Errorf("95 fields within max_header_bytes: %v", err)
	}
	ctx = metadata.AppendToOutgoingContext(testContext(t), "x-big", strings.Repeat("a", 70<<10))
	if _, err := users.GetUser(ctx, &usersv1.GetUserRequest{Id: "1"}); err == nil {
		t.Error("a call with 70 KiB of metadata passed")
	}
}
