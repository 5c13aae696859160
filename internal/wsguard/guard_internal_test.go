package wsguard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// clientFrame is a frame as a client sends it: masked, announcing length for payload (which may
// hold fewer bytes).
func clientFrame(fin bool, opcode byte, length uint64, payload []byte) []byte {
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	var h []byte
	switch {
	case length < 126:
		h = []byte{b0, 0x80 | byte(length)}
	case length <= 0xffff:
		h = binary.BigEndian.AppendUint16([]byte{b0, 0x80 | 126}, uint16(length))
	default:
		h = binary.BigEndian.AppendUint64([]byte{b0, 0x80 | 127}, length)
	}
	h = append(h, 1, 2, 3, 4) // the mask: the guard reads none of the payload
	return append(h, payload...)
}

// The guard passes every byte of the frames within the limit, whatever the reads cut them into
// (one byte each here: headers split anywhere), and stops at the first byte of the header that
// takes a message over the limit: a frame announcing more, or a continuation adding up to more.
// Control frames between fragments count for no message. Frames and the refusal are those the
// client sent, announced lengths in any of the three encodings.
func TestFrameGuard(t *testing.T) {
	const limit = 70000
	small, medium := bytes.Repeat([]byte("a"), 100), bytes.Repeat([]byte("b"), 300)
	for _, tc := range []struct {
		name   string
		ok     [][]byte // frames that pass
		over   []byte   // the header that is refused, or nil
		refuse uint64   // what the refusal says was announced
	}{
		{"within", [][]byte{clientFrame(true, 1, 100, small), clientFrame(true, 2, limit, bytes.Repeat([]byte("c"), limit))}, nil, 0},
		{"one frame", [][]byte{clientFrame(true, 1, 100, small)}, clientFrame(true, 1, 1<<40, nil), 1 << 40},
		{"just over", nil, clientFrame(true, 2, limit+1, nil), limit + 1},
		{"largest length", nil, clientFrame(true, 1, 1<<63-1, nil), 1<<63 - 1},
		{"continuation", [][]byte{
			clientFrame(false, 1, 300, medium),
			clientFrame(true, 9, 100, small), // a ping between the fragments
			clientFrame(false, 0, limit-400, bytes.Repeat([]byte("d"), limit-400)),
		}, clientFrame(true, 0, 101, nil), limit + 1},
		{"after a full message", [][]byte{
			clientFrame(true, 1, limit, bytes.Repeat([]byte("e"), limit)),
			clientFrame(false, 1, 300, medium),
		}, clientFrame(true, 0, limit, nil), limit + 300},
	} {
		for reads, src := range map[string]func(io.Reader) io.Reader{
			"whole":    func(r io.Reader) io.Reader { return r },
			"one byte": iotest.OneByteReader,
		} {
			t.Run(tc.name+", "+reads+" reads", func(t *testing.T) {
				want := bytes.Join(tc.ok, nil)
				stream := append(bytes.Clone(want), tc.over...)
				sent := stream
				if tc.over != nil {
					sent = append(bytes.Clone(stream), "the payload"...) // what the guard must not pass
				}
				g := &Guard{src: src(bytes.NewReader(sent))}
				g.SetLimit(limit)
				got, err := io.ReadAll(g)
				var tooBig *TooBig
				switch {
				case tc.over == nil:
					if err != nil || !bytes.Equal(got, want) {
						t.Fatalf("read %d bytes of %d, then %v", len(got), len(want), err)
					}
					return
				case !errors.As(err, &tooBig) || tooBig.Announced != tc.refuse || tooBig.Limit != limit:
					t.Fatalf("read %d bytes, then %v; want the refusal of %d bytes", len(got), err, tc.refuse)
				case !bytes.Equal(got, stream[:min(len(got), len(stream))]) || len(got) < len(want) || len(got) >= len(stream):
					// The library may have had the first bytes of the refused header, never all of it.
					t.Fatalf("read %d bytes, want the %d before the refused header, and less than it", len(got), len(want))
				case reads == "whole" && len(got) != len(want):
					t.Fatalf("read %d bytes in whole reads, want the %d before the refused header", len(got), len(want))
				}
				if _, again := g.Read(make([]byte, 10)); again != err {
					t.Errorf("a read after the refusal: %v", again)
				}
			})
		}
	}
}

// With no limit set, nothing is refused.
func TestFrameGuardWithoutLimit(t *testing.T) {
	stream := clientFrame(true, 1, 1<<40, []byte("x"))
	g := &Guard{src: bytes.NewReader(stream)}
	if got, err := io.ReadAll(g); err != nil || !bytes.Equal(got, stream) {
		t.Errorf("read %d bytes, %v", len(got), err)
	}
}

// Once stopped, the guard reads nothing more: every read fails, the connection's bytes left unread.
func TestFrameGuardStop(t *testing.T) {
	first, second := clientFrame(true, 1, 100, bytes.Repeat([]byte("a"), 100)), clientFrame(true, 1, 3, []byte("abc"))
	src := bytes.NewReader(append(bytes.Clone(first), second...))
	g := &Guard{src: src}
	if got, err := io.ReadAll(io.LimitReader(g, int64(len(first)))); err != nil || !bytes.Equal(got, first) {
		t.Fatalf("before Stop: read %d bytes, %v", len(got), err)
	}
	g.Stop()
	for range 2 {
		if n, err := g.Read(make([]byte, 10)); n != 0 || !errors.Is(err, errStopped) {
			t.Errorf("a read after Stop: %d bytes, %v", n, err)
		}
	}
	if src.Len() != len(second) {
		t.Errorf("the guard read %d bytes after Stop", len(second)-src.Len())
	}
	var none *Guard
	none.Stop() // a nil Guard stops nothing, as it refuses nothing
}

// BenchmarkGuardRead measures what the guard adds to each read of a socket: a stream of small
// client messages (a subscription's operations, a bidi stream's requests), read 4 KiB at a time
// as the library's buffered reader does, through the guard and straight.
func BenchmarkGuardRead(b *testing.B) {
	var stream []byte
	for len(stream) < 1<<20 {
		stream = append(stream, clientFrame(true, 1, 120, bytes.Repeat([]byte("m"), 120))...)
	}
	buf := make([]byte, 4096)
	for _, guarded := range []bool{false, true} {
		name := "straight"
		if guarded {
			name = "guarded"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			for range b.N {
				var r io.Reader = bytes.NewReader(stream)
				if guarded {
					g := &Guard{src: r}
					g.SetLimit(1 << 20)
					r = g
				}
				for {
					if _, err := r.Read(buf); err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
