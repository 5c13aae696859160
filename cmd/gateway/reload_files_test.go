package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/internal/testjwt"
	"github.com/protogate/gateway/internal/testpki"
)

// denyHeader is a SecLang rule that blocks requests with the header.
func denyHeader(header string, id int) string {
	return fmt.Sprintf("SecRule REQUEST_HEADERS:%s \"@rx .\" \"id:%d,phase:1,deny,status:403,log,msg:'%[1]s present'\"\n", header, id)
}

// restWith asks for user 1 over REST with an Authorization value and a header set to "1", and
// returns the status.
func restWith(t *testing.T, addr, authorization, header string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/v1/users/1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", authorization)
	req.Header.Set(header, "1")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestReloadRereadsPolicyFiles reloads `gateway serve`'s config, its text unchanged, as SIGHUP does,
// after the files it names were rewritten in place: the JWT key set file now holds key B only, and
// the WAF directives file blocks X-Evil2 instead of X-Evil. A token of key A, which left the file, is
// refused at once (UNAUTHENTICATED, TOKEN_KEY_UNKNOWN), B's is accepted, and the new rule applies in
// place of the old. Then each file, rewritten so that it no longer loads, refuses the reload, naming
// it, and what was loaded before serves on.
func TestReloadRereadsPolicyFiles(t *testing.T) {
	users, _ := serveShop(t, "users", "127.0.0.1:0")
	dir := t.TempDir()
	jwks, rules := filepath.Join(dir, "jwks.json"), filepath.Join(dir, "waf.conf")
	a, b := testjwt.NewKey(t, "key-a"), testjwt.NewKey(t, "key-b")
	testjwt.WriteKeySet(t, jwks, a)
	writeFile(t, rules, denyHeader("X-Evil", 100001))
	path := filepath.Join(dir, "gateway.yaml")
	writeFile(t, path, usersWithJWT(t, users, jwks, fmt.Sprintf("  waf: {mode: blocking, directives_file: %q}\n", rules)))
	h := newReloadHarness(t, path)

	if err := getUserWith(t, h.data, "authorization", "Bearer "+a.Token(t, "https://issuer.test")); err != nil {
		t.Fatalf("key A, in the key set: %v", err)
	}
	if got := restWith(t, h.data, "Bearer "+a.Token(t, "https://issuer.test"), "X-Evil"); got != http.StatusForbidden {
		t.Fatalf("X-Evil under the first rules: %d, want 403", got)
	}
	if got := restWith(t, h.data, "Bearer "+a.Token(t, "https://issuer.test"), "X-Evil2"); got != http.StatusOK {
		t.Fatalf("X-Evil2 under the first rules: %d, want 200", got)
	}

	testjwt.WriteKeySet(t, jwks, b)
	writeFile(t, rules, denyHeader("X-Evil2", 100002))
	if got := h.look(t, true); got != "reloaded" {
		t.Fatalf("SIGHUP after the files changed: %q, want reloaded", got)
	}
	err := getUserWith(t, h.data, "authorization", "Bearer "+a.Token(t, "https://issuer.test"))
	if st := status.Convert(err); st.Code() != codes.Unauthenticated || !strings.Contains(st.Message(), "signing key") || reasonOf(err) != "TOKEN_KEY_UNKNOWN" {
		t.Errorf("key A, removed from the key set: %v (reason %q), want UNAUTHENTICATED naming the signing key, TOKEN_KEY_UNKNOWN", err, reasonOf(err))
	}
	if err := getUserWith(t, h.data, "authorization", "Bearer "+b.Token(t, "https://issuer.test")); err != nil {
		t.Errorf("key B, now in the key set: %v", err)
	}
	if got := restWith(t, h.data, "Bearer "+b.Token(t, "https://issuer.test"), "X-Evil"); got != http.StatusOK {
		t.Errorf("X-Evil after its rule left the directives file: %d, want 200", got)
	}
	if got := restWith(t, h.data, "Bearer "+b.Token(t, "https://issuer.test"), "X-Evil2"); got != http.StatusForbidden {
		t.Errorf("X-Evil2 after its rule was written: %d, want 403", got)
	}

	for _, broken := range []struct {
		name, file, content string
		names               *regexp.Regexp
	}{
		{"a key set caught half-written", jwks, `{"keys": [{"kty": "EC", "kid": "key-c",`,
			regexp.MustCompile(`config reload refused.*policies\.auth\.jwt\[0\]\.jwks_file: \\"` + regexp.QuoteMeta(jwks) + `\\": not JSON`)},
		{"directives that do not load", rules, `SecRule REQUEST_HEADERS:X-Evil3 "@rx ." "id:100003,phase:1,deny`,
			regexp.MustCompile(`config reload refused.*waf: loading the rules with directives_file \\"` + regexp.QuoteMeta(rules))},
	} {
		keep, err := os.ReadFile(broken.file)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, broken.file, broken.content)
		logged := len(h.log.String())
		if got := h.look(t, true); got != "refused" {
			t.Fatalf("%s: %q, want refused", broken.name, got)
		}
		if line := h.log.String()[logged:]; !broken.names.MatchString(line) {
			t.Errorf("%s: the refusal does not name the file (%s):\n%s", broken.name, broken.names, line)
		}
		if err := getUserWith(t, h.data, "authorization", "Bearer "+b.Token(t, "https://issuer.test")); err != nil {
			t.Errorf("key B after %s was refused: %v", broken.name, err)
		}
		if got := restWith(t, h.data, "Bearer "+b.Token(t, "https://issuer.test"), "X-Evil2"); got != http.StatusForbidden {
			t.Errorf("X-Evil2 after %s was refused: %d, want 403", broken.name, got)
		}
		writeFile(t, broken.file, string(keep))
	}
}

