package resolvers

import (
	"errors"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The executor reads upstream responses in their wire form: a message is the bytes it arrived in,
// and a field is found by scanning them. Nothing is decoded into Go values that the output does not
// need, so a response turns into JSON with no intermediate message and, for most values, no
// allocation. A message whose fields are read one by one (an object being written or walked) is
// scanned once into an index of its fields (a msgView), kept in a reusable arena, so each lookup
// compares field numbers instead of decoding the bytes again.

// errMalformed reports upstream bytes that are not a valid protobuf message of the expected type.
var errMalformed = errors.New("malformed protobuf message")

// wireField is one field occurrence on the wire. u holds the value of a varint, fixed32 or fixed64
// field; b the contents of a length-delimited field or the body of a group.
type wireField struct {
	num protowire.Number
	typ protowire.Type
	u   uint64
	b   []byte
}

// wireIter walks the fields of a message in wire order.
type wireIter struct {
	b   []byte
	err error
}

// next returns the next field, or false at the end or on malformed input (then err is set).
func (it *wireIter) next() (wireField, bool) {
	if len(it.b) == 0 {
		return wireField{}, false
	}
	num, typ, n := protowire.ConsumeTag(it.b)
	if n < 0 {
		it.fail()
		return wireField{}, false
	}
	it.b = it.b[n:]
	f := wireField{num: num, typ: typ}
	switch typ {
	case protowire.VarintType:
		f.u, n = protowire.ConsumeVarint(it.b)
	case protowire.Fixed32Type:
		var v uint32
		v, n = protowire.ConsumeFixed32(it.b)
		f.u = uint64(v)
	case protowire.Fixed64Type:
		f.u, n = protowire.ConsumeFixed64(it.b)
	case protowire.BytesType:
		f.b, n = protowire.ConsumeBytes(it.b)
	case protowire.StartGroupType:
		n = protowire.ConsumeFieldValue(num, typ, it.b)
		if n >= 0 {
			// The body is what precedes the end-group tag.
			f.b = it.b[:n-protowire.SizeTag(num)]
		}
	default:
		n = -1
	}
	if n < 0 {
		it.fail()
		return wireField{}, false
	}
	it.b = it.b[n:]
	return f, true
}

func (it *wireIter) fail() {
	it.err = errMalformed
	it.b = nil
}

// wireRef is a field occurrence in a message's index: for a varint or fixed field its value, for a
// length-delimited field or a group the offsets of its contents (start<<32 | end).
type wireRef struct {
	num protowire.Number
	typ protowire.Type
	u   uint64
}

// msgView is a message being read: its bytes and, if indexed, its fields in wire order.
type msgView struct {
	b       []byte
	refs    []wireRef
	indexed bool
}

// view is the unindexed view of msg: reading a field scans the bytes.
func view(msg []byte) msgView { return msgView{b: msg} }

// indexView appends the index of msg to arena and returns the grown arena and the view. The caller
// truncates the arena to its former length once done with the view; views taken before stay valid
// as long as their part of the arena is not overwritten.
func indexView(arena []wireRef, msg []byte) ([]wireRef, msgView, error) {
	mark := len(arena)
	it := wireIter{b: msg}
	for {
		f, ok := it.next()
		if !ok {
			break
		}
		r := wireRef{num: f.num, typ: f.typ, u: f.u}
		if f.typ == protowire.BytesType || f.typ == protowire.StartGroupType {
			start := len(msg) - len(it.b) - len(f.b)
			if f.typ == protowire.StartGroupType {
				start -= protowire.SizeTag(f.num)
			}
			r.u = uint64(start)<<32 | uint64(start+len(f.b))
		}
		arena = append(arena, r)
	}
	if it.err != nil {
		return arena[:mark], msgView{}, it.err
	}
	return arena, msgView{b: msg, refs: arena[mark:len(arena):len(arena)], indexed: true}, nil
}

// field returns the occurrence r of v.
func (v msgView) field(r wireRef) wireField {
	if r.typ == protowire.BytesType || r.typ == protowire.StartGroupType {
		return wireField{num: r.num, typ: r.typ, b: v.b[r.u>>32 : uint32(r.u)]}
	}
	return wireField{num: r.num, typ: r.typ, u: r.u}
}

// fieldIter walks the fields of a view in wire order.
type fieldIter struct {
	v  msgView
	i  int
	it wireIter
}

func (v msgView) fields() fieldIter { return fieldIter{v: v, it: wireIter{b: v.b}} }

func (fi *fieldIter) next() (wireField, bool) {
	if !fi.v.indexed {
		return fi.it.next()
	}
	if fi.i == len(fi.v.refs) {
		return wireField{}, false
	}
	fi.i++
	return fi.v.field(fi.v.refs[fi.i-1]), true
}

// nextOf returns the next occurrence of field num, skipping the others without reading them.
func (fi *fieldIter) nextOf(num protowire.Number) (wireField, bool) {
	if fi.v.indexed {
		for fi.i < len(fi.v.refs) {
			fi.i++
			if r := fi.v.refs[fi.i-1]; r.num == num {
				return fi.v.field(r), true
			}
		}
		return wireField{}, false
	}
	for {
		f, ok := fi.it.next()
		if !ok || f.num == num {
			return f, ok
		}
	}
}

// err is the error that ended the walk early: the message is malformed.
func (fi *fieldIter) err() error { return fi.it.err }

// wireType is the wire type of a singular value of kind k.
func wireType(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Sint32Kind,
		protoreflect.Uint32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
		return protowire.VarintType
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.GroupKind:
		return protowire.StartGroupType
	}
	return protowire.BytesType
}

// packable reports whether repeated values of kind k may arrive packed.
func packable(k protoreflect.Kind) bool {
	return wireType(k) != protowire.BytesType && k != protoreflect.GroupKind
}

