package sanitize_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/policies/sanitize"
	"github.com/protogate/gateway/policies/telemetry/callinfo"
	"github.com/protogate/gateway/transcoder"
	"google.golang.org/grpc/codes"
)

// restFront reads the body whole, as the REST front does, and answers a failure to as it does.
var restFront = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if _, err := io.ReadAll(r.Body); err != nil {
		transcoder.WriteError(w, err)
	}
})

// bodyServer serves the REST front behind the limits on loopback.
func bodyServer(t *testing.T) *httptest.Server {
	t.Helper()
	mw, err := sanitize.New(config.Limits{MaxBodyBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mw(policy.FrontREST, restFront))
	t.Cleanup(srv.Close)
	return srv
}

// partialPost sends a POST of contentType whose head announces body (Content-Length, or chunked
// when chunked is set: body is then one chunk) and the first n bytes of what follows the head.
// It returns the connection and the rest of the bytes.
func partialPost(t *testing.T, srv *httptest.Server, contentType, body string, chunked bool, n int) (net.Conn, string) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	head := fmt.Sprintf("POST /v1/things HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n", contentType)
	if chunked {
		head += "Transfer-Encoding: chunked\r\n\r\n"
		body = fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	} else {
		head += fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body))
	}
	if _, err := io.WriteString(conn, head+body[:n]); err != nil {
		t.Fatal(err)
	}
	return conn, body[n:]
}

func readResponse(t *testing.T, conn net.Conn) (int, string) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A body the front reads whole that stops arriving ends its request with 408 DEADLINE_EXCEEDED once
// its time is up, whatever its type and framing, not only a JSON body of known length: a protobuf
// body, a chunked one (JSON or not).
func TestStalledBodyOfAnyKindTimesOut(t *testing.T) {
	defer sanitize.SetBodyReadTime(100*time.Millisecond, 1<<62)()
	srv := bodyServer(t)
	for _, tc := range []struct {
		name, contentType string
		chunked           bool
	}{
		{"protobuf", "application/x-protobuf", false},
		{"chunked protobuf", "application/x-protobuf", true},
		{"chunked JSON", "application/json", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, _ := partialPost(t, srv, tc.contentType, `{"name":"Ada Lovelace"}`, tc.chunked, 9)
			code, body := readResponse(t, conn)
			if code != http.StatusRequestTimeout || !strings.Contains(body, `"code":4`) || !strings.Contains(body, "did not arrive within 100ms") {
				t.Errorf("HTTP %d %s, want 408 DEADLINE_EXCEEDED naming the time", code, body)
			}
		})
	}
}

// A body slower than the time allowed one that announces little, but within the time for the
// length it announced, is read whole.
func TestSlowBodyWithinItsTime(t *testing.T) {
	defer sanitize.SetBodyReadTime(500*time.Millisecond, 1)() // and a second per byte
	srv := bodyServer(t)
	slow, rest := partialPost(t, srv, "application/x-protobuf", strings.Repeat("x", 20), false, 10) // 20.5s
	// A request started later that announces 1 byte, and sends none, ends when its 1.5s are up:
	// more than the slow one's 500ms have passed by then.
	stalled, _ := partialPost(t, srv, "application/x-protobuf", "x", false, 0)
	if code, body := readResponse(t, stalled); code != http.StatusRequestTimeout {
		t.Fatalf("a stalled request: HTTP %d %s, want 408", code, body)
	}
	if _, err := io.WriteString(slow, rest); err != nil {
		t.Fatal(err)
	}
	if code, body := readResponse(t, slow); code != http.StatusOK {
		t.Errorf("the slow request: HTTP %d %s, want 200", code, body)
	}
}

// A body the front reads whole that came too late is a refusal of the limits, recorded as one
// (denied_by "limits", reason DeadlineExceeded) as a JSON body of known length the limits read themselves
// is: the telemetry then counts it under the method its path binds to.
func TestStalledBodyIsRefusedByTheLimits(t *testing.T) {
	defer sanitize.SetBodyReadTime(100*time.Millisecond, 1<<62)()
	mw, err := sanitize.New(config.Limits{MaxBodyBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	limited := mw(policy.FrontREST, restFront)
	recorded := make(chan callinfo.Snapshot, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := callinfo.New()
		limited.ServeHTTP(w, r.WithContext(callinfo.With(r.Context(), info)))
		recorded <- info.Snapshot()
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name, contentType string
		chunked           bool
	}{
		{"JSON", "application/json", false},
		{"protobuf", "application/x-protobuf", false},
		{"chunked JSON", "application/json", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, _ := partialPost(t, srv, tc.contentType, `{"name":"Ada Lovelace"}`, tc.chunked, 9)
			if code, body := readResponse(t, conn); code != http.StatusRequestTimeout {
				t.Errorf("HTTP %d %s, want 408", code, body)
			}
			want := callinfo.Denial{Policy: "limits", Reason: codes.DeadlineExceeded.String(), Code: uint32(codes.DeadlineExceeded)}
			if got := (<-recorded).Denial; got != want {
				t.Errorf("recorded %+v, want %+v", got, want)
			}
		})
	}
}

// A body its client gave up on (reset its HTTP/2 stream: the request's context is cancelled and
// the read fails) is no refusal: the limits answer CANCELLED (499) and record it as the code the
// call ended with, not as a denial.
func TestAbandonedBodyIsCancelled(t *testing.T) {
	mw, err := sanitize.New(config.Limits{MaxBodyBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	limited := mw(policy.FrontREST, restFront)
	ctx, cancel := context.WithCancel(t.Context())
	info := callinfo.New()
	r := httptest.NewRequestWithContext(callinfo.With(ctx, info), http.MethodPost, "/v1/things", abandoned{cancel})
	r.Header.Set("Content-Type", "application/json")
	r.ContentLength = 10
	w := httptest.NewRecorder()
	limited.ServeHTTP(w, r)
	if w.Code != 499 || !strings.Contains(w.Body.String(), `"code":1`) {
		t.Errorf("HTTP %d %s, want 499 CANCELLED", w.Code, w.Body)
	}
	if s := info.Snapshot(); s.EndedCode != int32(codes.Canceled) || s.Denial.Policy != "" {
		t.Errorf("recorded the end %d and the denial %+v, want CANCELLED and none", s.EndedCode, s.Denial)
	}
}

// abandoned is a body whose client resets the stream as it is read: the request's context is
// cancelled, and the read fails.
type abandoned struct{ cancel context.CancelFunc }

func (b abandoned) Read([]byte) (int, error) {
	b.cancel()
	return 0, errors.New("client reset the stream")
}
