package telemetry_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/telemetry"
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
