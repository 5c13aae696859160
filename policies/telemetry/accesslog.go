package telemetry

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/transcoder/jsonenc"
)

// accessLogger writes one JSON line per request.
type accessLogger struct {
	w       io.Writer
	mu      sync.Mutex // serialises writes: one line, one Write
	bufs    sync.Pool  // of *[]byte, the lines being encoded
	headers []string   // request headers (lower case, as gRPC metadata names them) added to each line; never credentials
	canon   []string   // the same names canonicalised, as HTTP requests' header maps key them
	keys    []string   // their keys in the line: "header.<name>"
	file    *os.File   // the output file, nil for streams
}

func newAccessLogger(cfg config.AccessLog, w io.Writer) (*accessLogger, error) {
	a := &accessLogger{}
	for _, h := range cfg.Headers {
		if !config.IsSecretHeader(h) { // validation refuses them; this makes sure
			a.headers = append(a.headers, h)
			a.canon = append(a.canon, http.CanonicalHeaderKey(h))
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
	a.w = w
	return a, nil
}

func (a *accessLogger) close() error {
	if a.file == nil {
		return nil
	}
	return a.file.Close()
}

// maxPooledLine bounds the line buffers kept for reuse: a line with huge header values is not kept.
const maxPooledLine = 64 << 10

// write logs the line of a finished request: a JSON object as log/slog's JSON handler writes one
// (time, msg, then the fields), encoded into a pooled buffer and written in one Write.
func (a *accessLogger) write(_ context.Context, o *observation) {
	bp, _ := a.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b := append((*bp)[:0], `{"time":"`...)
	b = time.Now().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","msg":"access"`...)
	b = appendField(b, "front", o.front)
	if o.method != "" {
		b = appendField(b, "method", o.method)
	}
	if o.route != "" {
		b = appendField(b, "route", o.route)
	}
	if o.httpMethod != "" {
		b = appendField(b, "http_method", o.httpMethod)
		b = appendField(b, "path", o.path)
		b = strconv.AppendInt(append(b, `,"http_status":`...), int64(o.httpStatus), 10)
	}
	b = appendField(b, "grpc_code", codeName(o.code))
	b = strconv.AppendFloat(append(b, `,"latency_ms":`...), float64(o.latency.Microseconds())/1000, 'f', -1, 64)
	b = strconv.AppendInt(append(b, `,"bytes_in":`...), o.bytesIn, 10)
	b = strconv.AppendInt(append(b, `,"bytes_out":`...), o.bytesOut, 10)
	if o.endpoint != "" {
		b = appendField(b, "upstream", o.endpoint)
	}
	if o.consumer != "" {
		b = appendField(b, "consumer", o.consumer)
	}
	if o.calls > 1 {
		b = strconv.AppendInt(append(b, `,"calls":`...), int64(o.calls), 10)
	}
	if o.denial.Policy != "" {
		b = appendField(b, "denied_by", o.denial.Policy)
		b = appendField(b, "deny_reason", o.denial.Reason)
	}
	if o.trace.IsValid() {
		tid, sid := o.trace.TraceID(), o.trace.SpanID()
		b = hex.AppendEncode(append(b, `,"trace_id":"`...), tid[:])
		b = hex.AppendEncode(append(b, `","span_id":"`...), sid[:])
		b = append(b, '"')
	}
	if o.clientIP != "" {
		b = appendField(b, "client_ip", o.clientIP)
	}
	for i, h := range a.headers {
		if v := o.header(h, a.canon[i]); v != "" {
			b = appendField(b, a.keys[i], v)
		}
	}
	b = append(b, '}', '\n')
	a.mu.Lock()
	_, _ = a.w.Write(b)
	a.mu.Unlock()
	if cap(b) <= maxPooledLine {
		*bp = b
		a.bufs.Put(bp)
	}
}

// appendField appends ,"key":"value" with both escaped as encoding/json escapes strings
// (jsonenc.AppendString): the line stays one line of valid JSON whatever a client sent.
func appendField(b []byte, key, value string) []byte {
	b = jsonenc.AppendString(append(b, ','), key)
	return jsonenc.AppendString(append(b, ':'), value)
}
