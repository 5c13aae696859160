package ratelimittest

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"

	"github.com/protogate/gateway/internal/testpki"
)

// PKI is a certificate authority of a test's own and two certificates it signed: the server's,
// for 127.0.0.1 and localhost, and a client's. Its files are PEM, in a directory of the test's.
type PKI struct {
	CAFile         string
	ServerCertFile string
	ServerKeyFile  string
	ClientCertFile string
	ClientKeyFile  string
}

// NewPKI generates a PKI for t. Two PKIs share nothing: one's CA does not verify the other's
// certificates.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	dir := t.TempDir()
	ca := testpki.NewCA(t, "protogate test CA")
	p := &PKI{CAFile: ca.WriteFile(t, dir, "ca.pem")}
	p.ServerCertFile, p.ServerKeyFile = testpki.WriteKeyPair(t, dir, "server", ca.Server(t))
	p.ClientCertFile, p.ClientKeyFile = testpki.WriteKeyPair(t, dir, "client", ca.Client(t, "client"))
	return p
}

// ClientTLS returns the TLS configuration of a client that trusts the CA and presents the client
// certificate: what a test's own connections to a TLS redis-server need.
func (p *PKI) ClientTLS(t testing.TB) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(p.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no PEM certificate", p.CAFile)
	}
	pair, err := tls.LoadX509KeyPair(p.ClientCertFile, p.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
}
