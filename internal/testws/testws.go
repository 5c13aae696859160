// Package testws gives tests a raw WebSocket client's frames, so that they can send what no client
// library would (a header announcing a huge message, and nothing after it) and read the server's
// frames as they come.
package testws

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"testing"
)

// ClientHeader is the header of a client's frame announcing length bytes, masked as clients mask
// (with a zero key: the payload goes as it is).
func ClientHeader(fin bool, opcode byte, length uint64) []byte {
	if fin {
		opcode |= 0x80
	}
	h := binary.BigEndian.AppendUint64([]byte{opcode, 0x80 | 127}, length)
	return append(h, 0, 0, 0, 0)
}

// ClientFrame is a client's frame carrying payload.
func ClientFrame(fin bool, opcode byte, payload []byte) []byte {
	return append(ClientHeader(fin, opcode, uint64(len(payload))), payload...)
}

// Write writes b to conn, failing the test if it cannot.
func Write(t testing.TB, conn net.Conn, b []byte) {
	t.Helper()
	if _, err := conn.Write(b); err != nil {
		t.Fatal(err)
	}
}

// ReadFrame reads one frame of the server's (unmasked, whole) and returns its opcode and payload.
func ReadFrame(t testing.TB, br *bufio.Reader) (opcode byte, payload []byte) {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	n := uint64(h[1] & 0x7f)
	if n >= 126 {
		ext := make([]byte, 2+6*(n-126)) // 126: 2 bytes of length; 127: 8
		if _, err := io.ReadFull(br, ext); err != nil {
			t.Fatalf("reading a frame: %v", err)
		}
		n = 0
		for _, b := range ext {
			n = n<<8 | uint64(b)
		}
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(br, payload); err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	return h[0] & 0x0f, payload
}
