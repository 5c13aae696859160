package grpcweb

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"

	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const (
	contentTypeBinary = "application/grpc-web+proto"
	contentTypeText   = "application/grpc-web-text+proto"
)

// responseWriter renders a call's response in gRPC-Web: headers, one frame
// per message flushed at once, then the trailer frame, or the whole status
// in the headers (trailers-only). In text mode every frame is one padded
// base64 chunk. Its caller serialises access.
type responseWriter struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	pool mem.BufferPool
	text bool

	// http1 is set for HTTP/1.x requests, where net/http stops the request
	// body once the response starts unless full duplex is enabled first.
	http1      bool
	fullDuplex bool

	headerSent bool
	header     metadata.MD // pending until headers are sent
	trailer    metadata.MD
	hdr        [frameHeaderLen]byte
}

// sendHeaders writes the HTTP response headers with the pending header
// metadata. On HTTP/1.x it first enables full duplex, so the handler can
// still read the request while the response streams (client and bidi
// streaming). Trailers-only responses skip this: the call is over, and
// net/http may then drain the unread body as usual.
func (rw *responseWriter) sendHeaders() {
	if rw.http1 && !rw.fullDuplex {
		rw.fullDuplex = rw.rc.EnableFullDuplex() == nil
	}
	h := rw.w.Header()
	rw.setContentType(h)
	addHeaders(h, rw.header)
	rw.w.WriteHeader(http.StatusOK)
	rw.headerSent = true
	rw.header = nil
}

// setContentType labels the response with the request's mode.
func (rw *responseWriter) setContentType(h http.Header) {
	if rw.text {
		h.Set("Content-Type", contentTypeText)
	} else {
		h.Set("Content-Type", contentTypeBinary)
	}
}

// writeMessage writes one message frame and flushes it to the client.
func (rw *responseWriter) writeMessage(data mem.BufferSlice) error {
	if !rw.headerSent {
		rw.sendHeaders()
	}
	if err := rw.writeFrame(0, data); err != nil {
		return err
	}
	return rw.flush()
}

// flush pushes buffered bytes to the client. A writer that cannot flush is
// not an error: the response is still correct, only not streamed.
func (rw *responseWriter) flush() error {
	if err := rw.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// writeStatus ends the response with the call's status. Before any header
// or message was sent, a failed call whose handler set no header metadata
// gets a trailers-only response: the status and trailer metadata in the
// HTTP headers and an empty body. Otherwise the status is a trailer frame.
// A nil st means OK. extra, the HTTP headers the error asked for (see
// errorHeader), is sent with a trailers-only response; once headers are out
// there is no place left for it.
func (rw *responseWriter) writeStatus(st *status.Status, extra http.Header) error {
	if !rw.headerSent && len(rw.header) == 0 && st != nil {
		h := rw.w.Header()
		for k, v := range extra {
			h[k] = v
		}
		rw.setContentType(h)
		setStatusHeaders(h, st, rw.trailer)
		rw.w.WriteHeader(http.StatusOK)
		rw.headerSent = true
		return nil
	}
	if !rw.headerSent {
		rw.sendHeaders()
	}
	buf := rw.pool.Get(256)
	block := appendStatusLines((*buf)[:0], st, rw.trailer)
	err := rw.writeFrame(flagTrailer, mem.BufferSlice{mem.SliceBuffer(block)})
	rw.pool.Put(buf) // block may have outgrown buf; buf itself is intact
	if err != nil {
		return err
	}
	return rw.flush()
}

// writeFrame writes the frame header and payload.
func (rw *responseWriter) writeFrame(flags byte, payload mem.BufferSlice) error {
	rw.hdr[0] = flags
	binary.BigEndian.PutUint32(rw.hdr[1:], uint32(payload.Len()))
	if rw.text {
		return rw.writeTextFrame(payload)
	}
	if _, err := rw.w.Write(rw.hdr[:]); err != nil {
		return err
	}
	for _, b := range payload {
		if _, err := rw.w.Write(b.ReadOnlyData()); err != nil {
			return err
		}
	}
	return nil
}

// textStage is how many frame bytes writeTextFrame encodes at a time; a
// multiple of 3, so that only the frame's last piece can carry padding.
const textStage = 3 << 12

// writeTextFrame writes the frame (header in rw.hdr, then payload) as one
// padded base64 chunk, encoding through a bounded staging buffer rather than
// a copy of the whole frame.
func (rw *responseWriter) writeTextFrame(payload mem.BufferSlice) error {
	stageLen := min(frameHeaderLen+payload.Len(), textStage)
	raw := rw.pool.Get(stageLen)
	enc := rw.pool.Get(base64.StdEncoding.EncodedLen(stageLen))
	defer rw.pool.Put(raw)
	defer rw.pool.Put(enc)

	stage, n := *raw, 0
	for i := -1; i < len(payload); i++ {
		src := rw.hdr[:]
		if i >= 0 {
			src = payload[i].ReadOnlyData()
		}
		for len(src) > 0 {
			c := copy(stage[n:], src)
			n += c
			src = src[c:]
			if n == len(stage) {
				if err := rw.writeBase64(*enc, stage); err != nil {
					return err
				}
				n = 0
			}
		}
	}
	if n > 0 {
		return rw.writeBase64(*enc, stage[:n])
	}
	return nil
}

func (rw *responseWriter) writeBase64(dst, src []byte) error {
	dst = dst[:base64.StdEncoding.EncodedLen(len(src))]
	base64.StdEncoding.Encode(dst, src)
	_, err := rw.w.Write(dst)
	return err
}
