package listen_test

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/net/http2"

	"github.com/protogate/gateway/cmd/gateway/internal/listen"
)

const limit = listen.DefaultMaxSniffBytes

type classifyCase struct {
	name    string
	in      []byte
	grpc    bool
	h2      bool
	wantErr bool
}

func classifyCases(t testing.TB) []classifyCase {
	withFrames := func(write func(fr *http2.Framer) error) []byte {
		o := newOpening(t)
		o.check(t, write(o.fr))
		return o.headers(t, "application/grpc", 0).bytes()
	}
	return []classifyCase{
		{name: "http1 get", in: []byte("GET /v1/users/1 HTTP/1.1\r\nHost: x\r\n\r\n")},
		{name: "http1 one byte", in: []byte("G")},
		{name: "http1 starts like preface", in: []byte("PRI * HTTP/1.1\r\n\r\n")},
		{name: "grpc", in: newOpening(t).headers(t, "application/grpc", 0).bytes(), grpc: true, h2: true},
		{name: "grpc+proto", in: newOpening(t).headers(t, "application/grpc+proto", 0).bytes(), grpc: true, h2: true},
		{name: "grpc;charset", in: newOpening(t).headers(t, "application/grpc;charset=utf-8", 0).bytes(), grpc: true, h2: true},
		{name: "grpc in continuation", in: newOpening(t).headers(t, "application/grpc", 7).bytes(), grpc: true, h2: true},
		{name: "grpc-web", in: newOpening(t).headers(t, "application/grpc-web+proto", 0).bytes(), h2: true},
		{name: "grpc-web-text", in: newOpening(t).headers(t, "application/grpc-web-text", 0).bytes(), h2: true},
		{name: "grpcx", in: newOpening(t).headers(t, "application/grpcx", 0).bytes(), h2: true},
		{name: "json", in: newOpening(t).headers(t, "application/json", 0).bytes(), h2: true},
		{name: "no content type", in: newOpening(t).headers(t, "", 0).bytes(), h2: true},
		{name: "json in continuation", in: newOpening(t).headers(t, "application/json", 5).bytes(), h2: true},
		{name: "ping before headers", in: withFrames(func(fr *http2.Framer) error { return fr.WritePing(false, [8]byte{1}) }), grpc: true, h2: true},
		{name: "priority before headers", in: withFrames(func(fr *http2.Framer) error {
			return fr.WritePriority(3, http2.PriorityParam{Weight: 200})
		}), grpc: true, h2: true},
		{name: "settings ack before headers", in: withFrames(func(fr *http2.Framer) error { return fr.WriteSettingsAck() }), grpc: true, h2: true},
		{name: "unknown frame before headers", in: withFrames(func(fr *http2.Framer) error { return fr.WriteRawFrame(0xfa, 0, 0, []byte("x")) }), grpc: true, h2: true},
		{name: "empty", in: nil, wantErr: true},
		{name: "preface only", in: []byte(http2.ClientPreface), wantErr: true},
		{name: "partial preface", in: []byte(http2.ClientPreface[:10]), wantErr: true},
		{name: "no headers yet", in: newOpening(t).bytes(), wantErr: true},
		{name: "http1 after preface", in: []byte(http2.ClientPreface + "GET / HTTP/1.1\r\n\r\n"), wantErr: true},
		{name: "data before headers", in: withFrames(func(fr *http2.Framer) error { return fr.WriteData(1, false, []byte("x")) }), wantErr: true},
		{name: "headers before settings", in: headersWithoutSettings(t), wantErr: true},
		{name: "bad hpack", in: func() []byte {
			o := newOpening(t)
			o.check(t, o.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x80}, EndHeaders: true}))
			return o.bytes()
		}(), wantErr: true},
		{name: "truncated header block", in: func() []byte {
			o := newOpening(t)
			block := headerBlock(t, "application/grpc")
			o.check(t, o.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:len(block)-3], EndHeaders: true}))
			return o.bytes()
		}(), wantErr: true},
		{name: "connection ends in continuation", in: func() []byte {
			in := newOpening(t).headers(t, "application/grpc", 7).bytes()
			return in[:len(in)-3]
		}(), wantErr: true},
		// A header block that does not end within the limit is a request: net/http judges its
		// headers (and answers too large ones) rather than the split closing it.
		{name: "header block beyond the limit, grpc", in: bigHeaders(t, "application/grpc", false, limit), h2: true},
		{name: "header block beyond the limit, content type unread", in: bigHeaders(t, "application/grpc", true, limit), h2: true},
		{name: "header block beyond the limit, json", in: bigHeaders(t, "application/json", false, limit), h2: true},
		{name: "too many bytes", in: func() []byte {
			o := newOpening(t)
			for range limit / 17 {
				o.check(t, o.fr.WritePing(false, [8]byte{}))
			}
			return o.headers(t, "application/grpc", 0).bytes()
		}(), wantErr: true},
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range classifyCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunking := range []struct {
				name string
				r    func(io.Reader) io.Reader
			}{
				{"whole", func(r io.Reader) io.Reader { return r }},
				{"one byte reads", iotest.OneByteReader},
			} {
				var wrote bytes.Buffer
				v, err := listen.Classify(chunking.r(bytes.NewReader(tc.in)), &wrote, nil, limit)
				if (err != nil) != tc.wantErr {
					t.Fatalf("%s: err = %v, want error %v", chunking.name, err, tc.wantErr)
				}
				if !bytes.HasPrefix(tc.in, v.Buffered) {
					t.Errorf("%s: buffered %q is not a prefix of the input", chunking.name, v.Buffered)
				}
				if err != nil {
					t.Logf("%s: %v", chunking.name, err)
					continue
				}
				if v.GRPC != tc.grpc || v.H2 != tc.h2 {
					t.Errorf("%s: grpc=%v h2=%v, want grpc=%v h2=%v", chunking.name, v.GRPC, v.H2, tc.grpc, tc.h2)
				}
				want := []byte(nil)
				if tc.h2 {
					want = emptySettings
				}
				if !bytes.Equal(wrote.Bytes(), want) {
					t.Errorf("%s: wrote %x to the peer, want %x", chunking.name, wrote.Bytes(), want)
				}
			}
		})
	}
}