// scalarField returns the last occurrence of singular scalar field fd in msg, as protobuf's
// last-one-wins rule has it. An occurrence of the wrong wire type is an unknown field and ignored.
func scalarField(msg msgView, fd protoreflect.FieldDescriptor) (wireField, bool, error) {
	want := wireType(fd.Kind())
	if msg.indexed {
		for i := len(msg.refs) - 1; i >= 0; i-- {
			if r := msg.refs[i]; r.num == fd.Number() && r.typ == want {
				return msg.field(r), true, nil
			}
		}
		return wireField{}, false, nil
	}
	var last wireField
	found := false
	it := wireIter{b: msg.b}
	for {
		f, ok := it.next()
		if !ok {
			break
		}
		if f.num == fd.Number() && f.typ == want {
			last, found = f, true
		}
	}
	return last, found, it.err
}

// messageField returns the value of singular message field fd in msg. Several occurrences merge, as
// parsing their concatenation does; only then is anything copied.
func messageField(msg msgView, fd protoreflect.FieldDescriptor) ([]byte, bool, error) {
	want := wireType(fd.Kind())
	if msg.indexed {
		// The common case, one occurrence, without building the others' values.
		n, at := 0, 0
		for i, r := range msg.refs {
			if r.num == fd.Number() && r.typ == want {
				n, at = n+1, i
			}
		}
		if n <= 1 {
			if n == 0 {
				return nil, false, nil
			}
			return msg.field(msg.refs[at]).b, true, nil
		}
	}
	var first []byte
	var merged []byte
	count := 0
	it := msg.fields()
	for {
		f, ok := it.next()
		if !ok {
			break
		}
		if f.num != fd.Number() || f.typ != want {
			continue
		}
		switch count {
		case 0:
			first = f.b
		case 1:
			merged = append(append(make([]byte, 0, len(first)+len(f.b)), first...), f.b...)
		default:
			merged = append(merged, f.b...)
		}
		count++
	}
	if err := it.err(); err != nil {
		return nil, false, err
	}
	if count > 1 {
		return merged, true, nil
	}
	return first, count == 1, nil
}

// scalarDefault is the value an absent scalar field holds: its declared default, or zero.
func scalarDefault(fd protoreflect.FieldDescriptor) wireField {
	f := wireField{num: fd.Number(), typ: wireType(fd.Kind())}
	if !fd.HasDefault() {
		return f
	}
	v := fd.Default()
	switch fd.Kind() {
	case protoreflect.BoolKind:
		if v.Bool() {
			f.u = 1
		}
	case protoreflect.EnumKind:
		f.u = uint64(int64(v.Enum()))
	case protoreflect.Int32Kind, protoreflect.Int64Kind:
		f.u = uint64(v.Int())
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		f.u = protowire.EncodeZigZag(v.Int())
	case protoreflect.Sfixed32Kind:
		f.u = uint64(uint32(int32(v.Int())))
	case protoreflect.Sfixed64Kind:
		f.u = uint64(v.Int())
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		f.u = v.Uint()
	case protoreflect.FloatKind:
		f.u = uint64(math.Float32bits(float32(v.Float())))
	case protoreflect.DoubleKind:
		f.u = math.Float64bits(v.Float())
	case protoreflect.StringKind:
		f.b = []byte(v.String())
	case protoreflect.BytesKind:
		f.b = v.Bytes()
	}
	return f
}

// Decoded scalar values, by protobuf kind, from a wire value.

func int32Of(k protoreflect.Kind, u uint64) int32 {
	if k == protoreflect.Sint32Kind {
		return int32(protowire.DecodeZigZag(u & math.MaxUint32))
	}
	return int32(u)
}

func int64Of(k protoreflect.Kind, u uint64) int64 {
	if k == protoreflect.Sint64Kind {
		return protowire.DecodeZigZag(u)
	}
	return int64(u)
}

func uint32Of(u uint64) uint32 { return uint32(u) }

func floatOf(k protoreflect.Kind, u uint64) (float64, int) {
	if k == protoreflect.FloatKind {
		return float64(math.Float32frombits(uint32(u))), 32
	}
	return math.Float64frombits(u), 64
}

// canonical appends the canonical encoding of scalar value f of kind k (without tag): equal values
// give equal bytes however they were encoded, so the bytes can key maps and requests.
func canonical(b []byte, k protoreflect.Kind, f wireField) []byte {
	switch k {
	case protoreflect.BoolKind:
		if f.u != 0 {
			return append(b, 1)
		}
		return append(b, 0)
	case protoreflect.Int32Kind, protoreflect.EnumKind:
		return protowire.AppendVarint(b, uint64(int64(int32(f.u))))
	case protoreflect.Uint32Kind:
		return protowire.AppendVarint(b, uint64(uint32(f.u)))
	case protoreflect.Sint32Kind:
		return protowire.AppendVarint(b, f.u&math.MaxUint32)
	case protoreflect.Int64Kind, protoreflect.Uint64Kind, protoreflect.Sint64Kind:
		return protowire.AppendVarint(b, f.u)
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.AppendFixed32(b, uint32(f.u))
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.AppendFixed64(b, f.u)
	}
	return append(b, f.b...)
}

// appendCanonicalField appends field num holding canonical value v of kind k.
func appendCanonicalField[T string | []byte](b []byte, num protowire.Number, k protoreflect.Kind, v T) []byte {
	t := wireType(k)
	b = protowire.AppendTag(b, num, t)
	switch t {
	case protowire.StartGroupType:
		b = append(b, v...)
		return protowire.AppendTag(b, num, protowire.EndGroupType)
	case protowire.BytesType:
		b = protowire.AppendVarint(b, uint64(len(v)))
	}
	return append(b, v...)
}
