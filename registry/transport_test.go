package registry_test

import (
	"crypto/tls"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/shop"
	"github.com/protogate/gateway/internal/testnet"
	"github.com/protogate/gateway/internal/testpki"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/registry/store"
	"github.com/protogate/gateway/routing"
)

// specOf parses a config file in dir and returns its spec.
func specOf(t *testing.T, dir, text string) registry.Spec {
	t.Helper()
	_, spec := parseSpec(t, dir, text)
	return spec
}

// parseSpec parses a config file in dir and returns it and its spec (SpecFromConfig).
func parseSpec(t testing.TB, dir, text string) (*config.Config, registry.Spec) {
	t.Helper()
	cfg, err := config.Parse(filepath.Join(dir, "gateway.yaml"), []byte(text))
	if err != nil {
		t.Fatalf("config:\n%s\n%v", text, err)
	}
	spec, err := registry.SpecFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, spec
}

// A cluster's tls and connect_timeout become its transport, the files loaded; the snapshot acquires
// one endpoint per address and transport, shared by the clusters whose transports are alike, and a
// reload that changes a cluster's TLS settings takes a new endpoint while the old one leaves the pool
// with the snapshot that held it.
func TestSpecTransport(t *testing.T) {
	dir := t.TempDir()
	caPair := testpki.SelfSigned(t)
	testpki.WriteKeyPair(t, dir, "ca", caPair)
	testpki.WriteKeyPair(t, dir, "client", testpki.SelfSigned(t))
	ca := caPair.Leaf
	clusters := func(serverName string) string {
		tls := "{enabled: true, ca_file: ca.crt, server_name: " + serverName + ", cert_file: client.crt, key_file: client.key}"
		return "clusters:\n" +
			"  - {name: plain, endpoints: [\"" + addrA + "\"], connect_timeout: 250ms}\n" +
			"  - {name: secure, endpoints: [\"" + addrA + "\"], tls: " + tls + "}\n" +
			"  - {name: secure-too, endpoints: [\"" + addrA + "\"], tls: " + tls + "}\n"
	}
	spec := specOf(t, dir, clusters("users.internal"))

	plain, secure := spec.Clusters[0].Config.Transport, spec.Clusters[1].Config.Transport
	if plain.TLS != nil || plain.ConnectTimeout != 250*time.Millisecond {
		t.Errorf("plain cluster's transport %+v, want plaintext with a 250ms connect timeout", plain)
	}
	if c := secure.TLS; c == nil || len(c.RootCAs) != 1 || !c.RootCAs[0].Equal(ca) || c.ServerName != "users.internal" ||
		c.Certificate == nil || c.InsecureSkipVerify || secure.ConnectTimeout != config.DefaultConnectTimeout {
		t.Errorf("secure cluster's transport %+v, TLS %+v; want ca.crt's root, users.internal, the client certificate, 5s", secure, secure.TLS)
	}

	pool := routing.NewPool(nil)
	defer pool.Close()
	first, err := registry.Compile(spec, pool, 1)
	if err != nil {
		t.Fatal(err)
	}
	transports := func() []string {
		var out []string
		for _, s := range pool.Stats() {
			if s.Address != addrA {
				t.Errorf("an endpoint at %s", s.Address)
			}
			out = append(out, s.Transport)
		}
		return out
	}
	got := transports()
	if len(got) != 2 || got[0] != "plaintext, connect_timeout 250ms" ||
		!strings.HasPrefix(got[1], "tls, ca ") || !strings.Contains(got[1], ", server_name users.internal, client_cert ") {
		t.Fatalf("endpoints over %q; want one plaintext with its connect timeout, one over TLS shared by both TLS clusters", got)
	}

	// A reload: the same files, another server name.
	second, err := registry.Compile(specOf(t, dir, clusters("users.example")), pool, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := transports(); len(got) != 3 {
		t.Errorf("while both snapshots hold their endpoints: %q, want 3", got)
	}
	first.Retire(pool)
	got = transports()
	if len(got) != 2 || got[0] != "plaintext, connect_timeout 250ms" || !strings.Contains(got[1], ", server_name users.example, ") {
		t.Errorf("once the first snapshot retired: %q, want the plaintext endpoint kept and the TLS one replaced", got)
	}
	second.Retire(pool)
	if n := pool.Len(); n != 0 {
		t.Errorf("%d endpoints left after both snapshots retired", n)
	}
}

// A config service whose descriptors come by reflection from a cluster reached over TLS is asked
// over TLS: by the loop that waits for a backend that was down, and at once when it is up. The
// same section in plaintext is another section, whose descriptors are asked for again.
func TestConfigReflectionOverTLS(t *testing.T) {
	dir := t.TempDir()
	cert := testpki.SelfSigned(t)
	testpki.WriteKeyPair(t, dir, "users", cert)
	addr := testnet.Refused(t)
	section := "services:\n  - name: users\n    cluster: users\n    reflect: true\n"
	overTLS := "clusters:\n  - name: users\n    endpoints: [\"" + addr + "\"]\n    tls: {enabled: true, ca_file: users.crt}\n" + section
	plaintext := "clusters:\n  - name: users\n    endpoints: [\"" + addr + "\"]\n" + section

	spec, err := staticSpec(t, dir, overTLS, registry.StaticOptions{Defer: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Pending) != 1 {
		t.Fatalf("pending %+v, want users: its backend is down", spec.Pending)
	}
	f := newFixture(t, store.NewMemory(), registry.WithReflectionRetry(5*time.Millisecond, 20*time.Millisecond))
	if snap := f.open(t, spec); serves(snap, userService) {
		t.Fatal("served before its backend answered")
	}

	lis := testnet.Listen(t, addr)
	srv, err := shop.NewServer("users", shop.Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(tls.NewListener(lis, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}}))
	}()
	defer func() { srv.Stop(); <-done }()
	recv(t, f.notify, "a snapshot serving users, once its backend answered over TLS", func(s *registry.Snapshot) bool {
		return serves(s, userService)
	})

	if _, err := staticSpec(t, dir, overTLS, registry.StaticOptions{}); err != nil {
		t.Errorf("with the backend up: %v", err)
	}
	if _, err := staticSpec(t, dir, plaintext, registry.StaticOptions{Previous: f.reg.Base()}); err == nil ||
		!strings.Contains(err.Error(), `service "users": section changed, so its descriptors are fetched again: reflection at `+addr) {
		t.Errorf("the section in plaintext against the TLS backend = %v, want it asked again, and failing", err)
	}
}