func FuzzClassify(f *testing.F) {
	for _, tc := range classifyCases(f) {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		const small = 1 << 10
		v, err := listen.Classify(bytes.NewReader(in), io.Discard, nil, small)
		if !bytes.HasPrefix(in, v.Buffered) || len(v.Buffered) > small {
			t.Fatalf("buffered %d bytes, not a prefix of the input within the limit", len(v.Buffered))
		}
		preface := strings.HasPrefix(string(in), http2.ClientPreface)
		if err == nil && v.H2 != preface {
			t.Fatalf("h2 = %v for an input with preface %v", v.H2, preface)
		}
		if err == nil && v.GRPC && !v.H2 {
			t.Fatal("gRPC without HTTP/2")
		}
		// The verdict does not depend on how the bytes arrive.
		v1, err1 := listen.Classify(iotest.OneByteReader(bytes.NewReader(in)), io.Discard, nil, small)
		if (err == nil) != (err1 == nil) || v.GRPC != v1.GRPC || v.H2 != v1.H2 {
			t.Fatalf("whole input: %+v, %v; one byte at a time: %+v, %v", v, err, v1, err1)
		}
	})
}

func BenchmarkClassify(b *testing.B) {
	for _, bc := range []struct {
		name string
		in   []byte
	}{
		{"grpc", newOpening(b).headers(b, "application/grpc", 0).bytes()},
		{"h2c-json", newOpening(b).headers(b, "application/json", 0).bytes()},
		{"http1", []byte("GET /v1/users/1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			buf := make([]byte, 0, 4<<10) // as the Split's pool hands out
			r := bytes.NewReader(bc.in)
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				r.Reset(bc.in)
				if _, err := listen.Classify(r, io.Discard, buf, limit); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
