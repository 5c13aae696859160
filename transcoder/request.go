package transcoder

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/protogate/gateway/policies/telemetry/callinfo"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// A request message is built from, in order: the body (per the rule's body), the path variables
// (which win over the body, as in grpc-gateway), the query parameters (fields neither binds), and on a
// PATCH whose body is one field, the update_mask from the body's JSON keys when the query gave none.

// requestBytes builds the call's request message and returns its wire encoding.
func (c *Call) requestBytes() ([]byte, error) {
	b := c.binding
	if b.body == "" {
		if b.pathOnly && c.r.URL.RawQuery == "" {
			return c.pathRequest()
		}
		msg := dynamicpb.NewMessage(b.method.Input())
		if err := c.bindPathAndQuery(msg); err != nil {
			return nil, err
		}
		return marshalRequest(msg)
	}
	buf, err := c.h.readBody(c.w, c.r)
	if err != nil {
		return nil, err
	}
	defer c.h.putBuffer(buf)
	data := buf.Bytes()
	contentType := c.r.Header.Get("Content-Type")
	f, ok := requestFormat(contentType)
	if !ok && !b.bodyRaw {
		return nil, &Error{
			code:       codes.InvalidArgument,
			msg:        fmt.Sprintf("unsupported content type %q: send application/json or application/x-protobuf", contentType),
			httpStatus: http.StatusUnsupportedMediaType,
		}
	}
	if b.body == "*" && f == formatProto && !b.bodyRaw && len(b.vars) == 0 {
		// The body is the request as the upstream will read it: check its framing only.
		if err := checkWire(data); err != nil {
			return nil, badRequest("", fmt.Sprintf("invalid protobuf body for %s: %v", b.method.Input().FullName(), err))
		}
		return bytes.Clone(data), nil
	}
	if f == formatJSON && b.requestJSON != nil && (b.body == "*" || c.r.URL.RawQuery == "") {
		if out, ok := c.fastJSONRequest(data); ok {
			return out, nil
		}
	}
	msg := dynamicpb.NewMessage(b.method.Input())
	if err := c.decodeBody(msg, data, f, contentType); err != nil {
		return nil, err
	}
	if err := c.bindPathAndQuery(msg); err != nil {
		return nil, err
	}
	if b.updateMask != nil && f == formatJSON && !b.bodyRaw {
		if err := b.fillUpdateMask(msg, data); err != nil {
			return nil, err
		}
	}
	return marshalRequest(msg)
}

func marshalRequest(msg *dynamicpb.Message) ([]byte, error) {
	out, err := proto.MarshalOptions{AllowPartial: true}.Marshal(msg)
	if err != nil {
		return nil, &Error{code: codes.InvalidArgument, msg: fmt.Sprintf("encoding the request: %v", err), cause: err}
	}
	return out, nil
}

// bindPathAndQuery sets the path variables, then the query parameters.
func (c *Call) bindPathAndQuery(msg protoreflect.Message) error {
	b := c.binding
	for i := range b.vars {
		v := &b.vars[i]
		text, err := c.params.value(v)
		if err != nil {
			return badRequest(v.name, fmt.Sprintf("invalid path parameter %s: %v", v.name, err))
		}
		m := msg
		for _, fd := range v.fields[:len(v.fields)-1] {
			m = m.Mutable(fd).Message()
		}
		last := v.fields[len(v.fields)-1]
		m.Clear(last) // the path wins over the body
		if err := setText(m, last, nil, text, nil); err != nil {
			return badRequest(v.name, fmt.Sprintf("invalid value %q for path parameter %s: %v", text, v.name, err))
		}
	}
	return b.bindQuery(msg, c.r.URL.RawQuery)
}

