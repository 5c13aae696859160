package grpcweb

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"

	"google.golang.org/grpc/codes"
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
// in the headers (trailers-only). In text mode every write is one padded
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
	if rw.text {
		h.Set("Content-Type", contentTypeText)
	} else {
		h.Set("Content-Type", contentTypeBinary)
	}
	addHeaders(h, rw.header)
	rw.w.WriteHeader(http.StatusOK)
	rw.headerSent = true
	rw.header = nil
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
func (rw *responseWriter) writeStatus(st *status.Status) error {
	if !rw.headerSent && len(rw.header) == 0 && st.Code() != codes.OK {
		h := rw.w.Header()
		if rw.text {
			h.Set("Content-Type", contentTypeText)
		} else {
			h.Set("Content-Type", contentTypeBinary)
		}
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

// writeFrame writes the frame header and payload; in text mode as one
// base64 chunk.
func (rw *responseWriter) writeFrame(flags byte, payload mem.BufferSlice) error {
	n := payload.Len()
	rw.hdr[0] = flags
	binary.BigEndian.PutUint32(rw.hdr[1:], uint32(n))
	if !rw.text {
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
	raw := rw.pool.Get(frameHeaderLen + n)
	copy(*raw, rw.hdr[:])
	payload.CopyTo((*raw)[frameHeaderLen:])
	enc := rw.pool.Get(base64.StdEncoding.EncodedLen(len(*raw)))
	base64.StdEncoding.Encode(*enc, *raw)
	_, err := rw.w.Write(*enc)
	rw.pool.Put(enc)
	rw.pool.Put(raw)
	return err
}
