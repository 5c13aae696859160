package listen

import (
	"io"
	"net"
)

// Verdict is classify's result for the black-box tests.
type Verdict struct {
	GRPC     bool   // the connection goes to the gRPC server
	H2       bool   // it opened with the HTTP/2 preface
	Buffered []byte // every byte read
}

// Classify runs the per-connection sniffer over r, writing to w what it
// would write to the peer.
func Classify(r io.Reader, w io.Writer, buf []byte, limit int) (Verdict, error) {
	v, err := classify(r, w, buf, limit)
	return Verdict{GRPC: v.dest == toGRPC, H2: v.h2, Buffered: v.buf}, err
}

// NewConn wraps c as a classified connection that replays buffered first.
func NewConn(c net.Conn, buffered []byte, h2 bool) net.Conn {
	return newConn(c, buffered, h2)
}
