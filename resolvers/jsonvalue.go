package resolvers

import (
	"bytes"
	"cmp"
	"math"
	"slices"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Values of the JSON scalar: maps and google.protobuf.Struct, Value, ListValue and Any, in
// protobuf's JSON form. Maps of scalars, Struct, Value and ListValue are written straight from the
// wire; messages inside maps and Any go through dynamicpb and protojson, which is slower but rare.

// maxJSONDepth bounds the nesting of Struct and ListValue values an upstream may send.
const maxJSONDepth = 64

var errJSONDepth = status.Error(codes.Internal, "the upstream sent a google.protobuf.Value nested too deeply")

// mapEntry is one entry of a map field on the wire.
type mapEntry struct {
	key wireField
	val wireField
	has bool // val was present
}

// mapField writes map field fd of msg as a JSON object with its keys in order, the last of equal
// keys winning, as protobuf's JSON does.
func (w *writer) mapField(msg msgView, fd protoreflect.FieldDescriptor, sf *selField) bool {
	b, err := w.op.x.appendMap(w.buf, msg, fd)
	if err != nil {
		w.fail(sf, err)
		return false
	}
	w.buf = b
	return true
}

func (x *executor) appendMap(b []byte, msg msgView, fd protoreflect.FieldDescriptor) ([]byte, error) {
	kd, vd := fd.MapKey(), fd.MapValue()
	var stack [16]mapEntry
	entries := stack[:0]
	it := msg.fields()
	for {
		wf, ok := it.next()
		if !ok {
			break
		}
		if wf.num != fd.Number() || wf.typ != protowire.BytesType {
			continue
		}
		e, err := readEntry(wf.b, kd, vd)
		if err != nil {
			return b, err
		}
		entries = append(entries, e)
	}
	if it.err() != nil {
		return b, errBadData
	}
	sortEntries(entries, kd.Kind())
	b = append(b, '{')
	for i, e := range entries {
		if i+1 < len(entries) && compareKeys(kd.Kind(), e.key, entries[i+1].key) == 0 {
			continue // a later entry has the same key
		}
		if b[len(b)-1] != '{' {
			b = append(b, ',')
		}
		b = appendMapKey(b, kd.Kind(), e.key)
		b = append(b, ':')
		var err error
		if vd.Message() != nil {
			if !e.has {
				e.val.b = nil
			}
			b, err = x.jsonMessage(b, e.val.b, vd.Message(), 0)
		} else {
			if !e.has {
				e.val = scalarDefault(vd)
			}
			b, err = appendProtoScalar(b, vd, e.val)
		}
		if err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// readEntry reads a map entry: the key in field 1, the value in field 2.
func readEntry(msg []byte, kd, vd protoreflect.FieldDescriptor) (mapEntry, error) {
	e := mapEntry{key: scalarDefault(kd)}
	kt, vt := wireType(kd.Kind()), wireType(vd.Kind())
	it := wireIter{b: msg}
	for {
		wf, ok := it.next()
		if !ok {
			break
		}
		switch {
		case wf.num == 1 && wf.typ == kt:
			e.key = wf
		case wf.num == 2 && wf.typ == vt:
			e.val, e.has = wf, true
		}
	}
	if it.err != nil {
		return e, errBadData
	}
	return e, nil
}

func sortEntries(entries []mapEntry, k protoreflect.Kind) {
	slices.SortStableFunc(entries, func(a, b mapEntry) int { return compareKeys(k, a.key, b.key) })
}

// compareKeys orders map keys as protobuf's JSON does: strings by bytes, numbers by value, false
// before true.
func compareKeys(k protoreflect.Kind, a, b wireField) int {
	switch k {
	case protoreflect.StringKind:
		return bytes.Compare(a.b, b.b)
	case protoreflect.BoolKind:
		return cmp.Compare(min(a.u, 1), min(b.u, 1))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return cmp.Compare(int32Of(k, a.u), int32Of(k, b.u))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return cmp.Compare(int64Of(k, a.u), int64Of(k, b.u))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return cmp.Compare(uint32(a.u), uint32(b.u))
	}
	return cmp.Compare(a.u, b.u)
}

// appendMapKey appends a map key as a JSON object key.
func appendMapKey(b []byte, k protoreflect.Kind, key wireField) []byte {
	switch k {
	case protoreflect.StringKind:
		return appendString(b, key.b)
	case protoreflect.BoolKind:
		if key.u != 0 {
			return append(b, `"true"`...)
		}
		return append(b, `"false"`...)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		b = strconv.AppendInt(append(b, '"'), int64(int32Of(k, key.u)), 10)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		b = strconv.AppendInt(append(b, '"'), int64Of(k, key.u), 10)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		b = strconv.AppendUint(append(b, '"'), uint64(uint32(key.u)), 10)
	default:
		b = strconv.AppendUint(append(b, '"'), key.u, 10)
	}
	return append(b, '"')
}

// appendProtoScalar appends a scalar of field fd in protobuf's JSON form: 64-bit integers as
// strings, bytes in base64, enums by name, non-finite floats as "NaN" and "Infinity".
func appendProtoScalar(b []byte, fd protoreflect.FieldDescriptor, v wireField) ([]byte, error) {
	k := fd.Kind()
	switch k {
	case protoreflect.BoolKind:
		return strconv.AppendBool(b, v.u != 0), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return strconv.AppendInt(b, int64(int32Of(k, v.u)), 10), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return strconv.AppendUint(b, uint64(uint32(v.u)), 10), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		b = strconv.AppendInt(append(b, '"'), int64Of(k, v.u), 10)
		return append(b, '"'), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		b = strconv.AppendUint(append(b, '"'), v.u, 10)
		return append(b, '"'), nil
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		f, bits := floatOf(k, v.u)
		switch {
		case math.IsNaN(f):
			return append(b, `"NaN"`...), nil
		case math.IsInf(f, 1):
			return append(b, `"Infinity"`...), nil
		case math.IsInf(f, -1):
			return append(b, `"-Infinity"`...), nil
		}
		return appendFloat(b, f, bits), nil
	case protoreflect.StringKind:
		return appendString(b, v.b), nil
	case protoreflect.BytesKind:
		return appendBase64(b, v.b), nil
	case protoreflect.EnumKind:
		ed := fd.Enum()
		if ed.FullName() == "google.protobuf.NullValue" {
			return append(b, "null"...), nil
		}
		if ev := ed.Values().ByNumber(protoreflect.EnumNumber(int32(v.u))); ev != nil {
			return appendString(b, string(ev.Name())), nil
		}
		return strconv.AppendInt(b, int64(int32(v.u)), 10), nil
	}
	return b, status.Errorf(codes.Internal, "cannot write a %s as JSON", k)
}

// jsonMessage appends message msg of type md in protobuf's JSON form.
func (x *executor) jsonMessage(b, msg []byte, md protoreflect.MessageDescriptor, depth int) ([]byte, error) {
	if depth > maxJSONDepth {
		return b, errJSONDepth
	}
	switch md.FullName() {
	case "google.protobuf.Struct":
		return x.jsonStruct(b, msg, md, depth)
	case "google.protobuf.ListValue":
		return x.jsonList(b, msg, md, depth)
	case "google.protobuf.Value":
		return x.jsonValue(b, msg, md, depth)
	}
	return x.protoJSON(b, msg, md)
}

// jsonStruct appends a Struct: map<string, Value> fields = 1.
func (x *executor) jsonStruct(b, msg []byte, md protoreflect.MessageDescriptor, depth int) ([]byte, error) {
	fd := md.Fields().ByNumber(1)
	if fd == nil || !fd.IsMap() || fd.MapValue().Message() == nil {
		return x.protoJSON(b, msg, md)
	}
	vmd := fd.MapValue().Message()
	var stack [16]mapEntry
	entries := stack[:0]
	it := wireIter{b: msg}
	for {
		wf, ok := it.next()
		if !ok {
			break
		}
		if wf.num != 1 || wf.typ != protowire.BytesType {
			continue
		}
		e, err := readEntry(wf.b, fd.MapKey(), fd.MapValue())
		if err != nil {
			return b, err
		}
		entries = append(entries, e)
	}
	if it.err != nil {
		return b, errBadData
	}
	sortEntries(entries, protoreflect.StringKind)
	b = append(b, '{')
	first := true
	for i, e := range entries {
		if i+1 < len(entries) && bytes.Equal(e.key.b, entries[i+1].key.b) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, e.key.b)
		b = append(b, ':')
		var err error
		if b, err = x.jsonValue(b, e.val.b, vmd, depth+1); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// jsonList appends a ListValue: repeated Value values = 1.
func (x *executor) jsonList(b, msg []byte, md protoreflect.MessageDescriptor, depth int) ([]byte, error) {
	fd := md.Fields().ByNumber(1)
	if fd == nil || fd.Message() == nil {
		return x.protoJSON(b, msg, md)
	}
	b = append(b, '[')
	n := 0
	it := wireIter{b: msg}
	for {
		wf, ok := it.next()
		if !ok {
			break
		}
		if wf.num != 1 || wf.typ != protowire.BytesType {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		var err error
		if b, err = x.jsonValue(b, wf.b, fd.Message(), depth+1); err != nil {
			return b, err
		}
	}
	if it.err != nil {
		return b, errBadData
	}
	return append(b, ']'), nil
}

// jsonValue appends a Value: the last of its oneof members set (null_value 1, number_value 2,
// string_value 3, bool_value 4, struct_value 5, list_value 6); null when none is.
func (x *executor) jsonValue(b, msg []byte, md protoreflect.MessageDescriptor, depth int) ([]byte, error) {
	if depth > maxJSONDepth {
		return b, errJSONDepth
	}
	var last wireField
	it := wireIter{b: msg}
	for {
		wf, ok := it.next()
		if !ok {
			break
		}
		switch {
		case wf.num == 1 && wf.typ == protowire.VarintType,
			wf.num == 2 && wf.typ == protowire.Fixed64Type,
			wf.num == 4 && wf.typ == protowire.VarintType,
			(wf.num == 3 || wf.num == 5 || wf.num == 6) && wf.typ == protowire.BytesType:
			last = wf
		}
	}
	if it.err != nil {
		return b, errBadData
	}
	switch last.num {
	case 2:
		f := math.Float64frombits(last.u)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return b, errNotFinite
		}
		return appendFloat(b, f, 64), nil
	case 3:
		return appendString(b, last.b), nil
	case 4:
		return strconv.AppendBool(b, last.u != 0), nil
	case 5, 6:
		fd := md.Fields().ByNumber(last.num)
		if fd == nil || fd.Message() == nil {
			return b, errBadData
		}
		if last.num == 5 {
			return x.jsonStruct(b, last.b, fd.Message(), depth+1)
		}
		return x.jsonList(b, last.b, fd.Message(), depth+1)
	}
	return append(b, "null"...), nil
}

// protoJSON appends any message in protobuf's JSON form through dynamicpb and protojson, resolving
// the types inside Any values with the executor's types.
func (x *executor) protoJSON(b, msg []byte, md protoreflect.MessageDescriptor) ([]byte, error) {
	m := dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{Resolver: x.types}).Unmarshal(msg, m); err != nil {
		return b, errBadData
	}
	out, err := (protojson.MarshalOptions{Resolver: x.types}).MarshalAppend(b, m)
	if err != nil {
		return b, status.Errorf(codes.Internal, "%s cannot be written as JSON: %v", md.FullName(), err)
	}
	return out, nil
}
