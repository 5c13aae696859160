package grpcweb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// countingPool is a mem.BufferPool that records the largest buffer asked of it and how many it
// has lent that were not given back.
type countingPool struct{ largest, lent int }

func (p *countingPool) Get(n int) *[]byte {
	p.largest = max(p.largest, n)
	p.lent++
	b := make([]byte, n)
	return &b
}

func (p *countingPool) Put(*[]byte) { p.lent-- }

func frameHeader(length uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{0}, length)
}

// TestPayloadBufferFollowsArrivingBytes checks that a frame header announcing a large message
// makes the reader hold a buffer in proportion to the bytes that arrived, not the announced
// length, and that it gives its buffers back when the body then fails (as a read deadline ends
// a stalled one).
func TestPayloadBufferFollowsArrivingBytes(t *testing.T) {
	const announced = 4 << 20
	errStalled := errors.New("stalled")
	for _, sent := range []int{0, 2, 100 << 10} {
		pool := &countingPool{}
		body := append(frameHeader(announced), make([]byte, sent)...)
		fr := frameReader{src: io.MultiReader(bytes.NewReader(body), iotest.ErrReader(errStalled)), max: 8 << 20, pool: pool}
		if _, err := fr.next(); err != errStalled {
			t.Fatalf("%d bytes sent: next returned %v, want the body's error", sent, err)
		}
		if limit := max(initialPayloadBuffer, 2*sent); pool.largest > limit {
			t.Errorf("%d of %d bytes sent: took a %d-byte buffer, want at most %d", sent, announced, pool.largest, limit)
		}
		if pool.lent != 0 {
			t.Errorf("%d bytes sent: %d buffers not given back", sent, pool.lent)
		}
	}
}

// TestPayloadGrowsToLength checks that a message larger than the first buffer arrives whole
// when the body comes in small reads, in a pooled buffer that Free gives back.
func TestPayloadGrowsToLength(t *testing.T) {
	for _, size := range []int{initialPayloadBuffer - 1, initialPayloadBuffer, initialPayloadBuffer + 1, 1<<20 + 3} {
		msg := make([]byte, size)
		for i := range msg {
			msg[i] = byte(i % 251)
		}
		pool := &countingPool{}
		body := append(frameHeader(uint32(size)), msg...)
		fr := frameReader{src: iotest.HalfReader(bytes.NewReader(body)), max: 8 << 20, pool: pool}
		buf, err := fr.next()
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if !bytes.Equal(buf.ReadOnlyData(), msg) {
			t.Fatalf("%d bytes: payload differs from the message sent", size)
		}
		buf.Free()
		if pool.lent != 0 {
			t.Errorf("%d bytes: %d buffers not given back", size, pool.lent)
		}
	}
}