// decodeBody decodes the body into the request message per the rule's body.
func (c *Call) decodeBody(msg *dynamicpb.Message, data []byte, f format, contentType string) error {
	b := c.binding
	target := protoreflect.Message(msg)
	var last protoreflect.FieldDescriptor
	if len(b.bodyFields) > 0 {
		for _, fd := range b.bodyFields[:len(b.bodyFields)-1] {
			target = target.Mutable(fd).Message()
		}
		last = b.bodyFields[len(b.bodyFields)-1]
	}
	if b.bodyRaw {
		if last != nil {
			target = target.Mutable(last).Message()
		}
		fields := target.Descriptor().Fields()
		if contentType != "" {
			target.Set(fields.ByNumber(1), protoreflect.ValueOfString(contentType))
		}
		if len(data) > 0 {
			target.Set(fields.ByNumber(2), protoreflect.ValueOfBytes(data))
		}
		return nil
	}
	single := last == nil || (last.Message() != nil && !last.IsList() && !last.IsMap())
	if len(bytes.TrimSpace(data)) == 0 {
		// No body: nothing to decode. A message body field is still set, empty, as grpc-gateway sets
		// it: the rule says the body is that field, so an upstream sees it present.
		if last != nil && single {
			target.Mutable(last)
		}
		return nil
	}
	if last != nil && single {
		target = target.Mutable(last).Message()
	}
	if f == formatProto {
		if !single {
			return &Error{
				code:       codes.InvalidArgument,
				msg:        fmt.Sprintf("the body of %s is field %s, which is not a message: send it as JSON", b.method.FullName(), b.body),
				httpStatus: http.StatusUnsupportedMediaType,
			}
		}
		if err := unmarshal(proto.UnmarshalOptions{AllowPartial: true, Merge: true, Resolver: b.types}, data, target.Interface()); err != nil {
			return badRequest(b.bodyName(), fmt.Sprintf("invalid protobuf body for %s: %v", target.Descriptor().FullName(), err))
		}
		return nil
	}
	opts := protojson.UnmarshalOptions{AllowPartial: true, DiscardUnknown: c.h.discardUnknown, Resolver: b.types}
	if single {
		if err := opts.Unmarshal(data, target.Interface()); err != nil {
			return jsonBodyError(b, string(target.Descriptor().FullName()), err, &jsonBody{data: data, md: target.Descriptor()})
		}
		return nil
	}
	// A scalar, repeated or map body field: decode {"field": <body>} into a message of the parent's
	// type and move the field over. The body must be one JSON value, or it could set other fields.
	if !json.Valid(data) {
		return badRequest(b.bodyName(), fmt.Sprintf("invalid JSON body for field %s: not one JSON value", b.body))
	}
	wrapped := make([]byte, 0, len(data)+len(last.Name())+5)
	wrapped = append(wrapped, `{"`...)
	wrapped = append(wrapped, last.Name()...)
	wrapped = append(wrapped, `":`...)
	wrapped = append(wrapped, data...)
	wrapped = append(wrapped, '}')
	tmp := target.Type().New()
	if err := opts.Unmarshal(wrapped, tmp.Interface()); err != nil {
		return jsonBodyError(b, "field "+b.body, err, &jsonBody{data: data, fd: last})
	}
	if tmp.Has(last) {
		target.Set(last, tmp.Get(last))
	}
	return nil
}

// ProtobufBodyJSON returns data, a binary protobuf body of a request on the binding, as the JSON
// body the front reads as the same message: the body's message (the request, or the body field's
// message) decoded as the front decodes it, then rendered as protojson, with the names a client
// writes in JSON (json_name) and unset fields left out. Fields the message's descriptor does not know
// are passed upstream as they are, and not rendered. Policies that inspect JSON bodies (the WAF)
// read a protobuf body through it.
//
// ok is false when the front reads no protobuf body on the binding: it takes no body, its body is
// a google.api.HttpBody (bytes passed on as they are) or a field that is not a message, or its
// method streams requests (sent as newline-delimited JSON). err says why data does not decode as
// the body's message (which the front refuses with 400, unless it passes a whole-request body on
// with its framing checked only), or why it does not render as JSON (an Any of a type the snapshot
// does not know).
func (b *Binding) ProtobufBodyJSON(data []byte) (out []byte, ok bool, err error) {
	if b.body == "" || b.bodyRaw || b.method.IsStreamingClient() {
		return nil, false, nil
	}
	md := b.method.Input()
	if len(b.bodyFields) > 0 {
		last := b.bodyFields[len(b.bodyFields)-1]
		if last.Message() == nil || last.IsList() || last.IsMap() {
			return nil, false, nil
		}
		md = last.Message()
	}
	msg := dynamicpb.NewMessage(md)
	if err := unmarshal(proto.UnmarshalOptions{AllowPartial: true, Resolver: b.types}, data, msg); err != nil {
		return nil, true, badRequest(b.bodyName(), fmt.Sprintf("invalid protobuf body for %s: %v", md.FullName(), err))
	}
	out, err = protojson.MarshalOptions{AllowPartial: true, Resolver: b.types}.Marshal(msg)
	if err != nil {
		return nil, true, fmt.Errorf("rendering the protobuf body for %s as JSON: %w", md.FullName(), err)
	}
	return out, true, nil
}

