package transcoder

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Responses are rendered as protojson by default: lowerCamelCase JSON names (UseProtoNames false),
// unpopulated fields omitted (EmitUnpopulated false unless WithEmitUnpopulated), int64 as strings,
// enums by name. grpc-gateway's default marshaler differs in one respect: it emits unpopulated
// fields. With response_body only that field is rendered (its JSON value, even when unset).
// Binary protobuf (when Accept prefers it) is the upstream's bytes untouched. A google.api.HttpBody
// response (or response_body field) is its data with its content_type.

// render writes a successful response from the upstream's message bytes.
func (c *Call) render(data []byte) {
	b := c.binding
	if b.responseRaw {
		c.renderHTTPBody(data)
		return
	}
	f, contentType := responseFormat(c.r.Header["Accept"])
	if f == formatProto && b.responseBody == "" {
		c.write(contentType, data)
		return
	}
	if f == formatJSON && b.responseJSON != nil && !c.h.emitUnpopulated {
		buf := jsonPool.Get().(*[]byte)
		if out, err := b.responseJSON.appendJSON((*buf)[:0], data, 0); err == nil {
			c.write(contentTypeJSON, out)
			putJSONBuffer(buf, out)
			return
		}
		jsonPool.Put(buf) // declined: render through dynamicpb and protojson
	}
	msg, err := c.decodeResponse(data)
	if err != nil {
		c.WriteError(err)
		return
	}
	target, last := c.responseTarget(msg)
	if f == formatProto && last == nil {
		out, err := proto.MarshalOptions{AllowPartial: true}.Marshal(target.Interface())
		if err != nil {
			c.WriteError(&Error{code: codes.Internal, msg: fmt.Sprintf("encoding the response: %v", err), cause: err})
			return
		}
		c.write(contentType, out)
		return
	}
	buf := jsonPool.Get().(*[]byte)
	out, err := c.marshalJSON((*buf)[:0], target, last)
	if err != nil {
		jsonPool.Put(buf)
		c.WriteError(&Error{code: codes.Internal, msg: fmt.Sprintf("rendering the response as JSON: %v", err), cause: err})
		return
	}
	c.write(contentTypeJSON, out)
	putJSONBuffer(buf, out)
}

// putJSONBuffer returns a buffer to the pool, keeping the array out grew into.
func putJSONBuffer(buf *[]byte, out []byte) {
	if cap(out) <= maxPooledBuffer {
		*buf = out[:0]
		jsonPool.Put(buf)
	}
}

// jsonPool holds the buffers responses are rendered into.
var jsonPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// responseTarget returns what is rendered of a response: the message, or its response_body field as
// a message, or as a field (last) of target when it is not a singular message.
func (c *Call) responseTarget(msg protoreflect.Message) (target protoreflect.Message, last protoreflect.FieldDescriptor) {
	target = msg
	fields := c.binding.responseFields
	if len(fields) == 0 {
		return target, nil
	}
	for _, fd := range fields[:len(fields)-1] {
		target = target.Get(fd).Message()
	}
	last = fields[len(fields)-1]
	if last.Message() != nil && !last.IsList() && !last.IsMap() {
		return target.Get(last).Message(), nil
	}
	return target, last
}

func (c *Call) decodeResponse(data []byte) (*dynamicpb.Message, error) {
	msg := dynamicpb.NewMessage(c.binding.method.Output())
	if err := unmarshal(proto.UnmarshalOptions{AllowPartial: true, Resolver: c.binding.types}, data, msg); err != nil {
		return nil, &Error{code: codes.Internal, msg: fmt.Sprintf("the upstream's %s response does not decode: %v", msg.Descriptor().FullName(), err), cause: err}
	}
	return msg, nil
}

// marshalJSON appends the JSON of m, or of its field fd when fd is not nil.
func (c *Call) marshalJSON(b []byte, m protoreflect.Message, fd protoreflect.FieldDescriptor) ([]byte, error) {
	opts := protojson.MarshalOptions{AllowPartial: true, Resolver: c.binding.types, EmitUnpopulated: c.h.emitUnpopulated}
	if fd == nil {
		return opts.MarshalAppend(b, m.Interface())
	}
	// One scalar, repeated or map field: render a message holding only it, and cut the value out of
	// {"name":value}. An unset scalar is what Get reads, its default: a proto2 field's declared one,
	// else its zero value (a field without presence set to zero is left out: zeroJSON gives it).
	tmp := m.Type().New()
	if m.Has(fd) || !fd.IsList() && !fd.IsMap() {
		tmp.Set(fd, m.Get(fd))
	}
	opts.EmitUnpopulated = false
	out, err := opts.MarshalAppend(b, tmp.Interface())
	if err != nil {
		return nil, err
	}
	obj := bytes.TrimSpace(out[len(b):])
	if i := bytes.IndexByte(obj, ':'); i > 0 && len(obj) > 1 && obj[len(obj)-1] == '}' {
		value := bytes.TrimSpace(obj[i+1 : len(obj)-1])
		return append(b, value...), nil
	}
	return append(b, zeroJSON(fd)...), nil
}

// zeroJSON is the JSON of an unset field without presence (or an empty list or map): its zero value.
func zeroJSON(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.IsList():
		return "[]"
	case fd.IsMap():
		return "{}"
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return "false"
	case protoreflect.StringKind, protoreflect.BytesKind:
		return `""`
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return `"0"`
	case protoreflect.EnumKind:
		// Zero's name: a field without presence is of an open enum, which has a value 0.
		if v := fd.Enum().Values().ByNumber(0); v != nil {
			return strconv.Quote(string(v.Name()))
		}
	}
	return "0"
}

// renderHTTPBody writes a google.api.HttpBody response: its data, with its content type.
func (c *Call) renderHTTPBody(data []byte) {
	contentType, body, err := c.httpBody(data)
	if err != nil {
		c.WriteError(err)
		return
	}
	c.write(contentType, body)
}

// httpBody reads a response message (wire bytes) whose response, or response_body field, is a
// google.api.HttpBody: its content type (application/octet-stream when it has none) and data.
func (c *Call) httpBody(data []byte) (contentType string, body []byte, err error) {
	msg, err := c.decodeResponse(data)
	if err != nil {
		return "", nil, err
	}
	var m protoreflect.Message = msg
	for _, fd := range c.binding.responseFields {
		m = m.Get(fd).Message()
	}
	fields := m.Descriptor().Fields()
	contentType = m.Get(fields.ByNumber(1)).String()
	if contentType == "" {
		contentType = contentTypeOctetStream
	}
	return contentType, m.Get(fields.ByNumber(2)).Bytes(), nil
}

// contentTypeOctetStream is the type of a google.api.HttpBody that names none.
const contentTypeOctetStream = "application/octet-stream"

// jsonContentType is the Content-Type header value of JSON responses, shared: net/http never
// modifies header values in place.
var jsonContentType = []string{contentTypeJSON}

// write sends a 200 response with a body.
func (c *Call) write(contentType string, body []byte) {
	h := c.w.Header()
	if contentType == contentTypeJSON {
		h["Content-Type"] = jsonContentType
	} else {
		h.Set("Content-Type", contentType)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(body)
}

// unmarshal is opts.Unmarshal, with a panic of the decoder (proto.Unmarshal of a dynamic message
// panics on some malformed map entries) turned into an error: the bytes come from clients and
// upstreams.
func unmarshal(opts proto.UnmarshalOptions, data []byte, m proto.Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed message: %v", r)
		}
	}()
	return opts.Unmarshal(data, m)
}
