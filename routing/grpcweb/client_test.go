package grpcweb_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// This file is a small gRPC-Web client, written from the protocol spec, that
// the tests use to drive the handler over real HTTP.

const (
	flagCompressed = 0x01
	flagTrailer    = 0x80
)

type mode struct {
	name string
	text bool
}

var modes = []mode{{"binary", false}, {"text", true}}

func (m mode) contentType() string {
	if m.text {
		return "application/grpc-web-text"
	}
	return "application/grpc-web+proto"
}

func (m mode) wantResponseContentType() string {
	if m.text {
		return "application/grpc-web-text+proto"
	}
	return "application/grpc-web+proto"
}

// frame returns one length-prefixed frame.
func frame(flags byte, payload []byte) []byte {
	b := make([]byte, 5, 5+len(payload))
	b[0] = flags
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	return append(b, payload...)
}

// body returns a request body carrying msgs; in text mode each frame is its
// own padded base64 chunk, as grpc-web clients send them.
func (m mode) body(msgs ...[]byte) []byte {
	var out []byte
	for _, msg := range msgs {
		out = append(out, m.encode(frame(0, msg))...)
	}
	return out
}

// encode returns raw as sent in this mode: unchanged, or as one padded
// base64 chunk.
func (m mode) encode(raw []byte) []byte {
	if !m.text {
		return raw
	}
	return []byte(base64.StdEncoding.EncodeToString(raw))
}

// base64Chunks encodes raw as a concatenation of padded base64 chunks of
// at most n input bytes each, the way a client that flushes at arbitrary
// points would.
func base64Chunks(raw []byte, n int) []byte {
	var out []byte
	for len(raw) > 0 {
		c := min(n, len(raw))
		out = base64.StdEncoding.AppendEncode(out, raw[:c])
		raw = raw[c:]
	}
	return out
}

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

func newRequest(t testing.TB, ctx context.Context, baseURL, method string, m mode, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+method, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", m.contentType())
	req.Header.Set("X-Grpc-Web", "1")
	if m.text {
		req.Header.Set("Accept", "application/grpc-web-text")
	}
	return req
}

// quantumReader decodes a stream of padded base64 chunks four characters at
// a time, so it never waits for input beyond the next quantum: a reader of
// a streamed text response sees each message as soon as it arrives.
type quantumReader struct {
	r       io.Reader
	buf     [3]byte
	pending []byte
}

func (q *quantumReader) Read(p []byte) (int, error) {
	for len(q.pending) == 0 {
		var quad [4]byte
		if _, err := io.ReadFull(q.r, quad[:]); err != nil {
			if err == io.ErrUnexpectedEOF {
				return 0, errors.New("response ends inside a base64 quantum")
			}
			return 0, err
		}
		n, err := base64.StdEncoding.Decode(q.buf[:], quad[:])
		if err != nil {
			return 0, fmt.Errorf("response base64: %w", err)
		}
		q.pending = q.buf[:n]
	}
	n := copy(p, q.pending)
	q.pending = q.pending[n:]
	return n, nil
}

// decodeQuanta is the reference decoder of a text body: CR and LF dropped,
// then each 4-character quantum decoded on its own. It returns what decodes
// cleanly and whether the text is malformed after that.
func decodeQuanta(text []byte) (decoded []byte, malformed bool) {
	text = bytes.ReplaceAll(bytes.ReplaceAll(text, []byte("\r"), nil), []byte("\n"), nil)
	for ; len(text) >= 4; text = text[4:] {
		var q [3]byte
		n, err := base64.StdEncoding.Decode(q[:], text[:4])
		if err != nil {
			return decoded, true
		}
		decoded = append(decoded, q[:n]...)
	}
	return decoded, len(text) > 0
}

// responseReader reads the frames of a gRPC-Web response body.
type responseReader struct {
	r io.Reader
}

func newResponseReader(body io.Reader, m mode) *responseReader {
	if m.text {
		body = &quantumReader{r: body}
	}
	return &responseReader{r: body}
}

// next returns the next frame, or io.EOF at the end of the body.
func (rr *responseReader) next() (flags byte, payload []byte, err error) {
	var hdr [5]byte
	if _, err := io.ReadFull(rr.r, hdr[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return 0, nil, errors.New("response ends inside a frame header")
		}
		return 0, nil, err
	}
	payload = make([]byte, binary.BigEndian.Uint32(hdr[1:]))
	if _, err := io.ReadFull(rr.r, payload); err != nil {
		return 0, nil, fmt.Errorf("response ends inside a frame: %w", err)
	}
	return hdr[0], payload, nil
}

// result is a whole gRPC-Web response.
type result struct {
	resp         *http.Response
	messages     [][]byte
	trailer      map[string][]string // lower-case keys
	trailersOnly bool
}

func (r *result) code() codes.Code {
	n, err := strconv.Atoi(r.get("grpc-status"))
	if err != nil {
		return codes.Code(9999)
	}
	return codes.Code(n)
}

// message returns grpc-message percent-decoded.
func (r *result) message() string {
	m, err := url.PathUnescape(r.get("grpc-message"))
	if err != nil {
		return "undecodable grpc-message " + r.get("grpc-message")
	}
	return m
}

func (r *result) get(key string) string {
	if v := r.trailer[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// readResult reads a whole response and checks its gRPC-Web shape: HTTP 200,
// the content type of the mode, message frames, then exactly one trailer
// frame at the end (or a trailers-only response).
func readResult(t testing.TB, resp *http.Response, m mode) *result {
	t.Helper()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("HTTP status %d (%s), want 200", resp.StatusCode, b)
	}
	if got := resp.Header.Get("Content-Type"); got != m.wantResponseContentType() {
		t.Fatalf("Content-Type %q, want %q", got, m.wantResponseContentType())
	}
	res := &result{resp: resp}
	if resp.Header.Get("Grpc-Status") != "" {
		res.trailersOnly = true
		res.trailer = lowerHeader(resp.Header)
		if b, _ := io.ReadAll(resp.Body); len(b) != 0 {
			t.Fatalf("trailers-only response has a body of %d bytes", len(b))
		}
		return res
	}
	rr := newResponseReader(resp.Body, m)
	for {
		flags, payload, err := rr.next()
		if err == io.EOF {
			t.Fatal("response ended without a trailer frame")
		}
		if err != nil {
			t.Fatal(err)
		}
		if flags == 0 {
			res.messages = append(res.messages, payload)
			continue
		}
		if flags != flagTrailer {
			t.Fatalf("response frame flags 0x%02x", flags)
		}
		res.trailer = parseTrailer(t, payload)
		if _, _, err := rr.next(); err != io.EOF {
			t.Fatalf("after the trailer frame: %v, want end of body", err)
		}
		return res
	}
}

func lowerHeader(h http.Header) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, v := range h {
		out[strings.ToLower(k)] = v
	}
	return out
}

// parseTrailer parses a trailer block: lower-case "key: value\r\n" lines.
func parseTrailer(t testing.TB, block []byte) map[string][]string {
	t.Helper()
	out := make(map[string][]string)
	s := string(block)
	if !strings.HasSuffix(s, "\r\n") {
		t.Fatalf("trailer block %q does not end in CRLF", s)
	}
	for _, line := range strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("trailer line %q is not key: value", line)
		}
		if k != strings.ToLower(k) {
			t.Fatalf("trailer key %q is not lower-case", k)
		}
		out[k] = append(out[k], v)
	}
	return out
}