// bodyName names the body in errors: its field, or "" for the whole request.
func (b *Binding) bodyName() string {
	if b.body == "*" {
		return ""
	}
	return b.body
}

// jsonBodyError is a 400 naming what protojson found wrong in the body of what (the message type
// decoded, or "field tags" for a body of one field that is not a message), at its position in the
// body as sent, and the unknown field it names if any: by its path in body (see unknown_field.go),
// prefixed by the body's field; by the key alone when body is nil or the path is not found.
func jsonBodyError(b *Binding, what string, err error, body *jsonBody) error {
	msg := body.unwrapPosition(strings.TrimLeft(strings.TrimPrefix(err.Error(), "proto:"), " \u00a0"))
	field := b.bodyName()
	var path string
	var found bool
	if _, rest, ok := strings.Cut(msg, `unknown field "`); ok {
		if key, _, ok := strings.Cut(rest, `"`); ok {
			if path, found = body.unknownKeyPath(key); !found {
				path, found = "."+key, true
			}
		}
	} else {
		path, found = body.pathOf(msg)
	}
	if found {
		field = strings.TrimPrefix(field+path, ".")
	}
	return badRequest(field, fmt.Sprintf("invalid JSON body for %s: %s", what, msg))
}

// fillUpdateMask sets update_mask from the JSON keys of the body when the query did not set it.
func (b *Binding) fillUpdateMask(msg *dynamicpb.Message, body []byte) error {
	if msg.Has(b.updateMask) && msg.Get(b.updateMask).Message().Get(b.updateMask.Message().Fields().ByNumber(1)).List().Len() > 0 {
		return nil
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	var m protoreflect.Message = msg
	for _, fd := range b.bodyFields {
		if fd.Message() == nil || fd.IsList() || fd.IsMap() {
			return nil // a mask needs a message body
		}
		m = m.Get(fd).Message()
	}
	fm, err := runtime.FieldMaskFromRequestBody(bytes.NewReader(body), m.Interface())
	if err != nil {
		return badRequest("update_mask", fmt.Sprintf("cannot derive update_mask from the body: %v", err))
	}
	mask := msg.Mutable(b.updateMask).Message()
	paths := mask.Mutable(mask.Descriptor().Fields().ByNumber(1)).List()
	for _, p := range fm.GetPaths() {
		paths.Append(protoreflect.ValueOfString(p))
	}
	return nil
}

// maxPooledBuffer is the largest buffer kept for reuse.
const maxPooledBuffer = 1 << 20

var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readBody reads the request body, refusing more than the limit with 413.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) (*bytes.Buffer, error) {
	if r.ContentLength > h.maxBody {
		return nil, &Error{
			code:       codes.ResourceExhausted,
			msg:        fmt.Sprintf("request body of %d bytes is larger than the limit of %d bytes", r.ContentLength, h.maxBody),
			httpStatus: http.StatusRequestEntityTooLarge,
		}
	}
	buf := bufferPool.Get().(*bytes.Buffer)
	buf.Reset()
	if r.Body == nil || r.Body == http.NoBody {
		return buf, nil
	}
	var dl *bodyDeadline
	var wait time.Duration
	if RequestBodyKind(r.Header.Get("Content-Type")) == BodyNDJSON {
		// The one kind the limits policy leaves unbounded, as it may be a stream's: bounded here
		// as the policy bounds the others (see body_time.go).
		dl = &bodyDeadline{rc: http.NewResponseController(w)}
		announced := r.ContentLength
		if announced < 0 {
			announced = h.maxBody
		}
		wait = dl.bound(h.readTime, announced)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		h.putBuffer(buf)
		return nil, unreadBody(r.Context(), dl, err, wait)
	}
	if dl != nil {
		dl.lift()
	}
	return buf, nil
}

