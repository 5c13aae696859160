package transcoder_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/types/known/timestamppb"

	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/transcoder"
)

// readLinesRef is what ReadLines must yield: the body split at "\n", each line trimmed of spaces,
// tabs and "\r", blank lines skipped, numbered from 1.
func readLinesRef(body string) (lines []string, numbers []int) {
	for i, line := range strings.Split(body, "\n") {
		if line = strings.Trim(line, " \t\r"); line != "" {
			lines = append(lines, line)
			numbers = append(numbers, i+1)
		}
	}
	return lines, numbers
}

func TestReadLines(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		max        int
		lines      []string
		numbers    []int
		tooLong    bool
	}{
		{"empty", "", 16, nil, nil, false},
		{"one without newline", `{"a":1}`, 16, []string{`{"a":1}`}, []int{1}, false},
		{"blank lines and CRLF", "\r\n{\"a\":1}\r\n  \n\t\n{}\n\n", 16, []string{`{"a":1}`, `{}`}, []int{2, 5}, false},
		{"exactly the limit", "12345\n123456", 6, []string{"12345", "123456"}, []int{1, 2}, false},
		{"over the limit", "1\n1234567\n", 6, []string{"1"}, []int{1}, true},
		{"long line across buffers", strings.Repeat("x", 100<<10) + "\n{}", 200 << 10, []string{strings.Repeat("x", 100<<10), "{}"}, []int{1, 2}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines, numbers, err := transcoder.ReadLines(strings.NewReader(tc.body), tc.max)
			if tc.tooLong {
				var e *transcoder.Error
				if !errors.As(err, &e) || e.HTTPStatus() != http.StatusRequestEntityTooLarge {
					t.Errorf("err = %v, want a 413", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if strings.Join(lines, "|") != strings.Join(tc.lines, "|") || !equalInts(numbers, tc.numbers) {
				t.Errorf("lines %q at %v, want %q at %v", lines, numbers, tc.lines, tc.numbers)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzReadLines checks the reader of newline-delimited request bodies against readLinesRef, in
// pieces of any size, with a small line limit.
func FuzzReadLines(f *testing.F) {
	for _, s := range []string{"", "\n", "{}\n{}", "\r\n\r\n", " {\"a\": 1} \t\r\n\n{\"b\":2}", strings.Repeat("y", 40), "a\rb\n\x00\n"} {
		f.Add(s, 7)
	}
	f.Fuzz(func(t *testing.T, body string, chunk int) {
		const max = 32
		lines, numbers, err := transcoder.ReadLines(&chunkReader{s: body, n: int(uint(chunk)%13) + 1}, max)
		want, wantNumbers := readLinesRef(body)
		if err != nil {
			// Only a line over the limit stops the reader, and everything before it was read.
			var e *transcoder.Error
			if !errors.As(err, &e) || e.HTTPStatus() != http.StatusRequestEntityTooLarge {
				t.Fatalf("unexpected error %v", err)
			}
			// It stops at the first line over the limit, having yielded the lines before it.
			first := -1
			for i, l := range strings.Split(body, "\n") {
				if len(l) > max {
					first = i + 1
					break
				}
			}
			if first < 0 {
				t.Fatalf("%v, but no line is longer than %d", err, max)
			}
			var before []string
			for i, n := range wantNumbers {
				if n < first {
					before = append(before, want[i])
				}
			}
			if strings.Join(lines, "\n") != strings.Join(before, "\n") {
				t.Fatalf("before the error: %q, want %q", lines, before)
			}
			return
		}
		if strings.Join(lines, "\n") != strings.Join(want, "\n") || !equalInts(numbers, wantNumbers) {
			t.Fatalf("lines %q at %v, want %q at %v", lines, numbers, want, wantNumbers)
		}
	})
}

// chunkReader returns s n bytes at a time.
type chunkReader struct {
	s string
	n int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.n)], r.s)
	r.s = r.s[n:]
	return n, nil
}

func TestIsWebSocket(t *testing.T) {
	h := http.Header{"Connection": {"keep-alive, Upgrade"}, "Upgrade": {"WebSocket"}}
	if !transcoder.IsWebSocket("GET", h) {
		t.Error("a GET with Connection: keep-alive, Upgrade and Upgrade: WebSocket is a WebSocket")
	}
	if transcoder.IsWebSocket("POST", h) {
		t.Error("a POST is never a WebSocket handshake")
	}
	if transcoder.IsWebSocket("GET", http.Header{"Upgrade": {"websocket"}}) {
		t.Error("Upgrade without Connection: Upgrade is not a handshake")
	}
}

// inventoryUpdate is one WatchInventory response.
func inventoryUpdate(b testing.TB, seq int64) []byte {
	return marshal(b, &catalogv1.InventoryUpdate{ProductId: "p1", Stock: 42, Sequence: seq,
		At: timestamppb.New(time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC))})
}

func TestStreamRendering(t *testing.T) {
	h := shopHandler(t, nil)
	r := httptest.NewRequest("GET", "/v1/products/p1/inventory:watch", nil)
	data := inventoryUpdate(t, 7)
	ndjson, err := transcoder.StreamRenderer(h, r, false)
	if err != nil {
		t.Fatal(err)
	}
	line, err := ndjson(nil, data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(line, []byte("}\n")) || bytes.Count(line, []byte("\n")) != 1 {
		t.Fatalf("not one line: %q", line)
	}
	var got struct{ Result map[string]any }
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatal(err)
	}
	if got.Result["productId"] != "p1" || got.Result["sequence"] != "7" || got.Result["at"] != "2025-07-01T12:00:00Z" {
		t.Errorf("line %s", line)
	}
	sse, err := transcoder.StreamRenderer(h, r, true)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := sse(nil, data)
	if err != nil {
		t.Fatal(err)
	}
	if want := "data: " + strings.TrimSuffix(strings.TrimPrefix(string(line), `{"result":`), "}\n") + "\n\n"; string(ev) != want {
		t.Errorf("event %q, want %q", ev, want)
	}
}

// BenchmarkStreamMessage measures rendering one streamed response message (a WatchInventory update)
// as an NDJSON line and as an SSE event, into a reused buffer as the stream does.
func BenchmarkStreamMessage(b *testing.B) {
	h := shopHandler(b, nil)
	data := inventoryUpdate(b, 12345)
	for _, sse := range []bool{false, true} {
		name := "ndjson"
		if sse {
			name = "sse"
		}
		b.Run(name, func(b *testing.B) {
			render, err := transcoder.StreamRenderer(h, httptest.NewRequest("GET", "/v1/products/p1/inventory:watch", nil), sse)
			if err != nil {
				b.Fatal(err)
			}
			var buf []byte
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if buf, err = render(buf[:0], data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzReadValues checks the reader of a body of JSON values against encoding/json's decoder: when
// that reads the whole body as values within the limit, the reader yields the same texts; whatever
// the body, it ends, and yields nothing over the limit.
func FuzzReadValues(f *testing.F) {
	for _, s := range []string{"", "{}", "{}{}", "{\n \"a\": [1, {\"b\": \"}\"}]\n}\n{\"c\":\"\\\"{\"}", "1 2 true null \"x\"", "[[", "}{", strings.Repeat("{", 40)} {
		f.Add(s, 5)
	}
	f.Fuzz(func(t *testing.T, body string, chunk int) {
		const max = 32
		values, err := transcoder.ReadValues(&chunkReader{s: body, n: int(uint(chunk)%13) + 1}, max)
		for _, v := range values {
			if len(v) == 0 || len(v) > max {
				t.Fatalf("value %q: empty or over %d bytes", v, max)
			}
		}
		var want []string
		dec := json.NewDecoder(strings.NewReader(body))
		end := int64(0) // of the last value
		for {
			var raw json.RawMessage
			if derr := dec.Decode(&raw); derr != nil {
				if !errors.Is(derr, io.EOF) {
					return // not a sequence of JSON values: only the checks above hold
				}
				break
			}
			// Two scalars with nothing between ("0 0000" is 0 0 0 0 0 to the decoder, which reads a
			// number's leading zero as its end) are one malformed value to the reader.
			start := dec.InputOffset() - int64(len(raw))
			if len(raw) > max || len(want) > 0 && start == end && !strings.ContainsAny(string(raw[0])+want[len(want)-1][len(want[len(want)-1])-1:], "{}[]\"") {
				return
			}
			end = dec.InputOffset()
			want = append(want, string(raw))
		}
		if err != nil || !slices.Equal(values, want) {
			t.Fatalf("values %q, %v; want %q", values, err, want)
		}
	})
}

// A server stream is Server-Sent Events when Accept names text/event-stream and prefers it to
// NDJSON by q-value (a tie goes to the type named, SSE), and NDJSON otherwise: NDJSON's q-value is
// that of the most specific range matching it (a name, application/*, */*).
func TestStreamFormatByAccept(t *testing.T) {
	streams, err := transcoder.NewStreams()
	if err != nil {
		t.Fatal(err)
	}
	h := synthHandler(t, "", transcoder.WithStreaming(streams))
	const sse, ndjson = "text/event-stream", "application/x-ndjson"
	for _, tc := range []struct{ accept, want string }{
		{"", ndjson},
		{"*/*", ndjson},
		{"text/*", ndjson},
		{"text/event-stream", sse},
		{"text/event-stream;q=0", ndjson},
		{"application/x-ndjson, text/event-stream;q=0.1", ndjson},
		{"application/jsonl;q=0.8, text/event-stream;q=0.5", ndjson},
		{"text/event-stream;q=0.5, */*", ndjson},
		{"*/*;q=0.1, text/event-stream;q=0.5", sse},
		{"*/*, application/x-ndjson;q=0.1, text/event-stream;q=0.5", sse}, // the name wins over */*
		{"application/*;q=0.9, */*, text/event-stream;q=0.95", sse},
		{"application/x-ndjson, text/event-stream", sse},   // a tie
		{"application/json, text/event-stream;q=0.2", sse}, // JSON is not a stream's type
	} {
		w := call(h, "GET", "/v1/watch/x", "", "Accept", tc.accept)
		if got := w.Header().Get("Content-Type"); w.Code != http.StatusOK || got != tc.want {
			t.Errorf("Accept: %s: %d %s, want %s", tc.accept, w.Code, got, tc.want)
		}
	}
}

// wsTailProto has server-streaming methods whose request is a body: bound with body "*", and
// without a binding (the default route, POST with the request as the body); and one bound to a GET.
const wsTailProto = `syntax = "proto3";
package tail.v1;

import "google/api/annotations.proto";

service Tails {
  rpc Tail(TailRequest) returns (stream TailRequest);
  rpc TailBound(TailRequest) returns (stream TailRequest) {
    option (google.api.http) = {post: "/v1/{name}:tail" body: "*"};
  }
  rpc TailGet(TailRequest) returns (stream TailRequest) {
    option (google.api.http) = {get: "/v1/{name}:get"};
  }
}

message TailRequest {
  string name = 1;
  int32 count = 2;
}
`

// A WebSocket on a server-streaming binding whose body is "*" is refused at the handshake with 400
// saying how to call the method: its request is a body, which the socket does not carry (it takes no
// data frame) and which the query cannot stand in for. One bound to a GET takes its request from
// the path and query, and serves.
func TestWebSocketServerStreamBodyRefused(t *testing.T) {
	files, err := registry.FilesFromProtos(t.Context(), map[string]string{"tail/v1/tail.proto": wsTailProto}, nil)
	if err != nil {
		t.Fatal(err)
	}
	streams, err := transcoder.NewStreams()
	if err != nil {
		t.Fatal(err)
	}
	h := frontend(t, []*registry.Registration{{Name: "tail", Endpoints: []string{startEcho(t)}, Files: files}}, transcoder.WithStreaming(streams))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ws := "ws" + strings.TrimPrefix(srv.URL, "http")

	for _, path := range []string{"/tail.v1.Tails/Tail?count=2", "/v1/t1:tail?count=2"} {
		c, resp, err := websocket.Dial(t.Context(), ws+path, nil)
		if err == nil {
			c.CloseNow()
			t.Errorf("%s: the handshake succeeded", path)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %v (%v), want 400", path, err, resp)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		var st statusBody
		if json.Unmarshal(body, &st) != nil || st.Code != 3 || !strings.Contains(st.Message, "takes its request as the body of POST") ||
			!strings.Contains(st.Message, "newline-delimited JSON") {
			t.Errorf("%s: %s, want INVALID_ARGUMENT saying how to call the method", path, body)
		}
	}

	c, _, err := websocket.Dial(t.Context(), ws+"/v1/t1:get?count=2", nil)
	if err != nil {
		t.Fatalf("a GET-bound server stream: %v", err)
	}
	defer c.CloseNow()
	_, msg, err := c.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wantJSON(t, msg, `{"result":{"name":"t1","count":2}}`)
}
