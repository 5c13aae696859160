package grpcweb

import "google.golang.org/grpc/encoding"

// defaultMaxMessageSize is the largest request message accepted unless
// WithMaxMessageSize says otherwise. It matches grpc-go's server default.
const defaultMaxMessageSize = 4 << 20

// Option configures a Handler.
type Option func(*options)

type options struct {
	codec          encoding.CodecV2
	maxMessageSize int
}

// WithCodec sets the codec that moves payload bytes into and out of the
// messages the grpc.StreamHandler passes to RecvMsg and SendMsg. The gateway's
// proxy passes its pass-through codec here. The codec must read and write
// protobuf wire bytes: responses are labelled application/grpc-web+proto
// whatever the codec's name. A nil codec keeps the default, the registered
// "proto" codec.
func WithCodec(c encoding.CodecV2) Option {
	return func(o *options) {
		if c != nil {
			o.codec = c
		}
	}
}

// WithMaxMessageSize sets the largest request message, in bytes, that RecvMsg
// accepts; a larger one fails the call with ResourceExhausted before its
// payload is read. n <= 0 keeps the default of 4 MiB. Response messages are
// not limited here.
func WithMaxMessageSize(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxMessageSize = n
		}
	}
}
