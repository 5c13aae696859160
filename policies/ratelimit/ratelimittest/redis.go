// Package ratelimittest runs real redis-server processes for tests of the distributed rate limits:
// a plain server, one over TLS, a one-node Redis Cluster, and a primary with a replica and a
// Sentinel. Every process is killed when its test ends; every wait is a readiness signal or a
// poll with a deadline, never a fixed sleep.
package ratelimittest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvAddr names the environment variable that points tests at a running Redis ("127.0.0.1:6390"),
// as .ci/run does. Tests that share it keep apart by key prefix.
const EnvAddr = "PROTOGATE_TEST_REDIS"

// readyTimeout bounds every wait for a process to become ready: generous, for loaded CI machines.
const readyTimeout = 20 * time.Second

// Server is a redis-server process a test started.
type Server struct {
	Addr string
	cmd  *exec.Cmd
	stop sync.Once
	done chan struct{} // closed when the process has exited
	mu   sync.Mutex
	log  strings.Builder // the process's output, for failure messages
}

// Addr returns the address of a Redis for t: EnvAddr when set, else a redis-server started for t
// (and stopped when t ends). It skips t when neither is available.
func Addr(t testing.TB) string {
	t.Helper()
	if addr := os.Getenv(EnvAddr); addr != "" {
		return addr
	}
	return Start(t).Addr
}

// Start starts a redis-server of t's own on a free loopback port, without persistence, and waits
// until it accepts connections. It skips t when redis-server is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	port := freePort(t)
	return launch(t, process{port: port, waitReady: true, args: []string{"--port", strconv.Itoa(port)}})
}

// process is how to run one redis-server.
type process struct {
	port      int      // the port clients connect to
	conf      string   // a configuration file, when one is needed (Sentinel writes to it)
	args      []string // options after the common ones
	waitReady bool     // wait for the "Ready to accept connections" line (Sentinel prints none)
	tls       bool     // TLS options: a server built without TLS refuses them, which skips the test
}

// launch runs redis-server as p says, with the common options first (loopback, no persistence, a
// data directory of t's own). The process is killed when t ends.
func launch(t testing.TB, p process) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it): skipping the distributed rate-limit test")
	}
	dir := t.TempDir()
	common := []string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
		"--logfile", "", "--loglevel", "notice", "--daemonize", "no",
		// A replica's first sync starts at once, not after the default 5s wait for others.
		"--repl-diskless-sync-delay", "0"}
	if p.conf != "" {
		common = append([]string{p.conf}, common...) // redis-server takes the file first
	}
	cmd := exec.Command(bin, append(common, p.args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)), cmd: cmd, done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(out)
		signaled := false
		for sc.Scan() {
			s.mu.Lock()
			if s.log.Len() < 64<<10 {
				s.log.WriteString(sc.Text() + "\n")
			}
			s.mu.Unlock()
			if !signaled && strings.Contains(sc.Text(), "Ready to accept connections") {
				signaled = true
				close(ready)
			}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(s.Stop)
	if !p.waitReady {
		return s
	}
	select {
	case <-ready:
	case <-s.done:
		if p.tls && strings.Contains(s.Log(), "tls-") {
			t.Skipf("redis-server was built without TLS support (Debian's has it): skipping the TLS test:\n%s", s.Log())
		}
		t.Fatalf("redis-server %s exited before it was ready:\n%s", strings.Join(p.args, " "), s.Log())
	case <-time.After(readyTimeout):
		t.Fatalf("redis-server not ready after %s:\n%s", readyTimeout, s.Log())
	}
	return s
}

// Log returns what the process has written so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// Exited reports whether the process has exited.
func (s *Server) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Stop stops the server and waits for it to exit. It may be called more than once.
func (s *Server) Stop() {
	s.stop.Do(func() { _ = s.cmd.Process.Kill() })
	<-s.done
}

// Pause stops the process (SIGSTOP) without closing its connections: a server that stalls, and
// answers nothing, until Resume.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP %s: %v", s.Addr, err)
	}
}

// Resume continues a paused process (SIGCONT).
func (s *Server) Resume(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("SIGCONT %s: %v", s.Addr, err)
	}
}

// Client returns a plain client of the server for t's checks, closed when t ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TLSClient returns a client of a server StartTLS started with pki, for t's checks, closed when t
// ends.
func (s *Server) TLSClient(t testing.TB, pki *PKI) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1, TLSConfig: pki.ClientTLS(t)})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Poll calls cond until it reports true, failing t when it has not within the deadline. Between
// calls it waits a few milliseconds: Redis offers no event for the state changes tests wait on
// (a replica in sync, a cluster's slots served, a failover done). what names the wait in the
// failure message, with cond's last error.
func Poll(t testing.TB, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		ok, err := cond(ctx)
		if ok {
			return
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not done after %s (last error: %v)", what, readyTimeout, last)
		case <-tick.C:
		}
	}
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(fmt.Errorf("finding a free port: %w", err))
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
