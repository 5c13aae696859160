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
	"unicode/utf8"

	"github.com/protogate/gateway/config"
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

// appendField appends ,"key":"value" with both JSON-escaped.
func appendField(b []byte, key, value string) []byte {
	b = appendJSONString(append(b, ','), key)
	return appendJSONString(append(b, ':'), value)
}

// appendJSONString appends s as a JSON string, escaped as log/slog and encoding/json escape it
// (without HTML escaping): quotes, backslashes and control characters, U+2028 and U+2029; invalid
// UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
