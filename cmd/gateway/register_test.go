package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/examples/shop"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/internal/testnet"
)

// runBackend, entered when the test binary runs with GATEWAY_TEST_BACKEND set, serves one shop
// service as its own process, prints its address and stops on SIGTERM.
func runBackend(service string) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	os.Stdout.WriteString("backend listening " + lis.Addr().String() + "\n")
	ctx, stop := signalContext()
	defer stop()
	if err := shop.Serve(ctx, service, lis, shop.Options{}); err != nil {
		panic(err)
	}
}

// process is a child process of the test with its log lines readable.
type process struct {
	cmd   *exec.Cmd
	lines *bufio.Scanner
	feed  chan string // every log line, for awaitLines
}

func startProcess(t *testing.T, env string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "GATEWAY_TEST_MAIN=1", env)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, lines: bufio.NewScanner(out)}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return p
}

// await reads log lines until one matches re, and returns its submatches.
func (p *process) await(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	found := make(chan []string, 1)
	go func() {
		for p.lines.Scan() {
			if m := re.FindStringSubmatch(p.lines.Text()); m != nil {
				found <- m
				go io.Copy(io.Discard, readerOf(p.lines)) //nolint:errcheck // keep the pipe drained
				return
			}
		}
		close(found)
	}()
	select {
	case m, ok := <-found:
		if !ok {
			t.Fatalf("the process exited without logging %v", re)
		}
		return m
	case <-time.After(30 * time.Second):
		t.Fatalf("no log line matching %v within 30s", re)
	}
	return nil
}

// awaitLines is await for a process whose log is read repeatedly: it consumes lines up to the first
// one matching re.
func (p *process) awaitLines(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	if p.feed == nil {
		p.feed = make(chan string, 1024)
		go func() {
			for p.lines.Scan() {
				p.feed <- p.lines.Text()
			}
			close(p.feed)
		}()
	}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-p.feed:
			if !ok {
				t.Fatalf("the process exited without logging %v", re)
			}
			if m := re.FindStringSubmatch(line); m != nil {
				return m
			}
		case <-timeout:
			t.Fatalf("no log line matching %v within 30s", re)
		}
	}
}

// readerOf drains what is left of a scanner's input.
func readerOf(s *bufio.Scanner) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		for s.Scan() {
		}
		pw.Close()
	}()
	return pr
}

func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v, want exit status 0", err)
	}
}

var backendLine = regexp.MustCompile(`backend listening (\S+)`)

// startServe runs `gateway serve` on dataDir and returns its data and admin addresses.
func startServe(t *testing.T, dataDir string) (*process, string, string) {
	p := startProcess(t, "", "serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--data-dir", dataDir)
	m := p.await(t, listeningLine)
	return p, m[1], m[2]
}

// cli runs a gateway command and returns its combined output and whether it succeeded.
func cli(t *testing.T, args ...string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := gatewayCommand(ctx, args...).CombinedOutput()
	return string(out), err == nil
}

// callAt makes one call with call over a connection of its own to addr, within 10s.
func callAt(t *testing.T, addr string, call func(ctx context.Context, conn *grpc.ClientConn) error) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return call(ctx, conn)
}

func getUser(t *testing.T, addr string) error {
	t.Helper()
	return callAt(t, addr, func(ctx context.Context, conn *grpc.ClientConn) error {
		u, err := usersv1.NewUserServiceClient(conn).GetUser(ctx, &usersv1.GetUserRequest{Id: "1"})
		if err == nil && u.GetName() != "Ada Lovelace" {
			t.Fatalf("GetUser(1) = %v", u)
		}
		return err
	})
}

