package transcoder

import (
	"bytes"
	"math"
	"strconv"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// The JSON-to-wire decoder transcodes a JSON request body straight to the protobuf wire format,
// without a dynamic message: the mirror image of wirejson.go. Per message type a jsonCodec, compiled
// once per snapshot, knows each field's number, kind, presence, packing and the names protojson
// accepts for it (JSON name, then proto name), and each enum's values by name.
//
// It accepts a subset of what protojson accepts and, for that subset, produces the same message:
// objects with known field names, each once, at most one member per oneof; null for a field (which
// leaves it unset); numbers for numeric fields and integers also as strings (int64 "123"), floats as
// "NaN", "Infinity" and "-Infinity"; enums by name or number; bytes in standard or URL-safe base64;
// repeated fields and maps; and the well-known types Timestamp, Duration, the wrappers, Empty,
// Struct, Value and ListValue. Fields without presence are left off the wire at their zero values,
// as proto.Marshal leaves them; repeated scalars are packed where the field is.
//
// Everything else it declines, and the caller decodes with protojson and dynamicpb instead, which
// then also reports any error with its usual message: unknown fields (even with DiscardUnknown),
// duplicate fields and map keys, a second member of a oneof, unknown enum names, numbers written with
// a fraction or exponent for integer fields, numeric strings other than plain integers, Any,
// FieldMask, groups, NullValue fields, nesting deeper than maxJSONDepth, and malformed JSON. The
// decision never depends on anything but the input, so a declined body costs one extra pass.
// FuzzJSONWire holds the decoder to protojson: same accept/reject where it decides, same message.

const maxJSONDepth = 64

// jsonCodec transcodes one message type.
type jsonCodec struct {
	wkt    wktKind
	fields []jsonField
	byName map[string]int32 // field index by every name protojson accepts
	oneofs int
	// sub are the codecs google.protobuf.Value refers to: Struct and ListValue.
	structC, listC *jsonCodec
}

// jsonField transcodes one field.
type jsonField struct {
	num       protowire.Number
	kind      protoreflect.Kind
	list      bool
	isMap     bool
	packed    bool
	presence  bool // explicit presence: put on the wire even at its zero value
	nullSkips bool // a JSON null leaves the field unset (all but Value and NullValue fields)
	slow      bool // left to protojson: groups, NullValue fields
	oneof     int32
	enum      map[string]int32
	msg       *jsonCodec
	key, val  *jsonField // map entries
}

// jsonCodecs builds jsonCodecs, one per message type (recursive types included) and one value table
// per enum type.
type jsonCodecs struct {
	msgs  map[protoreflect.FullName]*jsonCodec
	enums map[protoreflect.FullName]map[string]int32
}

func newJSONCodecs() jsonCodecs {
	return jsonCodecs{
		msgs:  make(map[protoreflect.FullName]*jsonCodec),
		enums: make(map[protoreflect.FullName]map[string]int32),
	}
}

func (js jsonCodecs) get(md protoreflect.MessageDescriptor) *jsonCodec {
	if c, ok := js.msgs[md.FullName()]; ok {
		return c
	}
	c := &jsonCodec{oneofs: md.Oneofs().Len()}
	js.msgs[md.FullName()] = c
	if c.wkt = wktOf(md.FullName()); c.wkt == wktSlow {
		return c
	}
	if opts, ok := md.Options().(*descriptorpb.MessageOptions); ok && opts.GetMessageSetWireFormat() {
		c.wkt = wktSlow
		return c
	}
	if c.oneofs > 64 {
		c.wkt = wktSlow
		return c
	}
	fields := md.Fields()
	c.fields = make([]jsonField, fields.Len())
	for i := range fields.Len() {
		c.fields[i] = js.field(fields.Get(i))
	}
	// protojson looks a name up as a JSON name first, then as a proto (text) name; a name that is
	// neither is unknown. Every name that can match is one of these.
	c.byName = make(map[string]int32, 2*fields.Len())
	for i := range fields.Len() {
		fd := fields.Get(i)
		for _, name := range []string{fd.JSONName(), fd.TextName()} {
			match := fields.ByJSONName(name)
			if match == nil {
				match = fields.ByTextName(name)
			}
			if match != nil {
				c.byName[name] = int32(match.Index())
			}
		}
	}
	if !c.wellFormed(md) {
		c.wkt = wktSlow
	}
	return c
}

// wellFormed checks that a well-known type has the shape the decoder assumes.
func (c *jsonCodec) wellFormed(md protoreflect.MessageDescriptor) bool {
	fields := md.Fields()
	kindOf := func(num protowire.Number) protoreflect.Kind {
		if fd := fields.ByNumber(num); fd != nil && fd.Cardinality() != protoreflect.Repeated {
			return fd.Kind()
		}
		return 0
	}
	switch c.wkt {
	case wktTimestamp, wktDuration:
		return fields.Len() == 2 && kindOf(1) == protoreflect.Int64Kind && kindOf(2) == protoreflect.Int32Kind
	case wktWrapper:
		return fields.Len() == 1 && kindOf(1) != 0 && kindOf(1) != protoreflect.MessageKind && kindOf(1) != protoreflect.GroupKind
	case wktEmpty:
		return fields.Len() == 0
	case wktStruct:
		return fields.Len() == 1 && c.fields[0].isMap && c.fields[0].num == 1 && c.fields[0].key.kind == protoreflect.StringKind &&
			c.fields[0].val.msg != nil && c.fields[0].val.msg.wkt == wktValue
	case wktListValue:
		return fields.Len() == 1 && c.fields[0].list && c.fields[0].num == 1 && c.fields[0].msg != nil && c.fields[0].msg.wkt == wktValue
	case wktValue:
		if fields.Len() != 6 || kindOf(1) != protoreflect.EnumKind || kindOf(2) != protoreflect.DoubleKind ||
			kindOf(3) != protoreflect.StringKind || kindOf(4) != protoreflect.BoolKind {
			return false
		}
		s, l := fields.ByNumber(5), fields.ByNumber(6)
		if s == nil || l == nil || s.Message() == nil || l.Message() == nil ||
			s.Message().FullName() != "google.protobuf.Struct" || l.Message().FullName() != "google.protobuf.ListValue" {
			return false
		}
		c.structC, c.listC = c.fields[s.Index()].msg, c.fields[l.Index()].msg
		return true
	}
	return true
}

func (js jsonCodecs) field(fd protoreflect.FieldDescriptor) jsonField {
	f := jsonField{
		num:      fd.Number(),
		kind:     fd.Kind(),
		list:     fd.IsList(),
		isMap:    fd.IsMap(),
		packed:   fd.IsPacked(),
		presence: fd.HasPresence(),
		oneof:    -1,
	}
	if od := fd.ContainingOneof(); od != nil {
		f.oneof = int32(od.Index())
	}
	md, ed := fd.Message(), fd.Enum()
	isValue := md != nil && md.FullName() == "google.protobuf.Value"
	isNull := ed != nil && ed.FullName() == "google.protobuf.NullValue"
	f.nullSkips = !isValue && !isNull
	f.slow = f.kind == protoreflect.GroupKind || isNull
	if ed != nil {
		f.enum = js.enum(ed)
	}
	if f.isMap {
		k, v := js.field(fd.MapKey()), js.field(fd.MapValue())
		f.key, f.val = &k, &v
		f.slow = f.slow || v.slow
		return f
	}
	if md != nil && !f.slow {
		f.msg = js.get(md)
	}
	return f
}

func (js jsonCodecs) enum(ed protoreflect.EnumDescriptor) map[string]int32 {
	if m, ok := js.enums[ed.FullName()]; ok {
		return m
	}
	values := ed.Values()
	m := make(map[string]int32, values.Len())
	for i := range values.Len() {
		v := values.Get(i)
		m[string(v.Name())] = int32(v.Number())
	}
	js.enums[ed.FullName()] = m
	return m
}

// transcode decodes one JSON message of c's type from data and appends its wire encoding to out. ok
// is false for input the decoder leaves to protojson, which may still be valid.
func (c *jsonCodec) transcode(out, data []byte) ([]byte, bool) {
	d := jsonDecoder{in: data, out: out}
	if !d.message(c) {
		return nil, false
	}
	d.ws()
	if d.pos != len(d.in) {
		return nil, false
	}
	return d.out, true
}

// jsonDecoder is the state of one transcoding: the input read from pos, the wire bytes written.
type jsonDecoder struct {
	in      []byte
	pos     int
	out     []byte
	scratch []byte // unescaped strings
	escaped bool   // the last string read was unescaped into scratch
	depth   int
}

func (d *jsonDecoder) ws() {
	for d.pos < len(d.in) {
		switch d.in[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// at reports whether the next byte, after white space, is c.
func (d *jsonDecoder) at(c byte) bool {
	d.ws()
	return d.pos < len(d.in) && d.in[d.pos] == c
}

// next ends a member of an object or array: true at a comma (consumed), false at close (consumed);
// ok is false for anything else.
func (d *jsonDecoder) next(close byte) (more, ok bool) {
	d.ws()
	if d.pos < len(d.in) {
		switch d.in[d.pos] {
		case ',':
			d.pos++
			return true, true
		case close:
			d.pos++
			return false, true
		}
	}
	return false, false
}

func (d *jsonDecoder) lit(s string) bool {
	if !bytes.HasPrefix(d.in[d.pos:], unsafe.Slice(unsafe.StringData(s), len(s))) {
		return false
	}
	d.pos += len(s)
	return true
}

// begin starts a length-delimited value: it reserves one byte for the length and returns where the
// value starts. end writes the length, moving the value when it takes more than one byte.
func (d *jsonDecoder) begin() int {
	d.out = append(d.out, 0)
	return len(d.out)
}

func (d *jsonDecoder) end(start int) {
	n := len(d.out) - start
	if n < 0x80 {
		d.out[start-1] = byte(n)
		return
	}
	size := protowire.SizeVarint(uint64(n))
	var pad [9]byte
	d.out = append(d.out, pad[:size-1]...)
	copy(d.out[start+size-1:], d.out[start:start+n])
	protowire.AppendVarint(d.out[:start-1], uint64(n))
}

// message decodes one value of message type c.
func (d *jsonDecoder) message(c *jsonCodec) bool {
	d.depth++
	ok := d.depth <= maxJSONDepth && d.messageValue(c)
	d.depth--
	return ok
}

func (d *jsonDecoder) messageValue(c *jsonCodec) bool {
	d.ws()
	if d.pos >= len(d.in) {
		return false
	}
	switch c.wkt {
	case wktSlow:
		return false
	case wktTimestamp:
		return d.timestamp()
	case wktDuration:
		return d.duration()
	case wktWrapper:
		f := &c.fields[0]
		mark := len(d.out)
		zero, ok := d.scalar(f, true)
		if zero && !f.presence {
			d.out = d.out[:mark]
		}
		return ok
	case wktEmpty:
		if d.in[d.pos] != '{' {
			return false
		}
		d.pos++
		if !d.at('}') {
			return false
		}
		d.pos++
		return true
	case wktStruct:
		return d.in[d.pos] == '{' && d.mapField(&c.fields[0])
	case wktListValue:
		return d.in[d.pos] == '[' && d.list(&c.fields[0])
	case wktValue:
		return d.value(c)
	}
	if d.in[d.pos] != '{' {
		return false
	}
	d.pos++
	var seenInline [2]uint64
	seen := seenInline[:]
	if len(c.fields) > 64*len(seenInline) {
		seen = make([]uint64, (len(c.fields)+63)/64)
	}
	var oneofs uint64
	if d.at('}') {
		d.pos++
		return true
	}
	for {
		d.ws()
		name, ok := d.str()
		if !ok {
			return false
		}
		i, ok := c.byName[string(name)]
		if !ok {
			return false // unknown: protojson refuses it, or drops it when told to
		}
		if seen[i/64]&(1<<(i%64)) != 0 {
			return false // duplicate
		}
		seen[i/64] |= 1 << (i % 64)
		if !d.at(':') {
			return false
		}
		d.pos++
		if !d.field(&c.fields[i], &oneofs) {
			return false
		}
		more, ok := d.next('}')
		if !ok {
			return false
		}
		if !more {
			return true
		}
	}
}

// field decodes the value of field f of a message object.
func (d *jsonDecoder) field(f *jsonField, oneofs *uint64) bool {
	if f.slow {
		return false
	}
	d.ws()
	if d.pos >= len(d.in) {
		return false
	}
	if d.in[d.pos] == 'n' && f.nullSkips {
		return d.lit("null")
	}
	switch {
	case f.list:
		return d.in[d.pos] == '[' && d.list(f)
	case f.isMap:
		return d.in[d.pos] == '{' && d.mapField(f)
	}
	if f.oneof >= 0 {
		if *oneofs&(1<<f.oneof) != 0 {
			return false
		}
		*oneofs |= 1 << f.oneof
	}
	if f.msg != nil {
		d.out = protowire.AppendTag(d.out, f.num, protowire.BytesType)
		start := d.begin()
		if !d.message(f.msg) {
			return false
		}
		d.end(start)
		return true
	}
	mark := len(d.out)
	zero, ok := d.scalar(f, true)
	if zero && !f.presence {
		d.out = d.out[:mark]
	}
	return ok
}

// list decodes a JSON array (at '[') of repeated field f.
func (d *jsonDecoder) list(f *jsonField) bool {
	d.pos++
	if d.at(']') {
		d.pos++
		return true
	}
	start := -1
	if f.packed {
		d.out = protowire.AppendTag(d.out, f.num, protowire.BytesType)
		start = d.begin()
	}
	for {
		switch {
		case f.msg != nil:
			d.out = protowire.AppendTag(d.out, f.num, protowire.BytesType)
			s := d.begin()
			if !d.message(f.msg) {
				return false
			}
			d.end(s)
		default:
			if _, ok := d.scalar(f, !f.packed); !ok {
				return false
			}
		}
		more, ok := d.next(']')
		if !ok {
			return false
		}
		if !more {
			break
		}
	}
	if start >= 0 {
		d.end(start)
	}
	return true
}

// maxLinearKeys is how many map keys are checked for duplicates by a linear scan before a set.
const maxLinearKeys = 16

// mapField decodes a JSON object (at '{') of map field f.
func (d *jsonDecoder) mapField(f *jsonField) bool {
	d.pos++
	if d.at('}') {
		d.pos++
		return true
	}
	var inlineStr [maxLinearKeys]string
	var inlineNum [maxLinearKeys]uint64
	strs, nums := inlineStr[:0], inlineNum[:0]
	var set map[string]struct{}
	var numSet map[uint64]struct{}
	for {
		d.ws()
		name, ok := d.str()
		if !ok {
			return false
		}
		d.out = protowire.AppendTag(d.out, f.num, protowire.BytesType)
		start := d.begin()
		if f.key.kind == protoreflect.StringKind {
			key := unsafeString(name)
			if d.escaped {
				key = string(name) // scratch is reused by the next string
			}
			if set != nil {
				if _, dup := set[key]; dup {
					return false
				}
				set[key] = struct{}{}
			} else {
				for _, k := range strs {
					if k == key {
						return false
					}
				}
				strs = append(strs, key)
				if len(strs) == maxLinearKeys {
					set = make(map[string]struct{}, 2*maxLinearKeys)
					for _, k := range strs {
						set[k] = struct{}{}
					}
				}
			}
			d.out = protowire.AppendTag(d.out, 1, protowire.BytesType)
			d.out = protowire.AppendBytes(d.out, name)
		} else {
			v, ok := d.mapKey(f.key, name)
			if !ok {
				return false
			}
			if numSet != nil {
				if _, dup := numSet[v]; dup {
					return false
				}
				numSet[v] = struct{}{}
			} else {
				for _, k := range nums {
					if k == v {
						return false
					}
				}
				nums = append(nums, v)
				if len(nums) == maxLinearKeys {
					numSet = make(map[uint64]struct{}, 2*maxLinearKeys)
					for _, k := range nums {
						numSet[k] = struct{}{}
					}
				}
			}
		}
		if !d.at(':') {
			return false
		}
		d.pos++
		if f.val.msg != nil {
			d.out = protowire.AppendTag(d.out, 2, protowire.BytesType)
			s := d.begin()
			if !d.message(f.val.msg) {
				return false
			}
			d.end(s)
		} else if _, ok := d.scalar(f.val, true); !ok {
			return false
		}
		d.end(start)
		more, ok := d.next('}')
		if !ok {
			return false
		}
		if !more {
			return true
		}
	}
}

// mapKey parses a non-string map key as protojson does (strconv, base 10) and appends its field;
// it returns the key's bits for the duplicate check.
func (d *jsonDecoder) mapKey(k *jsonField, name []byte) (uint64, bool) {
	s := unsafeString(name)
	var u uint64
	switch k.kind {
	case protoreflect.BoolKind:
		switch s {
		case "true":
			u = 1
		case "false":
		default:
			return 0, false
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		v, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return 0, false
		}
		u = uint64(v)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, false
		}
		u = uint64(v)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		v, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return 0, false
		}
		u = v
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, false
		}
		u = v
	default:
		return 0, false
	}
	d.out = protowire.AppendTag(d.out, 1, wireType(k.kind))
	d.out = appendNumber(d.out, k.kind, u)
	return u, true
}

// appendNumber appends the value (no tag) of an integer, enum or bool kind holding u (an int64's bits
// for the signed kinds).
func appendNumber(b []byte, kind protoreflect.Kind, u uint64) []byte {
	switch kind {
	case protoreflect.Sint32Kind:
		return protowire.AppendVarint(b, protowire.EncodeZigZag(int64(int32(u))))
	case protoreflect.Sint64Kind:
		return protowire.AppendVarint(b, protowire.EncodeZigZag(int64(u)))
	case protoreflect.Sfixed32Kind, protoreflect.Fixed32Kind:
		return protowire.AppendFixed32(b, uint32(u))
	case protoreflect.Sfixed64Kind, protoreflect.Fixed64Kind:
		return protowire.AppendFixed64(b, u)
	case protoreflect.Uint32Kind:
		return protowire.AppendVarint(b, uint64(uint32(u)))
	case protoreflect.Int32Kind, protoreflect.EnumKind:
		return protowire.AppendVarint(b, uint64(int64(int32(u))))
	default: // Int64, Uint64, Bool
		return protowire.AppendVarint(b, u)
	}
}

// scalar decodes one value of non-message field f and appends it, with its tag when tagged (not in a
// packed list); zero reports the kind's zero value, which a field without presence leaves off.
func (d *jsonDecoder) scalar(f *jsonField, tagged bool) (zero, ok bool) {
	d.ws()
	if d.pos >= len(d.in) {
		return false, false
	}
	var u uint64
	switch f.kind {
	case protoreflect.StringKind, protoreflect.BytesKind:
		s, ok := d.str()
		if !ok {
			return false, false
		}
		if tagged {
			d.out = protowire.AppendTag(d.out, f.num, protowire.BytesType)
		}
		if f.kind == protoreflect.StringKind {
			d.out = protowire.AppendBytes(d.out, s)
			return len(s) == 0, true
		}
		start := d.begin()
		var err error
		if d.out, err = base64For(s).AppendDecode(d.out, s); err != nil {
			return false, false
		}
		n := len(d.out) - start
		d.end(start)
		return n == 0, true
	case protoreflect.BoolKind:
		switch {
		case d.lit("true"):
			u = 1
		case d.lit("false"):
		default:
			return false, false
		}
	case protoreflect.EnumKind:
		if d.in[d.pos] == '"' {
			s, ok := d.str()
			if !ok {
				return false, false
			}
			v, ok := f.enum[string(s)]
			if !ok {
				return false, false
			}
			u = uint64(v)
		} else {
			v, ok := jsonInt(d.bareInt(), 32)
			if !ok {
				return false, false
			}
			u = uint64(v)
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		bits := 64
		if f.kind == protoreflect.Int32Kind || f.kind == protoreflect.Sint32Kind || f.kind == protoreflect.Sfixed32Kind {
			bits = 32
		}
		v, ok := jsonInt(d.intText(), bits)
		if !ok {
			return false, false
		}
		u = uint64(v)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		bits := 64
		if f.kind == protoreflect.Uint32Kind || f.kind == protoreflect.Fixed32Kind {
			bits = 32
		}
		v, ok := jsonUint(d.intText(), bits)
		if !ok {
			return false, false
		}
		u = v
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		bits := 64
		if f.kind == protoreflect.FloatKind {
			bits = 32
		}
		v, ok := d.float(bits)
		if !ok {
			return false, false
		}
		if bits == 32 {
			b := math.Float32bits(float32(v))
			if tagged {
				d.out = protowire.AppendTag(d.out, f.num, protowire.Fixed32Type)
			}
			d.out = protowire.AppendFixed32(d.out, b)
			return b == 0, true
		}
		b := math.Float64bits(v)
		if tagged {
			d.out = protowire.AppendTag(d.out, f.num, protowire.Fixed64Type)
		}
		d.out = protowire.AppendFixed64(d.out, b)
		return b == 0, true
	default:
		return false, false
	}
	if tagged {
		d.out = protowire.AppendTag(d.out, f.num, wireType(f.kind))
	}
	d.out = appendNumber(d.out, f.kind, u)
	return u == 0, true
}
