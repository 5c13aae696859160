package listen_test

import (
	"bytes"
	"fmt"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// emptySettings is the one frame a Split writes: SETTINGS, no flags, stream
// 0, no parameters.
var emptySettings = []byte{0, 0, 0, byte(http2.FrameSettings), 0, 0, 0, 0, 0}

// opening builds what an HTTP/2 client sends before its first request's
// body: preface, SETTINGS, WINDOW_UPDATE, then each frame that extra adds.
type opening struct {
	buf bytes.Buffer
	fr  *http2.Framer
}

func newOpening(t testing.TB) *opening {
	t.Helper()
	o := &opening{}
	o.buf.WriteString(http2.ClientPreface)
	o.fr = http2.NewFramer(&o.buf, nil)
	o.check(t, o.fr.WriteSettings(
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: 4 << 20},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: 16 << 20},
	))
	o.check(t, o.fr.WriteWindowUpdate(0, 4<<20))
	return o
}

func (o *opening) check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// headerBlock encodes a request's header fields, the content type last so
// that a split block puts it in a CONTINUATION frame.
func headerBlock(t testing.TB, contentType string) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	fields := []hpack.HeaderField{
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: "http"},
		{Name: ":path", Value: "/grpc.health.v1.Health/Check"},
		{Name: ":authority", Value: "127.0.0.1:8080"},
		{Name: "te", Value: "trailers"},
		{Name: "user-agent", Value: "grpc-go/1.85.0"},
		{Name: "grpc-timeout", Value: "9999m"},
	}
	if contentType != "" {
		fields = append(fields, hpack.HeaderField{Name: "content-type", Value: contentType})
	}
	for _, f := range fields {
		if err := enc.WriteField(f); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// headers adds the first request's header block, in one HEADERS frame or,
// when split > 0, a HEADERS frame of split bytes and CONTINUATIONs.
func (o *opening) headers(t testing.TB, contentType string, split int) *opening {
	t.Helper()
	block := headerBlock(t, contentType)
	if split <= 0 || split >= len(block) {
		o.check(t, o.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndHeaders: true}))
		return o
	}
	o.check(t, o.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:split]}))
	for rest := block[split:]; len(rest) > 0; {
		n := min(split, len(rest))
		o.check(t, o.fr.WriteContinuation(1, n == len(rest), rest[:n]))
		rest = rest[n:]
	}
	return o
}

func (o *opening) bytes() []byte { return bytes.Clone(o.buf.Bytes()) }

// headersWithoutSettings is the preface followed directly by a gRPC HEADERS
// frame: invalid, the preface must be followed by SETTINGS.
func headersWithoutSettings(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&b, nil)
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: headerBlock(t, "application/grpc"), EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// bigHeaders is an opening whose first request's header block is larger than
// size: the content type, then (or, with last, after) header fields of random
// hex, in a HEADERS frame and CONTINUATIONs of the initial maximum frame size.
func bigHeaders(t testing.TB, contentType string, last bool, size int) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	write := func(name, value string) {
		if err := enc.WriteField(hpack.HeaderField{Name: name, Value: value}); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", "/v1/users"}, {":authority", "127.0.0.1:8080"}} {
		write(f[0], f[1])
	}
	if !last {
		write("content-type", contentType)
	}
	value := make([]byte, 4<<10)
	for i := 0; b.Len() <= size; i++ {
		for j := range value {
			value[j] = "0123456789abcdef"[(i*7+j*13)%16]
		}
		write(fmt.Sprintf("x-big-%d", i), string(value))
	}
	if last {
		write("content-type", contentType)
	}
	block := b.Bytes()
	o := newOpening(t)
	const frame = 16 << 10
	o.check(t, o.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:frame]}))
	for rest := block[frame:]; len(rest) > 0; {
		n := min(frame, len(rest))
		o.check(t, o.fr.WriteContinuation(1, n == len(rest), rest[:n]))
		rest = rest[n:]
	}
	return o.bytes()
}
