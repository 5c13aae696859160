// Package testws gives tests a raw WebSocket client's frames, so that they can send what no client
// library would (a header announcing a huge message, and nothing after it) and read the server's
// frames as they come.
package testws

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
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

// Handshake opens a WebSocket on conn, a connection to target's host: it sends the upgrade request
// for target (asking for subprotocol unless it is ""), ahead right after it in the same write (the
// server reads it along with the handshake), and returns the connection's reader once the server
// has switched protocols. A handshake that is not answered so fails the test.
func Handshake(t testing.TB, conn net.Conn, target, subprotocol string, ahead []byte) *bufio.Reader {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if subprotocol != "" {
		req.Header.Set("Sec-WebSocket-Protocol", subprotocol)
	}
	var handshake bytes.Buffer
	if err := req.Write(&handshake); err != nil {
		t.Fatal(err)
	}
	handshake.Write(ahead)
	Write(t, conn, handshake.Bytes())
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	return br
}
