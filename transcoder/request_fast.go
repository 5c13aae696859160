package transcoder

import (
	"google.golang.org/protobuf/encoding/protowire"
)

// The fast path of request building: a JSON body transcoded straight to the wire (jsonwire.go), the
// path variables appended after it (the upstream's decoder keeps the last value of a scalar field and
// merges messages, so the path wins over the body as it does in the dynamic path), no dynamic
// message. It is compiled per binding, and taken when the body is JSON and nothing needs the dynamic
// message: no query parameters to bind (body "*" ignores them), no update_mask to fill. Whatever it
// declines goes the dynamic way, which then decides, and reports errors as it always has.

// maxFastNesting bounds the fields a body or path variable is nested in for the fast path.
const maxFastNesting = 8

// jsonRequest is a binding's fast path.
type jsonRequest struct {
	body *jsonCodec         // the body's message type
	wrap []protowire.Number // the body's field path: the body is nested in these fields
}

// compileJSONRequest sets b.requestJSON when the binding can use the fast path.
func (b *Binding) compileJSONRequest(js jsonCodecs) {
	if b.body == "" || b.bodyRaw || b.updateMask != nil {
		return
	}
	for _, v := range b.vars {
		if len(v.fields) > maxFastNesting || v.fields[len(v.fields)-1].Message() != nil {
			return
		}
		for _, fd := range v.fields {
			// A path variable in a oneof can clash with the body's member, which the dynamic path
			// refuses: leave it that.
			if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
				return
			}
		}
	}
	md := b.method.Input()
	var wrap []protowire.Number
	if b.body != "*" {
		if len(b.bodyFields) > maxFastNesting {
			return
		}
		last := b.bodyFields[len(b.bodyFields)-1]
		if last.Message() == nil || last.IsList() || last.IsMap() {
			return // a scalar, repeated or map body: the dynamic path wraps it
		}
		for _, fd := range b.bodyFields {
			wrap = append(wrap, fd.Number())
		}
		md = last.Message()
	}
	c := js.get(md)
	if c.wkt == wktSlow {
		return
	}
	b.requestJSON = &jsonRequest{body: c, wrap: wrap}
}

// fastJSONRequest builds the request from a JSON body and the path variables; ok is false when the
// dynamic path must do it.
func (c *Call) fastJSONRequest(data []byte) ([]byte, bool) {
	p := c.binding.requestJSON
	d := jsonDecoder{in: data, out: make([]byte, 0, len(data)+16)}
	var starts [maxFastNesting]int
	for i, num := range p.wrap {
		d.out = protowire.AppendTag(d.out, num, protowire.BytesType)
		starts[i] = d.begin()
	}
	if !d.message(p.body) {
		return nil, false
	}
	if d.ws(); d.pos != len(d.in) {
		return nil, false
	}
	for i := len(p.wrap) - 1; i >= 0; i-- {
		d.end(starts[i])
	}
	for i := range c.binding.vars {
		v := &c.binding.vars[i]
		text, err := c.params.value(v)
		if err != nil {
			return nil, false
		}
		last := v.fields[len(v.fields)-1]
		val, err := scalarValue(last, text)
		if err != nil {
			return nil, false
		}
		for j, fd := range v.fields[:len(v.fields)-1] {
			d.out = protowire.AppendTag(d.out, fd.Number(), protowire.BytesType)
			starts[j] = d.begin()
		}
		d.out = appendScalarField(d.out, last, val)
		for j := len(v.fields) - 2; j >= 0; j-- {
			d.end(starts[j])
		}
	}
	return d.out, true
}
