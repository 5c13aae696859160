package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/examples/shop"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/internal/testpki"
)

// serveShopTLS runs a shop service over TLS on a loopback port, with cert and ALPN h2, requiring a
// client certificate that clientCAs vouch for, and returns its address.
func serveShopTLS(t *testing.T, service string, cert tls.Certificate, clientCAs *x509.CertPool) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := shop.NewServer(service, shop.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS12,
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(tls.NewListener(lis, cfg)) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return lis.Addr().String()
}

// getUserWith is getUser with metadata md.
func getUserWith(t *testing.T, addr string, md ...string) error {
	t.Helper()
	return callAt(t, addr, func(ctx context.Context, conn *grpc.ClientConn) error {
		ctx = metadata.AppendToOutgoingContext(ctx, md...)
		_, err := usersv1.NewUserServiceClient(conn).GetUser(ctx, &usersv1.GetUserRequest{Id: "1"})
		return err
	})
}

// restGetUser asks for user 1 over REST and returns the status and the google.rpc.Status message of
// a failure, with the body.
func restGetUser(t *testing.T, addr string) (int, string, string) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/v1/users/1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Message string `json:"message"`
	}
	if resp.StatusCode != http.StatusOK {
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatalf("REST %d: %s", resp.StatusCode, body)
		}
	}
	return resp.StatusCode, st.Message, string(body)
}

