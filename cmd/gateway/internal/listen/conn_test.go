package listen_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"

	"golang.org/x/net/http2"

	"github.com/protogate/gateway/cmd/gateway/internal/listen"
)

// readerConn is a net.Conn whose reads come from r; nothing else is used.
type readerConn struct {
	net.Conn
	r io.Reader
}

func (c readerConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// chunkReader returns at most n bytes per read.
type chunkReader struct {
	r io.Reader
	n int
}

func (c chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// readConn replays the first cut bytes of stream and reads the rest from the
// "socket" in chunks of socketChunk bytes, reading the conn readSize bytes at
// a time.
func readConn(t *testing.T, stream []byte, cut int, h2 bool, socketChunk, readSize int) []byte {
	t.Helper()
	c := listen.NewConn(readerConn{r: chunkReader{bytes.NewReader(stream[cut:]), socketChunk}}, bytes.Clone(stream[:cut]), h2)
	var out []byte
	buf := make([]byte, readSize)
	for {
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 && readSize > 0 {
			t.Fatal("Read returned 0, nil")
		}
	}
}

func frame(t testing.TB, write func(fr *http2.Framer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := write(http2.NewFramer(&b, nil)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestConnDropsFirstSettingsAck(t *testing.T) {
	var (
		preface  = []byte(http2.ClientPreface)
		settings = frame(t, func(fr *http2.Framer) error {
			return fr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 0})
		})
		ack     = frame(t, func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
		headers = newOpening(t).headers(t, "application/json", 0).bytes()[len(newOpening(t).bytes()):]
		data    = frame(t, func(fr *http2.Framer) error { return fr.WriteData(1, true, ack) }) // looks like an ACK inside
		ackOn3  = frame(t, func(fr *http2.Framer) error {
			return fr.WriteRawFrame(http2.FrameSettings, http2.FlagSettingsAck, 3, nil)
		})
		ackWith1 = frame(t, func(fr *http2.Framer) error {
			return fr.WriteRawFrame(http2.FrameSettings, http2.FlagSettingsAck, 0, []byte{0})
		})
	)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name     string
		in, want []byte
		h2       bool
	}{
		{"ack before headers", cat(preface, settings, ack, headers), cat(preface, settings, headers), true},
		{"ack after headers and data", cat(preface, settings, headers, data, ack, data), cat(preface, settings, headers, data, data), true},
		{"only the first ack", cat(preface, settings, ack, headers, ack), cat(preface, settings, headers, ack), true},
		{"ack on a stream is not ours", cat(preface, settings, ackOn3, ack), cat(preface, settings, ackOn3), true},
		{"ack with a payload is not ours", cat(preface, settings, ackWith1, ack), cat(preface, settings, ackWith1), true},
		{"no ack yet", cat(preface, settings, headers, data), cat(preface, settings, headers, data), true},
		{"http1 is untouched", cat([]byte("GET / HTTP/1.1\r\n\r\n"), ack), cat([]byte("GET / HTTP/1.1\r\n\r\n"), ack), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for cut := 0; cut <= len(tc.in); cut++ {
				for _, sizes := range [][2]int{{1 << 10, 1 << 10}, {1, 1}, {3, 7}, {7, 3}} {
					if got := readConn(t, tc.in, cut, tc.h2, sizes[0], sizes[1]); !bytes.Equal(got, tc.want) {
						t.Fatalf("cut %d, chunks %v: read\n%x\nwant\n%x", cut, sizes, got, tc.want)
					}
				}
			}
		})
	}
}

// withoutFirstAck is the stream a server should read: the client's stream
// with its first SETTINGS ACK frame removed.
func withoutFirstAck(stream []byte) []byte {
	out := bytes.Clone(stream[:len(http2.ClientPreface)])
	rest := stream[len(http2.ClientPreface):]
	for len(rest) >= 9 {
		length := int(rest[0])<<16 | int(rest[1])<<8 | int(rest[2])
		stream := (int(rest[5])<<24 | int(rest[6])<<16 | int(rest[7])<<8 | int(rest[8])) & (1<<31 - 1)
		if length == 0 && http2.FrameType(rest[3]) == http2.FrameSettings && http2.Flags(rest[4]).Has(http2.FlagSettingsAck) && stream == 0 {
			return append(out, rest[9:]...)
		}
		n := min(9+length, len(rest))
		out, rest = append(out, rest[:n]...), rest[n:]
	}
	return append(out, rest...)
}

func FuzzConn(f *testing.F) {
	ack := frame(f, func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
	opening := newOpening(f).headers(f, "application/grpc", 0).bytes()[len(http2.ClientPreface):]
	f.Add(opening, uint16(30), uint8(0x11))
	f.Add(append(bytes.Clone(opening), ack...), uint16(70), uint8(0x35))
	f.Add(bytes.Join([][]byte{opening[:21], ack, opening[21:], ack}, nil), uint16(50), uint8(0xf8))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16, sizes uint8) {
		stream := append([]byte(http2.ClientPreface), data...)
		got := readConn(t, stream, int(cut)%(len(stream)+1), true, int(sizes&0xf)+1, int(sizes>>4)+1)
		if want := withoutFirstAck(stream); !bytes.Equal(got, want) {
			t.Fatalf("read\n%x\nwant\n%x", got, want)
		}
	})
}

// timeoutOnce fails one read with a timeout after the first part of its
// input, as a socket does when its read deadline passes, then goes on.
type timeoutOnce struct {
	first, rest io.Reader
	fired       bool
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func (r *timeoutOnce) Read(p []byte) (int, error) {
	if n, err := r.first.Read(p); err != io.EOF {
		return n, err
	}
	if !r.fired {
		r.fired = true
		return 0, timeoutError{}
	}
	return r.rest.Read(p)
}

func TestConnKeepsFilteringAcrossTimeout(t *testing.T) {
	ack := frame(t, func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
	ping := frame(t, func(fr *http2.Framer) error { return fr.WritePing(false, [8]byte{7}) })
	// The deadline passes with half of the ACK's header read.
	c := listen.NewConn(readerConn{r: &timeoutOnce{
		first: bytes.NewReader(ack[:4]),
		rest:  bytes.NewReader(append(ack[4:], ping...)),
	}}, []byte(http2.ClientPreface), true)

	var got []byte
	buf := make([]byte, 64)
	sawTimeout := false
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		var te timeoutError
		if errors.As(err, &te) {
			sawTimeout = true
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !sawTimeout {
		t.Error("the timeout did not reach the reader")
	}
	if want := append([]byte(http2.ClientPreface), ping...); !bytes.Equal(got, want) {
		t.Errorf("read\n%x\nwant\n%x", got, want)
	}
}
