package testpki_test

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"

	"github.com/protogate/gateway/internal/testpki"
)

// A CA's certificates verify against its pool for their use and hosts, and against no other CA's.
func TestCA(t *testing.T) {
	ca, other := testpki.NewCA(t, "test CA"), testpki.NewCA(t, "other CA")
	server, client := ca.Server(t), ca.Client(t, "alice")
	serverUse := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		if _, err := server.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: host, KeyUsages: serverUse}); err != nil {
			t.Errorf("default server certificate for %s: %v", host, err)
		}
	}
	if _, err := ca.Server(t, "backend.test").Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "127.0.0.1", KeyUsages: serverUse}); err == nil {
		t.Error("a server certificate for backend.test verified for 127.0.0.1")
	}
	if _, err := server.Leaf.Verify(x509.VerifyOptions{Roots: other.Pool(), DNSName: "127.0.0.1"}); err == nil {
		t.Error("another CA verified the server certificate")
	}
	clientUse := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if _, err := client.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: clientUse}); err != nil || client.Leaf.Subject.CommonName != "alice" {
		t.Errorf("client certificate %q: %v, want alice, verified", client.Leaf.Subject.CommonName, err)
	}
}

// A self-signed certificate is its own root, and the files written load back as what was written.
func TestSelfSignedFiles(t *testing.T) {
	cert := testpki.SelfSigned(t, "127.0.0.1")
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.1"}); err != nil {
		t.Errorf("self-signed certificate: %v", err)
	}

	dir := t.TempDir()
	certFile, keyFile := testpki.WriteKeyPair(t, dir, "server", cert)
	loaded, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil || !loaded.Leaf.Equal(cert.Leaf) {
		t.Errorf("key pair from %s and %s: %v, want the certificate written", certFile, keyFile, err)
	}
	ca := testpki.NewCA(t, "test CA")
	pem, err := os.ReadFile(ca.WriteFile(t, dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if pool := x509.NewCertPool(); !pool.AppendCertsFromPEM(pem) || !pool.Equal(ca.Pool()) {
		t.Errorf("CA file holds %q, want the CA's certificate", pem)
	}
}