// TestUpstreamTLS runs the gateway from a config file whose users cluster is a backend that serves
// TLS and requires client certificates (mTLS), and reloads it through the settings of clusters[].tls
// and connect_timeout:
//
//   - ca_file naming another CA: every call fails, on gRPC and REST alike, with UNAVAILABLE
//     "upstream connection failed: TLS handshake failed", which names neither the backend nor its
//     certificate;
//   - the right CA and a client certificate: calls succeed on both fronts. A second cluster of the
//     same address in plaintext gets connections of its own (its calls fail against the TLS server,
//     the TLS cluster's keep working), and the metrics list the address twice, once per transport.
//     A third cluster, at an address that takes connections and never answers, with a connect
//     timeout of 50ms, fails its calls with UNAVAILABLE before their 3s deadline;
//   - the CA file overwritten with something that holds no certificate: the reload is refused with
//     the field's place in the file, and the previous configuration serves on;
//   - insecure_skip_verify and no client certificate: the reload warns that certificates go
//     unverified, and the backend now refuses the gateway, which presents no certificate: the
//     calls fail as handshakes do, or as closed connections, and name no address either way.
func TestUpstreamTLS(t *testing.T) {
	ca, other, clients := testpki.NewCA(t, "upstream CA"), testpki.NewCA(t, "another CA"), testpki.NewCA(t, "gateway client CA")
	users := serveShopTLS(t, "users", ca.Server(t), clients.Pool())
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close() // never accepted: connections are taken by the kernel, and nobody answers

	dir := t.TempDir()
	ca.WriteFile(t, dir, "ca.pem")
	other.WriteFile(t, dir, "other.pem")
	testpki.WriteKeyPair(t, dir, "gateway", clients.Client(t, "gateway"))
	protoDir, err := filepath.Abs("../../proto")
	if err != nil {
		t.Fatal(err)
	}
	configWith := func(tlsSection string) string {
		return fmt.Sprintf(`clusters:
  - name: users
    endpoints: [%q]
    tls: %s
  - name: users-plaintext
    endpoints: [%q]
  - name: silent
    endpoints: [%q]
    connect_timeout: 50ms
routes:
  - match: {service: shop.users.v1.UserService, headers: [{name: x-via, exact: plaintext}]}
    cluster: users-plaintext
  - match: {service: shop.users.v1.UserService, headers: [{name: x-via, exact: silent}]}
    cluster: silent
services:
  - name: users
    cluster: users
    protos: [%q]
    import_paths: [%q]
`, users, tlsSection, users, silent.Addr().String(), filepath.Join(protoDir, "shop/users/v1/users.proto"), protoDir)
	}
	mtls := func(caFile string) string {
		return "{enabled: true, ca_file: " + caFile + ", cert_file: gateway.crt, key_file: gateway.key}"
	}
	path := filepath.Join(dir, "gateway.yaml")
	writeFile(t, path, configWith(mtls("other.pem")))
	h := newReloadHarness(t, path)

	const handshake = "upstream connection failed: TLS handshake failed"
	t.Run("wrong CA", func(t *testing.T) {
		if err := getUser(t, h.data); status.Code(err) != codes.Unavailable || status.Convert(err).Message() != handshake {
			t.Errorf("gRPC: %v; want Unavailable %q", err, handshake)
		}
		code, msg, body := restGetUser(t, h.data)
		if code != http.StatusServiceUnavailable || msg != handshake {
			t.Errorf("REST: %d %q; want 503 %q", code, msg, handshake)
		}
		_, port, _ := net.SplitHostPort(users)
		for _, secret := range []string{port, "x509", "certificate", "upstream CA"} {
			if strings.Contains(body, secret) {
				t.Errorf("REST body tells the client %q: %s", secret, body)
			}
		}
	})

	writeFile(t, path, configWith(mtls("ca.pem")))
	if got := h.look(t, false); got != "reloaded" {
		t.Fatalf("the right CA: %q, want reloaded", got)
	}
	t.Run("right CA", func(t *testing.T) {
		if err := getUser(t, h.data); err != nil {
			t.Errorf("gRPC: %v", err)
		}
		if code, msg, _ := restGetUser(t, h.data); code != http.StatusOK {
			t.Errorf("REST: %d %q, want 200", code, msg)
		}
		if err := getUserWith(t, h.data, "x-via", "plaintext"); status.Code(err) != codes.Unavailable {
			t.Errorf("through the plaintext cluster of the same address: %v, want Unavailable", err)
		}
		if err := getUser(t, h.data); err != nil {
			t.Errorf("gRPC through the TLS cluster after a plaintext call: %v", err)
		}
		resp, err := http.Get("http://" + h.admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		metrics, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, transport := range []string{`transport="plaintext"`, `transport="tls, ca `} {
			if !strings.Contains(string(metrics), `gateway_endpoint_in_flight{endpoint="`+users+`",settings="defaults",`+transport) {
				t.Errorf("/metrics (%d) has no endpoint %s over %s", resp.StatusCode, users, transport)
			}
		}
		// `gateway upstreams` tells the two endpoints of one address apart by their transport.
		out := mustCLI(t, "", "upstreams", "--admin", "http://"+h.admin)
		for _, row := range []string{`(?m)^users\s+\S+\s+` + regexp.QuoteMeta(users) + `\s.*\stls, ca [0-9a-f]{8}, client_cert [0-9a-f]{8}$`,
			`(?m)^users-plaintext\s+\S+\s+` + regexp.QuoteMeta(users) + `\s.*\splaintext$`} {
			if !regexp.MustCompile(row).MatchString(out) {
				t.Errorf("gateway upstreams has no row %s:\n%s", row, out)
			}
		}
	})
	t.Run("connect timeout", func(t *testing.T) {
		err := callAt(t, h.data, func(ctx context.Context, conn *grpc.ClientConn) error {
			ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(ctx, "x-via", "silent"), 3*time.Second)
			defer cancel()
			_, err := usersv1.NewUserServiceClient(conn).GetUser(ctx, &usersv1.GetUserRequest{Id: "1"})
			return err
		})
		if status.Code(err) != codes.Unavailable {
			t.Errorf("to a backend that never answers, with connect_timeout 50ms and a 3s deadline: %v, want Unavailable", err)
		}
	})

	writeFile(t, filepath.Join(dir, "ca.pem"), "the CA is on the wiki\n")
	if got := h.look(t, true); got != "refused" {
		t.Fatalf("a CA file without a certificate: %q, want refused", got)
	}
	caField := regexp.MustCompile(`gateway\.yaml:4:\d+: clusters\[0\]\.tls\.ca_file: \\"[^"]*ca\.pem\\" holds no PEM certificate`)
	if !caField.MatchString(h.log.String()) {
		t.Errorf("the refusal does not name clusters[0].tls.ca_file at its place:\n%s", h.log.String())
	}
	if err := getUser(t, h.data); err != nil {
		t.Errorf("after the refused reload: %v, want the previous configuration serving", err)
	}

	writeFile(t, path, configWith("{enabled: true, insecure_skip_verify: true}"))
	if got := h.look(t, false); got != "reloaded" {
		t.Fatalf("insecure_skip_verify: %q, want reloaded", got)
	}
	if !strings.Contains(h.log.String(), `certificates are not verified (tls.insecure_skip_verify)`) {
		t.Errorf("no warning about insecure_skip_verify:\n%s", h.log.String())
	}
	// The backend's refusal comes after the handshake, with TLS 1.3: the gateway reads it as the
	// handshake's failure, or finds the connection closed (or reset) when it writes first.
	err = getUser(t, h.data)
	_, port, _ := net.SplitHostPort(users)
	if msg := status.Convert(err).Message(); status.Code(err) != codes.Unavailable ||
		!strings.HasPrefix(msg, "upstream connection failed: ") || strings.Contains(msg, port) {
		t.Errorf("without a client certificate: %v, want Unavailable %q or another connection failure (the backend requires one)", err, handshake)
	}
}

