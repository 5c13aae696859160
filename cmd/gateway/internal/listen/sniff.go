package listen

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

const (
	// clientPreface opens every HTTP/2 connection (RFC 9113, section 3.4).
	clientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

	frameHeaderLen = 9

	// initialMaxFrameSize is the largest frame a client may send before the
	// server raises SETTINGS_MAX_FRAME_SIZE (RFC 9113, section 6.5.2).
	initialMaxFrameSize = 16 << 10

	// initialHeaderTableSize is the HPACK dynamic table size a client may use
	// before it has seen the server's SETTINGS (RFC 9113, section 6.5.2). The
	// sniffer advertises no other value, so it is the size in force for the
	// first header block.
	initialHeaderTableSize = 4096

	// initialBufSize is the first read's buffer: enough for the opening of
	// every common client, so the buffer rarely grows.
	initialBufSize = 4 << 10
)

var (
	errSniffLimit  = errors.New("listen: connection sent too many bytes before its first request")
	errNoSettings  = errors.New("listen: HTTP/2 preface not followed by SETTINGS")
	errBeforeFirst = errors.New("listen: unexpected HTTP/2 frame before the first request")
)

// destination is the server a classified connection is handed to.
type destination uint8

const (
	toHTTP destination = iota // HTTP/1.x, or HTTP/2 whose first request is not gRPC
	toGRPC                    // HTTP/2 whose first request is gRPC
)

// verdict is the outcome of classifying one connection.
type verdict struct {
	dest destination
	// h2 reports that the connection opened with the HTTP/2 preface, so the
	// sniffer answered with a SETTINGS frame of its own (see conn).
	h2 bool
	// buf holds every byte read from the connection, in order; the server
	// that gets the connection reads them first.
	buf []byte
}

// classify reads the opening of a connection from src and decides which
// server it belongs to. It reads at most limit bytes; buf (len 0) is the
// buffer to read into and may be replaced by a larger one. On an HTTP/2
// preface it writes one empty SETTINGS frame to w: gRPC clients (grpc-go,
// grpc-java) send no request until they have seen the server's SETTINGS.
// The returned verdict's buf is valid on error too.
func classify(src io.Reader, w io.Writer, buf []byte, limit int) (verdict, error) {
	s := &sniffer{src: src, buf: buf[:0], limit: limit}
	for {
		n := min(len(s.buf), len(clientPreface))
		if string(s.buf[:n]) != clientPreface[:n] {
			return verdict{dest: toHTTP, buf: s.buf}, nil
		}
		if n == len(clientPreface) {
			break
		}
		if err := s.fill(); err != nil {
			return verdict{buf: s.buf}, err
		}
	}
	s.off = len(clientPreface)

	fr := http2.NewFramer(w, s)
	// The framer allocates a frame's payload buffer from its declared length
	// before reading it; keep that at the size a client may send before it
	// has seen SETTINGS_MAX_FRAME_SIZE, not the framer's 16 MiB default.
	fr.SetMaxReadFrameSize(initialMaxFrameSize)
	if err := fr.WriteSettings(); err != nil {
		return verdict{buf: s.buf}, fmt.Errorf("listen: answering the HTTP/2 preface: %w", err)
	}
	grpc, err := firstRequestIsGRPC(fr, limit)
	if err != nil {
		return verdict{buf: s.buf}, err
	}
	v := verdict{dest: toHTTP, h2: true, buf: s.buf}
	if grpc {
		v.dest = toGRPC
	}
	return v, nil
}

// firstRequestIsGRPC reads frames up to the end of the first header block
// and reports whether that request is gRPC. A header block that does not end
// within the byte cap (or holds a header longer than it) is a request all the
// same, whose headers are for a server to judge: it goes to net/http, which
// serves gRPC too, and answers a request whose headers are over the limits
// (grpc-go's server would close the whole connection on a gRPC one).
func firstRequestIsGRPC(fr *http2.Framer, limit int) (bool, error) {
	var (
		scan    headerScan
		dec     *hpack.Decoder
		first   = true
		inBlock bool // the first request's HEADERS frame has been read
	)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			if inBlock && errors.Is(err, errSniffLimit) {
				return false, nil
			}
			return false, fmt.Errorf("listen: reading HTTP/2 frames: %w", err)
		}
		if first {
			if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
				return false, errNoSettings
			}
			first = false
			continue
		}
		var frag []byte
		switch f := f.(type) {
		case *http2.SettingsFrame, *http2.WindowUpdateFrame, *http2.PingFrame,
			*http2.PriorityFrame, *http2.PriorityUpdateFrame, *http2.UnknownFrame:
			// Connection housekeeping a client may send before its first
			// request; SETTINGS here may be the ACK of ours.
			continue
		case *http2.HeadersFrame:
			inBlock = true
			dec = hpack.NewDecoder(initialHeaderTableSize, scan.field)
			dec.SetMaxStringLength(limit)
			frag = f.HeaderBlockFragment()
		case *http2.ContinuationFrame:
			// The framer only returns CONTINUATION right after a HEADERS or
			// CONTINUATION frame without END_HEADERS, so dec is set.
			frag = f.HeaderBlockFragment()
		default:
			return false, fmt.Errorf("%w: %v", errBeforeFirst, f.Header().Type)
		}
		if _, err := dec.Write(frag); err != nil {
			if errors.Is(err, hpack.ErrStringLength) { // a header longer than the cap: as above
				return false, nil
			}
			return false, fmt.Errorf("listen: decoding the first header block: %w", err)
		}
		if !f.Header().Flags.Has(http2.FlagHeadersEndHeaders) {
			continue
		}
		if err := dec.Close(); err != nil {
			return false, fmt.Errorf("listen: decoding the first header block: %w", err)
		}
		return isGRPC(scan.contentType), nil
	}
}

// headerScan remembers the first content-type of a header block.
type headerScan struct {
	contentType string
	found       bool
}

func (h *headerScan) field(f hpack.HeaderField) {
	if !h.found && f.Name == "content-type" {
		h.contentType, h.found = f.Value, true
	}
}

// isGRPC reports whether a content type is one the native gRPC server
// accepts: application/grpc, alone or followed by "+subtype" or
// ";parameters", as grpc-go checks it. gRPC-Web (application/grpc-web...)
// is not: it is served over net/http.
func isGRPC(contentType string) bool {
	rest, ok := strings.CutPrefix(contentType, "application/grpc")
	return ok && (rest == "" || rest[0] == '+' || rest[0] == ';')
}

// sniffer is the reader the framer parses: it keeps every byte it reads
// from src, so the connection can be replayed, and never reads past limit.
type sniffer struct {
	src   io.Reader
	buf   []byte // every byte read from src so far
	off   int    // bytes of buf already returned by Read
	limit int
}

func (s *sniffer) Read(p []byte) (int, error) {
	if s.off == len(s.buf) {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.buf[s.off:])
	s.off += n
	return n, nil
}

// fill appends at least one byte from src to buf.
func (s *sniffer) fill() error {
	if len(s.buf) >= s.limit {
		return fmt.Errorf("%w (limit %d bytes)", errSniffLimit, s.limit)
	}
	if len(s.buf) == cap(s.buf) {
		grown := make([]byte, len(s.buf), min(max(2*cap(s.buf), initialBufSize), s.limit))
		copy(grown, s.buf)
		s.buf = grown
	}
	end := min(cap(s.buf), s.limit)
	for range 100 {
		n, err := s.src.Read(s.buf[len(s.buf):end])
		s.buf = s.buf[:len(s.buf)+n]
		if n > 0 {
			// An error that came with data comes back on the next read.
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}
