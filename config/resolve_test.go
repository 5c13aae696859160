package config_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/internal/testjwt"
	"github.com/protogate/gateway/internal/testpki"
)

// TestFiles lists the files a config names for the gateway to read, every kind of them, written
// relative to the config file: each once, resolved, and not the data dir or the access log, which
// the gateway writes.
func TestFiles(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, "files CA")
	pki := filepath.Join(dir, "pki")
	if err := os.Mkdir(pki, 0o755); err != nil {
		t.Fatal(err)
	}
	testpki.WriteKeyPair(t, pki, "server", ca.Server(t))
	testpki.WriteKeyPair(t, pki, "client", ca.Client(t, "gateway"))
	ca.WriteFile(t, pki, "ca.pem")
	testjwt.WriteKeySet(t, filepath.Join(dir, "jwks.json"), testjwt.NewKey(t, "k1"))
	for name, content := range map[string]string{
		"secret.key":  strings.Repeat("s", 32),
		"waf.conf":    "SecRuleEngine On\n",
		"ops.json":    `{"7f56e67dd21ab3f30d1ff8b7bed08893f0a0db86449836189b361dd1e56ddb4b": "{ __typename }"}`,
		"users.binpb": "",
		"users.proto": "syntax = \"proto3\";\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "gateway.yaml")
	cfg, err := config.Parse(path, []byte(`data_dir: data
tls: {cert_file: pki/server.crt, key_file: pki/server.key, client_ca_file: pki/ca.pem}
graphql:
  persisted_operations: {file: ops.json}
clusters:
  - name: secure
    endpoints: [127.0.0.1:50051]
    tls: {enabled: true, ca_file: pki/ca.pem, cert_file: pki/client.crt, key_file: pki/client.key}
services:
  - name: set
    cluster: secure
    descriptor_set: users.binpb
  - name: sources
    endpoints: [127.0.0.1:50052]
    protos: [users.proto]
policies:
  auth:
    jwt:
      - {name: keys, issuer: "https://a.test", jwks_file: jwks.json}
      - {name: shared, issuer: "https://b.test", secret_file: secret.key}
  rate_limit:
    backend: redis
    redis:
      address: 127.0.0.1:6380
      tls: {enabled: true, ca_file: pki/ca.pem, cert_file: pki/client.crt, key_file: pki/client.key}
  waf: {mode: detection, directives_file: waf.conf}
  access_log: {output: access.log}
`))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range []string{"pki/server.crt", "pki/server.key", "pki/ca.pem", "ops.json", "pki/client.crt",
		"pki/client.key", "users.binpb", "users.proto", "jwks.json", "secret.key", "waf.conf"} {
		want = append(want, filepath.Join(dir, f))
	}
	if got := cfg.Files(); !slices.Equal(got, want) {
		t.Errorf("Files() =\n%q\nwant\n%q", got, want)
	}
	if got := config.Default().Files(); len(got) != 0 {
		t.Errorf("Files() of the default config = %q, want none", got)
	}
}
