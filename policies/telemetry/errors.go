package telemetry

import (
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
)

// errorLog is OpenTelemetry's error handler (otel.SetErrorHandler): the SDK reports through it the
// errors it has no caller to return to, above all span exports that failed (a collector that is
// down, refuses or rejects), which would otherwise go to Go's standard logger on stderr. It logs
// them through the gateway's logger at Warn. A collector outage fails every export, every few
// seconds: an error like the last one logged is logged again only once every interval, and a line
// counts the errors before it that were not logged ("suppressed"); a different error is logged at
// once. Errors are alike when they differ only in the addresses they name (see maskAddresses).
type errorLog struct {
	log   *slog.Logger
	every time.Duration
	now   func() time.Time

	mu         sync.Mutex
	last       string    // the message last logged, its addresses masked
	at         time.Time // when
	suppressed int       // errors since, not logged
}

// errorLogInterval is how often an error like the last one logged is logged again.
const errorLogInterval = time.Minute

func newErrorLog(log *slog.Logger) *errorLog {
	return &errorLog{log: log, every: errorLogInterval, now: time.Now}
}

// Handle logs err, unless it is the error logged last, less than an interval ago. Only the SDK's own
// failures (an export) are warnings: the propagators report through the same handler a client's
// malformed trace headers (a baggage member that does not parse), whose every request could carry
// another value; those are the client's, logged at Debug, unthrottled and out of sight by default.
func (e *errorLog) Handle(err error) {
	if err == nil {
		return
	}
	msg := err.Error()
	if !strings.Contains(msg, "export") {
		e.log.Debug("tracing: a request's trace context was not read", "err", msg)
		return
	}
	like := maskAddresses(msg)
	now := e.now()
	e.mu.Lock()
	if like == e.last && now.Sub(e.at) < e.every {
		e.suppressed++
		e.mu.Unlock()
		return
	}
	suppressed := e.suppressed
	e.last, e.at, e.suppressed = like, now, 0
	e.mu.Unlock()
	if suppressed > 0 {
		e.log.Warn(errorLogMessage, "err", msg, "suppressed", suppressed)
		return
	}
	e.log.Warn(errorLogMessage, "err", msg)
}

// maskAddresses returns msg with its IP addresses and ports ("127.0.0.1:37110", "[::1]:4317")
// replaced by one placeholder, for errorLog to compare errors by. An exporter that reconnects to a
// collector that does not answer fails with the same error from a new local port each time ("read
// tcp 127.0.0.1:37110->127.0.0.1:4317: use of closed network connection"), and a collector's name
// may resolve to several addresses: that is one error repeating, not a new one each time.
func maskAddresses(msg string) string {
	return ipAddress.ReplaceAllLiteralString(msg, "ADDR")
}

// ipAddress matches an IPv4 address or a bracketed IPv6 one (with its zone), and its port if any.
var ipAddress = regexp.MustCompile(`(?:\b\d{1,3}(?:\.\d{1,3}){3}\b|\[[0-9A-Fa-f:.]+(?:%[^\]]+)?\])(?::\d+)?`)

// errorLogMessage is the message of errorLog's lines.
const errorLogMessage = "tracing: OpenTelemetry error (an export that failed drops its spans)"
