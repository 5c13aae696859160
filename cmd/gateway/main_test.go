package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protogate/gateway/config"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/internal/testnet"
	"github.com/protogate/gateway/internal/testpki"
	"github.com/protogate/gateway/registry"
)

// The test binary doubles as the gateway binary: run with GATEWAY_TEST_MAIN=1 it is `gateway`, so the
// tests exercise the real command line, signals and exit codes without a separate build.
func TestMain(m *testing.M) {
	if service := os.Getenv("GATEWAY_TEST_BACKEND"); service != "" {
		runBackend(service)
		os.Exit(0)
	}
	if os.Getenv("GATEWAY_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func gatewayCommand(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), "GATEWAY_TEST_MAIN=1")
	return cmd
}

var listeningLine = regexp.MustCompile(`gateway listening"? data=(\S+) admin=(\S+)`)

func TestDemoCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := gatewayCommand(ctx, "demo", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck // best effort if the test fails early

	// The log line naming the bound addresses is the readiness signal.
	lines := bufio.NewScanner(stderr)
	var data, admin string
	for lines.Scan() {
		if m := listeningLine.FindStringSubmatch(lines.Text()); m != nil {
			data, admin = m[1], m[2]
			break
		}
	}
	if data == "" {
		t.Fatal("the demo never logged its listening addresses")
	}
	go io.Copy(io.Discard, stderr) //nolint:errcheck // keep the pipe drained

	resp, err := http.Get("http://" + admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz = %d, want 200", resp.StatusCode)
	}

	conn, err := grpc.NewClient(data, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	user, err := usersv1.NewUserServiceClient(conn).GetUser(ctx, &usersv1.GetUserRequest{Id: "1"})
	if err != nil {
		t.Fatal(err)
	}
	if user.GetName() != "Ada Lovelace" {
		t.Fatalf("GetUser(1) = %v", user)
	}

	// SIGTERM drains and exits 0.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v, want exit status 0", err)
	}
}

func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, good, "clusters:\n  - name: users\n    endpoints: [\"127.0.0.1:50051\"]\nroutes:\n  - match: {service: shop.users.v1.UserService}\n    cluster: users\n")
	writeFile(t, bad, "clusters:\n  - name: users\n    endpoints: [\"127.0.0.1:99999\"]\nroutes:\n  - match: {service: shop.users.v1.UserService}\n    cluster: userz\n")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := gatewayCommand(ctx, "validate", "--config", good).CombinedOutput()
	if err != nil {
		t.Fatalf("validate good config: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("users")) {
		t.Errorf("validate printed no summary:\n%s", out)
	}

	out, err = gatewayCommand(ctx, "validate", "--config", bad).CombinedOutput()
	if err == nil {
		t.Fatalf("validate accepted a bad config:\n%s", out)
	}
	for _, want := range []string{"bad.yaml:3:", "port", "bad.yaml:6:", `unknown cluster "userz"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
}

// validate works offline: a service whose descriptors come by reflection is not asked for them (its
// backend may not be reachable from CI), and validate says so rather than failing on the backend.
func TestValidateDoesNotAskReflection(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "reflect.yaml")
	writeFile(t, path, "services:\n  - name: cat\n    endpoints: [\""+testnet.Silent(t)+"\"]\n    reflect: true\n")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := gatewayCommand(ctx, "validate", "--config", path).CombinedOutput()
	if err != nil {
		t.Fatalf("validate of a reflection service whose backend never answers: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`services by reflection, not asked.*\n  cat\n`).Match(out) {
		t.Errorf("validate does not say it left the reflection service unasked:\n%s", out)
	}
}

// validate loads the data port's TLS material as serve does: a key that is not the certificate's
// fails validate at its place in the file, and serve the same way, before it publishes a snapshot.
func TestValidateTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := testpki.WriteKeyPair(t, dir, "server", testpki.SelfSigned(t))
	_, other := testpki.WriteKeyPair(t, dir, "other", testpki.SelfSigned(t))
	good, bad := filepath.Join(dir, "good.yaml"), filepath.Join(dir, "bad.yaml")
	writeFile(t, good, "tls:\n  cert_file: "+cert+"\n  key_file: "+key+"\n")
	writeFile(t, bad, "tls:\n  cert_file: "+cert+"\n  key_file: "+other+"\n")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := gatewayCommand(ctx, "validate", "--config", good).CombinedOutput(); err != nil {
		t.Fatalf("validate a matching key pair: %v\n%s", err, out)
	}
	want := "bad.yaml:2:14: tls.cert_file: " + strconv.Quote(cert) + " and key_file " + strconv.Quote(other) +
		" are not a certificate and its key: tls: private key does not match public key"
	for _, args := range [][]string{
		{"validate", "--config", bad},
		{"serve", "--config", bad, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"},
	} {
		out, err := gatewayCommand(ctx, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("gateway %s: %v, want a failure saying %s:\n%s", args[0], err, want, out)
		}
		if strings.Contains(string(out), "snapshot active") {
			t.Errorf("gateway %s published a snapshot before failing:\n%s", args[0], out)
		}
	}
}

// What serve needs at start from outside the config file, validate checks too, at the field that
// names it: an environment variable password_env names, set or not, and a JWT secret long enough.
// serve refuses the same config at the same place, before it compiles anything.
func TestValidateEnvironmentAndSecrets(t *testing.T) {
	dir := t.TempDir()
	const env = "PROTOGATE_TEST_REDIS_PASSWORD"
	t.Setenv(env, "") // restored when the test ends
	if err := os.Unsetenv(env); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "short.key"), "too short\n")
	path := filepath.Join(dir, "gateway.yaml")
	writeFile(t, path, `policies:
  rate_limit:
    backend: redis
    redis:
      address: 127.0.0.1:6379
      password_env: `+env+`
  auth:
    jwt:
      - {name: corp, issuer: corp, secret_file: short.key}
`)
	want := []string{
		"gateway.yaml:6:21: policies.rate_limit.redis.password_env: environment variable " + env + " is not set",
		"gateway.yaml:9:49: policies.auth.jwt[0].secret_file: " + strconv.Quote(filepath.Join(dir, "short.key")) + " holds a secret of 9 bytes, want at least 32",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, args := range [][]string{
		{"validate", "--config", path},
		{"serve", "--config", path, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"},
	} {
		out, err := gatewayCommand(ctx, args...).CombinedOutput()
		if err == nil {
			t.Errorf("gateway %s accepted the config:\n%s", args[0], out)
			continue
		}
		for _, w := range want {
			if !strings.Contains(string(out), w) {
				t.Errorf("gateway %s: output lacks %q:\n%s", args[0], w, out)
			}
		}
		if strings.Contains(string(out), "do not compile together") {
			t.Errorf("gateway %s blames the registrations:\n%s", args[0], out)
		}
	}
}

// Policies the config's own checks cannot judge (a key set the auth policy cannot use, WAF
// directives that do not load) are refused by validate as serve refuses them, naming the config file
// and its policies, not the registrations.
func TestPolicyErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "jwks.json"), `{"keys": [{"kty": "RSA", "kid": "tiny", "n": "AQAB", "e": "AQAB"}]}`)
	writeFile(t, filepath.Join(dir, "rules.conf"), "SecRule ARGS \"@rx a\" \"id:1,phase:2,nosuchaction\"\n")
	for _, tc := range []struct {
		name, config, want string
	}{
		{"jwks", "policies:\n  auth:\n    jwt:\n      - {name: corp, issuer: corp, jwks_file: jwks.json}\n",
			`policies: auth: jwt provider "corp": `},
		{"waf", "policies:\n  waf: {mode: blocking, directives_file: rules.conf}\n",
			`policies: waf: loading the rules with directives_file "` + filepath.Join(dir, "rules.conf") + `"`},
	} {
		path := filepath.Join(dir, tc.name+".yaml")
		writeFile(t, path, tc.config)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for _, args := range [][]string{
			{"validate", "--config", path},
			{"serve", "--config", path, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"},
		} {
			out, err := gatewayCommand(ctx, args...).CombinedOutput()
			if err == nil {
				t.Errorf("%s: gateway %s accepted the config:\n%s", tc.name, args[0], out)
				continue
			}
			want := "gateway: " + path + ": " + tc.want
			if !strings.Contains(string(out), want) || strings.Contains(string(out), "do not compile together") {
				t.Errorf("%s: gateway %s's output lacks %q, or blames the registrations:\n%s", tc.name, args[0], want, out)
			}
		}
		cancel()
	}
}

// validate compiles a config's services together, as serve does, and names each service whose
// descriptors do not load by its place in the file; a service its descriptors lack, and two services
// that claim one, are placed too, by validate and by serve at start alike.
func TestValidateCompilesServices(t *testing.T) {
	dir := t.TempDir()
	set := writeDescriptorSet(t, filepath.Join(dir, "users.binpb"), usersv1.File_shop_users_v1_users_proto)
	writeFile(t, filepath.Join(dir, "trunc.binpb"), string(set[:len(set)/2]))
	writeFile(t, filepath.Join(dir, "broken.proto"), "syntax = \"proto3\";\nmessage {\n")
	twice := filepath.Join(dir, "twice.yaml")
	writeFile(t, twice, `services:
  - name: u1
    endpoints: ["127.0.0.1:50051"]
    descriptor_set: users.binpb
  - name: u2
    endpoints: ["127.0.0.1:50052"]
    descriptor_set: users.binpb
`)
	typo := filepath.Join(dir, "typo.yaml")
	writeFile(t, typo, `services:
  - name: users
    endpoints: ["127.0.0.1:50051"]
    descriptor_set: users.binpb
    services: [shop.users.v1.UserServce]
`)
	broken := filepath.Join(dir, "broken.yaml")
	writeFile(t, broken, `services:
  - name: t
    endpoints: ["127.0.0.1:50051"]
    descriptor_set: trunc.binpb
  - name: p
    endpoints: ["127.0.0.1:50051"]
    protos: [broken.proto]
`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		path  string
		want  []string
		serve bool // serve refuses it at start alike
	}{
		{twice, []string{"gateway: " + twice + `:5:5: services[1]: conflict: service shop.users.v1.UserService is provided by both registration "u1" (` +
			twice + `:2:5: services[0]) and "u2"`}, true},
		{typo, []string{"gateway: " + typo + `:5:16: services[0].services[0]: registration "users": service shop.users.v1.UserServce is not in its descriptors`}, true},
		{broken, []string{`broken.yaml:2:5: services[0]: service "t": descriptor set`, `broken.yaml:5:5: services[1]: service "p":`, "broken.proto:2:"}, false},
	} {
		commands := [][]string{{"validate", "--config", tc.path}}
		if tc.serve {
			commands = append(commands, []string{"serve", "--config", tc.path, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"})
		}
		for _, args := range commands {
			out, err := gatewayCommand(ctx, args...).CombinedOutput()
			if err == nil {
				t.Errorf("gateway %s accepted %s:\n%s", args[0], filepath.Base(tc.path), out)
				continue
			}
			for _, want := range tc.want {
				if args[0] == "serve" {
					// At start the place follows what failed: the registrations, which may be
					// stored ones too.
					want = strings.TrimPrefix(want, "gateway: ")
				}
				if !strings.Contains(string(out), want) {
					t.Errorf("gateway %s %s: output lacks %q:\n%s", args[0], filepath.Base(tc.path), want, out)
				}
			}
		}
	}
}

// writeDescriptorSet writes fd and its imports to path as a serialized FileDescriptorSet, as protoc
// --descriptor_set_out --include_imports does.
func writeDescriptorSet(t *testing.T, path string, fd protoreflect.FileDescriptor) []byte {
	t.Helper()
	files, err := registry.FilesOf(fd)
	if err != nil {
		t.Fatal(err)
	}
	set, err := registry.DescriptorSetOf(files)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(set))
	return set
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A group of commands given a word that is none of them fails naming it, as the root does; alone it
// prints its help and succeeds.
func TestUnknownSubcommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := gatewayCommand(ctx, "services", "ls").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `unknown command "ls" for "gateway services"`) {
		t.Errorf("gateway services ls: %v\n%s", err, out)
	}
	if out, err := gatewayCommand(ctx, "services").CombinedOutput(); err != nil || !strings.Contains(string(out), "Available Commands:") {
		t.Errorf("gateway services: %v\n%s", err, out)
	}
}

// A GraphQL override or link naming what none of the file's services has is not an error (a later
// registration may bring it), but validate lists it, so that a misspelt name does not go unseen.
func TestValidateWaitingGraphQL(t *testing.T) {
	_, out := validateOK(t, `services:
  - name: users
    endpoints: ["127.0.0.1:50051"]
    descriptor_set: users.binpb
graphql:
  overrides:
    - {method: qa.other.v1.OtherService/GetOwner, name: otherOwner}
    - {method: shop.users.v1.UserService/GetUser, name: user}
  links:
    - {type: shop.users.v1.User, field: owner, method: qa.other.v1.OtherService/GetOwner, args: {id: id}}
`)
	want := "\ngraphql links and overrides waiting: each applies once a registration brings what it names\n" +
		"  link shop.users.v1.User.owner: the service of its method qa.other.v1.OtherService/GetOwner is not registered\n" +
		"  override of method qa.other.v1.OtherService/GetOwner: no registered service has that method\n"
	if !strings.HasSuffix(string(out), want) {
		t.Errorf("validate output does not end with\n%s\n---\n%s", want, out)
	}
}

// Policy rules and routes that do not apply are no errors either, and validate lists them, each at
// its place in the file, after the GraphQL ones: rules waiting for their service, rules naming a
// method their service lacks, and routes that never win.
func TestValidateWarnings(t *testing.T) {
	path, out := validateOK(t, `clusters:
  - {name: users, endpoints: ["127.0.0.1:50051"]}
routes:
  - {name: users, match: {service: shop.users.v1.UserService}, cluster: users}
  - {name: users-again, match: {prefix: /shop.users.v1.UserService/}, cluster: users}
services:
  - {name: users, cluster: users, descriptor_set: users.binpb}
policies:
  rules:
    - {match: {service: acme.billing.v1.Billing}, rate_limit: {rate: 10}}
    - {match: {method: shop.users.v1.UserService/GetUsr}, rate_limit: {rate: 10}}
    - {match: {method: shop.users.v1.UserService/GetUser}, rate_limit: {rate: 10}}
graphql:
  overrides:
    - {method: qa.other.v1.OtherService/GetOwner, name: otherOwner}
`)
	want := "\ngraphql links and overrides waiting: each applies once a registration brings what it names\n" +
		"  override of method qa.other.v1.OtherService/GetOwner: no registered service has that method\n" +
		"\npolicy rules waiting: each applies once a registration brings the service it names\n" +
		"  " + path + ":10:25: policies.rules[0].match.service: service acme.billing.v1.Billing is not registered\n" +
		"\npolicy rules applying to no call: a misspelt name?\n" +
		"  " + path + ":11:24: policies.rules[1].match.method: the registered service shop.users.v1.UserService has no method GetUsr\n" +
		"\nroutes that never win: an earlier route of the same match takes every call they match\n" +
		"  " + path + `:5:5: routes[1]: route "users-again" never wins: route "users" (` + path + ":4:5: routes[0]) comes first and takes every call it matches\n"
	if !strings.HasSuffix(string(out), want) {
		t.Errorf("validate output does not end with\n%s\n---\n%s", want, out)
	}
}

// A persisted GraphQL operation that does not validate against the file's services is not an
// error (a later registration may bring what it needs), but validate lists it with its first
// errors, after the other warnings, so that the operator learns of it before clients do.
func TestValidatePersistedProblems(t *testing.T) {
	_, out := validateOK(t, `services:
  - name: users
    endpoints: ["127.0.0.1:50051"]
    descriptor_set: users.binpb
graphql:
  persisted_operations:
    operations:
      - name: unused-variable
        document: "query Q($id: String!, $b: Boolean) { getUser(id: $id) { name } }"
      - name: fine
        document: "query F($id: String!) { getUser(id: $id) { name } }"
`)
	hash := config.PersistedOperation{Document: `query Q($id: String!, $b: Boolean) { getUser(id: $id) { name } }`}.Hash()
	want := "\ngraphql persisted operations that do not validate against the services' schema: calls to them answer INTERNAL until corrected, or until a registration brings what they need\n" +
		"  persisted operation unused-variable (sha256 " + hash + `): Variable "$b" is never used in operation "Q". (line 1, column 23)` + "\n"
	if !strings.HasSuffix(string(out), want) {
		t.Errorf("validate output does not end with\n%s\n---\n%s", want, out)
	}
}

// validateOK writes config to a file beside users.binpb (the users service's descriptor set, which
// it may name) and returns the file's path and what `gateway validate` prints for it, failing the
// test if validate refuses it.
func validateOK(t *testing.T, config string) (path string, out []byte) {
	t.Helper()
	dir := t.TempDir()
	path = filepath.Join(dir, "gateway.yaml")
	writeDescriptorSet(t, filepath.Join(dir, "users.binpb"), usersv1.File_shop_users_v1_users_proto)
	writeFile(t, path, config)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := gatewayCommand(ctx, "validate", "--config", path).CombinedOutput()
	if err != nil {
		t.Fatalf("validate refused the config: %v\n%s", err, out)
	}
	return path, out
}
