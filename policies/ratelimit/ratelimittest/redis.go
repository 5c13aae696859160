// Package ratelimittest runs a real redis-server for tests of the distributed rate limits.
package ratelimittest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvAddr names the environment variable that points tests at a running Redis ("127.0.0.1:6390"),
// as .ci/run does. Tests that share it keep apart by key prefix.
const EnvAddr = "PROTOGATE_TEST_REDIS"

// Server is a redis-server process a test started.
type Server struct {
	Addr string
	cmd  *exec.Cmd
	stop sync.Once
	done chan struct{} // closed when the process has exited
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
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it): skipping the distributed rate-limit test")
	}
	port := freePort(t)
	cmd := exec.Command(bin,
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no", "--dir", t.TempDir(),
		"--logfile", "", "--loglevel", "notice", "--daemonize", "no",
	)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd, done: make(chan struct{})}
	ready := make(chan struct{})
	var log strings.Builder
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(out)
		signaled := false
		for sc.Scan() {
			if !signaled {
				log.WriteString(sc.Text() + "\n")
			}
			if !signaled && strings.Contains(sc.Text(), "Ready to accept connections") {
				signaled = true
				close(ready)
			}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(s.Stop)
	select {
	case <-ready:
	case <-s.done:
		t.Fatalf("redis-server exited before it was ready:\n%s", log.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("redis-server not ready after 20s")
	}
	return s
}

// Stop stops the server and waits for it to exit. It may be called more than once.
func (s *Server) Stop() {
	s.stop.Do(func() { _ = s.cmd.Process.Kill() })
	<-s.done
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(fmt.Errorf("finding a free port: %w", err))
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
