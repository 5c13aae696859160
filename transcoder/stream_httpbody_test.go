package transcoder_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/protogate/gateway/transcoder"
)

// TestHTTPBodyStream serves Tail, a server stream of google.api.HttpBody, over real HTTP/1.1 and
// HTTP/2 (h2c) connections: the body is the messages' data, the Content-Type the first message's;
// a failure after the first message cuts the response off, one before it is an error response.
func TestHTTPBodyStream(t *testing.T) {
	streams, err := transcoder.NewStreams()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(synthHandler(t, "", transcoder.WithStreaming(streams)))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)

	const target = "/v1/tail/f?content_type=text/csv&data=YSxiCg" // "a,b\n"
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		if proto == "HTTP/2.0" {
			tr.Protocols.SetUnencryptedHTTP2(true)
		} else {
			tr.Protocols.SetHTTP1(true)
		}
		t.Cleanup(tr.CloseIdleConnections)
		get := func(t *testing.T, method, target string, headers ...string) *http.Response {
			t.Helper()
			req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+target, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i+1 < len(headers); i += 2 {
				req.Header.Set(headers[i], headers[i+1])
			}
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { resp.Body.Close() })
			if resp.Proto != proto {
				t.Fatalf("served over %s, want %s", resp.Proto, proto)
			}
			return resp
		}

		t.Run(proto, func(t *testing.T) {
			t.Run("the data of every message", func(t *testing.T) {
				// Accept changes nothing: the data is the representation.
				for _, accept := range []string{"", "application/json", "text/event-stream"} {
					resp := get(t, "GET", target, "Accept", accept)
					body, err := io.ReadAll(resp.Body)
					if err != nil || resp.StatusCode != 200 || string(body) != "a,b\n-more-end" {
						t.Fatalf("Accept %q: %d %q, %v; want 200 \"a,b\\n-more-end\"", accept, resp.StatusCode, body, err)
					}
					if ct := resp.Header.Get("Content-Type"); ct != "text/csv" {
						t.Errorf("Accept %q: Content-Type %q, want the first message's, text/csv", accept, ct)
					}
					if got := resp.Trailer.Get("Grpc-Trailer-Echo-Trailer"); got != "done" {
						t.Errorf("Accept %q: trailer Grpc-Trailer-Echo-Trailer = %q, want done", accept, got)
					}
				}
			})
			t.Run("no content type", func(t *testing.T) {
				resp := get(t, "GET", "/v1/tail/f?data="+base64.URLEncoding.EncodeToString([]byte{0, 1}))
				body, err := io.ReadAll(resp.Body)
				if err != nil || string(body) != "\x00\x01-more-end" || resp.Header.Get("Content-Type") != "application/octet-stream" {
					t.Errorf("%d %q %q, %v", resp.StatusCode, resp.Header.Get("Content-Type"), body, err)
				}
			})
			t.Run("failure after the first message", func(t *testing.T) {
				resp := get(t, "GET", target, "Grpc-Metadata-Fail-After", "1")
				if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv" {
					t.Fatalf("%d %q, want 200 text/csv", resp.StatusCode, resp.Header.Get("Content-Type"))
				}
				body, err := io.ReadAll(resp.Body)
				if err == nil || errors.Is(err, io.EOF) {
					t.Fatalf("the body read to its end (%q): a truncated download must not look complete", body)
				}
				if string(body) != "a,b\n" {
					t.Errorf("body before the cut %q, want the first message's data", body)
				}
			})
			t.Run("failure before the first message", func(t *testing.T) {
				resp := get(t, "GET", target, "Grpc-Metadata-Fail-After", "0")
				body, err := io.ReadAll(resp.Body)
				if err != nil || resp.StatusCode != 500 || resp.Header.Get("Content-Type") != "application/json" ||
					!strings.Contains(string(body), `"code":15`) || !strings.Contains(string(body), "the disk is gone") {
					t.Errorf("%d %q %s, %v; want 500 with the DATA_LOSS status", resp.StatusCode, resp.Header.Get("Content-Type"), body, err)
				}
			})
			t.Run("HEAD", func(t *testing.T) {
				// The backend holds the stream open after the first message: HEAD answers with that
				// message's headers and ends the call, or this never returns.
				resp := get(t, "HEAD", target, "Grpc-Metadata-Hold", "1")
				body, err := io.ReadAll(resp.Body)
				if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv" || len(body) != 0 {
					t.Errorf("%d %q %q, %v; want 200 text/csv and no body", resp.StatusCode, resp.Header.Get("Content-Type"), body, err)
				}
				resp = get(t, "HEAD", target, "Grpc-Metadata-Fail-After", "0")
				if resp.StatusCode != 500 {
					t.Errorf("HEAD of a call failing before its first message: %d, want 500", resp.StatusCode)
				}
			})
		})
	}

	t.Run("WebSocket: a binary frame of each message's data", func(t *testing.T) {
		conn, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http")+target, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		for _, want := range []string{"a,b\n", "-more", "-end"} {
			typ, data, err := conn.Read(t.Context())
			if err != nil || typ != websocket.MessageBinary || string(data) != want {
				t.Fatalf("frame %v %q, %v; want binary %q", typ, data, err, want)
			}
		}
		if _, _, err := conn.Read(context.Background()); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
			t.Errorf("end: %v, want a normal closure", err)
		}
	})
}
