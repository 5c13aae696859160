package bench

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
)

// nginxConf is a minimal gRPC passthrough: cleartext HTTP/2 in, grpc_pass with kept-alive upstream
// connections out. Like the peers harness (/work/shared/peers/nginx) it serves with one worker, but as
// a single process (no master): a parent that dies kills it through Pdeathsig, where a master's
// worker would outlive both.
var nginxConf = template.Must(template.New("nginx.conf").Parse(`# written by gateway bench
daemon off;
master_process off;
worker_processes 1;
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    client_body_temp_path {{.Dir}}/client_body;
    proxy_temp_path {{.Dir}}/proxy;
    fastcgi_temp_path {{.Dir}}/fastcgi;
    uwsgi_temp_path {{.Dir}}/uwsgi;
    scgi_temp_path {{.Dir}}/scgi;

    # nginx closes an HTTP/2 connection after 1000 requests by default; clients would see GOAWAYs.
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    http2_max_concurrent_streams 256;

    upstream backend {
        server {{.Backend}};
        keepalive 64;
        keepalive_requests 1000000;
    }

    server {
        listen {{.Listen}} http2;

        location / {
            grpc_pass grpc://backend;
            grpc_read_timeout 60s;
        }
    }
}
`))

// FindNginx returns the path of the nginx binary on PATH (or in /usr/sbin, where Debian puts it and
// where a non-root PATH may not look), or "" when there is none.
func FindNginx() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if p, err := exec.LookPath("/usr/sbin/nginx"); err == nil {
		return p
	}
	return ""
}

// nginxAttempts is how often startNginx tries another port when the one it picked was taken between
// picking it and nginx binding it (nginx cannot inherit a listener from us).
const nginxAttempts = 3

// startNginx runs nginx in front of backend with its config, pid and logs in a fresh directory under
// dir, and returns it once a probe call through it succeeds, with the address it listens on.
func startNginx(ctx context.Context, bin, dir, backend string, probe func(ctx context.Context, addr string) error) (*child, string, error) {
	var lastErr error
	for attempt := range nginxAttempts {
		prefix := filepath.Join(dir, fmt.Sprintf("nginx-%d", attempt))
		if err := os.MkdirAll(prefix, 0o755); err != nil {
			return nil, "", err
		}
		addr, err := freePort()
		if err != nil {
			return nil, "", err
		}
		var conf bytes.Buffer
		if err := nginxConf.Execute(&conf, map[string]string{"Dir": prefix, "Backend": backend, "Listen": addr}); err != nil {
			return nil, "", err
		}
		confPath := filepath.Join(prefix, "nginx.conf")
		if err := os.WriteFile(confPath, conf.Bytes(), 0o644); err != nil {
			return nil, "", err
		}
		errLog := filepath.Join(prefix, "error.log")
		stderr, err := os.Create(filepath.Join(prefix, "stderr.log"))
		if err != nil {
			return nil, "", err
		}
		c, err := startChild("nginx", []string{bin, "-p", prefix, "-c", confPath, "-e", errLog}, nil, stderr)
		stderr.Close()
		if err != nil {
			return nil, "", err
		}
		err = waitReady(ctx, c, func(ctx context.Context) error { return probe(ctx, addr) })
		if err == nil {
			return c, addr, nil
		}
		_ = c.stop(stopGrace)
		lastErr = fmt.Errorf("%w\n%s", err, tail(errLog, filepath.Join(prefix, "stderr.log")))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, "", fmt.Errorf("bench: nginx: %w", lastErr)
}

// freePort returns a loopback address no one listens on right now.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// tail returns the last lines of the given log files, for an error message.
func tail(paths ...string) string {
	var out []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		out = append(out, lines[max(0, len(lines)-5):]...)
	}
	return strings.Join(out, "\n")
}
