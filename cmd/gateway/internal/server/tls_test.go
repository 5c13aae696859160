package server_test

import (
	"crypto/tls"
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