// unreadBody is the error of a call whose body could not be read whole (readBody) with err: 408
// past the front's own bound (dl, nil when it set none, and wait), CANCELLED (499) when its client
// gave up on it (reset its HTTP/2 stream or closed the connection, which cancels ctx, the
// request's), otherwise as bodyReadError words it. The first two end the call before any policy
// admitted it: they are recorded as its code (callinfo.EndCall), so that the telemetry counts the
// request under the method its path binds to with that code, as the limits' refusals are.
func unreadBody(ctx context.Context, dl *bodyDeadline, err error, wait time.Duration) error {
	if dl != nil {
		if late := dl.late(err, wait); late != nil {
			callinfo.EndCall(ctx, uint32(codes.DeadlineExceeded))
			return late
		}
	}
	// net/http cancels the request's context for any failure to read an HTTP/1 body too: a body
	// cut short, or past its deadline, is the client's fault, as bodyReadError has it.
	var tooBig *http.MaxBytesError
	var refusal interface{ GRPCStatus() *status.Status }
	switch {
	case ctx.Err() == nil, errors.As(err, &tooBig), errors.As(err, &refusal),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, os.ErrDeadlineExceeded):
		return bodyReadError(err)
	}
	callinfo.EndCall(ctx, uint32(codes.Canceled))
	return &Error{code: codes.Canceled, msg: "the client cancelled the request before its body arrived", cause: err}
}

func (h *Handler) putBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledBuffer {
		bufferPool.Put(buf)
	}
}

// checkWire checks that data is a sequence of well-formed protobuf fields.
func checkWire(data []byte) error {
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return protowire.ParseError(n)
		}
		if num > protowire.MaxValidNumber {
			return errors.New("invalid field number")
		}
		m := protowire.ConsumeFieldValue(num, typ, data[n:])
		if m < 0 {
			return protowire.ParseError(m)
		}
		data = data[n+m:]
	}
	return nil
}

// pathRequest encodes a request made of path variables only (scalar fields, possibly nested)
// straight to the wire format, without a dynamic message: the common GET /v1/things/{id}. A
// nested variable is wrapped in its messages; two wrappers of one message merge when decoded.
func (c *Call) pathRequest() ([]byte, error) {
	var out []byte
	for i := range c.binding.vars {
		v := &c.binding.vars[i]
		text, err := c.params.value(v)
		if err != nil {
			return nil, badRequest(v.name, fmt.Sprintf("invalid path parameter %s: %v", v.name, err))
		}
		last := v.fields[len(v.fields)-1]
		val, err := scalarValue(last, text)
		if err != nil {
			return nil, badRequest(v.name, fmt.Sprintf("invalid value %q for path parameter %s: %v", text, v.name, err))
		}
		if len(v.fields) == 1 {
			out = appendScalarField(out, last, val)
			continue
		}
		field := appendScalarField(nil, last, val)
		for j := len(v.fields) - 2; j >= 0; j-- {
			field = protowire.AppendBytes(protowire.AppendTag(nil, v.fields[j].Number(), protowire.BytesType), field)
		}
		out = append(out, field...)
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

// appendScalarField appends the encoding of a non-message field with value v.
func appendScalarField(b []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value) []byte {
	num := fd.Number()
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), protowire.EncodeBool(v.Bool()))
	case protoreflect.EnumKind:
		return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), uint64(v.Enum()))
	case protoreflect.Int32Kind, protoreflect.Int64Kind:
		return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), uint64(v.Int()))
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), protowire.EncodeZigZag(v.Int()))
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind:
		return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), v.Uint())
	case protoreflect.Sfixed32Kind:
		return protowire.AppendFixed32(protowire.AppendTag(b, num, protowire.Fixed32Type), uint32(v.Int()))
	case protoreflect.Fixed32Kind:
		return protowire.AppendFixed32(protowire.AppendTag(b, num, protowire.Fixed32Type), uint32(v.Uint()))
	case protoreflect.FloatKind:
		return protowire.AppendFixed32(protowire.AppendTag(b, num, protowire.Fixed32Type), math.Float32bits(float32(v.Float())))
	case protoreflect.Sfixed64Kind:
		return protowire.AppendFixed64(protowire.AppendTag(b, num, protowire.Fixed64Type), uint64(v.Int()))
	case protoreflect.Fixed64Kind:
		return protowire.AppendFixed64(protowire.AppendTag(b, num, protowire.Fixed64Type), v.Uint())
	case protoreflect.DoubleKind:
		return protowire.AppendFixed64(protowire.AppendTag(b, num, protowire.Fixed64Type), math.Float64bits(v.Float()))
	case protoreflect.StringKind:
		return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), v.String())
	default: // BytesKind
		return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), v.Bytes())
	}
}
