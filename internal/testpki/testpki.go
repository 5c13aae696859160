package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a certificate authority made for one test.
type CA struct {
	// Cert is the CA's self-signed certificate.
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA generates a CA whose certificate has common name name.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key := newKey(t)
	tpl := template(t, name)
	tpl.IsCA, tpl.BasicConstraintsValid = true, true
	tpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	cert := create(t, tpl, tpl, key, key)
	return &CA{Cert: cert.Leaf, key: key}
}

// Pool returns a pool that trusts ca.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return pool
}

// Server issues a server certificate valid for hosts, each an IP address or a DNS name;
// without hosts, for 127.0.0.1 and localhost.
func (ca *CA) Server(t testing.TB, hosts ...string) tls.Certificate {
	t.Helper()
	tpl := template(t, "protogate test server")
	tpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	setHosts(tpl, hosts)
	return create(t, tpl, ca.Cert, newKey(t), ca.key)
}

// Client issues a client certificate with common name cn.
func (ca *CA) Client(t testing.TB, cn string) tls.Certificate {
	t.Helper()
	tpl := template(t, cn)
	tpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	return create(t, tpl, ca.Cert, newKey(t), ca.key)
}

// WriteFile writes ca's certificate, PEM-encoded, to dir as file, and returns its path.
func (ca *CA) WriteFile(t testing.TB, dir, file string) string {
	t.Helper()
	path := filepath.Join(dir, file)
	writePEM(t, path, "CERTIFICATE", ca.Cert.Raw)
	return path
}

// SelfSigned generates a server certificate signed by its own key, valid for hosts as
// CA.Server's are. It may also serve as its own root: its Leaf goes in a client's pool.
func SelfSigned(t testing.TB, hosts ...string) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tpl := template(t, "protogate test server")
	tpl.IsCA, tpl.BasicConstraintsValid = true, true
	tpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign
	tpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	setHosts(tpl, hosts)
	return create(t, tpl, tpl, key, key)
}

// WriteKeyPair writes c's certificate and private key, PEM-encoded, to dir as name.crt and
// name.key, and returns their paths.
func WriteKeyPair(t testing.TB, dir, name string, c tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	writePEM(t, certFile, "CERTIFICATE", c.Certificate[0])
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	return certFile, keyFile
}

// template returns a certificate template with a random serial number, common name cn, and
// a validity from an hour ago to a day from now.
func template(t testing.TB, cn string) *x509.Certificate {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
}

// setHosts makes tpl valid for hosts, or for 127.0.0.1 and localhost without any.
func setHosts(tpl *x509.Certificate, hosts []string) {
	if len(hosts) == 0 {
		hosts = []string{"127.0.0.1", "localhost"}
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tpl.IPAddresses = append(tpl.IPAddresses, ip)
		} else {
			tpl.DNSNames = append(tpl.DNSNames, h)
		}
	}
}

// create signs tpl with parent and parentKey, for key.
func create(t testing.TB, tpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) tls.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
