package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

// h2cTransport is an HTTP/2 client transport over cleartext TCP (prior knowledge).
func h2cTransport() *http.Transport {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return tr
}

// rawGRPC posts body as a gRPC request over cleartext HTTP/2 and returns the grpc-status it gets.
func rawGRPC(t *testing.T, addr, method string, body []byte) codes.Code {
	t.Helper()
	tr := h2cTransport()
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+method, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("round trip: %v", err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	s := resp.Trailer.Get("Grpc-Status")
	if s == "" {
		s = resp.Header.Get("Grpc-Status") // trailers-only response
	}
	code, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("no grpc-status in the response (headers %v, trailers %v)", resp.Header, resp.Trailer)
	}
	return codes.Code(code)
}

func TestMalformedFrames(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	const getUser = "/shop.users.v1.UserService/GetUser"
	cases := []struct {
		name string
		body []byte
	}{
		{"truncated message", []byte{0, 0, 0, 0, 100, 1, 2, 3}},
		{"truncated prefix", []byte{0, 0, 0}},
		{"compressed without encoding", []byte{1, 0, 0, 0, 2, 8, 1}},
		{"no message at all", nil},
		{"two messages to a unary method", []byte{0, 0, 0, 0, 3, 0x0a, 1, '1', 0, 0, 0, 0, 3, 0x0a, 1, '2'}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if code := rawGRPC(t, g.addr, getUser, tc.body); code == codes.OK {
				t.Errorf("status OK for a malformed request")
			}
		})
	}
	// The gateway still serves well-formed calls.
	if code := rawGRPC(t, g.addr, getUser, []byte{0, 0, 0, 0, 3, 0x0a, 1, '1'}); code != codes.OK {
		t.Fatalf("a well-formed call after the malformed ones: %v", code)
	}
}

// TestLargeFirstHeaderBlock: a connection whose first request's headers are larger than the
// split reads to classify it (64 KiB) gets an answer: 431 on REST, INVALID_ARGUMENT on gRPC; it is
// not dropped.
func TestLargeFirstHeaderBlock(t *testing.T) {
	g := startGateway(t, harnessOptions{})
	big := strings.Repeat("0123456789abcdef", 80<<10/16)
	send := func(req *http.Request) *http.Response {
		t.Helper()
		tr := h2cTransport()
		defer tr.CloseIdleConnections()
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("round trip: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	req, err := http.NewRequestWithContext(testContext(t), http.MethodGet, "http://"+g.addr+"/v1/users/1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Big", big)
	if resp := send(req); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("REST over h2c with %d bytes of headers: HTTP %d, want 431", len(big), resp.StatusCode)
	}
	req, err = http.NewRequestWithContext(testContext(t), http.MethodPost, "http://"+g.addr+"/shop.users.v1.UserService/GetUser",
		bytes.NewReader([]byte{0, 0, 0, 0, 3, 0x0a, 1, '1'}))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	req.Header.Set("X-Big", big)
	if resp := send(req); resp.Header.Get("Grpc-Status") != "3" {
		t.Errorf("gRPC over h2c with %d bytes of headers: HTTP %d, grpc-status %q, want 3 (INVALID_ARGUMENT)", len(big), resp.StatusCode, resp.Header.Get("Grpc-Status"))
	}
}