// reasonOf is the ErrorInfo reason of a gRPC error.
func reasonOf(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// servedCertificate makes a new TLS connection to addr, trusting roots, and returns the
// certificate the gateway presented.
func servedCertificate(t *testing.T, addr string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// TestReloadDataPortTLS renews the data port's certificate in place, as cert-manager does, and
// reloads (SIGHUP, the config unchanged): new connections get the new certificate. A key that is not
// the certificate's refuses the reload, naming the file, and the certificate before serves on. A
// reload that turns TLS off applies the rest and warns: the port stays TLS until a restart.
func TestReloadDataPortTLS(t *testing.T) {
	ca := testpki.NewCA(t, "data port CA")
	dir := t.TempDir()
	cert1 := ca.Server(t)
	certFile, keyFile := testpki.WriteKeyPair(t, dir, "server", cert1)
	path := filepath.Join(dir, "gateway.yaml")
	withTLS := fmt.Sprintf("tls: {cert_file: %q, key_file: %q}\n", certFile, keyFile)
	writeFile(t, path, withTLS)
	h := newReloadHarness(t, path)
	if leaf := servedCertificate(t, h.data, ca.Pool()); !leaf.Equal(cert1.Leaf) {
		t.Fatalf("at start: serial %s, want certificate 1's (%s)", leaf.SerialNumber, cert1.Leaf.SerialNumber)
	}

	cert2 := ca.Server(t)
	testpki.WriteKeyPair(t, dir, "server", cert2)
	if got := h.look(t, true); got != "reloaded" {
		t.Fatalf("SIGHUP after the certificate was renewed: %q, want reloaded", got)
	}
	if leaf := servedCertificate(t, h.data, ca.Pool()); !leaf.Equal(cert2.Leaf) {
		t.Errorf("after the reload: serial %s, want certificate 2's (%s)", leaf.SerialNumber, cert2.Leaf.SerialNumber)
	}
	if !strings.Contains(h.log.String(), "tls: the data port serves new material to new connections") {
		t.Errorf("the reload did not say the certificate changed:\n%s", h.log.String())
	}

	_, otherKey := testpki.WriteKeyPair(t, t.TempDir(), "other", ca.Server(t))
	key, err := os.ReadFile(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, keyFile, string(key))
	logged := len(h.log.String())
	if got := h.look(t, true); got != "refused" {
		t.Fatalf("a key that is not the certificate's: %q, want refused", got)
	}
	if line := h.log.String()[logged:]; !strings.Contains(line, "key_file") || !strings.Contains(line, keyFile) ||
		!strings.Contains(line, "private key does not match public key") {
		t.Errorf("the refusal does not name the key file and the mismatch:\n%s", line)
	}
	if leaf := servedCertificate(t, h.data, ca.Pool()); !leaf.Equal(cert2.Leaf) {
		t.Errorf("after a refused reload: serial %s, want certificate 2's (%s)", leaf.SerialNumber, cert2.Leaf.SerialNumber)
	}

	writeFile(t, path, "{}\n")
	if got := h.look(t, false); got != "reloaded" {
		t.Fatalf("a config without tls: %q, want reloaded", got)
	}
	if !regexp.MustCompile(`apply at start only.*settings=tls`).MatchString(h.log.String()) {
		t.Errorf("turning TLS off did not warn that it applies at start only:\n%s", h.log.String())
	}
	if leaf := servedCertificate(t, h.data, ca.Pool()); !leaf.Equal(cert2.Leaf) {
		t.Errorf("with TLS off in the config: serial %s, want certificate 2 still served", leaf.SerialNumber)
	}
}
