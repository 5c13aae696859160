package transcoder_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/routing"
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

// Over HTTP/2, a download that fails right after its first message sends that message's bytes,
// then resets the stream, resetDelay after the failure: sent at once, the DATA and the RST_STREAM
// could be read in one go, and a client may drop the data with the reset (curl before 8.1 printed
// neither the headers nor the bytes). The backend fails once the client has the bytes, so the time
// from there to the reset is the gateway's alone.
func TestHTTPBodyStreamResetAfterTheBytes(t *testing.T) {
	const data = "first message data\n"
	fail := make(chan struct{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	backend := grpc.NewServer(grpc.ForceServerCodecV2(routing.Codec{}), grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error {
		var f routing.Frame
		defer f.Free()
		if err := ss.RecvMsg(&f); err != nil {
			return err
		}
		f.SetBytes(httpBody("text/plain", data))
		if err := ss.SendMsg(&f); err != nil {
			return err
		}
		select {
		case <-fail:
		case <-ss.Context().Done():
		}
		return status.Error(codes.DataLoss, "the disk is gone")
	}))
	go func() { _ = backend.Serve(lis) }()
	t.Cleanup(backend.Stop)

	streams, err := transcoder.NewStreams()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(synthHandler(t, lis.Addr().String(), transcoder.WithStreaming(streams)))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)

	// A client of the frames themselves: HTTP/2 with prior knowledge, as curl --http2-prior-knowledge.
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second)) // a hang fails here, not the test binary
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "gateway"}, {":path", "/v1/tail/f"}} {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := errors.Join(fr.WriteSettings(), fr.WriteHeaders(http2.HeadersFrameParam{
		StreamID: 1, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true})); err != nil {
		t.Fatal(err)
	}
	// next returns the next frame of stream 1, acknowledging the server's settings on the way.
	next := func() http2.Frame {
		t.Helper()
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			if s, ok := f.(*http2.SettingsFrame); ok && !s.IsAck() {
				if err := fr.WriteSettingsAck(); err != nil {
					t.Fatal(err)
				}
			}
			if f.Header().StreamID == 1 {
				return f
			}
		}
	}

	headers, ok := next().(*http2.HeadersFrame)
	if !ok {
		t.Fatal("the response does not begin with its headers")
	}
	fields, err := hpack.NewDecoder(4096, nil).DecodeFull(headers.HeaderBlockFragment())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(fields, hpack.HeaderField{Name: ":status", Value: "200"}) ||
		!slices.Contains(fields, hpack.HeaderField{Name: "content-type", Value: "text/plain"}) {
		t.Errorf("headers %v, want 200 text/plain", fields)
	}
	var body []byte
	for len(body) < len(data) {
		switch f := next().(type) {
		case *http2.DataFrame:
			body = append(body, f.Data()...)
		default:
			t.Fatalf("%v after %q, want the first message's data, %q", f, body, data)
		}
	}
	if string(body) != data {
		t.Fatalf("body %q, want %q", body, data)
	}

	failed := time.Now()
	close(fail)
	f := next()
	rst, ok := f.(*http2.RSTStreamFrame)
	if waited := time.Since(failed); !ok || rst.ErrCode != http2.ErrCodeInternal || waited < transcoder.ResetDelay {
		t.Errorf("after the data: %v, %v after the failure; want RST_STREAM INTERNAL_ERROR, %v after it at least", f, waited, transcoder.ResetDelay)
	}
}
