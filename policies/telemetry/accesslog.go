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
//
// Lines to the configured output (a file, stdout, stderr) are buffered: they gather in memory and
// are written together, every flush_interval or as soon as accessLogBufferSize bytes wait, so that
// a request costs no write system call of its own. The write happens outside the lock that requests
// append under, so a slow output (a full pipe) holds up only the request that fills the buffer.
// Close writes what is left. A writer given by the caller (tests) gets each line as it is logged.
type accessLogger struct {
	w       io.Writer
	bufs    sync.Pool // of *[]byte, the lines being encoded
	headers []string  // request headers (lower case, as gRPC metadata names them) added to each line; never credentials
	canon   []string  // the same names canonicalised, as HTTP requests' header maps key them
	keys    []string  // their keys in the line, rendered: `,"header.<name>":`
	file    *os.File  // the output file, nil for streams

	mu       sync.Mutex // guards pending; when unbuffered, serialises writes: one line, one Write
	pending  []byte     // buffered lines not yet written; nil when unbuffered
	buffered bool
	writeMu  sync.Mutex // serialises flushes, so lines leave in the order they were logged
	spare    []byte     // the buffer the last flush wrote, for the next swap; guarded by writeMu
	stop     chan struct{}
	stopped  chan struct{}
}

// accessLogBufferSize is how many bytes of lines wait, at most, before they are written.
const accessLogBufferSize = 64 << 10

func newAccessLogger(cfg config.AccessLog, secrets []string, w io.Writer) (*accessLogger, error) {
	a := &accessLogger{}
	for _, h := range cfg.Headers {
		if !config.IsSecretHeader(h, secrets...) { // validation refuses them; this makes sure
			a.headers = append(a.headers, h)
			a.canon = append(a.canon, http.CanonicalHeaderKey(h))
			a.keys = append(a.keys, string(jsonenc.AppendString(append([]byte(nil), ','), "header."+h))+":")
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
		if every := cfg.Flush(); every > 0 {
			a.buffered = true
			a.pending = make([]byte, 0, accessLogBufferSize)
			a.spare = make([]byte, 0, accessLogBufferSize)
			a.stop, a.stopped = make(chan struct{}), make(chan struct{})
			go a.flushEvery(every)
		}
	}
	a.w = w
	return a, nil
}

// flushEvery writes the waiting lines every interval until close.
func (a *accessLogger) flushEvery(interval time.Duration) {
	defer close(a.stopped)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			a.flush()
		case <-a.stop:
			return
		}
	}
}

// flush writes the waiting lines: it swaps in an empty buffer under the lock, then writes the full
// one outside it.
func (a *accessLogger) flush() {
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	a.mu.Lock()
	full := a.pending
	a.pending = a.spare[:0]
	a.mu.Unlock()
	if len(full) > 0 {
		_, _ = a.w.Write(full)
	}
	if cap(full) > 4*accessLogBufferSize { // a burst of huge lines is not kept
		full = make([]byte, 0, accessLogBufferSize)
	}
	a.spare = full[:0]
}

// emit hands a finished line over: written at once when unbuffered, else added to the waiting
// lines, which are written now if they fill the buffer.
func (a *accessLogger) emit(line []byte) {
	a.mu.Lock()
	if !a.buffered {
		_, _ = a.w.Write(line)
		a.mu.Unlock()
		return
	}
	a.pending = append(a.pending, line...)
	full := len(a.pending) >= accessLogBufferSize
	a.mu.Unlock()
	if full {
		a.flush()
	}
}

func (a *accessLogger) close() error {
	if a.buffered {
		close(a.stop)
		<-a.stopped
		a.mu.Lock()
		a.buffered = false // a line logged from now on is written at once
		a.mu.Unlock()
		a.flush()
	}
	if a.file == nil {
		return nil
	}
	return a.file.Close()
}

// maxPooledLine bounds the line buffers kept for reuse: a line with huge header values is not kept.
const maxPooledLine = 64 << 10

// write logs the line of a finished request: a JSON object as log/slog's JSON handler writes one
// (time, msg, then the fields), encoded into a pooled buffer and handed to emit. The keys are
// literals, or rendered once (the logged headers'); the values are escaped as encoding/json escapes
// strings (jsonenc.AppendString), so the line stays one line of valid JSON whatever a client sent.
func (a *accessLogger) write(_ context.Context, o *observation) {
	bp, _ := a.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b := append((*bp)[:0], `{"time":"`...)
	b = o.end.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","msg":"access"`...)
	b = jsonenc.AppendString(append(b, `,"front":`...), o.front)
	if o.method != "" {
		b = jsonenc.AppendString(append(b, `,"method":`...), o.method)
	}
	if o.route != "" {
		b = jsonenc.AppendString(append(b, `,"route":`...), o.route)
	}
	if o.httpMethod != "" {
		b = jsonenc.AppendString(append(b, `,"http_method":`...), o.httpMethod)
		b = jsonenc.AppendString(append(b, `,"path":`...), o.path)
		b = strconv.AppendInt(append(b, `,"http_status":`...), int64(o.httpStatus), 10)
	}
	b = jsonenc.AppendString(append(b, `,"grpc_code":`...), codeName(o.code))
	b = appendMillis(append(b, `,"latency_ms":`...), o.latency)
	b = strconv.AppendInt(append(b, `,"bytes_in":`...), o.bytesIn, 10)
	b = strconv.AppendInt(append(b, `,"bytes_out":`...), o.bytesOut, 10)
	if o.endpoint != "" {
		b = jsonenc.AppendString(append(b, `,"upstream":`...), o.endpoint)
	}
	if o.consumer != "" {
		b = jsonenc.AppendString(append(b, `,"consumer":`...), o.consumer)
	}
	if o.upstreams > 1 {
		b = strconv.AppendInt(append(b, `,"calls":`...), int64(o.upstreams), 10)
	}
	if o.denial.Policy != "" {
		b = jsonenc.AppendString(append(b, `,"denied_by":`...), o.denial.Policy)
		b = jsonenc.AppendString(append(b, `,"deny_reason":`...), o.denial.Reason)
	}
	if o.trace.IsValid() {
		tid, sid := o.trace.TraceID(), o.trace.SpanID()
		b = hex.AppendEncode(append(b, `,"trace_id":"`...), tid[:])
		b = hex.AppendEncode(append(b, `","span_id":"`...), sid[:])
		b = append(b, '"')
	}
	if o.clientIP != "" {
		b = jsonenc.AppendString(append(b, `,"client_ip":`...), o.clientIP)
	}
	for i, h := range a.headers {
		if v := o.header(h, a.canon[i]); v != "" {
			b = jsonenc.AppendString(append(b, a.keys[i]...), v)
		}
	}
	b = append(b, '}', '\n')
	a.emit(b)
	if cap(b) <= maxPooledLine {
		*bp = b
		a.bufs.Put(bp)
	}
}

// appendMillis appends d in milliseconds, to the microsecond, as the shortest decimal: "12",
// "0.5", "1.234".
func appendMillis(b []byte, d time.Duration) []byte {
	us := max(d.Microseconds(), 0)
	b = strconv.AppendInt(b, us/1000, 10)
	frac := us % 1000
	if frac == 0 {
		return b
	}
	digits := [3]byte{byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	n := 3
	for digits[n-1] == '0' {
		n--
	}
	return append(append(b, '.'), digits[:n]...)
}