// TestRegisterOnTLSCluster registers a service through the admin API on a cluster of the config
// file that reaches its backend over mutual TLS: `gateway register --cluster` with --reflect asks
// the backend's reflection over that TLS, and the gateway serves it over gRPC and REST through the
// cluster; `services list` and `services get` show the cluster with its endpoints. A cluster the
// config file does not define is refused, on the CLI and the JSON API alike, with one line naming
// it and the clusters there are, and so is a cluster named with endpoints; the registration made
// before serves on.
func TestRegisterOnTLSCluster(t *testing.T) {
	ca, clients := testpki.NewCA(t, "upstream CA"), testpki.NewCA(t, "gateway client CA")
	users := serveShopTLS(t, "users", ca.Server(t), clients.Pool())
	dir := t.TempDir()
	ca.WriteFile(t, dir, "ca.pem")
	testpki.WriteKeyPair(t, dir, "gateway", clients.Client(t, "gateway"))
	path := filepath.Join(dir, "gateway.yaml")
	writeFile(t, path, fmt.Sprintf(`clusters:
  - name: users-tls
    endpoints: [%q]
    tls: {enabled: true, ca_file: ca.pem, cert_file: gateway.crt, key_file: gateway.key}
  - name: users-plaintext
    endpoints: [%q]
`, users, users))
	h := newReloadHarness(t, path)
	admin := "http://" + h.admin

	out := mustCLI(t, "users: version 1 active", "register", "--admin", admin, "--name", "users", "--cluster", "users-tls", "--reflect")
	if want := "shop.users.v1.UserService on cluster users-tls (" + users + ")"; !strings.Contains(out, want) {
		t.Errorf("register says:\n%s\nwant %q", out, want)
	}
	if err := getUser(t, h.data); err != nil {
		t.Errorf("gRPC through the TLS cluster: %v", err)
	}
	if code, msg, _ := restGetUser(t, h.data); code != http.StatusOK {
		t.Errorf("REST through the TLS cluster: %d %q, want 200", code, msg)
	}
	out = mustCLI(t, "users", "services", "list", "--admin", admin)
	if row := `(?m)^users\s+admin\s+serving\s+1\s+reflection\s+5\s+users-tls\s+` + regexp.QuoteMeta(users) + `\s+shop\.users\.v1\.UserService$`; !regexp.MustCompile(row).MatchString(out) {
		t.Errorf("services list has no row %s:\n%s", row, out)
	}
	versions := regexp.MustCompile(`(?m)^1\s+\*\s+\S+\s+[0-9a-f]{12}\s+reflection\s+users-tls\s+` + regexp.QuoteMeta(users) + `\s+shop\.users\.v1\.UserService\s+all$`)
	if out := mustCLI(t, "VERSION", "services", "get", "--admin", admin, "users"); !versions.MatchString(out) {
		t.Errorf("services get does not show version 1 on users-tls:\n%s", out)
	}

	setFile := filepath.Join(dir, "users.binpb")
	writeDescriptorSet(t, setFile, usersv1.File_shop_users_v1_users_proto)
	for _, tc := range []struct {
		name  string
		args  []string
		wants []string
	}{
		{"unknown cluster", []string{"--cluster", "users-tsl", "--descriptor-set", setFile},
			[]string{`registration "users": unknown cluster "users-tsl": the config file defines "users-tls", "users-plaintext"`}},
		{"cluster and endpoint", []string{"--cluster", "users-tls", "--endpoint", users, "--descriptor-set", setFile},
			[]string{`registration "users": set either cluster ("users-tls") or endpoints, not both`}},
	} {
		out, ok := cli(t, append([]string{"register", "--admin", admin, "--name", "users"}, tc.args...)...)
		wantOneLine(t, tc.name, out, ok, tc.wants...)
	}
	req, err := http.NewRequest(http.MethodPost, admin+"/v1/registrations",
		strings.NewReader(`{"name": "users", "cluster": "users-tsl", "reflection": {}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `unknown cluster \"users-tsl\": the config file defines \"users-tls\", \"users-plaintext\"`) {
		t.Errorf("POST /v1/registrations on an unknown cluster: %d %s, want 400 naming it and the clusters", resp.StatusCode, body)
	}

	if err := getUser(t, h.data); err != nil {
		t.Errorf("after the refusals: %v, want the registration serving", err)
	}
	if out := mustCLI(t, "VERSION", "services", "get", "--admin", admin, "users"); !versions.MatchString(out) || strings.Count(strings.TrimSpace(out), "\n") != 1 {
		t.Errorf("after the refusals, services get shows more than version 1 on users-tls:\n%s", out)
	}
}
