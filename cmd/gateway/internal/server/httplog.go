package server

import (
	"context"
	"log"
	"log/slog"
	"strings"
)

// httpErrorLog is where net/http reports what goes wrong with the connections of the gateway's HTTP
// servers (a client's failed TLS handshake, a panic in a handler), which it writes to Go's standard
// logger unless told otherwise: into the gateway's own log, structured like every other line. A
// failed TLS handshake (a client that does not trust the certificate, or whose own the mTLS
// policy's CA does not vouch for, a plaintext request on the TLS port, a probe that connects and
// hangs up) is the client's doing, logged at Info; anything else at Warn.
func httpErrorLog(l *slog.Logger) *log.Logger {
	return log.New(httpLogWriter{l}, "", 0)
}

type httpLogWriter struct{ log *slog.Logger }

// tlsHandshakeError starts net/http's line about a failed handshake: "... from <addr>: <err>".
const tlsHandshakeError = "http: TLS handshake error from "

func (w httpLogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	if rest, ok := strings.CutPrefix(msg, tlsHandshakeError); ok {
		client, err, _ := strings.Cut(rest, ": ")
		w.log.LogAttrs(context.Background(), slog.LevelInfo, "client TLS handshake failed",
			slog.String("client", client), slog.String("err", err))
		return len(p), nil
	}
	w.log.LogAttrs(context.Background(), slog.LevelWarn, strings.TrimPrefix(msg, "http: "), slog.String("source", "net/http"))
	return len(p), nil
}
