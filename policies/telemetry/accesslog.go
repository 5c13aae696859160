package telemetry

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/protogate/gateway/config"
)

// accessLogger writes one JSON line per request.
type accessLogger struct {
	log     *slog.Logger
	headers []string // request headers (lower case) added to each line; never credentials
	keys    []string // their keys in the line: "header.<name>"
	file    *os.File // the output file, nil for streams
}

func newAccessLogger(cfg config.AccessLog, w io.Writer) (*accessLogger, error) {
	a := &accessLogger{}
	for _, h := range cfg.Headers {
		if !config.IsSecretHeader(h) { // validation refuses them; this makes sure
			a.headers = append(a.headers, h)
			a.keys = append(a.keys, "header."+h)
		}
	}
	if w == nil {
		switch cfg.Output {
		case config.AccessLogStdout:
			w = os.Stdout
		case config.AccessLogStderr:
			w = os.Stderr
		default:
			f, err := os.OpenFile(cfg.Output, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
			if err != nil {
				return nil, err
			}
			a.file, w = f, f
		}
	}
	a.log = slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: dropLevel}))
	return a, nil
}

// dropLevel removes the level from lines: access-log lines have none.
func dropLevel(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.LevelKey {
		return slog.Attr{}
	}
	return a
}

func (a *accessLogger) close() error {
	if a.file == nil {
		return nil
	}
	return a.file.Close()
}

// maxLineAttrs bounds the attributes of a line before the configured headers.
const maxLineAttrs = 18

// write logs the line of a finished request.
func (a *accessLogger) write(ctx context.Context, o *observation) {
	var buf [maxLineAttrs + 4]slog.Attr // the line is copied into the record: no allocation for up to 4 headers
	attrs := buf[:0]
	attrs = append(attrs, slog.String("front", o.front))
	if o.method != "" {
		attrs = append(attrs, slog.String("method", o.method))
	}
	if o.route != "" {
		attrs = append(attrs, slog.String("route", o.route))
	}
	if o.httpMethod != "" {
		attrs = append(attrs, slog.String("http_method", o.httpMethod), slog.String("path", o.path),
			slog.Int("http_status", o.httpStatus))
	}
	attrs = append(attrs,
		slog.String("grpc_code", codeName(o.code)),
		slog.Float64("latency_ms", float64(o.latency.Microseconds())/1000),
		slog.Int64("bytes_in", o.bytesIn),
		slog.Int64("bytes_out", o.bytesOut))
	if o.endpoint != "" {
		attrs = append(attrs, slog.String("upstream", o.endpoint))
	}
	if o.consumer != "" {
		attrs = append(attrs, slog.String("consumer", o.consumer))
	}
	if o.calls > 1 {
		attrs = append(attrs, slog.Int("calls", o.calls))
	}
	if o.denial.Policy != "" {
		attrs = append(attrs, slog.String("denied_by", o.denial.Policy), slog.String("deny_reason", o.denial.Reason))
	}
	if o.traceID != "" {
		attrs = append(attrs, slog.String("trace_id", o.traceID), slog.String("span_id", o.spanID))
	}
	if o.clientIP != "" {
		attrs = append(attrs, slog.String("client_ip", o.clientIP))
	}
	for i, h := range a.headers {
		if v := o.header(h); v != "" {
			attrs = append(attrs, slog.String(a.keys[i], v))
		}
	}
	a.log.LogAttrs(ctx, slog.LevelInfo, "access", attrs...)
}
