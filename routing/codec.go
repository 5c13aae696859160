package routing

import (
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the proto codec this one falls back to
	"google.golang.org/grpc/mem"
)

// Frame is one gRPC message carried through the proxy as the bytes it arrived in, never decoded.
//
// Receiving into a Frame takes a reference to the transport's buffers; sending a Frame hands that
// reference to the transport, which frees it once written. A Frame is therefore sent at most once per
// receive, and Free releases a Frame that will not be sent.
type Frame struct {
	data mem.BufferSlice
}

// Len reports the size of the message in bytes.
func (f *Frame) Len() int { return f.data.Len() }

// Bytes copies the message into a new slice.
func (f *Frame) Bytes() []byte { return f.data.Materialize() }

// SetBytes replaces the message with b, which the Frame then owns.
func (f *Frame) SetBytes(b []byte) {
	f.Free()
	f.data = mem.BufferSlice{mem.SliceBuffer(b)}
}

// Free releases the buffers of a Frame that will not be sent. It is safe to call more than once.
func (f *Frame) Free() {
	if f.data != nil {
		f.data.Free()
		f.data = nil
	}
}

// Codec is the gRPC codec of the proxy. It moves *Frame values through untouched and encodes anything
// else with the standard proto codec, so services the gateway serves itself (health, reflection) work on
// the same server. It is named "proto" so upstreams see the ordinary content type application/grpc+proto.
type Codec struct{}

var protoCodec = encoding.GetCodecV2("proto")

// Marshal returns the frame's buffers, handing their ownership to the caller, or proto-encodes v.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	if f, ok := v.(*Frame); ok {
		data := f.data
		f.data = nil
		return data, nil
	}
	return protoCodec.Marshal(v)
}

// Unmarshal keeps a reference to data in a *Frame, or proto-decodes it into v.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	if f, ok := v.(*Frame); ok {
		f.Free()
		data.Ref()
		f.data = data
		return nil
	}
	return protoCodec.Unmarshal(data, v)
}

// Name is "proto": see the type's comment.
func (Codec) Name() string { return "proto" }
