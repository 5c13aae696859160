package telemetry_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/telemetry"
	"github.com/protogate/gateway/policies/telemetry/callinfo"
)

// TestAccessLogEscaping checks that access-log lines stay one valid JSON object whatever the client
// sends: quotes, backslashes, control characters, line separators and invalid UTF-8 in a logged
// header and the path come back as encoding/json reads them.
func TestAccessLogEscaping(t *testing.T) {
	var out bytes.Buffer
	tel, err := telemetry.New(telemetry.Config{
		Metrics:         config.Metrics{Disabled: true},
		AccessLog:       config.AccessLog{Headers: []string{"x-request-id"}},
		AccessLogWriter: &out,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Close()
	h := tel.Middleware()(policy.FrontREST, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	values := map[string]string{
		`quote " and \ backslash`:     `quote " and \ backslash`,
		"tab\tnul\x00bell\x07del\x7f": "tab\tnul\x00bell\x07del\x7f",
		"sep\u2028para\u2029":         "sep\u2028para\u2029",
		"bad \xff utf-8 \xe2\x82":     "bad \ufffd utf-8 \ufffd\ufffd",
		"ünïcødé ✓ 😀":                 "ünïcødé ✓ 😀",
		"</script>&":                  "</script>&",
	}
	for in, want := range values {
		out.Reset()
		r := httptest.NewRequest(http.MethodGet, "/v1/x", nil)
		r.URL.Path = "/v1/" + in
		r.Header["X-Request-Id"] = []string{in}
		h.ServeHTTP(httptest.NewRecorder(), r)
		line := out.String()
		if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
			t.Fatalf("%q: not one line: %q", in, line)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("%q: %v: %s", in, err, line)
		}
		if got["header.x-request-id"] != want || got["path"] != "/v1/"+want {
			t.Errorf("%q: header %q, path %q; want %q", in, got["header.x-request-id"], got["path"], want)
		}
		if got["msg"] != "access" || got["time"] == nil || got["latency_ms"] == nil || got["http_status"] != float64(200) {
			t.Errorf("%q: line %s", in, line)
		}
	}
}

// TestAccessLogAbortedResponse: a handler that aborts its response (panics with
// http.ErrAbortHandler, as a REST download stream failing midway does) has its line, with the
// status it had sent and the code its call ended with; the panic goes on to the server.
func TestAccessLogAbortedResponse(t *testing.T) {
	var out bytes.Buffer
	tel, err := telemetry.New(telemetry.Config{Metrics: config.Metrics{Disabled: true}, AccessLogWriter: &out}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Close()
	h := tel.Middleware()(policy.FrontREST, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		_, _ = w.Write([]byte("a,b\n"))
		callinfo.From(r.Context()).SetUpstreamCode(uint32(codes.DataLoss))
		panic(http.ErrAbortHandler)
	}))
	func() {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Errorf("panic %v, want http.ErrAbortHandler passed on", p)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/v1/tail/f", nil))
	}()
	var got struct {
		Status   int    `json:"http_status"`
		Code     string `json:"grpc_code"`
		BytesOut int64  `json:"bytes_out"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("no access-log line: %v: %q", err, out.String())
	}
	if got.Status != http.StatusOK || got.Code != "DATA_LOSS" || got.BytesOut != 4 {
		t.Errorf("line %s: want http_status 200, grpc_code DATA_LOSS, bytes_out 4", out.String())
	}
}

// TestAccessLogBuffered checks the buffering of access-log lines to a file: with a long flush
// interval they wait in memory until Close, in order; 64 KiB of waiting lines are written at
// once; a short interval writes them without a Close; a negative interval writes each line as it
// is logged.
func TestAccessLogBuffered(t *testing.T) {
	start := func(t *testing.T, flush time.Duration) (serve func(n int), read func() []string, close func()) {
		t.Helper()
		path := filepath.Join(t.TempDir(), "access.log")
		tel, err := telemetry.New(telemetry.Config{
			Metrics:   config.Metrics{Disabled: true},
			AccessLog: config.AccessLog{Output: path, FlushInterval: flush},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		closed := false
		t.Cleanup(func() {
			if !closed {
				tel.Close()
			}
		})
		h := tel.Middleware()(policy.FrontREST, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		next := 0
		serve = func(n int) {
			for range n {
				next++
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/v1/items/"+strconv.Itoa(next), nil))
			}
		}
		read = func() []string {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")[:strings.Count(string(b), "\n")]
		}
		close = func() {
			closed = true
			if err := tel.Close(); err != nil {
				t.Fatal(err)
			}
		}
		return serve, read, close
	}
	inOrder := func(t *testing.T, lines []string, n int) {
		t.Helper()
		if len(lines) != n {
			t.Fatalf("%d lines, want %d", len(lines), n)
		}
		for i, line := range lines {
			var got struct{ Path string }
			if err := json.Unmarshal([]byte(line), &got); err != nil {
				t.Fatalf("line %d: %v: %q", i+1, err, line)
			}
			if want := "/v1/items/" + strconv.Itoa(i+1); got.Path != want {
				t.Fatalf("line %d: path %q, want %q", i+1, got.Path, want)
			}
		}
	}

	t.Run("until close", func(t *testing.T) {
		serve, read, close := start(t, time.Hour)
		serve(10)
		if lines := read(); len(lines) != 0 {
			t.Fatalf("%d lines written before a flush", len(lines))
		}
		close()
		inOrder(t, read(), 10)
	})
	t.Run("full buffer", func(t *testing.T) {
		serve, read, close := start(t, time.Hour)
		serve(1000) // about 130 KiB of lines
		if got := len(read()); got < 300 || got >= 1000 {
			t.Fatalf("%d of 1000 lines written before close, want the full buffers' worth", got)
		}
		close()
		inOrder(t, read(), 1000)
	})
	t.Run("interval", func(t *testing.T) {
		serve, read, _ := start(t, time.Millisecond)
		serve(3)
		deadline := time.Now().Add(10 * time.Second)
		for len(read()) < 3 {
			if time.Now().After(deadline) {
				t.Fatalf("%d of 3 lines written after 10s", len(read()))
			}
			runtime.Gosched()
		}
		inOrder(t, read(), 3)
	})
	t.Run("unbuffered", func(t *testing.T) {
		serve, read, _ := start(t, -1)
		serve(2)
		inOrder(t, read(), 2)
	})
}
