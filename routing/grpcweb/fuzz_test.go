package grpcweb_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/protogate/gateway/routing/grpcweb"
)

const fuzzMaxMessage = 1 << 10

// FuzzReadFrames feeds arbitrary request bodies, in both modes and arriving
// in arbitrary pieces, through the handler, and checks that the messages
// the StreamHandler receives and the call's status are those a simple
// reference decoder of the same body finds.
func FuzzReadFrames(f *testing.F) {
	bin, text := modes[0], modes[1]
	f.Add(bin.body([]byte("hello"), nil, []byte("world")), false, uint8(0))
	f.Add(text.body([]byte("hello"), nil, []byte("world")), true, uint8(2))
	f.Add(base64Chunks(bin.body([]byte("split across chunks")), 4), true, uint8(6))
	f.Add(frame(0, []byte("0123456789"))[:8], false, uint8(1))
	f.Add(frame(flagCompressed, []byte("x")), false, uint8(0))
	f.Add(frame(flagTrailer, []byte("grpc-status: 0\r\n")), false, uint8(0))
	f.Add(frame(0, bytes.Repeat([]byte{1}, fuzzMaxMessage+1)), false, uint8(255))
	f.Add([]byte("AAAAAAA=QQ==\r\nAA"), true, uint8(3))
	f.Add([]byte("AAAAAAAA!!!!"), true, uint8(0))
	f.Fuzz(func(t *testing.T, body []byte, isText bool, piece uint8) {
		m := bin
		if isText {
			m = text
		}
		var got [][]byte
		h := grpcweb.NewHandler(func(_ any, stream grpc.ServerStream) error {
			for {
				var msg rawFrame
				if err := stream.RecvMsg(&msg); err != nil {
					if err == io.EOF {
						return nil
					}
					return err
				}
				got = append(got, msg.data)
			}
		}, grpcweb.WithCodec(rawCodec{}), grpcweb.WithMaxMessageSize(fuzzMaxMessage))

		req := httptest.NewRequest(http.MethodPost, "/fuzz.Service/Method", io.NopCloser(&pieceReader{b: body, n: int(piece) + 1}))
		req.Header.Set("Content-Type", m.contentType())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		res := readResult(t, rec.Result(), m)

		wantMsgs, wantCode := referenceFrames(body, isText)
		if res.code() != wantCode {
			t.Fatalf("status %v %q, want %v", res.code(), res.message(), wantCode)
		}
		if len(got) != len(wantMsgs) {
			t.Fatalf("handler received %d messages, want %d", len(got), len(wantMsgs))
		}
		for i := range got {
			if !bytes.Equal(got[i], wantMsgs[i]) {
				t.Fatalf("message %d: %q, want %q", i, got[i], wantMsgs[i])
			}
		}
	})
}

// pieceReader returns at most n bytes per Read, as a network would.
type pieceReader struct {
	b []byte
	n int
}

func (r *pieceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), r.n)], r.b)
	r.b = r.b[k:]
	return k, nil
}

// referenceFrames decodes a whole request body at once, the simple way, and
// returns the messages before the first problem and the status code of the
// call that reads them all.
func referenceFrames(body []byte, text bool) ([][]byte, codes.Code) {
	data, malformed := body, false
	if text {
		data, malformed = decodeQuanta(body)
	}
	var msgs [][]byte
	for {
		if len(data) == 0 && !malformed {
			return msgs, codes.OK
		}
		if len(data) < 5 {
			return msgs, codes.Internal // truncated frame header or bad base64
		}
		flags, n := data[0], binary.BigEndian.Uint32(data[1:5])
		switch {
		case flags&flagTrailer != 0:
			return msgs, codes.Internal
		case flags == flagCompressed:
			return msgs, codes.Internal // the fuzzed requests name no grpc-encoding
		case flags != 0:
			return msgs, codes.Internal
		case n > fuzzMaxMessage:
			return msgs, codes.ResourceExhausted
		case uint64(len(data)-5) < uint64(n):
			return msgs, codes.Internal // truncated message or bad base64
		}
		msgs = append(msgs, data[5:5+n])
		data = data[5+n:]
	}
}
