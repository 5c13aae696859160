package server_test

import (
	"crypto/tls"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"log/slog"

	"github.com/protogate/gateway/cmd/gateway/internal/server"
	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/internal/testlog"
	"github.com/protogate/gateway/internal/testpki"
)

// A client's failed TLS handshake on the data port is in the gateway's own log, structured, with
// the client's address and the cause: net/http wrote it to Go's standard logger.
func TestClientHandshakeFailureLogged(t *testing.T) {
	ca := testpki.NewCA(t, "test server CA")
	certFile, keyFile := testpki.WriteKeyPair(t, t.TempDir(), "server", ca.Server(t))
	logs := &testlog.Buffer{}
	g := startGateway(t, harnessOptions{
		config: func(c *config.Config) { c.TLS = config.ServerTLS{CertFile: certFile, KeyFile: keyFile} },
		server: []server.Option{server.WithLogger(slog.New(slog.NewJSONHandler(logs, nil)))},
	})
	// A client that does not trust the gateway's certificate aborts the handshake.
	conn, err := tls.Dial("tcp", g.addr, &tls.Config{ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if err == nil {
		conn.Close()
		t.Fatal("a client without the gateway's CA completed the handshake")
	}
	waitFor(t, 10*time.Second, "the failed handshake in the gateway's log", func() bool {
		for line := range strings.Lines(logs.String()) {
			var e struct{ Level, Msg, Client, Err string }
			if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "client TLS handshake failed" {
				if e.Level != "INFO" || !strings.HasPrefix(e.Client, "127.0.0.1:") || !strings.Contains(e.Err, "tls: ") {
					t.Fatalf("logged %s", line)
				}
				return true
			}
		}
		return false
	})
}