// TestRegisterWorkflow is the README's "register your service" walk-through, with real processes: an
// empty gateway, a backend it has never seen, registration by each source, update, rollback, every
// bad input refused without harm, deletion, and a restart on the same data dir.
func TestRegisterWorkflow(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dataDir := t.TempDir()
	gw, data, admin := startServe(t, dataDir)
	backend := startProcess(t, "GATEWAY_TEST_BACKEND=users")
	users := backend.await(t, backendLine)[1]
	adminURL := "http://" + admin

	if err := getUser(t, data); status.Code(err) != codes.Unimplemented {
		t.Fatalf("before registration: %v, want Unimplemented", err)
	}

	// 1. A descriptor set, as protoc --descriptor_set_out writes it.
	setFile := filepath.Join(t.TempDir(), "users.binpb")
	writeDescriptorSet(t, setFile, usersv1.File_shop_users_v1_users_proto)
	mustCLI(t, "version 1 active", "register", "--admin", adminURL, "--name", "users", "--endpoint", users, "--descriptor-set", setFile)
	if err := getUser(t, data); err != nil {
		t.Fatalf("after registering a descriptor set: %v", err)
	}

	// 2. .proto sources compiled by the gateway.
	protoRoot := filepath.Join("..", "..", "proto")
	mustCLI(t, "version 2 active", "register", "--admin", adminURL, "--name", "users", "--endpoint", users,
		"--proto", filepath.Join(protoRoot, "shop", "users", "v1", "users.proto"), "--import-path", protoRoot)
	if err := getUser(t, data); err != nil {
		t.Fatalf("after registering .proto sources: %v", err)
	}

	// 3. Server reflection of the backend.
	mustCLI(t, "version 3 active", "register", "--admin", adminURL, "--name", "users", "--endpoint", users, "--reflect")
	if err := getUser(t, data); err != nil {
		t.Fatalf("after registering by reflection: %v", err)
	}
	mustCLI(t, "users: unchanged", "register", "--admin", adminURL, "--name", "users", "--endpoint", users, "--reflect")
	// A dry run says what the real one would do: nothing, for the same content.
	mustCLI(t, "users: valid (dry run, nothing changed): unchanged, version 3 is already active", "register", "--admin", adminURL,
		"--name", "users", "--endpoint", users, "--reflect", "--dry-run")
	mustCLI(t, "users: valid (dry run, nothing changed): would be version 4 serving shop.users.v1.UserService", "register", "--admin", adminURL,
		"--name", "users", "--endpoint", users, "--proto", filepath.Join(protoRoot, "shop", "users", "v1", "users.proto"), "--import-path", protoRoot, "--dry-run")

	// Rollback re-activates version 2.
	mustCLI(t, "version 2 active", "rollback", "--admin", adminURL, "users")
	out := mustCLI(t, "users", "services", "get", "--admin", adminURL, "users")
	if !regexp.MustCompile(`(?m)^2\s+\*.*\sshop\.users\.v1\.UserService\s+all$`).MatchString(out) {
		t.Errorf("services get does not show version 2 active, its services and what was asked for (all):\n%s", out)
	}

	// Bad input: refused with a one-line reason, exit status non-zero, serving state intact.
	garbage := filepath.Join(t.TempDir(), "garbage.binpb")
	writeFile(t, garbage, "this is not a descriptor set")
	broken := filepath.Join(t.TempDir(), "broken.proto")
	writeFile(t, broken, "syntax = \"proto3\";\npackage acme.v1;\nmessage Broken {\n  string name = 1\n}\n")
	missing := filepath.Join(t.TempDir(), "missing.proto")
	writeFile(t, missing, "syntax = \"proto3\";\npackage acme.v1;\nimport \"acme/v1/nowhere.proto\";\n")
	closed := testnet.Refused(t)
	for _, tc := range []struct {
		name string
		want string
		args []string
	}{
		{"garbage descriptor set", "not a serialized", []string{"--name", "acme", "--endpoint", users, "--descriptor-set", garbage}},
		{"syntax error", "broken.proto:5:1", []string{"--name", "acme", "--endpoint", users, "--proto", broken}},
		{"missing import", "nowhere.proto", []string{"--name", "acme", "--endpoint", users, "--proto", missing}},
		{"unreachable reflection", closed, []string{"--name", "acme", "--endpoint", closed, "--reflect"}},
		{"unlisted service", "acme.v1.Nope", []string{"--name", "acme", "--endpoint", users, "--reflect", "--service", "acme.v1.Nope"}},
		{"service owned by another registration", "shop.users.v1.UserService", []string{"--name", "users2", "--endpoint", users, "--descriptor-set", setFile}},
		{"empty name", "name is empty", []string{"--name", "", "--endpoint", users, "--descriptor-set", setFile}},
		{"bad endpoint", "port", []string{"--name", "acme", "--endpoint", "127.0.0.1:99999", "--descriptor-set", setFile}},
	} {
		out, ok := cli(t, append([]string{"register", "--admin", adminURL}, tc.args...)...)
		if ok {
			t.Errorf("%s: accepted:\n%s", tc.name, out)
			continue
		}
		if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || !strings.Contains(out, tc.want) {
			t.Errorf("%s: want one line naming %q, got:\n%s", tc.name, tc.want, out)
		}
	}
	if err := getUser(t, data); err != nil {
		t.Fatalf("after the refused registrations: %v", err)
	}
	out = mustCLI(t, "users", "services", "list", "--admin", adminURL)
	if strings.Contains(out, "acme") || strings.Contains(out, "users2") {
		t.Errorf("a refused registration is listed:\n%s", out)
	}

	// The upstreams table and its JSON face show the endpoint that just served calls.
	out = mustCLI(t, users, "upstreams", "--admin", adminURL)
	if !regexp.MustCompile(`(?m)^users\s+round_robin\s+` + regexp.QuoteMeta(users) + `\s+READY\s+healthy\s+closed\s+0\s+\S*s\s+no\s+0\s+0\s+plaintext$`).MatchString(out) {
		t.Errorf("gateway upstreams:\n%s", out)
	}
	if resp, err := http.Get(adminURL + "/v1/upstreams"); err != nil {
		t.Error(err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"breaker":"closed"`) || !strings.Contains(string(body), `"inFlight":"0"`) ||
			!strings.Contains(string(body), `"connection":"READY"`) {
			t.Errorf("GET /v1/upstreams: %d %s", resp.StatusCode, body)
		}
	}

	// A malformed admin request body gets a precise 400.
	resp, err := http.Post(adminURL+"/v1/registrations", "application/json", strings.NewReader(`{"name": "x", "endpoints": [`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"code"`) {
		t.Errorf("malformed JSON body: %d %s, want 400 with a google.rpc.Status body", resp.StatusCode, body)
	}

	// Restart on the same data dir: the registration is still served.
	gw.stop(t)
	_, data, admin = startServe(t, dataDir)
	if err := getUser(t, data); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	mustCLI(t, "users", "services", "list", "--admin", "http://"+admin)

	// Deletion: calls get UNIMPLEMENTED.
	mustCLI(t, "users: deleted", "services", "rm", "--admin", "http://"+admin, "users")
	if err := getUser(t, data); status.Code(err) != codes.Unimplemented {
		t.Fatalf("after deletion: %v, want Unimplemented", err)
	}
	// Again: nothing changes, and that is no failure (the registration exists, its versions kept).
	mustCLI(t, "users: already deleted, nothing changed", "services", "rm", "--admin", "http://"+admin, "users")
	if out, ok := cli(t, "services", "rm", "--admin", "http://"+admin, "nobody"); ok || !strings.Contains(out, `no registration named "nobody"`) {
		t.Errorf("services rm of a name never registered: ok=%v\n%s", ok, out)
	}
}

func mustCLI(t *testing.T, want string, args ...string) string {
	t.Helper()
	out, ok := cli(t, args...)
	if !ok || !strings.Contains(out, want) {
		t.Fatalf("gateway %s: ok=%v, want output containing %q:\n%s", strings.Join(args, " "), ok, want, out)
	}
	return out
}

// TestConfigReload changes the config file under a running gateway: a valid change applies, an invalid
// one is reported and ignored, and SIGHUP reloads too.
func TestConfigReload(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	backend := startProcess(t, "GATEWAY_TEST_BACKEND=users")
	users := backend.await(t, backendLine)[1]
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	good := "clusters:\n  - name: users\n    endpoints: [\"" + users + "\"]\nroutes:\n  - match: {service: shop.users.v1.UserService}\n    cluster: users\n"
	writeFile(t, path, good)
	gw := startProcess(t, "", "serve", "--config", path, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	data := gw.awaitLines(t, listeningLine)[1]
	if err := getUser(t, data); err != nil {
		t.Fatalf("with the first config: %v", err)
	}

	writeFile(t, path, good+"  - match: {service: shop.users.v1.UserService}\n    cluster: nowhere\n")
	gw.awaitLines(t, regexp.MustCompile(`config reload refused.*unknown cluster`))
	if err := getUser(t, data); err != nil {
		t.Fatalf("after an invalid config: %v", err)
	}

	dead := testnet.Refused(t)
	writeFile(t, path, strings.Replace(good, users, dead, 1))
	gw.awaitLines(t, regexp.MustCompile(`config reloaded`))
	if err := getUser(t, data); status.Code(err) != codes.Unavailable {
		t.Fatalf("after routing to a closed port: %v, want Unavailable", err)
	}

	writeFile(t, path, good)
	if err := gw.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	gw.awaitLines(t, regexp.MustCompile(`config reloaded`))
	if err := getUser(t, data); err != nil {
		t.Fatalf("after restoring the config: %v", err)
	}
}
